package deploy

import (
	"cmp"
	"slices"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// Failure accounting and the deployment circuit breaker.
//
// Each deployment counts its failed tasks in FailedTasks (AWS's
// failedTasks: consecutive failures, not a running total), in two stages
// as AWS describes them:
//
//	stage 1 (no task of the deployment has been RUNNING yet):
//	    a task that stops without ever reaching RUNNING counts.
//	        │ a task reaches RUNNING: FailedTasks = 0
//	        ▼
//	stage 2 (ReachedRunning):
//	    a RUNNING task found failing its container health checks, or
//	    with an unhealthy ELBv2 target (after
//	    healthCheckGracePeriodSeconds), counts, and so does a task
//	    whose essential container exits after RUNNING (crash, OOM, killed
//	    from outside). Tasks that fail to start no longer count here; the
//	    start throttle still sees them.
//
// Counting essential-container exits in stage 2 is fargo's choice: AWS's
// guide names only load balancer, Cloud Map and container health check
// failures, but AWS does count crash-looping tasks (a revision whose
// container exits trips the breaker and rolls back there), and a service
// with no health check at all would otherwise never trip the breaker.
// Cloud Map health joins stage 2 when fargo has it.
//
// resetOnHealthyTask (AWS's default, and the only behaviour, as the API
// models fargo speaks have no field for it): when a task of a deployment
// becomes healthy after the deployment's last failure, FailedTasks drops
// back to 0. A FAILED deployment keeps its count. At the threshold
// (control.CircuitBreakerThreshold) the PRIMARY turns FAILED, and with
// rollback on a new deployment of the last COMPLETED one starts.

// reasonFailedToStart is the rollout state reason of a deployment the
// circuit breaker failed. AWS writes it for failures of either stage (it
// has been seen for tasks replaced for failing load balancer health
// checks, containers-roadmap#1488), so fargo does too: scripts that match
// AWS's reason match fargo's, and a crash after RUNNING is not reported
// as a health check failure. The service's events name the stage.
const reasonFailedToStart = "ECS deployment circuit breaker: tasks failed to start."

// markRunning moves deployments to stage 2 once one of their tasks has
// been RUNNING; their stage-1 count starts over.
func (d *decision) markRunning() {
	for _, t := range d.st.Tasks {
		if t.StartedAt.IsZero() {
			continue
		}
		dep := d.svc.Deployment(t.StartedBy)
		if dep == nil || dep.ReachedRunning {
			continue
		}
		dep.ReachedRunning, dep.UpdatedAt = true, d.now
		if dep.RolloutState != control.RolloutFailed {
			dep.FailedTasks = 0
		}
	}
}

// accountStops counts each task that stopped on its own exactly once:
// failedTasks of its deployment, and the start throttle.
func (d *decision) accountStops() {
	svc := d.svc
	counted := map[string]bool{}
	for _, id := range svc.CountedStops {
		counted[id] = true
	}
	var keep []string
	for _, t := range d.st.Tasks {
		if t.LastStatus != control.TaskStopped {
			if counted[t.ID] {
				keep = append(keep, t.ID) // counted when its stop was decided
			}
			continue
		}
		keep = append(keep, t.ID)
		dep := svc.Deployment(t.StartedBy)
		if counted[t.ID] || dep == nil {
			// Counted already; or a task of a retired deployment
			// (accounted for before it retired), or of an earlier
			// service of the same name.
			continue
		}
		switch t.StopCode {
		case control.StopServiceSchedulerInitiated, control.StopUserInitiated, control.StopTerminationNotice:
			// Stopped on purpose, or by a graceful shutdown of fargo: not
			// the task's failure.
			continue
		}
		if !t.StartedAt.IsZero() || !dep.ReachedRunning {
			d.taskFailed(dep, cmp.Or(t.StoppedAt, d.now))
		}
		if d.failedToStart(t) {
			d.throttleFailure(t)
		}
	}
	svc.CountedStops = keep
}

// taskFailed counts one failure of a deployment's task at time at.
func (d *decision) taskFailed(dep *control.Deployment, at time.Time) {
	dep.FailedTasks++
	dep.UpdatedAt = d.now
	if at.After(dep.LastFailureAt) {
		dep.LastFailureAt = at
	}
}

// stopUnhealthy handles RUNNING tasks whose container health checks
// fail, or whose ELBv2 targets are unhealthy, once the grace period
// (healthCheckGracePeriodSeconds after the task started) is over; each
// counts as a failed task (stage 2) when it is first found so.
//
// A REPLICA service's PRIMARY task is replaced before it is stopped, as
// ECS does when maximumPercent leaves room: it no longer counts toward
// the desired count (replica starts its replacement) but keeps running
// until the PRIMARY has desiredCount healthy tasks without it. Where
// there is no room for a replacement, or for a task of an older
// deployment (the rollout replaces those) or of a DAEMON service, it is
// stopped at once.
func (d *decision) stopUnhealthy() {
	grace := time.Duration(d.svc.HealthCheckGracePeriodSeconds) * time.Second
	var sick []*control.Task
	elb := map[string]control.TargetState{} // sick for their targets
	for _, t := range d.st.Tasks {
		if !d.wanted(t) || t.LastStatus != control.TaskRunning {
			continue
		}
		container := t.HealthStatus == "UNHEALTHY" && d.hasHealthCheck(t)
		target, lb := d.st.Targets[t.ID], d.lbGated(t)
		lb = lb && target.State == control.TargetUnhealthy
		if !container && !lb {
			continue
		}
		if until := t.StartedAt.Add(grace); d.now.Before(until) {
			d.wakeAt(until)
			continue
		}
		if lb {
			elb[t.ID] = target
		}
		sick = append(sick, t)
	}
	if len(sick) == 0 {
		return
	}
	p := d.svc.Primary()
	desired := d.svc.DesiredCount
	sickPrimary := 0
	for _, t := range sick {
		if t.StartedBy == p.ID {
			sickPrimary++
		}
	}
	// The PRIMARY's other tasks, and how many of them are healthy.
	others, healthyOthers, aliveN := 0, 0, 0
	for _, t := range d.st.Tasks {
		if alive(t) {
			aliveN++
		}
		if t.StartedBy == p.ID && d.wanted(t) && !slices.Contains(sick, t) {
			others++
			if d.healthy(t) {
				healthyOthers++
			}
		}
	}
	room := d.svc.DeploymentConfiguration.MaximumPercent*desired/100 - aliveN
	// Sick tasks kept running: no more than the healthy tasks missing,
	// and no more than the replacements on their way (started and not
	// healthy yet, or startable now within maximumPercent). None while
	// starts fail placement (a fixed host port the sick task holds, a
	// full cluster): then the sick task must make room.
	replaceable := 0
	placing := !d.now.Before(d.svc.Throttle.PlaceAfter)
	if d.svc.SchedulingStrategy != control.SchedulingDaemon && p.RolloutState != control.RolloutFailed && healthyOthers < desired && placing {
		replaceable = min(sickPrimary, desired-healthyOthers, others-healthyOthers+max(room, 0))
	}
	counted := func(t *control.Task) bool { return slices.Contains(d.svc.CountedStops, t.ID) }
	// Each sick task counts as failed once, when it is first found sick
	// past the grace period, so that its replacement turning healthy
	// afterwards resets the count (resetOnHealthyTask).
	fail := func(t *control.Task) {
		if counted(t) {
			return
		}
		d.svc.CountedStops = append(d.svc.CountedStops, t.ID)
		if dep := d.svc.Deployment(t.StartedBy); dep != nil {
			d.taskFailed(dep, d.now)
		}
		if target, ok := elb[t.ID]; ok {
			d.targetUnhealthyEvent(t, target)
		}
	}
	for _, t := range sick {
		fail(t)
		if t.StartedBy == p.ID && replaceable > 0 {
			replaceable--
			d.replacing[t.ID] = true
			continue
		}
		reason := "Task failed container health checks"
		if target, ok := elb[t.ID]; ok {
			reason = "Task failed ELB health checks in (target-group " + target.TargetGroupARN + ")"
		}
		d.stop(t, control.StopServiceSchedulerInitiated, reason)
	}
}

// targetUnhealthyEvent writes ECS's event for a task whose target failed
// its health checks:
//
//	(service web) (task 0123…) (port 80) is unhealthy in (target-group arn:…) due to (reason Health checks failed with these codes: [500]).
func (d *decision) targetUnhealthyEvent(t *control.Task, target control.TargetState) {
	why := target.Description
	if why == "" {
		why = cmp.Or(target.Reason, "Health checks failed")
	}
	port := control.TargetPort(t, d.svc.LoadBalancersOf(t), target.TargetGroupARN)
	d.event("(task %s) (port %d) is unhealthy in (target-group %s) due to (reason %s).", t.ID, port, target.TargetGroupARN, why)
}

// resetOnHealthy sets a deployment's FailedTasks back to 0 when one of its
// tasks became healthy after the last failure. A task whose healthy
// moment may precede the failure (see healthyFrom) does not reset it: the
// replacement of the failed task will, once healthy.
func (d *decision) resetOnHealthy() {
	for _, t := range d.st.Tasks {
		dep := d.svc.Deployment(t.StartedBy)
		if dep == nil || dep.FailedTasks == 0 || dep.RolloutState == control.RolloutFailed {
			continue
		}
		if d.healthy(t) && d.healthyFrom(t).After(dep.LastFailureAt) {
			dep.FailedTasks, dep.UpdatedAt = 0, d.now
		}
	}
}

// circuitBreaker fails the PRIMARY at the threshold and, with rollback
// on, starts a new deployment of the last COMPLETED one.
func (d *decision) circuitBreaker() {
	svc := d.svc
	p := svc.Primary()
	cb := svc.DeploymentConfiguration.CircuitBreaker
	if !cb.Enable || p.RolloutState != control.RolloutInProgress || p.FailedTasks < control.CircuitBreakerThreshold(p.DesiredCount) {
		return
	}
	reason, what := reasonFailedToStart, "tasks failed to start."
	if p.ReachedRunning {
		what = "tasks failed after they started (container exits or health checks)."
	}
	p.RolloutState, p.RolloutStateReason, p.UpdatedAt = control.RolloutFailed, reason, d.now
	d.event("(deployment %s) deployment failed: %s", p.ID, what)
	target := svc.LastCompleted
	if !cb.Rollback || target == nil || target.TaskDefinition == "" {
		p.DeploymentStatus, p.StatusReason, p.StoppedAt = control.SvcDeployStopped, reason, d.now
		if cb.Rollback {
			p.DeploymentStatus = control.SvcDeployRollbackFailed
			p.StatusReason = reason + " No COMPLETED deployment to roll back to."
		}
		return
	}
	r := &control.Deployment{
		ID: control.NewDeploymentID(), Status: control.DeploymentPrimary, TaskDefinition: target.TaskDefinition,
		DesiredCount: svc.DesiredCount, LaunchType: target.LaunchType, CapacityProvider: target.CapacityProvider,
		PlatformVersion: target.PlatformVersion, NetworkConfiguration: target.NetworkConfiguration,
		LoadBalancers:      target.LoadBalancers,
		RolloutState:       control.RolloutInProgress,
		RolloutStateReason: "ECS deployment circuit breaker: rolling back to deploymentId " + target.ID + ".",
		CreatedAt:          d.now, UpdatedAt: d.now, DeploymentStatus: control.SvcDeployInProgress,
		DeploymentConfiguration: svc.DeploymentConfiguration, RollbackOf: p.ID,
	}
	for _, old := range svc.Deployments {
		r.SourceDeployments = append(r.SourceDeployments, old.ID)
		old.Status = control.DeploymentActive
	}
	p.DeploymentStatus, p.StatusReason = control.SvcDeployRollbackInProgress, reason
	p.Rollback = &control.DeploymentRollback{Reason: "Circuit breaker triggered a rollback.", StartedAt: d.now, DeploymentID: target.ID}
	svc.Deployments = append([]*control.Deployment{r}, svc.Deployments...)
	svc.TaskDefinition, svc.NetworkConfiguration, svc.PlatformVersion = target.TaskDefinition, target.NetworkConfiguration, target.PlatformVersion
	svc.LoadBalancers = target.LoadBalancers
	svc.Throttle = control.ServiceThrottle{}
	svc.SteadyAt = time.Time{}
	d.event("(deployment %s) rolling back to deployment %s.", p.ID, target.ID)
}
