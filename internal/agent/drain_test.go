package agent

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// drainRegistrar records when tasks are registered and deregistered and
// answers a fixed drain.
type drainRegistrar struct {
	drain time.Duration
	mu    sync.Mutex
	reg   map[string]time.Time
	dereg map[string]time.Time
}

func (r *drainRegistrar) Register(_ context.Context, t *control.Task, _ *control.Service) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reg[t.ID] = time.Now()
	return nil
}

func (r *drainRegistrar) Deregister(_ context.Context, t *control.Task, _ *control.Service) (time.Duration, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dereg[t.ID] = time.Now()
	return r.drain, nil
}

func (r *drainRegistrar) times(id string) (reg, dereg time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reg[id], r.dereg[id]
}

// firstStop is when the runtime first got a stop signal for a container
// of the task (zero: none yet).
func (h *harness) firstStop(taskID string) time.Time {
	h.rt.mu.Lock()
	defer h.rt.mu.Unlock()
	for _, s := range h.rt.stops {
		if len(s.id) >= len(taskID) && s.id[:len(taskID)] == taskID {
			return s.at
		}
	}
	return time.Time{}
}

// TestDeactivateDrainDelaysStopSignal: a service task is registered in
// ACTIVATING; asked to stop, it is deregistered in DEACTIVATING and stays
// there, its containers untouched, for the drain the registrar answers,
// before any container gets its stop signal. A task of no service is
// neither registered nor drained.
func TestDeactivateDrainDelaysStopSignal(t *testing.T) {
	const drain = 800 * time.Millisecond
	h := newHarnessStopped(t)
	reg := &drainRegistrar{drain: drain, reg: map[string]time.Time{}, dereg: map[string]time.Time{}}
	h.ctl.SetRegistrars(reg)
	h.start()
	ctx := context.Background()
	h.register("web", control.ContainerDefinition{Name: "web", Image: "app"})
	zero := 0
	if _, err := h.ctl.CreateService(ctx, scope, control.ServiceSpec{Name: "web", TaskDefinition: "web", DesiredCount: &zero,
		LaunchType: "FARGATE", NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-12345"}}}); err != nil {
		t.Fatal(err)
	}
	res, err := h.ctl.RunTask(ctx, scope, control.RunTaskInput{TaskDefinition: "web", LaunchType: "FARGATE", Group: "service:web",
		NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-12345"}}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, res)
	}
	id := res.Tasks[0].ID
	h.wait(id, "RUNNING", status(control.TaskRunning))
	if r, _ := reg.times(id); r.IsZero() {
		t.Fatal("service task RUNNING without being registered")
	}
	// Registered while ACTIVATING, before RUNNING.
	var sawActivating bool
	for _, st := range h.states.of(id) {
		if st.LastStatus == control.TaskActivating {
			sawActivating = true
		}
	}
	if !sawActivating {
		t.Fatal("task never reported ACTIVATING")
	}

	if _, err := h.ctl.StopTask(ctx, scope, "", id, "test"); err != nil {
		t.Fatal(err)
	}
	h.wait(id, "DEACTIVATING", status(control.TaskDeactivating))
	// Mid-drain: still DEACTIVATING, no container signalled.
	time.Sleep(drain / 2)
	if got := h.firstStop(id); !got.IsZero() {
		t.Fatalf("a container was signalled during the drain")
	}
	h.wait(id, "still DEACTIVATING mid-drain", status(control.TaskDeactivating))
	h.wait(id, "STOPPED", status(control.TaskStopped))
	_, dereg := reg.times(id)
	stop := h.firstStop(id)
	if dereg.IsZero() || stop.IsZero() {
		t.Fatalf("deregistered at %v, first stop signal at %v", dereg, stop)
	}
	if d := stop.Sub(dereg); d < drain {
		t.Fatalf("stop signal %v after deregistration, want at least the %v drain", d, drain)
	}

	// A task of no service: nothing registered, no drain.
	lone := h.wait(h.run("web").ID, "RUNNING", status(control.TaskRunning))
	asked := time.Now()
	if _, err := h.ctl.StopTask(ctx, scope, "", lone.ID, "test"); err != nil {
		t.Fatal(err)
	}
	h.wait(lone.ID, "STOPPED", status(control.TaskStopped))
	if r, d := reg.times(lone.ID); !r.IsZero() || !d.IsZero() {
		t.Fatalf("a task of no service reached the registrar: %v %v", r, d)
	}
	if s := h.firstStop(lone.ID); s.IsZero() || s.Sub(asked) >= drain {
		t.Fatalf("a task of no service signalled %v after the stop request", s.Sub(asked))
	}
}
