package deploy_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/deploy"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

const (
	elbTG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
	elbLB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/alb/0123456789abcdef"
)

// fakeELB is ELBv2 as the control plane and the controller see it: one
// target group, and target health set by the test (a task's own state,
// else the default).
type fakeELB struct {
	mu    sync.Mutex
	def   string
	state map[string]string
	asked map[string]string // task id -> target groups it was asked about
}

func (f *fakeELB) TargetGroup(_ context.Context, _ tenant.Scope, arn string) (control.TargetGroupInfo, error) {
	if arn != elbTG {
		return control.TargetGroupInfo{}, errdefs.New(errdefs.ErrNotFound, "target group not found")
	}
	return control.TargetGroupInfo{ARN: arn, TargetType: "ip", Protocol: "HTTP", Port: 80, LoadBalancerARNs: []string{elbLB}}, nil
}

func (f *fakeELB) TaskTargetHealth(_ context.Context, _ tenant.Scope, svc *control.Service, t *control.Task) (control.TargetState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(svc.LoadBalancers) == 0 {
		return control.TargetState{}, errors.New("asked about a task with no load balancer")
	}
	f.asked[t.ID] = svc.LoadBalancers[0].TargetGroupARN
	st := f.def
	if s, ok := f.state[t.ID]; ok {
		st = s
	}
	ts := control.TargetState{State: st, TargetGroupARN: elbTG}
	if st == control.TargetUnhealthy {
		ts.Reason, ts.Description = "Target.Timeout", "Request timed out"
	}
	return ts, nil
}

func (f *fakeELB) set(id, state string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" {
		f.def = state
	} else {
		f.state[id] = state
	}
}

// TestControllerFollowsTargetHealth: with the controller running, a
// service behind a load balancer becomes stable only once its targets
// are healthy (target health changes reach it without any store write),
// and a task whose target turns unhealthy is replaced and stopped with
// ECS's reason and event.
func TestControllerFollowsTargetHealth(t *testing.T) {
	e := newEnv(t)
	elb := &fakeELB{def: control.TargetInitial, state: map[string]string{}, asked: map[string]string{}}
	e.ctl.SetTargetGroups(elb)
	e.startControllerWith(func(c *deploy.Config) { c.TargetHealth, c.TargetPoll = elb, 50*time.Millisecond })
	td := e.registerWith("app:1", func(cd *control.ContainerDefinition) {
		cd.PortMappings = []control.PortMapping{{ContainerPort: new(80)}}
	})
	e.createWith("web", td.TaskDefinitionArn, 2, nil, func(s *control.ServiceSpec) {
		s.LoadBalancers = []control.ServiceLoadBalancer{{TargetGroupARN: elbTG, ContainerName: "web", ContainerPort: 80}}
	})
	e.waitFor("tasks RUNNING", 10*time.Second, func() bool { return e.describe("web").RunningCount == 2 })
	time.Sleep(300 * time.Millisecond)
	if svc := e.describe("web"); stable(svc) {
		t.Fatalf("stable while every target is initial: %+v", svc.Deployments[0])
	}
	elb.set("", control.TargetHealthy)
	e.waitFor("steady once targets are healthy", 5*time.Second, func() bool { return stable(e.describe("web")) })
	elb.mu.Lock()
	for id, tg := range elb.asked {
		if tg != elbTG {
			t.Errorf("task %s asked about target group %q", id, tg)
		}
	}
	elb.mu.Unlock()

	victim := e.tasks()[0]
	elb.set(victim.ID, control.TargetUnhealthy)
	e.waitFor("victim stopped and replaced", 10*time.Second, func() bool {
		svc := e.describe("web")
		if !stable(svc) {
			return false
		}
		for _, tk := range e.tasks() {
			if tk.ID == victim.ID {
				return tk.LastStatus == control.TaskStopped
			}
		}
		return false
	})
	for _, tk := range e.tasks() {
		if tk.ID == victim.ID && (tk.StopCode != control.StopServiceSchedulerInitiated ||
			tk.StoppedReason != "Task failed ELB health checks in (target-group "+elbTG+")") {
			t.Fatalf("victim %s %q", tk.StopCode, tk.StoppedReason)
		}
	}
	want := "(service web) (task " + victim.ID + ") (port 80) is unhealthy in (target-group " + elbTG + ") due to (reason Request timed out)."
	if !hasEvent(e.describe("web"), want) {
		t.Fatalf("no event %q in %+v", want, e.describe("web").Events)
	}
}
