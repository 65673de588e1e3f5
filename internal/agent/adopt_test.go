package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/runtime"
)

// TestReadoptKeepsImage: a restarted agent re-adopts running containers
// without pulling: a tag that moved does not change the recorded
// imageDigest, a tag that is gone does not stop the task.
func TestReadoptKeepsImage(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	h.start()
	h.images.configs["gone"] = image.RunConfig{Cmd: []string{"serve"}}
	h.register("moved", control.ContainerDefinition{Name: "web", Image: "app"})
	h.register("gone", control.ContainerDefinition{Name: "web", Image: "gone"})
	moved := h.wait(h.run("moved").ID, "RUNNING", status(control.TaskRunning))
	gone := h.wait(h.run("gone").ID, "RUNNING", status(control.TaskRunning))
	want := moved.Containers[0].ImageDigest
	h.stop()

	h.images.mu.Lock()
	h.images.digests = map[string]string{"app": "sha256:" + strings.Repeat("b", 64)} // the tag moved
	delete(h.images.configs, "gone")                                                 // the tag was deleted
	h.images.pulls = nil
	h.images.mu.Unlock()
	h.start()
	time.Sleep(500 * time.Millisecond) // a few resyncs
	for _, id := range []string{moved.ID, gone.ID} {
		task := h.wait(id, "still RUNNING", status(control.TaskRunning))
		if got := task.Containers[0].ImageDigest; got != want {
			t.Errorf("task %s: imageDigest %s after re-adoption, want %s", id, got, want)
		}
	}
	h.images.mu.Lock()
	pulls := h.images.pulls
	h.images.mu.Unlock()
	if len(pulls) != 0 {
		t.Errorf("re-adoption pulled %v", pulls)
	}
}

// TestStopWhileAgentDown: a stop asked for while no agent ran is a real
// stop of the re-adopted container: its stop signal (here SIGTERM: exit
// 143, not a kill), its exit code recorded, and the log lines it wrote
// meanwhile shipped.
func TestStopWhileAgentDown(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	logFile := filepath.Join(t.TempDir(), "out.log")
	if err := os.WriteFile(logFile, []byte(`{"t":"2026-11-22T10:00:00Z","s":"stdout","l":"before"}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.rt.logs = logPaths{file: logFile}
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app", LogConfiguration: &control.LogConfiguration{
		LogDriver: "awslogs", Options: map[string]string{"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1",
			"awslogs-stream-prefix": "ecs", "awslogs-create-group": "true"}}})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	key := "/ecs/web|ecs/web/" + task.ID
	h.waitShipped(key, 1)
	h.stop()

	f, err := os.OpenFile(logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"t":"2026-11-22T10:00:01Z","s":"stdout","l":"while fargo was down"}` + "\n")
	f.Close()
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, "stopped while down"); err != nil {
		t.Fatal(err)
	}
	h.start()
	task = h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	c := task.Containers[0]
	if c.ExitCode == nil || *c.ExitCode != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %v, want 143: the container was not stopped with its stop signal", c.ExitCode)
	}
	if task.StopCode != control.StopUserInitiated || task.StoppedReason != "stopped while down" {
		t.Errorf("stop %s %q", task.StopCode, task.StoppedReason)
	}
	if got := h.waitShipped(key, 2); got[1].Message != "while fargo was down" {
		t.Errorf("shipped %+v", got)
	}
}

// waitShipped waits until the stream has n events and returns them.
func (h *harness) waitShipped(key string, n int) []LogEvent {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		h.logs.mu.Lock()
		got := append([]LogEvent(nil), h.logs.streams[key]...)
		h.logs.mu.Unlock()
		if len(got) >= n {
			return got
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("stream %s has %d events, want %d", key, len(got), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStopFollowsDependsOn: on stop, a container that depends on another
// stops first, and the other only once it has exited (here after its 2 s
// stopTimeout: it ignores SIGTERM).
func TestStopFollowsDependsOn(t *testing.T) {
	h := newHarness(t)
	two := 2
	h.register("order",
		control.ContainerDefinition{Name: "side", Image: "stubby", StopTimeout: &two,
			DependsOn: []control.ContainerDependency{{ContainerName: "web", Condition: "START"}}},
		control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("order").ID, "RUNNING", status(control.TaskRunning))
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	task = h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	h.rt.mu.Lock()
	stops := h.rt.stops
	h.rt.mu.Unlock()
	if len(stops) != 2 || stops[0].id != runtime.ContainerID(task.ID, "side") || stops[1].id != runtime.ContainerID(task.ID, "web") {
		t.Fatalf("stops %+v, want side then web", stops)
	}
	if gap := stops[1].at.Sub(stops[0].at); gap < 2*time.Second {
		t.Errorf("web was stopped %s after side, before side had exited (2 s)", gap)
	}
	if *task.Container("side").ExitCode != 137 || *task.Container("web").ExitCode != 143 {
		t.Errorf("exit codes %+v", task.Containers)
	}
}

func TestPinDigest(t *testing.T) {
	d := "sha256:" + strings.Repeat("c", 64)
	for ref, want := range map[string]string{
		"web":                                   "web@" + d,
		"web:v1":                                "web@" + d,
		"127.0.0.1:4566/web:v1":                 "127.0.0.1:4566/web@" + d,
		"localhost:5000/team/web":               "localhost:5000/team/web@" + d,
		"web@sha256:" + strings.Repeat("a", 64): "web@" + d,
	} {
		if got := pinDigest(ref, d); got != want {
			t.Errorf("pinDigest(%s) = %s, want %s", ref, got, want)
		}
	}
}

// TestLinuxParameters: capabilities and initProcessEnabled reach the
// container's spec.
func TestLinuxParameters(t *testing.T) {
	h := newHarness(t)
	yes := true
	h.register("lp", control.ContainerDefinition{Name: "web", Image: "app", LinuxParameters: &control.LinuxParameters{
		Capabilities:       &control.KernelCapabilities{Add: []string{"SYS_PTRACE"}, Drop: []string{"NET_RAW"}},
		InitProcessEnabled: &yes}})
	task := h.wait(h.run("lp").ID, "RUNNING", status(control.TaskRunning))
	h.rt.mu.Lock()
	spec := h.rt.containers[task.Containers[0].RuntimeID].spec
	h.rt.mu.Unlock()
	if !spec.Init || len(spec.CapAdd) != 1 || spec.CapAdd[0] != "SYS_PTRACE" || len(spec.CapDrop) != 1 || spec.CapDrop[0] != "NET_RAW" {
		t.Errorf("spec init %v capAdd %v capDrop %v", spec.Init, spec.CapAdd, spec.CapDrop)
	}
}

// TestSweepTaskDirs: a restarted agent removes the state directories (and
// task-scoped volumes) of tasks it does not run, and keeps its own.
func TestSweepTaskDirs(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	id := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning)).ID
	h.stop()
	tasks := filepath.Join(h.dir, "agent", "tasks")
	orphan := filepath.Join(tasks, "0123456789abcdef0123456789abcdef", "volumes", "scratch")
	if err := os.MkdirAll(orphan, 0o755); err != nil {
		t.Fatal(err)
	}
	h.start()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, err := os.Stat(filepath.Dir(filepath.Dir(orphan))); os.IsNotExist(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the directory of a task no runner owns is still there")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := os.Stat(filepath.Join(tasks, id)); err != nil {
		t.Errorf("the re-adopted task's directory: %v", err)
	}
}

// TestPrivilegedOnEC2: a privileged container of an EC2 task gets a
// privileged spec; its unprivileged neighbour does not.
func TestPrivilegedOnEC2(t *testing.T) {
	h := newHarness(t)
	yes, mem := true, 128
	td := &control.TaskDefinition{Family: "priv", NetworkMode: "host", RequiresCompatibilities: []string{"EC2"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []control.ContainerDefinition{
			{Name: "agent", Image: "app", Memory: &mem, Privileged: &yes},
			{Name: "web", Image: "app", Memory: &mem}}}
	if _, err := h.ctl.RegisterTaskDefinition(context.Background(), scope, td, "test"); err != nil {
		t.Fatal(err)
	}
	res, err := h.ctl.RunTask(context.Background(), scope, control.RunTaskInput{TaskDefinition: "priv", LaunchType: "EC2"})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %+v, %v", res, err)
	}
	task := h.wait(res.Tasks[0].ID, "RUNNING", status(control.TaskRunning))
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	if spec := h.rt.containers[task.Container("agent").RuntimeID].spec; !spec.Privileged {
		t.Errorf("privileged container's spec is not privileged")
	}
	if spec := h.rt.containers[task.Container("web").RuntimeID].spec; spec.Privileged {
		t.Errorf("unprivileged container's spec is privileged")
	}
}

// TestReadoptThenSetupFails: a restarted agent whose set-up fails (here
// the task's network) still stops the re-adopted container as any other:
// its stop signal (exit 143), not only a delete, and its exit code
// recorded.
func TestReadoptThenSetupFails(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	h.stop()

	h.net.mu.Lock()
	h.net.err = errors.New("the bridge is gone")
	h.net.mu.Unlock()
	h.start()
	task = h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	h.rt.mu.Lock()
	stops := slices.Clone(h.rt.stops)
	h.rt.mu.Unlock()
	if id := runtime.ContainerID(task.ID, "web"); !slices.ContainsFunc(stops, func(s stopEvent) bool { return s.id == id }) {
		t.Errorf("the re-adopted container got no stop signal (stops %+v)", stops)
	}
	c := task.Containers[0]
	if c.ExitCode == nil || *c.ExitCode != 128+int(syscall.SIGTERM) {
		t.Errorf("exit code %v, want 143", c.ExitCode)
	}
	if task.StopCode != control.StopTaskFailedToStart || !strings.Contains(task.StoppedReason, "the bridge is gone") {
		t.Errorf("stop %s %q", task.StopCode, task.StoppedReason)
	}
}

// TestReadoptWaitsForStart: a container an earlier agent left starting
// (its monitor still runs runc) is adopted once its start is over, not
// before: RUNNING is never reported for a start in progress.
func TestReadoptWaitsForStart(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	h.stop()

	id := runtime.ContainerID(task.ID, "web")
	until := time.Now().Add(700 * time.Millisecond)
	h.rt.mu.Lock()
	h.rt.startingUntil[id] = until
	delete(h.rt.firstWait, id)
	h.rt.mu.Unlock()
	h.start()
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.rt.mu.Lock()
		at, ok := h.rt.firstWait[id]
		h.rt.mu.Unlock()
		if ok {
			if at.Before(until) {
				t.Errorf("re-adopted %v before its start was over", until.Sub(at))
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the container was never re-adopted")
		}
		time.Sleep(20 * time.Millisecond)
	}
	h.wait(task.ID, "still RUNNING", status(control.TaskRunning))
}

// TestReadoptFailedStart: a container whose start failed while no agent
// ran (its monitor, left by a killed fargo, could not run it) is a task
// that failed to start, with the runtime's reason: never RUNNING, never
// an exited essential container.
func TestReadoptFailedStart(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	h.stop()

	h.rt.finish(runtime.ContainerID(task.ID, "web"), runtime.ExitStatus{Code: -1, Error: `runc run: exec: "serve": executable file not found in $PATH`})
	h.start()
	task = h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopTaskFailedToStart || !strings.Contains(task.StoppedReason, "CannotStartContainerError") ||
		!strings.Contains(task.StoppedReason, "executable file not found") {
		t.Errorf("stopCode %s, reason %q", task.StopCode, task.StoppedReason)
	}
}
