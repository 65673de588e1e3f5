package deploy_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/deploy"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var scope = tenant.Scope{Account: "123456789012", Region: "us-east-1"}

type env struct {
	t    *testing.T
	st   store.Store
	ctl  *control.Control
	node *fakeNode
}

func newEnv(t *testing.T) *env {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	// After the controller and the node have stopped (cleanups run last
	// first): the store's indexes agree with its records.
	t.Cleanup(func() {
		if err := control.Check(context.Background(), st); err != nil {
			t.Errorf("store indexes after the test:\n%v", err)
		}
	})
	ctl := control.New(control.Config{}, st)
	ctx := context.Background()
	if err := ctl.RegisterNode(ctx, control.Node{ID: "node-1", CPU: 64 * 1024, Memory: 256 * 1024, MaxTaskCPU: 4096, MaxTaskMemory: 30720}); err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, st: st, ctl: ctl}
	e.node = startFakeNode(t, ctl, "node-1")
	return e
}

// startController runs a controller until the returned stop is called (or
// the test ends).
func (e *env) startController() (stop func()) {
	return e.startControllerWith(nil)
}

// startControllerWith is startController with the test configuration
// edited by mod.
func (e *env) startControllerWith(mod func(*deploy.Config)) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := deploy.Config{Resync: time.Second, MinHealthyTime: -1, ThrottleBase: 50 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	c := deploy.New(cfg, e.ctl)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx); err != nil {
			e.t.Errorf("controller: %v", err)
		}
	}()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	e.t.Cleanup(stop)
	return stop
}

// register registers the next revision of family "web" running image.
func (e *env) register(image string) *control.TaskDefinition {
	e.t.Helper()
	return e.registerWith(image, nil)
}

// registerWith is register with the container definition edited by mod.
func (e *env) registerWith(image string, mod func(*control.ContainerDefinition)) *control.TaskDefinition {
	e.t.Helper()
	cd := control.ContainerDefinition{Name: "web", Image: image}
	if mod != nil {
		mod(&cd)
	}
	td, err := e.ctl.RegisterTaskDefinition(context.Background(), scope, &control.TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []control.ContainerDefinition{cd},
	}, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	return td
}

func (e *env) create(name, td string, desired int, dc *control.DeploymentConfigurationInput) *control.Service {
	e.t.Helper()
	return e.createWith(name, td, desired, dc, nil)
}

// createWith is create with the service spec edited by mod.
func (e *env) createWith(name, td string, desired int, dc *control.DeploymentConfigurationInput, mod func(*control.ServiceSpec)) *control.Service {
	e.t.Helper()
	spec := control.ServiceSpec{
		Name: name, TaskDefinition: td, DesiredCount: &desired, LaunchType: "FARGATE",
		NetworkConfiguration:    &control.NetworkConfiguration{Subnets: []string{"subnet-1"}},
		DeploymentConfiguration: dc,
	}
	if mod != nil {
		mod(&spec)
	}
	svc, err := e.ctl.CreateService(context.Background(), scope, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc
}

func (e *env) describe(name string) *control.Service {
	e.t.Helper()
	svcs, _, err := e.ctl.DescribeServices(context.Background(), scope, "", []string{name})
	if err != nil || len(svcs) != 1 {
		e.t.Fatalf("describe %s: %v %v", name, svcs, err)
	}
	return svcs[0]
}

// tasks reads every task of the default cluster straight from the store.
func (e *env) tasks() []*control.Task {
	e.t.Helper()
	kvs, err := e.st.List(context.Background(), scope.KeyPrefix("ecs")+"tasks/default/")
	if err != nil {
		e.t.Fatal(err)
	}
	var out []*control.Task
	for _, kv := range kvs {
		var t control.Task
		if err := json.Unmarshal(kv.Value, &t); err != nil {
			e.t.Fatal(err)
		}
		out = append(out, &t)
	}
	return out
}

// waitFor polls cond until it holds or the timeout passes.
func (e *env) waitFor(what string, timeout time.Duration, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stable is the ServicesStable waiter's condition, plus a COMPLETED rollout.
func stable(svc *control.Service) bool {
	return len(svc.Deployments) == 1 && svc.RunningCount == svc.DesiredCount && svc.PendingCount == 0 &&
		svc.Deployments[0].RolloutState == control.RolloutCompleted
}

func hasEvent(svc *control.Service, substr string) bool {
	for _, ev := range svc.Events {
		if strings.Contains(ev.Message, substr) {
			return true
		}
	}
	return false
}

// fakeNode plays the agent of one node: tasks placed on it go RUNNING
// after a short delay, tasks asked to stop go STOPPED; images listed in
// failing never start, images listed in crashing exit soon after RUNNING.
// Tasks of images with a health status report it once RUNNING (as the
// agent does for containers with health checks), and a task's own status
// set with setTaskHealth overrides its image's.
type fakeNode struct {
	ctl *control.Control
	id  string

	mu         sync.Mutex
	failing    map[string]bool
	crashing   map[string]bool
	health     map[string]string // by image
	taskHealth map[string]string // by task id
}

// crashAfter is how long a task of a crashing image runs.
const crashAfter = 50 * time.Millisecond

func startFakeNode(t *testing.T, ctl *control.Control, id string) *fakeNode {
	n := &fakeNode{ctl: ctl, id: id, failing: map[string]bool{}, crashing: map[string]bool{},
		health: map[string]string{}, taskHealth: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sig, err := ctl.WatchNode(ctx, id)
		if err != nil {
			t.Errorf("watch node: %v", err)
			return
		}
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			n.step(ctx)
			select {
			case <-ctx.Done():
				return
			case <-sig:
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return n
}

func (n *fakeNode) fail(image string) {
	n.mu.Lock()
	n.failing[image] = true
	n.mu.Unlock()
}

func (n *fakeNode) crash(image string) {
	n.mu.Lock()
	n.crashing[image] = true
	n.mu.Unlock()
}

// setHealth makes the tasks of an image report a health status.
func (n *fakeNode) setHealth(image, status string) {
	n.mu.Lock()
	n.health[image] = status
	n.mu.Unlock()
}

// setTaskHealth makes one task report a health status.
func (n *fakeNode) setTaskHealth(id, status string) {
	n.mu.Lock()
	n.taskHealth[id] = status
	n.mu.Unlock()
}

func (n *fakeNode) step(ctx context.Context) {
	tasks, refs, err := n.ctl.NodeTasks(ctx, n.id)
	if err != nil {
		return
	}
	for i, t := range tasks {
		ref := refs[i]
		n.mu.Lock()
		image := t.Containers[0].Image
		crashing := n.crashing[image]
		health := n.health[image]
		if h, ok := n.taskHealth[t.ID]; ok {
			health = h
		}
		n.mu.Unlock()
		switch {
		case t.DesiredStatus == control.TaskStopped:
			_, _ = n.ctl.UpdateTaskState(ctx, ref, control.TaskStateChange{LastStatus: control.TaskStopped,
				Containers: []control.ContainerStateChange{{Name: "web", LastStatus: control.ContainerStopped, ExitCode: new(0)}}})
		case t.LastStatus == control.TaskRunning && crashing && time.Since(t.StartedAt) > crashAfter:
			_, _ = n.ctl.UpdateTaskState(ctx, ref, control.TaskStateChange{LastStatus: control.TaskStopped,
				StopCode: control.StopEssentialContainerExited, Reason: "Essential container in task exited",
				Containers: []control.ContainerStateChange{{Name: "web", LastStatus: control.ContainerStopped, ExitCode: new(1)}}})
		case t.LastStatus == control.TaskRunning && health != "" && t.HealthStatus != health:
			_, _ = n.ctl.UpdateTaskState(ctx, ref, control.TaskStateChange{HealthStatus: health,
				Containers: []control.ContainerStateChange{{Name: "web", HealthStatus: health}}})
		case t.LastStatus == control.TaskProvisioning && time.Since(t.CreatedAt) > 30*time.Millisecond:
			n.mu.Lock()
			bad := n.failing[image]
			n.mu.Unlock()
			if bad {
				_, _ = n.ctl.UpdateTaskState(ctx, ref, control.TaskStateChange{LastStatus: control.TaskStopped,
					StopCode: control.StopTaskFailedToStart, Reason: "CannotPullContainerError: image not found"})
				continue
			}
			_, _ = n.ctl.UpdateTaskState(ctx, ref, control.TaskStateChange{LastStatus: control.TaskRunning,
				Containers: []control.ContainerStateChange{{Name: "web", LastStatus: control.ContainerRunning}}})
		}
	}
}

// kill makes a running task's essential container exit, as if killed from
// the host.
func (n *fakeNode) kill(ctx context.Context, t *control.Task) error {
	_, err := n.ctl.UpdateTaskState(ctx, control.TaskRef{Scope: scope, Cluster: t.Cluster, ID: t.ID}, control.TaskStateChange{
		LastStatus: control.TaskStopped, StopCode: control.StopEssentialContainerExited, Reason: "Essential container in task exited",
		Containers: []control.ContainerStateChange{{Name: "web", LastStatus: control.ContainerStopped, ExitCode: new(137)}},
	})
	return err
}
