package agent

// The overlapped steps of a task's start: the image hook's pulls begin in
// provision, and the PENDING report goes on in the background
// (reportAsync) until the first container's spec.

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// pullGatedStorage is fakeStorage whose Attach waits (a while) for the
// task's image pull to have begun.
type pullGatedStorage struct {
	*fakeStorage
	images *fakeImages
}

func (s pullGatedStorage) Attach(ctx context.Context, id, dir string, size int64) error {
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		s.images.mu.Lock()
		pulled := slices.Contains(s.images.pulls, "app")
		s.images.mu.Unlock()
		if pulled {
			return s.fakeStorage.Attach(ctx, id, dir, size)
		}
	}
	return errors.New("the image pull did not begin while the task's storage was being made")
}

// TestPullOverlapsSetup: a task's image pull begins while its network and
// ephemeral storage are being made (here, storage waits for it), and the
// task still reports PENDING (with its attachment) before the pull's
// outcome, then ACTIVATING and RUNNING.
func TestPullOverlapsSetup(t *testing.T) {
	h := newHarnessStopped(t)
	storage := pullGatedStorage{fakeStorage: &fakeStorage{}, images: h.images}
	a, err := New(Config{Node: "local", StateDir: filepath.Join(h.dir, "agent"), CPU: 8192, Memory: 16384, MaxTaskCPU: 4096,
		MaxTaskMemory: 8192, Resync: 100 * time.Millisecond},
		Deps{Control: h.states, Images: h.images, Network: h.net, Runtime: h.rt, Logs: h.logs, Storage: storage, Sweeper: h.sweeper()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); _ = a.Run(ctx) }()

	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", func(t *control.Task) bool {
		return t.LastStatus == control.TaskRunning || t.LastStatus == control.TaskStopped
	})
	if task.LastStatus != control.TaskRunning {
		t.Fatalf("task %s: %s", task.LastStatus, task.StoppedReason)
	}
	var seen []string
	pendingAt, pulledAt := -1, -1
	for i, s := range h.states.of(task.ID) {
		if len(seen) == 0 || seen[len(seen)-1] != s.LastStatus {
			seen = append(seen, s.LastStatus)
		}
		if s.LastStatus == control.TaskPending && pendingAt < 0 {
			pendingAt = i
			if len(s.Attachments) == 0 || s.Attachments[0].Status != "ATTACHED" {
				t.Errorf("PENDING without its attachment: %+v", s.Attachments)
			}
		}
		if !s.PullStoppedAt.IsZero() && pulledAt < 0 {
			pulledAt = i
		}
	}
	if pendingAt < 0 || pulledAt < pendingAt {
		t.Errorf("PENDING at report %d, the pull's outcome at %d: want PENDING first", pendingAt, pulledAt)
	}
	if i := slices.Index(seen, control.TaskPending); i < 0 || !slices.Equal(seen[i:min(i+3, len(seen))],
		[]string{control.TaskPending, control.TaskActivating, control.TaskRunning}) {
		t.Errorf("statuses %v, want PENDING, ACTIVATING, RUNNING", seen)
	}
}

// pendingGatedControl is the control plane whose store write of a task's
// PENDING waits (a while) for the task's cgroup to have been made, and
// fails when it was not.
type pendingGatedControl struct {
	*stateLog
	rt *fakeRuntime
}

func (c pendingGatedControl) UpdateTaskState(ctx context.Context, ref control.TaskRef, ch control.TaskStateChange) (*control.Task, error) {
	if ch.LastStatus == control.TaskPending {
		made := false
		for deadline := time.Now().Add(5 * time.Second); !made && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			c.rt.mu.Lock()
			made = c.rt.cgroups[ref.ID]
			c.rt.mu.Unlock()
		}
		if !made {
			return nil, errors.New("the task's cgroup was not made while its PENDING was being stored")
		}
	}
	return c.stateLog.UpdateTaskState(ctx, ref, ch)
}

// TestPendingReportOverlapsPrestart: a task's PENDING is stored while its
// images are taken and its cgroup is made (here, the store write waits
// for the cgroup), and none of its reports is lost or out of order:
// PENDING (with its attachment), ACTIVATING, RUNNING.
func TestPendingReportOverlapsPrestart(t *testing.T) {
	h := newHarnessStopped(t)
	a, err := New(Config{Node: "local", StateDir: filepath.Join(h.dir, "agent"), CPU: 8192, Memory: 16384, MaxTaskCPU: 4096,
		MaxTaskMemory: 8192, Resync: 100 * time.Millisecond},
		Deps{Control: pendingGatedControl{stateLog: h.states, rt: h.rt}, Images: h.images, Network: h.net, Runtime: h.rt,
			Logs: h.logs, Sweeper: h.sweeper()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { defer close(h.done); _ = a.Run(ctx) }()

	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "RUNNING", func(t *control.Task) bool {
		return t.LastStatus == control.TaskRunning || t.LastStatus == control.TaskStopped
	})
	if task.LastStatus != control.TaskRunning {
		t.Fatalf("task %s: %s", task.LastStatus, task.StoppedReason)
	}
	var seen []string
	for _, s := range h.states.of(task.ID) {
		if len(seen) == 0 || seen[len(seen)-1] != s.LastStatus {
			seen = append(seen, s.LastStatus)
		}
		if s.LastStatus == control.TaskPending && (len(s.Attachments) == 0 || s.Attachments[0].Status != "ATTACHED") {
			t.Errorf("PENDING without its attachment: %+v", s.Attachments)
		}
	}
	if i := slices.Index(seen, control.TaskPending); i < 0 || !slices.Equal(seen[i:min(i+3, len(seen))],
		[]string{control.TaskPending, control.TaskActivating, control.TaskRunning}) {
		t.Errorf("statuses %v, want PENDING, ACTIVATING, RUNNING", seen)
	}
}
