package deploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/deploy"
)

// TestUnhealthyTaskReplacedAfterGrace: a RUNNING task whose container
// health check turns UNHEALTHY is left alone during
// healthCheckGracePeriodSeconds, then stopped and replaced.
func TestUnhealthyTaskReplacedAfterGrace(t *testing.T) {
	const grace = 2 * time.Second
	e := newEnv(t)
	e.startController()
	e.node.setHealth("app:hc", "HEALTHY")
	td := e.registerWith("app:hc", func(cd *control.ContainerDefinition) {
		cd.HealthCheck = &control.HealthCheck{Command: []string{"CMD-SHELL", "true"}}
	})
	e.createWith("web", td.TaskDefinitionArn, 2, nil, func(s *control.ServiceSpec) {
		s.HealthCheckGracePeriodSeconds = new(int(grace / time.Second))
	})
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	victim := e.tasks()[0]
	if victim.HealthStatus != "HEALTHY" {
		t.Fatalf("task health %q before the test", victim.HealthStatus)
	}
	e.node.setTaskHealth(victim.ID, "UNHEALTHY")
	e.waitFor("unhealthy reported", 5*time.Second, func() bool {
		for _, tk := range e.tasks() {
			if tk.ID == victim.ID {
				return tk.HealthStatus == "UNHEALTHY"
			}
		}
		return false
	})

	// Within the grace period the task keeps running.
	for time.Until(victim.StartedAt.Add(grace)) > 100*time.Millisecond {
		for _, tk := range e.tasks() {
			if tk.ID == victim.ID && tk.DesiredStatus != control.TaskRunning {
				t.Fatalf("unhealthy task stopped %v after it started, within the %v grace period",
					time.Since(victim.StartedAt), grace)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}

	// After it, the task is stopped and a healthy replacement runs.
	e.waitFor("replacement", 10*time.Second, func() bool {
		return stable(e.describe("web")) && len(e.tasks()) == 3
	})
	for _, tk := range e.tasks() {
		if tk.ID == victim.ID {
			if tk.LastStatus != control.TaskStopped || tk.StopCode != control.StopServiceSchedulerInitiated ||
				tk.StoppedReason != "Task failed container health checks" {
				t.Fatalf("victim: %s %s %q", tk.LastStatus, tk.StopCode, tk.StoppedReason)
			}
			if d := tk.StoppedAt.Sub(tk.StartedAt); d < grace {
				t.Fatalf("victim stopped %v after it started, within the grace period", d)
			}
		} else if tk.LastStatus != control.TaskRunning {
			t.Fatalf("task %s %s", tk.ID, tk.LastStatus)
		}
	}
}

// TestCircuitBreakerStage2RollsBack: a revision whose tasks reach RUNNING
// and then crash trips the breaker in stage 2 and rolls back.
func TestCircuitBreakerStage2RollsBack(t *testing.T) {
	e := newEnv(t)
	// Tasks count as healthy only after 500ms, well after a crashing
	// task exits: a crashing task must never reset the count.
	e.startControllerWith(func(c *deploy.Config) { c.MinHealthyTime = 500 * time.Millisecond })
	td1 := e.register("app:1")
	e.create("web", td1.TaskDefinitionArn, 3, &control.DeploymentConfigurationInput{
		CircuitBreaker: &control.CircuitBreaker{Enable: true, Rollback: true}})
	e.waitFor("steady", 10*time.Second, func() bool { return stable(e.describe("web")) })
	e.node.crash("app:crash")
	td2 := e.register("app:crash")
	arn := td2.TaskDefinitionArn
	if _, err := e.ctl.UpdateService(context.Background(), scope, control.ServiceUpdate{Service: "web", TaskDefinition: &arn}); err != nil {
		t.Fatal(err)
	}
	e.waitFor("rollback completes", 20*time.Second, func() bool {
		svc := e.describe("web")
		return stable(svc) && svc.TaskDefinition == td1.TaskDefinitionArn
	})
	svc := e.describe("web")
	failed := svc.FindDeployment(svc.Deployments[0].RollbackOf)
	if failed == nil || failed.RolloutState != control.RolloutFailed || !failed.ReachedRunning ||
		failed.FailedTasks < control.CircuitBreakerThreshold(3) ||
		failed.RolloutStateReason != "ECS deployment circuit breaker: tasks failed to start." {
		t.Fatalf("failed deployment: %+v", failed)
	}
	if !hasEvent(svc, "(deployment "+failed.ID+") deployment failed: tasks failed after they started (container exits or health checks).") {
		t.Fatalf("events: %+v", svc.Events)
	}
	for _, task := range e.tasks() {
		if task.LastStatus != control.TaskStopped && task.TaskDefinitionARN != td1.TaskDefinitionArn {
			t.Fatalf("crashing task alive: %+v", task)
		}
	}
}
