package agent

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// newTestRunner places one task of family on node "local" and returns a
// runner for it, not running, over the harness's fakes: no agent runs,
// so the test drives the runner (and may add hooks to it).
func newTestRunner(t *testing.T, family string, cds ...control.ContainerDefinition) (*harness, *runner) {
	t.Helper()
	h := newHarnessStopped(t)
	ctx := context.Background()
	if err := h.ctl.RegisterNode(ctx, control.Node{ID: "local", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	h.register(family, cds...)
	h.run(family)
	a, err := New(Config{Node: "local", StateDir: filepath.Join(h.dir, "agent"), MetadataEndpoint: "http://169.254.170.2/v4"},
		Deps{Control: h.states, Images: h.images, Network: h.net, Runtime: h.rt, Logs: h.logs})
	if err != nil {
		t.Fatal(err)
	}
	tasks, refs, err := h.ctl.NodeTasks(ctx, "local")
	if err != nil || len(tasks) != 1 {
		t.Fatalf("node tasks: %v, %v", tasks, err)
	}
	return h, newRunner(a, refs[0], tasks[0])
}

// runRunner runs r until it returns; the returned func waits for that.
func runRunner(r *runner) (wait func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.run(context.Background(), make(chan struct{}))
	}()
	return func() {
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			panic("runner did not return")
		}
	}
}

// recordingHook takes every step and records it; failAt makes that step
// fail with a StopError.
type recordingHook struct {
	mu     sync.Mutex
	steps  []string
	failAt string
	// netUp tells, at each cleanup, whether the task's network is still
	// set up (cleanup runs in reverse list order: this hook, last in the
	// list, cleans up first).
	netUp func() bool
}

func (h *recordingHook) record(step string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.steps = append(h.steps, step)
	if step == h.failAt {
		return &StopError{Code: node.StopTaskFailedToStart, Reason: "ResourceInitializationError: the test hook failed at " + step,
			Err: errors.New("test hook")}
	}
	return nil
}

func (h *recordingHook) recorded() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.steps)
}

func (h *recordingHook) provision(context.Context, *runner) (func() error, error) {
	return func() error { return h.record("wait") }, h.record("provision")
}
func (h *recordingHook) provisioned(context.Context, *runner) error { return h.record("provisioned") }
func (h *recordingHook) prestart(context.Context, *runner) error    { return h.record("prestart") }
func (h *recordingHook) prestartContainer(_ context.Context, _ *runner, c *specInput) error {
	if c.cgroup == "" || c.rootfs == "" {
		return fmt.Errorf("the hooks before this one did not fill the spec: %+v", c)
	}
	return h.record("prestartContainer " + c.cd.Name)
}
func (h *recordingHook) poststartContainer(_ context.Context, _ *runner, cd *node.ContainerDefinition, running bool) {
	h.record(fmt.Sprintf("poststartContainer %s running=%v", cd.Name, running))
}
func (h *recordingHook) poststart(context.Context, *runner) error { return h.record("poststart") }
func (h *recordingHook) stop(context.Context, *runner)            { h.record("stop") }
func (h *recordingHook) exited(context.Context, *runner)          { h.record("exited") }
func (h *recordingHook) cleanup(context.Context, *runner) bool {
	h.record(fmt.Sprintf("cleanup network up=%v", h.netUp()))
	return true
}
func (h *recordingHook) addToReport(_ *runner, status string, _ *node.TaskStateChange) {
	h.record("report " + status)
}

// TestHookStepsInOrder: the state machine takes a hook added to the list
// through every step of a task's life, in order, without any other hook
// knowing of it; cleanup runs in reverse list order.
func TestHookStepsInOrder(t *testing.T) {
	h, r := newTestRunner(t, "web", control.ContainerDefinition{Name: "web", Image: "app"})
	rec := &recordingHook{netUp: func() bool {
		h.net.mu.Lock()
		defer h.net.mu.Unlock()
		return h.net.up[r.ref.ID] != nil
	}}
	r.h.list = append(r.h.list, rec)
	wait := runRunner(r)
	h.wait(r.ref.ID, "RUNNING", status(control.TaskRunning))
	r.requestStop()
	wait()
	want := []string{"provision", "wait", "provisioned", "report PENDING", "prestart", "prestartContainer web",
		"poststartContainer web running=true", "report ACTIVATING", "poststart", "report DEACTIVATING", "stop", "exited",
		"cleanup network up=true", "report STOPPED"}
	if got := rec.recorded(); !slices.Equal(got, want) {
		t.Errorf("steps:\n got %q\nwant %q", got, want)
	}
	if h.net.up[r.ref.ID] != nil || len(h.rt.cgroups) != 0 || len(h.images.mounted) != 0 {
		t.Errorf("after the task: network %v, cgroups %v, mounts %v", h.net.up, h.rt.cgroups, h.images.mounted)
	}
}

// TestHookFailureStopsTask: a hook's StopError at any start step stops
// the task with its code and reason; what the hooks made is cleaned up,
// and no container starts after a failure before the containers.
func TestHookFailureStopsTask(t *testing.T) {
	for _, step := range []string{"provision", "wait", "provisioned", "prestart", "prestartContainer web", "poststart"} {
		t.Run(strings.ReplaceAll(step, " ", "_"), func(t *testing.T) {
			h, r := newTestRunner(t, "web", control.ContainerDefinition{Name: "web", Image: "app"})
			rec := &recordingHook{failAt: step, netUp: func() bool { return true }}
			r.h.list = append(r.h.list, rec)
			runRunner(r)()
			task := h.wait(r.ref.ID, "STOPPED", status(control.TaskStopped))
			if task.StopCode != control.StopTaskFailedToStart || task.StoppedReason != "ResourceInitializationError: the test hook failed at "+step {
				t.Errorf("stop code %q, reason %q", task.StopCode, task.StoppedReason)
			}
			got := rec.recorded()
			if !slices.Contains(got, "cleanup network up=true") || !slices.Contains(got, "report STOPPED") {
				t.Errorf("steps after a failure: %q", got)
			}
			if slices.Contains(got, "poststart") && step != "poststart" {
				t.Errorf("the task went on after failing: %q", got)
			}
			if step == "prestartContainer web" && task.Containers[0].Reason != "" {
				t.Errorf("a hook's failure that is not the container's was reported on it: %q", task.Containers[0].Reason)
			}
			if len(h.rt.cgroups) != 0 || len(h.images.mounted) != 0 || h.net.up[r.ref.ID] != nil {
				t.Errorf("left behind: cgroups %v, mounts %v, network %v", h.rt.cgroups, h.images.mounted, h.net.up)
			}
		})
	}
}

// TestNetworkHookReports: the network hook's part of the PENDING report
// (the ENI attachment, each container's address) and of the STOPPED one.
func TestNetworkHookReports(t *testing.T) {
	_, r := newTestRunner(t, "web", control.ContainerDefinition{Name: "web", Image: "app"})
	ctx := context.Background()
	td, err := r.a.deps.Control.TaskDefinitionOf(ctx, r.ref.Scope, r.task)
	if err != nil {
		t.Fatal(err)
	}
	r.td = td
	nh := r.h.network
	var ch node.TaskStateChange
	nh.addToReport(r, node.TaskPending, &ch)
	if ch.Attachment != nil || len(ch.Containers) != 0 {
		t.Errorf("before the network is set up: %+v", ch)
	}
	if _, err := nh.provision(ctx, r); err != nil {
		t.Fatal(err)
	}
	nh.addToReport(r, node.TaskPending, &ch)
	if ch.Attachment == nil || ch.Attachment.Status != "ATTACHED" || detail(ch.Attachment.Details, "privateIPv4Address", "") != nh.att.IP.String() {
		t.Errorf("PENDING attachment: %+v", ch.Attachment)
	}
	if len(ch.Containers) != 1 || len(ch.Containers[0].NetworkInterfaces) != 1 ||
		ch.Containers[0].NetworkInterfaces[0].PrivateIPv4Address != nh.att.IP.String() {
		t.Errorf("PENDING containers: %+v", ch.Containers)
	}
	var stopped node.TaskStateChange
	nh.addToReport(r, node.TaskStopped, &stopped)
	if stopped.Attachment == nil || stopped.Attachment.Status != "DELETED" || len(stopped.Containers) != 0 {
		t.Errorf("STOPPED: %+v", stopped)
	}
	var in specInput
	if err := nh.prestartContainer(ctx, r, &in); err != nil || in.att != nh.att || in.hostsDir != r.dir {
		t.Errorf("container spec: %+v, %v", in, err)
	}
	nh.cleanup(ctx, r)
	if r.a.deps.Network.(*fakeNetwork).up[r.ref.ID] != nil {
		t.Error("network left after cleanup")
	}
}

// TestCgroupHook: the task cgroup is made before the containers, is their
// parent, and goes at cleanup.
func TestCgroupHook(t *testing.T) {
	h, r := newTestRunner(t, "web", control.ContainerDefinition{Name: "web", Image: "app"})
	ctx := context.Background()
	ch := r.h.cgroup
	if err := ch.prestart(ctx, r); err != nil {
		t.Fatal(err)
	}
	if !h.rt.cgroups[r.ref.ID] || ch.path != runtime.TaskCgroup(r.ref.ID) {
		t.Errorf("cgroup %q, runtime's %v", ch.path, h.rt.cgroups)
	}
	var in specInput
	if err := ch.prestartContainer(ctx, r, &in); err != nil || in.cgroup != ch.path {
		t.Errorf("container's cgroup parent %q, %v", in.cgroup, err)
	}
	ch.cleanup(ctx, r)
	if h.rt.cgroups[r.ref.ID] {
		t.Error("cgroup left after cleanup")
	}
}

// drainingControl answers DeactivateTask with a drain.
type drainingControl struct {
	ControlPlane
	drain       time.Duration
	activated   []string
	deactivated []string
}

func (c *drainingControl) ActivateTask(_ context.Context, ref node.TaskRef) error {
	c.activated = append(c.activated, ref.ID)
	return nil
}

func (c *drainingControl) DeactivateTask(_ context.Context, ref node.TaskRef) (time.Duration, error) {
	c.deactivated = append(c.deactivated, ref.ID)
	return c.drain, nil
}

// TestRegistrationHook: registered at ACTIVATING; at DEACTIVATING
// deregistered, then the drain waited out, with the containers that exit
// meanwhile recorded as they exit.
func TestRegistrationHook(t *testing.T) {
	h, r := newTestRunner(t, "web", control.ContainerDefinition{Name: "web", Image: "app"})
	ctx := context.Background()
	ctl := &drainingControl{ControlPlane: h.states, drain: 300 * time.Millisecond}
	r.a.deps.Control = ctl
	td, err := ctl.TaskDefinitionOf(ctx, r.ref.Scope, r.task)
	if err != nil {
		t.Fatal(err)
	}
	r.td = td
	var reg registrationHook
	if err := reg.poststart(ctx, r); err != nil || !slices.Equal(ctl.activated, []string{r.ref.ID}) {
		t.Fatalf("poststart: %v, activated %v", err, ctl.activated)
	}
	r.started["web"] = true
	r.exits <- containerExit{name: "web", status: runtime.ExitStatus{Code: 3}}
	start := time.Now()
	reg.stop(ctx, r)
	if d := time.Since(start); d < ctl.drain {
		t.Errorf("stop returned after %v, before the %v drain", d, ctl.drain)
	}
	if !slices.Equal(ctl.deactivated, []string{r.ref.ID}) {
		t.Errorf("deactivated %v", ctl.deactivated)
	}
	if st, ok := r.exited["web"]; !ok || st.Code != 3 {
		t.Errorf("the exit during the drain: %+v, %v", st, ok)
	}
}

// TestStopError: a start's failure is one typed error.
func TestStopError(t *testing.T) {
	cause := errors.New("netlink: file exists")
	se := failedToStart("ResourceInitializationError: x", cause)
	if se.Code != node.StopTaskFailedToStart || !errors.Is(se, cause) || se.Error() != "ResourceInitializationError: x: netlink: file exists" {
		t.Errorf("failedToStart: %+v %q", se, se.Error())
	}
	if got := asStopError(fmt.Errorf("wrapped: %w", se)); got != se {
		t.Errorf("asStopError of a wrapped StopError: %+v", got)
	}
	if got := asStopError(cause); got.Code != node.StopTaskFailedToStart || got.Err != cause {
		t.Errorf("asStopError of a plain error: %+v", got)
	}
	stop := stopRequestedError(errStopRequested)
	if stop.Code != node.StopUserInitiated || stop.Reason != "" || !errors.Is(stop, errStopRequested) || stop.Error() != errStopRequested.Error() {
		t.Errorf("stop requested: %+v %q", stop, stop.Error())
	}
	a := &Agent{cfg: Config{StateDir: "/var/lib/fargo/agent"}}
	if got := a.failedToStartWith("CannotStartContainerError: ", errors.New("open /var/lib/fargo/x: no such file")); got.Reason != "CannotStartContainerError: open <host path>: no such file" {
		t.Errorf("failedToStartWith hides host paths: %q", got.Reason)
	}
}
