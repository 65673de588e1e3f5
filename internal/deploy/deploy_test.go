package deploy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

func TestReachDesiredCountAndSteadyState(t *testing.T) {
	e := newEnv(t)
	e.startController()
	td := e.register("app:1")
	e.create("web", td.TaskDefinitionArn, 3, nil)
	e.waitFor("steady state", 10*time.Second, func() bool {
		svc := e.describe("web")
		return stable(svc) && hasEvent(svc, "(service web) has reached a steady state.")
	})
	svc := e.describe("web")
	if !hasEvent(svc, "(service web) has started 3 tasks: (task ") {
		t.Errorf("events: %+v", svc.Events)
	}
	if svc.Events[0].Message != "(service web) has reached a steady state." {
		t.Errorf("newest event %q", svc.Events[0].Message)
	}
	dep := svc.Deployments[0]
	if dep.RunningCount != 3 || dep.FailedTasks != 0 || dep.RolloutStateReason != "ECS deployment "+dep.ID+" completed." {
		t.Errorf("deployment %+v", dep)
	}
	for _, task := range e.tasks() {
		if task.Group != "service:web" || task.StartedBy != dep.ID {
			t.Errorf("task group %q startedBy %q", task.Group, task.StartedBy)
		}
	}
}

func TestReplacesStoppedTask(t *testing.T) {
	e := newEnv(t)
	e.startController()
	td := e.register("app:1")
	e.create("web", td.TaskDefinitionArn, 2, nil)
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	victim := e.tasks()[0]
	if err := e.node.kill(context.Background(), victim); err != nil {
		t.Fatal(err)
	}
	// The kill counts as a failure, and the healthy replacement resets
	// the count (failedTasks is consecutive failures, resetOnHealthyTask).
	e.waitFor("replacement", 10*time.Second, func() bool {
		svc := e.describe("web")
		return stable(svc) && len(e.tasks()) == 3 && svc.Deployments[0].FailedTasks == 0
	})
	alive := 0
	for _, task := range e.tasks() {
		if task.LastStatus != control.TaskStopped {
			alive++
		}
	}
	svc := e.describe("web")
	if alive != 2 || svc.Deployments[0].LastFailureAt.IsZero() {
		t.Fatalf("alive %d, last failure %v", alive, svc.Deployments[0].LastFailureAt)
	}
}

// watchLimits checks the deployment limits at every store change until
// stop is called and returns the violations seen.
func (e *env) watchLimits(maxAlive, minRunning int) (stop func() []string) {
	ctx, cancel := context.WithCancel(context.Background())
	rev, _ := e.st.Revision(ctx)
	ch, err := e.st.Watch(ctx, "ecs/", rev)
	if err != nil {
		e.t.Fatal(err)
	}
	var mu sync.Mutex
	var bad []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range ch {
			alive, running := 0, 0
			for _, task := range e.tasks() {
				if task.LastStatus != control.TaskStopped {
					alive++
				}
				if task.LastStatus == control.TaskRunning && task.DesiredStatus == control.TaskRunning {
					running++
				}
			}
			if alive > maxAlive || running < minRunning {
				mu.Lock()
				bad = append(bad, "alive/running out of bounds")
				mu.Unlock()
			}
		}
	}()
	return func() []string {
		cancel()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return bad
	}
}

func TestRollingUpdateRespectsMinAndMax(t *testing.T) {
	for _, tc := range []struct {
		name     string
		min, max int
		maxAlive int
		minRun   int
	}{
		{"min50-max150", 50, 150, 6, 2},
		{"min100-max200", 100, 200, 8, 4},
		{"min0-max100", 0, 100, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.startController()
			td1 := e.register("app:1")
			e.create("web", td1.TaskDefinitionArn, 4, &control.DeploymentConfigurationInput{MaximumPercent: &tc.max, MinimumHealthyPercent: &tc.min})
			e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
			td2 := e.register("app:2")
			stop := e.watchLimits(tc.maxAlive, tc.minRun)
			arn := td2.TaskDefinitionArn
			if _, err := e.ctl.UpdateService(context.Background(), scope, control.ServiceUpdate{Service: "web", TaskDefinition: &arn}); err != nil {
				t.Fatal(err)
			}
			e.waitFor("rollout", 15*time.Second, func() bool {
				svc := e.describe("web")
				return stable(svc) && svc.Deployments[0].TaskDefinition == arn
			})
			if bad := stop(); len(bad) > 0 {
				t.Fatalf("%d violations of min/max", len(bad))
			}
			for _, task := range e.tasks() {
				if task.LastStatus != control.TaskStopped && task.TaskDefinitionARN != arn {
					t.Fatalf("old task still alive: %s", task.ID)
				}
			}
		})
	}
}

func TestCircuitBreakerRollsBack(t *testing.T) {
	e := newEnv(t)
	e.startController()
	td1 := e.register("app:1")
	e.create("web", td1.TaskDefinitionArn, 3, &control.DeploymentConfigurationInput{
		CircuitBreaker: &control.CircuitBreaker{Enable: true, Rollback: true}})
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	first := e.describe("web").Deployments[0].ID
	e.node.fail("app:bad")
	td2 := e.register("app:bad")
	arn := td2.TaskDefinitionArn
	if _, err := e.ctl.UpdateService(context.Background(), scope, control.ServiceUpdate{Service: "web", TaskDefinition: &arn}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("rollback completes", 20*time.Second, func() bool {
		svc := e.describe("web")
		return stable(svc) && svc.TaskDefinition == td1.TaskDefinitionArn && hasEvent(svc, "deployment failed: tasks failed to start.")
	})
	svc := e.describe("web")
	p := svc.Deployments[0]
	if p.RollbackOf == "" || p.RolloutStateReason == "" {
		t.Fatalf("primary after rollback: %+v", p)
	}
	failed := svc.FindDeployment(p.RollbackOf)
	if failed == nil || failed.RolloutState != control.RolloutFailed || failed.FailedTasks < 3 || failed.ReachedRunning ||
		failed.RolloutStateReason != "ECS deployment circuit breaker: tasks failed to start." ||
		failed.DeploymentStatus != control.SvcDeployRollbackSuccessful || failed.Rollback.DeploymentID != first {
		t.Fatalf("failed deployment: %+v", failed)
	}
	for _, task := range e.tasks() {
		if task.LastStatus != control.TaskStopped && task.TaskDefinitionARN != td1.TaskDefinitionArn {
			t.Fatalf("bad task alive: %+v", task)
		}
	}
}

func TestCircuitBreakerWithoutRollbackStalls(t *testing.T) {
	e := newEnv(t)
	e.startController()
	e.node.fail("app:bad")
	td := e.register("app:bad")
	e.create("web", td.TaskDefinitionArn, 2, &control.DeploymentConfigurationInput{
		CircuitBreaker: &control.CircuitBreaker{Enable: true}})
	e.waitFor("breaker", 10*time.Second, func() bool {
		return e.describe("web").Deployments[0].RolloutState == control.RolloutFailed
	})
	n := len(e.tasks())
	time.Sleep(300 * time.Millisecond)
	if got := len(e.tasks()); got != n {
		t.Fatalf("tasks launched after the breaker tripped: %d -> %d", n, got)
	}
}

func TestThrottleWithoutBreaker(t *testing.T) {
	e := newEnv(t)
	e.startController()
	e.node.fail("app:bad")
	td := e.register("app:bad")
	e.create("web", td.TaskDefinitionArn, 1, nil)
	e.waitFor("throttle event", 10*time.Second, func() bool {
		return hasEvent(e.describe("web"), "(service web) is unable to consistently start tasks successfully.")
	})
	svc := e.describe("web")
	if svc.Throttle.Failures < 3 || svc.Throttle.NextStartAt.IsZero() {
		t.Fatalf("throttle %+v", svc.Throttle)
	}
	// A new task definition resets the throttle.
	good := e.register("app:1")
	arn := good.TaskDefinitionArn
	if _, err := e.ctl.UpdateService(context.Background(), scope, control.ServiceUpdate{Service: "web", TaskDefinition: &arn}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
}

// TestRestartMidDeployment stops the controller in the middle of a
// rolling update, runs two controllers at once for a while, then one, and
// checks that nothing was lost or duplicated.
func TestRestartMidDeployment(t *testing.T) {
	e := newEnv(t)
	stop := e.startController()
	td1 := e.register("app:1")
	e.create("web", td1.TaskDefinitionArn, 6, nil)
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	td2 := e.register("app:2")
	arn := td2.TaskDefinitionArn
	if _, err := e.ctl.UpdateService(context.Background(), scope, control.ServiceUpdate{Service: "web", TaskDefinition: &arn}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("rollout started", 5*time.Second, func() bool {
		for _, task := range e.tasks() {
			if task.TaskDefinitionARN == arn {
				return true
			}
		}
		return false
	})
	stop()
	limits := e.watchLimits(12, 6)
	time.Sleep(100 * time.Millisecond)
	stopA := e.startController()
	stopB := e.startController()
	time.Sleep(150 * time.Millisecond)
	stopA()
	e.waitFor("rollout", 15*time.Second, func() bool {
		svc := e.describe("web")
		return stable(svc) && svc.Deployments[0].TaskDefinition == arn
	})
	stopB()
	if bad := limits(); len(bad) > 0 {
		t.Fatalf("%d violations of min/max", len(bad))
	}
	alive := 0
	for _, task := range e.tasks() {
		if task.LastStatus != control.TaskStopped {
			alive++
			if task.TaskDefinitionARN != arn {
				t.Fatalf("old task alive")
			}
		}
	}
	if alive != 6 {
		t.Fatalf("%d tasks alive, want 6", alive)
	}
	// A fresh controller finds nothing to do.
	before := e.describe("web").Version
	e.startController()
	time.Sleep(200 * time.Millisecond)
	if after := e.describe("web").Version; after != before {
		t.Fatalf("idle service rewritten: version %d -> %d", before, after)
	}
}

func TestDeleteServiceDrains(t *testing.T) {
	e := newEnv(t)
	e.startController()
	td := e.register("app:1")
	e.create("web", td.TaskDefinitionArn, 2, nil)
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	if _, err := e.ctl.DeleteService(context.Background(), scope, "", "web", true); err != nil {
		t.Fatal(err)
	}
	e.waitFor("inactive", 10*time.Second, func() bool { return e.describe("web").Status == control.ServiceInactive })
	for _, task := range e.tasks() {
		if task.LastStatus != control.TaskStopped {
			t.Fatalf("task alive after delete")
		}
	}
	refs, _ := e.ctl.ActiveServiceRefs(context.Background())
	if len(refs) != 0 {
		t.Fatalf("index still lists %v", refs)
	}
}

func TestScaleInAndOut(t *testing.T) {
	e := newEnv(t)
	e.startController()
	td := e.register("app:1")
	e.create("web", td.TaskDefinitionArn, 1, nil)
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	for _, n := range []int{5, 2, 0} {
		if _, err := e.ctl.UpdateService(context.Background(), scope, control.ServiceUpdate{Service: "web", DesiredCount: &n}); err != nil {
			t.Fatal(err)
		}
		e.waitFor("scaled", 10*time.Second, func() bool {
			svc := e.describe("web")
			return svc.DesiredCount == n && stable(svc)
		})
		if d := e.describe("web"); len(d.Deployments) != 1 {
			t.Fatalf("scaling created a deployment")
		}
	}
}
