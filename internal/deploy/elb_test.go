package deploy

import (
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// Services behind load balancers: decide with the ELBv2 target health of
// the tasks in the snapshot (ServiceState.Targets).

const (
	tgA = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
	tgB = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web2/0123456789abcde2"
)

// newLBSim is newSim for a service whose deployment registers its tasks
// in tg, with target health known (every task initial until set).
func newLBSim(t *testing.T, desired int, td, tg string) *sim {
	s := newSim(t, desired, td)
	lbs := []control.ServiceLoadBalancer{{TargetGroupARN: tg, ContainerName: "web", ContainerPort: 80}}
	s.svc().LoadBalancers, s.dep().LoadBalancers = lbs, lbs
	s.st.Targets = map[string]control.TargetState{}
	s.cfg.TargetPoll = 2 * time.Second
	return s
}

func (s *sim) target(id, state string) {
	tg := s.svc().LoadBalancersOf(s.find(id))[0].TargetGroupARN
	ts := control.TargetState{State: state, TargetGroupARN: tg}
	if state == control.TargetUnhealthy {
		ts.Reason, ts.Description = "Target.ResponseCodeMismatch", "Health checks failed with these codes: [500]"
	}
	s.st.Targets[id] = ts
}

// TestELBGatesHealth: a task behind a load balancer counts as healthy
// only once its target is healthy, however long it has been RUNNING; the
// controller polls meanwhile, and a rollout neither completes nor stops
// older tasks before that.
func TestELBGatesHealth(t *testing.T) {
	s := newLBSim(t, 1, tdPlain, tgA)
	started, _ := s.pass()
	s.run(started[0])
	s.target(started[0], control.TargetInitial)
	s.advance(time.Hour) // far past MinHealthyTime
	plan, wake := decide(s.st, s.now, s.cfg)
	if plan != nil && plan.Service.Primary().RolloutState == control.RolloutCompleted {
		t.Fatal("deployment completed while the target is initial")
	}
	if want := s.now.Add(2 * time.Second); !wake.Equal(want) {
		t.Fatalf("wake %v, want a target poll at %v", wake, want)
	}
	s.pass()
	s.target(started[0], control.TargetHealthy)
	s.pass()
	if d := s.dep(); d.RolloutState != control.RolloutCompleted {
		t.Fatalf("rollout %s once the target is healthy", d.RolloutState)
	}
	// Steady, the controller still polls the targets.
	if _, wake := decide(s.st, s.now, s.cfg); !wake.Equal(s.now.Add(2 * time.Second)) {
		t.Fatalf("steady wake %v", wake)
	}

	// A new deployment: its task RUNNING but not healthy in the load
	// balancer keeps the old one running (minimumHealthyPercent 100).
	svc := s.svc()
	svc.LastCompleted = new(*s.dep())
	next := &control.Deployment{ID: "ecs-svc/2000000000000000002", Status: control.DeploymentPrimary, TaskDefinition: tdPlain,
		DesiredCount: 1, RolloutState: control.RolloutInProgress, LoadBalancers: []control.ServiceLoadBalancer{{TargetGroupARN: tgB, ContainerName: "web", ContainerPort: 80}}}
	svc.Deployments[0].Status = control.DeploymentActive
	svc.Deployments = append([]*control.Deployment{next}, svc.Deployments...)
	svc.LoadBalancers = next.LoadBalancers
	newTasks, _ := s.pass()
	if len(newTasks) != 1 {
		t.Fatalf("new deployment started %v", newTasks)
	}
	s.run(newTasks[0])
	s.target(newTasks[0], control.TargetInitial)
	s.advance(time.Minute)
	if _, stopped := s.pass(); len(stopped) != 0 {
		t.Fatalf("old task stopped %v before the new one's target is healthy", stopped)
	}
	if got := s.st.Targets[newTasks[0]].TargetGroupARN; got != tgB {
		t.Fatalf("the new task's target group %s, want its deployment's %s", got, tgB)
	}
	s.target(newTasks[0], control.TargetHealthy)
	if _, stopped := s.pass(); len(stopped) != 1 || stopped[0] != started[0] {
		t.Fatalf("stopped %v once the new target is healthy, want the old task", stopped)
	}

	// Without target health (no ELBv2), load balancers do not gate.
	s2 := newLBSim(t, 1, tdPlain, tgA)
	s2.st.Targets = nil
	st, _ := s2.pass()
	s2.run(st[0])
	s2.advance(10 * time.Second)
	s2.pass()
	if d := s2.dep(); d.RolloutState != control.RolloutCompleted {
		t.Fatalf("without target health: rollout %s", d.RolloutState)
	}
}

// TestELBUnhealthyAfterGrace: an unhealthy target is ignored for
// healthCheckGracePeriodSeconds after the task started; then the task
// fails (one event, as ECS words it, and one failed task), its
// replacement starts first, and once that is healthy the task stops with
// ECS's reason.
func TestELBUnhealthyAfterGrace(t *testing.T) {
	s := newLBSim(t, 1, tdPlain, tgA)
	s.svc().HealthCheckGracePeriodSeconds = 30
	started, _ := s.pass()
	victim := started[0]
	s.run(victim)
	s.target(victim, control.TargetHealthy)
	s.pass()
	s.advance(10 * time.Second)
	s.target(victim, control.TargetUnhealthy)
	plan, wake := decide(s.st, s.now, s.cfg)
	if plan != nil && (len(plan.Stops) > 0 || len(plan.Starts) > 0) {
		t.Fatalf("acted within the grace period: %+v %+v", plan.Starts, plan.Stops)
	}
	if end := epoch.Add(30 * time.Second); wake.IsZero() || wake.After(end) {
		t.Fatalf("wake %v, want no later than the end of the grace period %v", wake, end)
	}
	s.pass()
	if n := s.events("is unhealthy in"); n != 0 {
		t.Fatalf("%d unhealthy events within the grace period", n)
	}

	s.advance(20 * time.Second)
	repl, stopped := s.pass()
	if len(stopped) != 0 || len(repl) != 1 {
		t.Fatalf("after the grace period: stopped %v, started %v; want the replacement first", stopped, repl)
	}
	if d := s.dep(); d.FailedTasks != 1 {
		t.Fatalf("failed tasks %d, want 1", d.FailedTasks)
	}
	want := "(service web) (task " + victim + ") (port 80) is unhealthy in (target-group " + tgA +
		") due to (reason Health checks failed with these codes: [500])."
	if s.events(want) != 1 {
		t.Fatalf("events %+v\nwant %q", s.svc().Events, want)
	}
	s.advance(time.Second)
	s.run(repl[0])
	s.target(repl[0], control.TargetInitial)
	s.advance(time.Second)
	if _, stopped := s.pass(); len(stopped) != 0 {
		t.Fatalf("stopped %v before the replacement is healthy", stopped)
	}
	s.target(repl[0], control.TargetHealthy)
	s.advance(time.Second)
	if _, stopped := s.pass(); len(stopped) != 1 || stopped[0] != victim {
		t.Fatalf("stopped %v, want the unhealthy task", stopped)
	}
	v := s.find(victim)
	if v.StopCode != control.StopServiceSchedulerInitiated || v.StoppedReason != "Task failed ELB health checks in (target-group "+tgA+")" {
		t.Fatalf("victim %s %q", v.StopCode, v.StoppedReason)
	}
	if s.events("is unhealthy in") != 1 || s.dep().FailedTasks != 0 {
		t.Fatalf("after the stop: %d events, %d failed tasks (the healthy replacement resets it)", s.events("is unhealthy in"), s.dep().FailedTasks)
	}

	// No room for a replacement (maximumPercent 100): the task stops at
	// once with the same reason.
	s2 := newLBSim(t, 1, tdPlain, tgA)
	s2.svc().DeploymentConfiguration.MaximumPercent = 100
	st, _ := s2.pass()
	s2.run(st[0])
	s2.target(st[0], control.TargetUnhealthy)
	if _, stopped := s2.pass(); len(stopped) != 1 || s2.find(st[0]).StoppedReason != "Task failed ELB health checks in (target-group "+tgA+")" {
		t.Fatalf("no room: stopped %v, %q", stopped, s2.find(st[0]).StoppedReason)
	}
}

// TestELBUnhealthyTripsBreaker: targets that never turn healthy count as
// failed tasks in the circuit breaker's stage 2; at the threshold the
// deployment fails and rolls back to the last COMPLETED one, with that
// deployment's load balancers.
func TestELBUnhealthyTripsBreaker(t *testing.T) {
	s := newLBSim(t, 1, tdPlain, tgA)
	s.svc().DeploymentConfiguration.CircuitBreaker.Rollback = true
	done := &control.Deployment{ID: "ecs-svc/1000000000000000000", TaskDefinition: tdHealth, DesiredCount: 1,
		RolloutState: control.RolloutCompleted, LoadBalancers: []control.ServiceLoadBalancer{{TargetGroupARN: tgB, ContainerName: "web", ContainerPort: 80}}}
	s.svc().LastCompleted = done
	for range 10 {
		started, _ := s.pass()
		if s.dep().RolloutState == control.RolloutFailed || s.svc().Primary().RollbackOf != "" {
			break
		}
		for _, id := range started {
			s.run(id)
		}
		for _, tk := range s.st.Tasks {
			if tk.LastStatus == control.TaskRunning {
				s.target(tk.ID, control.TargetUnhealthy)
			}
		}
		s.advance(time.Second)
		s.stopAsked()
	}
	svc := s.svc()
	p := svc.Primary()
	failed := svc.FindDeployment(p.RollbackOf)
	if failed == nil || failed.RolloutState != control.RolloutFailed || !failed.ReachedRunning || failed.FailedTasks < control.CircuitBreakerThreshold(1) {
		t.Fatalf("failed deployment %+v (primary %+v)", failed, p)
	}
	if p.TaskDefinition != tdHealth || len(p.LoadBalancers) != 1 || p.LoadBalancers[0].TargetGroupARN != tgB ||
		len(svc.LoadBalancers) != 1 || svc.LoadBalancers[0].TargetGroupARN != tgB {
		t.Fatalf("rollback %+v, service load balancers %+v", p, svc.LoadBalancers)
	}
	if s.events("is unhealthy in (target-group "+tgA+")") < control.CircuitBreakerThreshold(1) {
		t.Fatalf("events %+v", svc.Events)
	}
}
