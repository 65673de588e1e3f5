package control

import (
	"context"
	"errors"
	"testing"
	"time"
)

// recordingRegistrar records what it was asked and answers a fixed drain.
type recordingRegistrar struct {
	registered, deregistered []string
	drain                    time.Duration
	err                      error
}

func (r *recordingRegistrar) Register(_ context.Context, t *Task, svc *Service) error {
	r.registered = append(r.registered, svc.Name+"/"+t.ID)
	return r.err
}

func (r *recordingRegistrar) Deregister(_ context.Context, t *Task, svc *Service) (time.Duration, error) {
	r.deregistered = append(r.deregistered, svc.Name+"/"+t.ID)
	return r.drain, r.err
}

func TestActivateDeactivateServiceTasksOnly(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	if err := c.RegisterNode(ctx, Node{ID: "node-a", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(ctx, svcScope, baseSpec(td.TaskDefinitionArn)); err != nil {
		t.Fatal(err)
	}
	a := &recordingRegistrar{drain: 3 * time.Second}
	b := &recordingRegistrar{drain: 7 * time.Second}
	c.SetRegistrars(a, b)

	run := func(group string) TaskRef {
		in := fargateRun(td.TaskDefinitionArn)
		in.Group = group
		res, err := c.RunTask(ctx, svcScope, in)
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("RunTask: %v %+v", err, res)
		}
		return TaskRef{Scope: svcScope, Cluster: res.Tasks[0].Cluster, ID: res.Tasks[0].ID}
	}
	lone := run("")
	if err := c.ActivateTask(ctx, lone); err != nil {
		t.Fatal(err)
	}
	if d, err := c.DeactivateTask(ctx, lone); err != nil || d != 0 {
		t.Fatalf("deactivate a task of no service: %v %v", d, err)
	}
	if len(a.registered)+len(a.deregistered) != 0 {
		t.Fatalf("a task of no service reached a registrar: %+v", a)
	}

	svcTask := run("service:web")
	if err := c.ActivateTask(ctx, svcTask); err != nil {
		t.Fatal(err)
	}
	d, err := c.DeactivateTask(ctx, svcTask)
	if err != nil || d != 7*time.Second {
		t.Fatalf("drain = %v, %v; want the longest, 7s", d, err)
	}
	want := "web/" + svcTask.ID
	for _, r := range []*recordingRegistrar{a, b} {
		if len(r.registered) != 1 || r.registered[0] != want || len(r.deregistered) != 1 || r.deregistered[0] != want {
			t.Fatalf("registrar saw %+v, want %s once each way", r, want)
		}
	}

	a.err = errors.New("target group gone")
	if err := c.ActivateTask(ctx, svcTask); !errors.Is(err, ErrRegistration) {
		t.Fatalf("failed registration: %v, want ErrRegistration", err)
	}
	if _, err := c.DeactivateTask(ctx, svcTask); err == nil || len(b.deregistered) != 2 {
		t.Fatalf("a failing registrar must not keep the others from deregistering: %v %+v", err, b)
	}
}
