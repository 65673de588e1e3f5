package agent

import (
	"context"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// TestOutOfFilesIsNoExit is finding 2 of issue 17: when fargo cannot open
// a file (EMFILE), the runtime cannot tell how a container is; that is no
// verdict. The task stays RUNNING, and stops as usual afterwards.
func TestOutOfFilesIsNoExit(t *testing.T) {
	h := newHarness(t)
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))

	h.rt.emfile.Store(5) // the agent backs off: about 1.5 s of failing Waits
	h.drainEMFILE()
	ts, _, err := h.ctl.DescribeTasks(context.Background(), scope, "", []string{task.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts[0]; got.LastStatus != control.TaskRunning || got.DesiredStatus != control.TaskRunning || got.Containers[0].LastStatus != control.ContainerRunning {
		t.Fatalf("after EMFILE from the runtime: task %s/%s (%s %q), container %s %q", got.LastStatus, got.DesiredStatus,
			got.StopCode, got.StoppedReason, got.Containers[0].LastStatus, got.Containers[0].Reason)
	}
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	task = h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopUserInitiated || *task.Containers[0].ExitCode != 143 {
		t.Fatalf("stopped: %s %q, exit %v", task.StopCode, task.StoppedReason, *task.Containers[0].ExitCode)
	}
}

// TestOutOfFilesAtAdoption: an agent that restarts while out of files
// adopts its running task once it can read the runtime's state again, not
// fail it.
func TestOutOfFilesAtAdoption(t *testing.T) {
	h := newHarness(t)
	h.stop()
	h.keep = true
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	h.stop()
	h.rt.emfile.Store(5)
	h.start()
	h.drainEMFILE()
	ts, _, err := h.ctl.DescribeTasks(context.Background(), scope, "", []string{task.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts[0]; got.LastStatus != control.TaskRunning || got.DesiredStatus != control.TaskRunning {
		t.Fatalf("adopted while out of files: %s/%s (%s %q)", got.LastStatus, got.DesiredStatus, got.StopCode, got.StoppedReason)
	}
	if h.rt.running() != 1 {
		t.Fatalf("containers %d, want the adopted one", h.rt.running())
	}
}

// drainEMFILE waits until the agent has had every EMFILE answer the fake
// runtime was told to give (and a moment more to act on the next one).
func (h *harness) drainEMFILE() {
	h.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); h.rt.emfile.Load() > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			h.t.Fatalf("the agent stopped asking the runtime: %d EMFILE answers left", h.rt.emfile.Load())
		}
	}
	time.Sleep(200 * time.Millisecond)
}

// TestOutOfFilesIsNoFailedHealthCheck: a health check that could not run
// (runc exec out of file descriptors) is no failed check: the container
// stays HEALTHY (an UNHEALTHY essential container stops its task).
func TestOutOfFilesIsNoFailedHealthCheck(t *testing.T) {
	h := newHarness(t)
	five, one := 5, 1
	h.register("hc", control.ContainerDefinition{Name: "web", Image: "app",
		HealthCheck: &control.HealthCheck{Command: []string{"CMD", "true"}, Interval: &five, Retries: &one}})
	task := h.wait(h.run("hc").ID, "HEALTHY", func(t *control.Task) bool { return t.HealthStatus == "HEALTHY" })
	h.rt.execEMFILE.Store(2)
	for deadline := time.Now().Add(15 * time.Second); h.rt.execEMFILE.Load() > 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the health check stopped running")
		}
	}
	time.Sleep(200 * time.Millisecond)
	ts, _, err := h.ctl.DescribeTasks(context.Background(), scope, "", []string{task.ID})
	if err != nil {
		t.Fatal(err)
	}
	if got := ts[0]; got.HealthStatus != "HEALTHY" || got.LastStatus != control.TaskRunning {
		t.Fatalf("after health checks that could not run: %s, %s (%s %q)", got.HealthStatus, got.LastStatus, got.StopCode, got.StoppedReason)
	}
}
