package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// fakeStorage records the tasks' filesystems; a set err fails Attach.
type fakeStorage struct {
	mu       sync.Mutex
	attached map[string]int64  // task id -> size
	dirs     map[string]string // task id -> dir
	detached []string
	used     int64
	err      error
}

func (f *fakeStorage) Attach(_ context.Context, id, dir string, size int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return f.err
	}
	if f.attached == nil {
		f.attached, f.dirs = map[string]int64{}, map[string]string{}
	}
	f.attached[id], f.dirs[id] = size, dir
	return nil
}

func (f *fakeStorage) Detach(_ context.Context, id, _ string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.detached = append(f.detached, id)
	delete(f.attached, id)
	return nil
}

func (f *fakeStorage) Usage(string) (int64, int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.used, 20 << 30, nil
}

func (f *fakeStorage) Tasks() ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.attached {
		out = append(out, id)
	}
	return out, nil
}

// TestEphemeralStorageAttached: a task's directory gets a filesystem of
// the task's ephemeral storage (RunTask's override here), its containers'
// writable layers go there, and the task's stop detaches it.
func TestEphemeralStorageAttached(t *testing.T) {
	h := newHarnessStopped(t)
	h.storage = &fakeStorage{}
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	res, err := h.ctl.RunTask(context.Background(), scope, control.RunTaskInput{TaskDefinition: "web", LaunchType: "FARGATE",
		NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-12345"}},
		Overrides:            &control.TaskOverride{EphemeralStorage: &control.EphemeralStorage{SizeInGiB: 21}}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %+v %v", res, err)
	}
	task := h.wait(res.Tasks[0].ID, "RUNNING", status(control.TaskRunning))
	dir := filepath.Join(h.dir, "agent", "tasks", task.ID)
	h.storage.mu.Lock()
	size, gotDir := h.storage.attached[task.ID], h.storage.dirs[task.ID]
	h.storage.mu.Unlock()
	if size != 21<<30 || gotDir != dir {
		t.Errorf("Attach(%s, %d), want (%s, 21 GiB)", gotDir, size, dir)
	}
	h.images.mu.Lock()
	scratch := h.images.scratch[task.ID+"-web"]
	h.images.mu.Unlock()
	if scratch != filepath.Join(dir, "containers", "web") {
		t.Errorf("the container's writable layer is in %q, want on the task's filesystem %s", scratch, dir)
	}
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	h.stop()
	h.storage.mu.Lock()
	defer h.storage.mu.Unlock()
	if len(h.storage.attached) != 0 || len(h.storage.detached) == 0 || h.storage.detached[0] != task.ID {
		t.Errorf("after the stop: attached %v detached %v", h.storage.attached, h.storage.detached)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("task dir after the stop: %v", err)
	}
}

// TestEphemeralStorageFailure: a task whose filesystem cannot be made does
// not start (and says why without host details); one whose directory
// predates enforcement runs unbounded, its writable layers in the store.
func TestEphemeralStorageFailure(t *testing.T) {
	h := newHarnessStopped(t)
	h.storage = &fakeStorage{err: errors.New("mount /var/lib/secret: no loop device")}
	h.start()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	task := h.wait(h.run("web").ID, "STOPPED", status(control.TaskStopped))
	if task.StopCode != control.StopTaskFailedToStart || !strings.Contains(task.StoppedReason, "ephemeral storage") ||
		strings.Contains(task.StoppedReason, "/var/lib") {
		t.Errorf("stop %s %q, want TaskFailedToStart about the ephemeral storage, without host paths", task.StopCode, task.StoppedReason)
	}

	h.storage.mu.Lock()
	h.storage.err = ErrNotEnforced
	h.storage.mu.Unlock()
	task = h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	h.images.mu.Lock()
	scratch := h.images.scratch[task.ID+"-web"]
	h.images.mu.Unlock()
	if scratch != "" {
		t.Errorf("an unbounded task's writable layer is in %q, want the image store", scratch)
	}
}

// TestSweepDetachesUnownedStorage: a task filesystem no runner owns (its
// task lost with the store) is detached at start.
func TestSweepDetachesUnownedStorage(t *testing.T) {
	h := newHarnessStopped(t)
	h.storage = &fakeStorage{attached: map[string]int64{"0123": 20 << 30}, dirs: map[string]string{}}
	h.start()
	h.wait0(func() bool {
		h.storage.mu.Lock()
		defer h.storage.mu.Unlock()
		return len(h.storage.detached) == 1 && h.storage.detached[0] == "0123"
	})
}

// wait0 polls cond for a few seconds.
func (h *harness) wait0(cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatal("condition never met")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestMetadataSaysNotEnforced: a Fargate task whose storage is not bounded
// gets its use measured as before, and an Errors entry that says so.
func TestMetadataSaysNotEnforced(t *testing.T) {
	a, r, task := metadataRunner(t)
	a.deps.Storage = nil
	r.h.storage.bounded.Store(false)
	var md map[string]any
	getMetadata(t, a, "/v4/"+metadataID(task.ID, "app")+"/task", &md)
	if es := jsonAt(md, "EphemeralStorageMetrics"); jsonAt(es, "Utilized") != 6.0 || jsonAt(es, "Reserved") != 20480.0 {
		t.Errorf("EphemeralStorageMetrics %v, want the walk's 6 MiB of 20480", es)
	}
	if code := jsonAt(md, "Errors", 0, "ErrorCode"); code != "EphemeralStorageNotEnforced" {
		t.Errorf("Errors %v, want EphemeralStorageNotEnforced", md["Errors"])
	}
}
