package agent

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var scope = tenant.Scope{Account: "123456789012", Region: "us-east-1"}

type harness struct {
	t      *testing.T
	ctl    *control.Control
	rt     *fakeRuntime
	images *fakeImages
	net    *fakeNetwork
	logs   *fakeLogs
	dir    string
	cancel context.CancelFunc
	done   chan struct{}
	keep   bool
	sweep  *fakeSweeper
	states *stateLog
	// storage, when set before start, is the agent's Storage.
	storage *fakeStorage
	// st is the control plane's store.
	st store.Store
}

// stateLog is the control plane as the agent sees it, recording each task
// as it stands after each of the agent's reports.
type stateLog struct {
	*control.Control
	mu    sync.Mutex
	tasks map[string][]control.Task
}

func (l *stateLog) UpdateTaskState(ctx context.Context, ref control.TaskRef, ch control.TaskStateChange) (*control.Task, error) {
	t, err := l.Control.UpdateTaskState(ctx, ref, ch)
	if err == nil {
		l.mu.Lock()
		cp := *t
		cp.Containers = slices.Clone(t.Containers)
		l.tasks[ref.ID] = append(l.tasks[ref.ID], cp)
		l.mu.Unlock()
	}
	return t, err
}

func (l *stateLog) of(id string) []control.Task {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.tasks[id])
}

func newHarness(t *testing.T) *harness {
	h := newHarnessStopped(t)
	h.start()
	return h
}

// newHarnessStopped is newHarness before its agent starts.
func newHarnessStopped(t *testing.T) *harness {
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	// After the agent has stopped (cleanups run last first): the store's
	// indexes agree with its records.
	t.Cleanup(func() {
		if err := control.Check(context.Background(), st); err != nil {
			t.Errorf("store indexes after the test:\n%v", err)
		}
	})
	h := &harness{t: t, ctl: control.New(control.Config{AllowHostAccess: true}, st), st: st, rt: newFakeRuntime(), dir: dir,
		images: &fakeImages{mounted: map[string]bool{}, configs: map[string]image.RunConfig{
			"app":      {Cmd: []string{"serve"}, Env: []string{"PATH=/bin", "FROM_IMAGE=1"}},
			"exit3":    {Cmd: []string{"exit", "3"}},
			"exit0":    {Cmd: []string{"exit", "0"}},
			"oom":      {Cmd: []string{"oom"}},
			"nocmd":    {Cmd: []string{"missing"}},
			"hostpath": {Cmd: []string{"hostpath"}},
			"stubby":   {Cmd: []string{"ignore"}},
		}},
		net:  &fakeNetwork{up: map[string]*network.Attachment{}},
		logs: &fakeLogs{groups: map[string]bool{}, streams: map[string][]LogEvent{}}}
	h.states = &stateLog{Control: h.ctl, tasks: map[string][]control.Task{}}
	t.Cleanup(h.stop)
	return h
}

func (h *harness) start() {
	deps := Deps{Control: h.states, Images: h.images, Network: h.net, Runtime: h.rt, Logs: h.logs, Sweeper: h.sweeper()}
	if h.storage != nil {
		deps.Storage = h.storage
	}
	a, err := New(Config{Node: "local", StateDir: filepath.Join(h.dir, "agent"), CPU: 8192, Memory: 16384, MaxTaskCPU: 4096,
		MaxTaskMemory: 8192, KeepTasks: h.keep, Resync: 100 * time.Millisecond, MetadataEndpoint: "http://169.254.170.2/v4"}, deps)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); _ = a.Run(ctx) }()
}

func (h *harness) stop() {
	if h.cancel == nil {
		return
	}
	h.cancel()
	<-h.done
	h.cancel = nil
}

func (h *harness) register(family string, cds ...control.ContainerDefinition) {
	h.t.Helper()
	for i := range cds {
		if cds[i].Memory == nil {
			m := 128
			cds[i].Memory = &m
		}
	}
	td := &control.TaskDefinition{Family: family, NetworkMode: "awsvpc", ExecutionRoleArn: "arn:aws:iam::123456789012:role/exec", RequiresCompatibilities: []string{"FARGATE"},
		Cpu: "256", Memory: "512", ContainerDefinitions: cds}
	if _, err := h.ctl.RegisterTaskDefinition(context.Background(), scope, td, "test"); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) run(family string) *control.Task {
	h.t.Helper()
	res, err := h.ctl.RunTask(context.Background(), scope, control.RunTaskInput{TaskDefinition: family, LaunchType: "FARGATE",
		NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-12345"}}})
	if err != nil {
		h.t.Fatal(err)
	}
	if len(res.Tasks) != 1 {
		h.t.Fatalf("failures: %+v", res.Failures)
	}
	return res.Tasks[0]
}

// wait polls the task until cond holds.
func (h *harness) wait(id string, what string, cond func(*control.Task) bool) *control.Task {
	h.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	var last *control.Task
	for time.Now().Before(deadline) {
		ts, _, err := h.ctl.DescribeTasks(context.Background(), scope, "", []string{id})
		if err != nil {
			h.t.Fatal(err)
		}
		if len(ts) == 1 {
			last = ts[0]
			if cond(last) {
				return last
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.t.Fatalf("task never %s: %+v", what, last)
	return nil
}

func status(s string) func(*control.Task) bool {
	return func(t *control.Task) bool { return t.LastStatus == s }
}

func essential(b bool) *bool { return &b }

func TestTaskRunsAndStopsOnRequest(t *testing.T) {
	h := newHarness(t)
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app",
		Environment: []control.KeyValuePair{{Name: "FROM_DEF", Value: "2"}}})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	if task.StartedAt.IsZero() || task.PullStartedAt.IsZero() || task.PullStoppedAt.IsZero() || task.ConnectivityAt.IsZero() {
		t.Fatalf("timestamps: %+v", task)
	}
	if len(task.Attachments) != 1 || task.Attachments[0].Status != "ATTACHED" || detail(task.Attachments[0].Details, "privateIPv4Address", "") == "" {
		t.Fatalf("attachment: %+v", task.Attachments)
	}
	c := task.Containers[0]
	if c.LastStatus != control.ContainerRunning || c.RuntimeID == "" || len(c.NetworkInterfaces) != 1 || c.ImageDigest == "" {
		t.Fatalf("container: %+v", c)
	}
	spec := h.rt.containers[c.RuntimeID].spec
	env := strings.Join(spec.Env, " ")
	for _, want := range []string{"FROM_IMAGE=1", "FROM_DEF=2", "ECS_CONTAINER_METADATA_URI_V4=http://169.254.170.2/v4/" + task.ID + "-", "AWS_EXECUTION_ENV=AWS_ECS_FARGATE"} {
		if !strings.Contains(env, want) {
			t.Fatalf("env %q lacks %q", env, want)
		}
	}
	if !containsUlimit(spec.Ulimits, "nofile", 65535, 65535) {
		t.Fatalf("ulimits %+v", spec.Ulimits)
	}
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	task = h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopUserInitiated || task.StoppedReason != "Task stopped by user" || *task.Containers[0].ExitCode != 143 ||
		task.StoppedAt.IsZero() || task.ExecutionStoppedAt.IsZero() {
		t.Fatalf("stopped: %+v %+v", task, task.Containers[0])
	}
	if h.rt.running() != 0 || len(h.images.mounted) != 0 || len(h.net.up) != 0 || len(h.rt.cgroups) != 0 {
		t.Fatalf("left behind: containers %d mounts %v net %v cgroups %v", h.rt.running(), h.images.mounted, h.net.up, h.rt.cgroups)
	}
}

func containsUlimit(us []runtime.Ulimit, name string, soft, hard uint64) bool {
	for _, u := range us {
		if u.Name == name && u.Soft == soft && u.Hard == hard {
			return true
		}
	}
	return false
}

func TestEssentialExitStopsTask(t *testing.T) {
	h := newHarness(t)
	h.register("batch",
		control.ContainerDefinition{Name: "main", Image: "exit3"},
		control.ContainerDefinition{Name: "side", Image: "app", Essential: essential(false)})
	task := h.wait(h.run("batch").ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopEssentialContainerExited || task.StoppedReason != "Essential container in task exited" {
		t.Fatalf("stop: %s %q", task.StopCode, task.StoppedReason)
	}
	if *task.Container("main").ExitCode != 3 || *task.Container("side").ExitCode != 143 {
		t.Fatalf("exit codes: %+v", task.Containers)
	}
}

func TestOOMReason(t *testing.T) {
	h := newHarness(t)
	h.register("hog", control.ContainerDefinition{Name: "hog", Image: "oom"})
	task := h.wait(h.run("hog").ID, "STOPPED", status(control.TaskStopped))
	c := task.Container("hog")
	if *c.ExitCode != 137 || c.Reason != "OutOfMemoryError: Container killed due to memory usage" {
		t.Fatalf("oom container: %+v", c)
	}
}

func TestPullAndStartFailures(t *testing.T) {
	h := newHarness(t)
	h.register("nopull", control.ContainerDefinition{Name: "x", Image: "does-not-exist"})
	task := h.wait(h.run("nopull").ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopTaskFailedToStart || !strings.HasPrefix(task.StoppedReason, "CannotPullContainerError:") ||
		!strings.HasPrefix(task.Containers[0].Reason, "CannotPullContainerError:") || task.Containers[0].LastStatus != control.ContainerStopped {
		t.Fatalf("pull failure: %+v", task)
	}
	h.register("nocmd", control.ContainerDefinition{Name: "x", Image: "nocmd"})
	task = h.wait(h.run("nocmd").ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopTaskFailedToStart || !strings.Contains(task.StoppedReason, "CannotStartContainerError") {
		t.Fatalf("start failure: %+v", task)
	}
}

func TestDependsOnOrder(t *testing.T) {
	h := newHarness(t)
	h.register("deps",
		control.ContainerDefinition{Name: "init", Image: "exit0", Essential: essential(false)},
		control.ContainerDefinition{Name: "app", Image: "app", DependsOn: []control.ContainerDependency{{ContainerName: "init", Condition: "SUCCESS"}}})
	task := h.wait(h.run("deps").ID, "RUNNING", status(control.TaskRunning))
	if task.Container("init").ExitCode == nil || *task.Container("init").ExitCode != 0 || task.Container("app").LastStatus != control.ContainerRunning {
		t.Fatalf("deps: %+v", task.Containers)
	}
	h.register("baddeps",
		control.ContainerDefinition{Name: "init", Image: "exit3", Essential: essential(false)},
		control.ContainerDefinition{Name: "app", Image: "app", DependsOn: []control.ContainerDependency{{ContainerName: "init", Condition: "SUCCESS"}}})
	task = h.wait(h.run("baddeps").ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopTaskFailedToStart || !strings.Contains(task.StoppedReason, "SUCCESS") || task.Container("app").RuntimeID != "" {
		t.Fatalf("failed dependency: %+v", task)
	}
}

func TestHealthCheck(t *testing.T) {
	h := newHarness(t)
	five, one := 5, 1
	h.register("hc", control.ContainerDefinition{Name: "web", Image: "app",
		HealthCheck: &control.HealthCheck{Command: []string{"CMD", "true"}, Interval: &five, Retries: &one}})
	task := h.wait(h.run("hc").ID, "HEALTHY", func(t *control.Task) bool { return t.HealthStatus == "HEALTHY" })
	if task.Containers[0].HealthStatus != "HEALTHY" {
		t.Fatalf("container health %+v", task.Containers[0])
	}
	h.rt.mu.Lock()
	h.rt.execCode[task.Containers[0].RuntimeID] = 1
	h.rt.mu.Unlock()
	h.wait(task.ID, "UNHEALTHY", func(t *control.Task) bool { return t.HealthStatus == "UNHEALTHY" })
}

func TestShutdownStopsTasksUnlessKept(t *testing.T) {
	h := newHarness(t)
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	id := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning)).ID
	h.stop()
	task := h.wait(id, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopTerminationNotice || task.StoppedReason != reasonShutdown {
		t.Fatalf("shutdown: %s %q", task.StopCode, task.StoppedReason)
	}

	// Live restore: with KeepTasks the container survives the agent and the
	// next agent re-adopts it, then sees its real exit.
	h.keep = true
	h.start()
	id = h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning)).ID
	h.stop()
	if h.rt.running() != 1 {
		t.Fatalf("kept task's container gone: %d", h.rt.running())
	}
	h.start()
	time.Sleep(300 * time.Millisecond)
	task = h.wait(id, "still RUNNING", status(control.TaskRunning))
	h.rt.finish(task.Containers[0].RuntimeID, runtime.ExitStatus{Code: 7})
	task = h.wait(id, "STOPPED", status(control.TaskStopped))
	if *task.Containers[0].ExitCode != 7 || task.StopCode != control.StopEssentialContainerExited {
		t.Fatalf("re-adopted exit: %+v", task)
	}
}

func TestAwslogsShipping(t *testing.T) {
	h := newHarness(t)
	h.register("logs", control.ContainerDefinition{Name: "web", Image: "app", LogConfiguration: &control.LogConfiguration{
		LogDriver: "awslogs", Options: map[string]string{"awslogs-group": "/ecs/logs", "awslogs-region": "us-east-1",
			"awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}}})
	// The fake runtime's log file for the container.
	logFile := filepath.Join(t.TempDir(), "out.log")
	if err := os.WriteFile(logFile, []byte(`{"t":"2026-11-22T10:00:00Z","s":"stdout","l":"hello"}`+"\n"+`{"t":"2026-11-22T10:00:01Z","s":"stderr","l":"world"}`+"\n"+`{"t":"2026`), 0o600); err != nil {
		t.Fatal(err)
	}
	h.rt.mu.Lock()
	h.rt.logs = logPaths{file: logFile}
	h.rt.mu.Unlock()
	task := h.wait(h.run("logs").ID, "RUNNING", status(control.TaskRunning))
	key := "/ecs/logs|ecs/web/" + task.ID
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.logs.mu.Lock()
		n := len(h.logs.streams[key])
		h.logs.mu.Unlock()
		if n == 2 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.logs.mu.Lock()
	got := h.logs.streams[key]
	h.logs.mu.Unlock()
	if len(got) != 2 || got[0].Message != "hello" || got[1].Message != "world" {
		t.Fatalf("shipped %+v (streams %v)", got, h.logs.streams)
	}
}

// fakeSweeper records what the agent says it owns when it sweeps.
type fakeSweeper struct {
	calls  atomic.Int32
	swept  chan struct{}   // closed by the first Sweep
	owned  map[string]bool // task id -> Keep.Task
	ownedC map[string]bool // container id -> Keep.Container
	ask    []string        // task ids to ask about
}

func (f *fakeSweeper) Sweep(_ context.Context, keep Keep) error {
	if f.calls.Add(1) > 1 {
		return nil
	}
	for _, id := range f.ask {
		f.owned[id] = keep.Task(id)
		f.ownedC[id+"-web"] = keep.Container(id + "-web")
	}
	close(f.swept)
	return nil
}

func (h *harness) sweeper() Sweeper {
	if h.sweep == nil {
		return nil
	}
	return h.sweep
}

// TestSweepKeepsOwnedTasks: after a restart the agent sweeps once, after
// it has taken back its tasks: a re-adopted task (and its containers) are
// owned, a task it never heard of is not.
func TestSweepKeepsOwnedTasks(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true // live restore: the task outlives the agent
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	id := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning)).ID
	h.stop()
	h.sweep = &fakeSweeper{swept: make(chan struct{}), owned: map[string]bool{}, ownedC: map[string]bool{},
		ask: []string{id, "0123456789abcdef0123456789abcdef"}}
	h.start()
	select {
	case <-h.sweep.swept:
	case <-time.After(10 * time.Second):
		t.Fatal("the restarted agent did not sweep")
	}
	time.Sleep(300 * time.Millisecond) // a few resyncs: still one sweep
	h.stop()
	if n := h.sweep.calls.Load(); n != 1 {
		t.Fatalf("swept %d times, want once", n)
	}
	if !h.sweep.owned[id] || !h.sweep.ownedC[id+"-web"] {
		t.Errorf("the re-adopted task %s was not owned at the sweep", id)
	}
	if h.sweep.owned["0123456789abcdef0123456789abcdef"] || h.sweep.ownedC["0123456789abcdef0123456789abcdef-web"] {
		t.Errorf("a task the agent never ran was owned at the sweep")
	}
}

// TestLifecycleOrder: the task goes PENDING → ACTIVATING → RUNNING, never
// back; it is PENDING while its containers start (a container waiting on
// another's START included) and ACTIVATING only once all of them run,
// with the pull's times recorded; each report raises the version.
func TestLifecycleOrder(t *testing.T) {
	h := newHarness(t)
	h.register("order",
		control.ContainerDefinition{Name: "db", Image: "app"},
		control.ContainerDefinition{Name: "web", Image: "app", DependsOn: []control.ContainerDependency{{ContainerName: "db", Condition: "START"}}})
	id := h.wait(h.run("order").ID, "RUNNING", status(control.TaskRunning)).ID
	states := h.states.of(id)
	var seen []string
	version := int64(0)
	for _, st := range states {
		if st.Version <= version {
			t.Errorf("version %d after %d (%s)", st.Version, version, st.LastStatus)
		}
		version = st.Version
		if len(seen) == 0 || seen[len(seen)-1] != st.LastStatus {
			seen = append(seen, st.LastStatus)
		}
		switch st.LastStatus {
		case control.TaskActivating, control.TaskRunning:
			for _, c := range st.Containers {
				if c.LastStatus != control.TaskRunning {
					t.Errorf("%s while container %s is %s", st.LastStatus, c.Name, c.LastStatus)
				}
			}
			if st.PullStartedAt.IsZero() || st.PullStoppedAt.IsZero() {
				t.Errorf("%s without the pull's times", st.LastStatus)
			}
		}
	}
	if want := []string{control.TaskPending, control.TaskActivating, control.TaskRunning}; !slices.Equal(seen, want) {
		t.Errorf("statuses %v, want %v", seen, want)
	}
}

// TestPullRecordedWhileWaiting: while a container waits on another's
// HEALTHY, the pull's outcome (its times, every container's digest) is in
// the store already: an agent killed during the wait leaves the digests
// its successor pulls by.
func TestPullRecordedWhileWaiting(t *testing.T) {
	h := newHarness(t)
	five, one := 5, 1 // the least interval: web waits 5 s
	h.register("waits",
		control.ContainerDefinition{Name: "db", Image: "app",
			HealthCheck: &control.HealthCheck{Command: []string{"CMD", "true"}, Interval: &five, Retries: &one}},
		control.ContainerDefinition{Name: "web", Image: "app", DependsOn: []control.ContainerDependency{{ContainerName: "db", Condition: "HEALTHY"}}})
	id := h.wait(h.run("waits").ID, "RUNNING", status(control.TaskRunning)).ID
	waiting := false
	for _, st := range h.states.of(id) {
		db, web := st.Container("db"), st.Container("web")
		if db == nil || web == nil || db.LastStatus != control.ContainerRunning || web.LastStatus == control.ContainerRunning {
			continue
		}
		waiting = true // db runs, web waits for it to be HEALTHY
		if st.LastStatus != control.TaskPending {
			t.Errorf("%s while web waits, want PENDING", st.LastStatus)
		}
		if st.PullStartedAt.IsZero() || st.PullStoppedAt.IsZero() || db.ImageDigest == "" || web.ImageDigest == "" {
			t.Fatalf("while web waits: pull %v-%v, digests db %q web %q, want the pull recorded",
				st.PullStartedAt, st.PullStoppedAt, db.ImageDigest, web.ImageDigest)
		}
	}
	if !waiting {
		t.Fatal("no report while web waited for db's health")
	}
}

// TestReasonsHideHostPaths: a reason a tenant sees (the task's
// stoppedReason, a container's reason) never names the host's files: an
// error naming them is reported with fargo's own text (its detail goes
// to fargo's log); one that names none (runc's "executable file not
// found") is kept.
func TestReasonsHideHostPaths(t *testing.T) {
	h := newHarness(t)
	hostPath := regexp.MustCompile(`/(var|run|sys|proc|tmp)/|` + regexp.QuoteMeta(h.dir))
	check := func(what string, task *control.Task, wantPrefix string) {
		t.Helper()
		reasons := []string{task.StoppedReason}
		for _, c := range task.Containers {
			reasons = append(reasons, c.Reason)
		}
		for _, r := range reasons {
			if hostPath.MatchString(r) {
				t.Errorf("%s: reason %q names a host path", what, r)
			}
		}
		if !strings.HasPrefix(task.StoppedReason, wantPrefix) {
			t.Errorf("%s: stoppedReason %q, want it to start with %q", what, task.StoppedReason, wantPrefix)
		}
	}
	h.register("hostpath", control.ContainerDefinition{Name: "x", Image: "hostpath"})
	task := h.wait(h.run("hostpath").ID, "STOPPED", status(control.TaskStopped))
	check("runc error", task, "CannotStartContainerError:")

	h.register("nocmd", control.ContainerDefinition{Name: "x", Image: "nocmd"})
	task = h.wait(h.run("nocmd").ID, "STOPPED", status(control.TaskStopped))
	check("missing command", task, "CannotStartContainerError:")
	if !strings.Contains(task.StoppedReason, "executable file not found") {
		t.Errorf("a runc error without host paths lost its detail: %q", task.StoppedReason)
	}

	h.net.mu.Lock()
	h.net.err = fmt.Errorf("bind mount /run/netns/fargo-x onto %s/network/ns: device or resource busy", h.dir)
	h.net.mu.Unlock()
	h.register("net", control.ContainerDefinition{Name: "x", Image: "app"})
	task = h.wait(h.run("net").ID, "STOPPED", status(control.TaskStopped))
	check("network error", task, "ResourceInitializationError:")
	if !strings.Contains(task.StoppedReason, "<host path>") || !strings.Contains(task.StoppedReason, "device or resource busy") {
		t.Errorf("network error: %q, want the detail with its paths replaced", task.StoppedReason)
	}
}
