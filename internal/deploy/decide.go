package deploy

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// decide is the controller's pure function: a snapshot of one service in,
// a plan out (nil when nothing is to be done), and the time at which the
// service wants to be looked at again even if nothing changes.
//
// The steps, in order:
//
//  1. note the deployments that reached RUNNING (circuit breaker stage
//     2), and account for tasks that stopped since the last pass
//     (failedTasks, throttle);
//  2. stop tasks whose container health checks or ELB target health
//     checks fail (after the grace period);
//  3. reset failedTasks where a task became healthy since the last
//     failure; trip the circuit breaker, and roll back to the last
//     COMPLETED deployment;
//  4. start PRIMARY tasks up to desiredCount, never above maximumPercent
//     of tasks alive; stop old-deployment tasks while at least
//     minimumHealthyPercent stay healthy; scale in the surplus;
//  5. retire drained deployments, complete the PRIMARY, report steady
//     state.
func decide(st *control.ServiceState, now time.Time, cfg Config) (*control.ServicePlan, time.Time) {
	d := &decision{st: st, svc: st.Service.Clone(), now: now, cfg: cfg, stopping: map[string]bool{}, replacing: map[string]bool{}}
	if d.svc.Primary() == nil {
		return nil, time.Time{}
	}
	d.markRunning()
	d.accountStops()
	if d.svc.Status == control.ServiceDraining {
		d.drain()
	} else {
		d.stopUnhealthy()
		d.resetOnHealthy()
		d.circuitBreaker()
		if d.svc.SchedulingStrategy == control.SchedulingDaemon {
			d.daemon()
		} else {
			d.replica()
		}
		d.finish()
		d.pollTargets()
	}
	if len(d.starts) == 0 && len(d.stops) == 0 && sameRecord(st.Service, d.svc) {
		return nil, d.wake
	}
	return &control.ServicePlan{Version: st.Service.Version, Service: d.svc, Starts: d.starts, Stops: d.stops}, d.wake
}

type decision struct {
	st       *control.ServiceState
	svc      *control.Service
	now      time.Time
	cfg      Config
	starts   []control.TaskStart
	stops    []control.TaskStop
	stopping map[string]bool
	// replacing: UNHEALTHY tasks left running until their replacements
	// are healthy (stopUnhealthy); they do not count toward the desired
	// count.
	replacing map[string]bool
	wake      time.Time
	// throttled: this pass has already written the throttle event.
	throttled bool
}

func sameRecord(a, b *control.Service) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

func (d *decision) wakeAt(t time.Time) {
	if d.wake.IsZero() || t.Before(d.wake) {
		d.wake = t
	}
}

func (d *decision) event(format string, args ...any) {
	d.svc.AddEvent(d.now, fmt.Sprintf("(service %s) ", d.svc.Name)+fmt.Sprintf(format, args...))
}

// hasHealthCheck reports whether a task's health comes from container
// health checks (an essential container has one).
func (d *decision) hasHealthCheck(t *control.Task) bool {
	td := d.st.TaskDefs[t.TaskDefinitionARN]
	if td == nil {
		return false
	}
	for i := range td.ContainerDefinitions {
		cd := &td.ContainerDefinitions[i]
		if cd.IsEssential() && cd.HealthCheck != nil {
			return true
		}
	}
	return false
}

// wanted: the task is meant to run (not asked to stop, not in this plan).
func (d *decision) wanted(t *control.Task) bool {
	return t.DesiredStatus == control.TaskRunning && t.LastStatus != control.TaskStopped && !d.stopping[t.ID]
}

// alive: the task holds resources (counts toward maximumPercent).
func alive(t *control.Task) bool { return t.LastStatus != control.TaskStopped }

// lbGated reports whether a task's health waits for its ELBv2 targets:
// its deployment has load balancers and the controller knows target
// health.
func (d *decision) lbGated(t *control.Task) bool {
	return d.st.Targets != nil && len(d.svc.LoadBalancersOf(t)) > 0
}

// healthy is ECS's notion: RUNNING, and HEALTHY where the task definition
// has container health checks, and its targets healthy where its
// deployment has load balancers; with neither, RUNNING for
// MinHealthyTime.
func (d *decision) healthy(t *control.Task) bool {
	if !d.wanted(t) || t.LastStatus != control.TaskRunning {
		return false
	}
	if d.lbGated(t) {
		if d.hasHealthCheck(t) && t.HealthStatus != "HEALTHY" {
			return false
		}
		return d.st.Targets[t.ID].State == control.TargetHealthy
	}
	if d.hasHealthCheck(t) {
		return t.HealthStatus == "HEALTHY"
	}
	at := t.StartedAt.Add(d.cfg.MinHealthyTime)
	if d.now.Before(at) {
		d.wakeAt(at)
		return false
	}
	return true
}

// healthyFrom is the earliest moment a healthy task can have become
// healthy: MinHealthyTime after RUNNING without health checks; with them,
// no earlier than RUNNING (when the check turned HEALTHY is not recorded,
// so this is a lower bound).
func (d *decision) healthyFrom(t *control.Task) time.Time {
	if d.hasHealthCheck(t) || d.lbGated(t) {
		return t.StartedAt
	}
	return t.StartedAt.Add(d.cfg.MinHealthyTime)
}

func (d *decision) stop(t *control.Task, code, reason string) {
	if d.stopping[t.ID] {
		return
	}
	d.stopping[t.ID] = true
	d.stops = append(d.stops, control.TaskStop{ID: t.ID, StopCode: code, Reason: reason})
}

func (d *decision) scalingStop(t *control.Task) {
	d.stop(t, control.StopServiceSchedulerInitiated, "Scaling activity initiated by (deployment "+d.svc.Primary().ID+")")
}

func (d *decision) drain() {
	any := false
	for _, t := range d.st.Tasks {
		if alive(t) {
			any = true
		}
		if d.wanted(t) {
			d.stop(t, control.StopServiceSchedulerInitiated, "Service is being deleted")
		}
	}
	if !any {
		d.svc.Status = control.ServiceInactive
		if p := d.svc.Primary(); p != nil && p.RolloutState == control.RolloutInProgress {
			p.RolloutState, p.RolloutStateReason, p.UpdatedAt = control.RolloutCompleted, "ECS deployment "+p.ID+" completed.", d.now
		}
	}
}

// pollTargets asks to look again soon while a task's health follows its
// targets: their health changes without any store write.
func (d *decision) pollTargets() {
	for _, t := range d.st.Tasks {
		if d.wanted(t) && t.LastStatus == control.TaskRunning && d.lbGated(t) {
			d.wakeAt(d.now.Add(d.cfg.TargetPoll))
			return
		}
	}
}

// byDeployment splits the tasks into the PRIMARY's and the others.
func (d *decision) byDeployment() (primary, old []*control.Task) {
	p := d.svc.Primary()
	for _, t := range d.st.Tasks {
		if t.StartedBy == p.ID {
			primary = append(primary, t)
		} else {
			old = append(old, t)
		}
	}
	return primary, old
}

// stopOrder sorts tasks so the ones to stop first come first: not
// healthy, then the newest.
func (d *decision) stopOrder(ts []*control.Task) {
	slices.SortStableFunc(ts, func(a, b *control.Task) int {
		ha, hb := d.healthy(a), d.healthy(b)
		if ha != hb {
			if ha {
				return 1
			}
			return -1
		}
		return cmp.Compare(b.CreatedAt.UnixNano(), a.CreatedAt.UnixNano())
	})
}

func (d *decision) replica() {
	svc := d.svc
	p := svc.Primary()
	desired := svc.DesiredCount
	p.DesiredCount = desired
	dc := svc.DeploymentConfiguration
	maxTasks := desired * dc.MaximumPercent / 100
	minHealthy := (desired*dc.MinimumHealthyPercent + 99) / 100
	primary, old := d.byDeployment()

	// Scale in: the PRIMARY's surplus.
	var want []*control.Task
	for _, t := range primary {
		if d.wanted(t) && !d.replacing[t.ID] {
			want = append(want, t)
		}
	}
	if len(want) > desired {
		d.stopOrder(want)
		for _, t := range want[:len(want)-desired] {
			d.scalingStop(t)
		}
		want = want[len(want)-desired:]
	}

	aliveN := 0
	for _, t := range d.st.Tasks {
		if alive(t) {
			aliveN++
		}
	}
	need := desired - len(want)
	room := maxTasks - aliveN
	if need > 0 && p.RolloutState != control.RolloutFailed && d.canStart() {
		for range min(need, room) {
			d.starts = append(d.starts, control.TaskStart{Deployment: p.ID})
		}
	}

	// Old deployments drain while enough healthy tasks remain. A FAILED
	// PRIMARY (no rollback) keeps the old tasks: the deployment stalls.
	if p.RolloutState == control.RolloutFailed {
		return
	}
	healthyN := 0
	for _, t := range d.st.Tasks {
		if d.healthy(t) {
			healthyN++
		}
	}
	var olds []*control.Task
	for _, t := range old {
		if d.wanted(t) {
			olds = append(olds, t)
		}
	}
	d.stopOrder(olds)
	stopped := 0
	for _, t := range olds {
		switch {
		case !d.healthy(t):
			d.scalingStop(t)
			stopped++
		case healthyN-1 >= minHealthy:
			d.scalingStop(t)
			healthyN--
			stopped++
		}
	}
	if need > 0 && room <= 0 && stopped == 0 && len(olds) > 0 && len(d.starts) == 0 && d.allSettled() {
		msg := "was unable to stop or start tasks during a deployment because of the service deployment configuration. Update the minimumHealthyPercent or maximumPercent value and try again."
		if len(svc.Events) == 0 || !strings.HasSuffix(svc.Events[0].Message, msg) {
			d.event("%s", msg)
		}
	}
}

// allSettled: no task is starting or stopping.
func (d *decision) allSettled() bool {
	for _, t := range d.st.Tasks {
		if alive(t) && (t.LastStatus != control.TaskRunning || t.DesiredStatus != control.TaskRunning) {
			return false
		}
	}
	return true
}

// daemon runs one PRIMARY task on every node (maximumPercent 100: the old
// task on a node stops before the new one starts).
func (d *decision) daemon() {
	svc := d.svc
	p := svc.Primary()
	nodes := map[string]bool{}
	for _, n := range d.st.Nodes {
		nodes[n.ID] = true
	}
	svc.DesiredCount, p.DesiredCount = len(nodes), len(nodes)
	type nodeTasks struct{ primary, old, alive int }
	per := map[string]*nodeTasks{}
	for _, t := range d.st.Tasks {
		if !alive(t) {
			continue
		}
		if !nodes[t.Node] {
			if d.wanted(t) {
				d.scalingStop(t)
			}
			continue
		}
		nt := per[t.Node]
		if nt == nil {
			nt = &nodeTasks{}
			per[t.Node] = nt
		}
		nt.alive++
		if !d.wanted(t) {
			continue
		}
		if t.StartedBy == p.ID && nt.primary == 0 {
			nt.primary++
			continue
		}
		if t.StartedBy == p.ID || p.RolloutState != control.RolloutFailed {
			d.scalingStop(t) // a duplicate, or an old deployment's task
		}
	}
	if p.RolloutState == control.RolloutFailed || !d.canStart() {
		return
	}
	for _, n := range d.st.Nodes {
		if nt := per[n.ID]; nt == nil || nt.alive == 0 {
			d.starts = append(d.starts, control.TaskStart{Deployment: p.ID, Node: n.ID})
		}
	}
}

// finish retires drained deployments, completes the PRIMARY and reports
// steady state.
func (d *decision) finish() {
	svc := d.svc
	p := svc.Primary()
	for _, dep := range slices.Clone(svc.Deployments[1:]) {
		drained := true
		for _, t := range d.st.Tasks {
			if t.StartedBy == dep.ID && alive(t) {
				drained = false
			}
		}
		if drained {
			if dep.DeploymentStatus == control.SvcDeployInProgress {
				dep.DeploymentStatus, dep.StoppedAt = control.SvcDeployStopped, d.now
			}
			dep.UpdatedAt = d.now
			svc.Retire(dep.ID)
		}
	}
	healthyP, aliveAll, aliveP := 0, 0, 0
	for _, t := range d.st.Tasks {
		if alive(t) {
			aliveAll++
			if t.StartedBy == p.ID && d.wanted(t) {
				aliveP++
			}
		}
		if t.StartedBy == p.ID && d.healthy(t) {
			healthyP++
		}
	}
	settled := len(d.starts) == 0 && len(d.stops) == 0 && len(svc.Deployments) == 1 &&
		healthyP == p.DesiredCount && aliveP == p.DesiredCount && aliveAll == p.DesiredCount
	if settled && p.RolloutState == control.RolloutInProgress {
		p.RolloutState, p.RolloutStateReason, p.UpdatedAt = control.RolloutCompleted, "ECS deployment "+p.ID+" completed.", d.now
		p.DeploymentStatus, p.FinishedAt = control.SvcDeploySuccessful, d.now
		last := *p
		svc.LastCompleted = &last
		d.event("(deployment %s) deployment completed.", p.ID)
		if p.RollbackOf != "" {
			if f := svc.FindDeployment(p.RollbackOf); f != nil {
				f.DeploymentStatus, f.FinishedAt, f.UpdatedAt = control.SvcDeployRollbackSuccessful, d.now, d.now
			}
		}
	}
	if healthyP > 0 && svc.Throttle.Failures > 0 && p.RolloutState != control.RolloutFailed {
		svc.Throttle = control.ServiceThrottle{PlaceAfter: svc.Throttle.PlaceAfter}
	}
	if settled && p.RolloutState == control.RolloutCompleted {
		if svc.SteadyAt.IsZero() || d.now.Sub(svc.SteadyAt) >= steadyRepeat {
			svc.SteadyAt = d.now
			d.event("has reached a steady state.")
		}
		d.wakeAt(svc.SteadyAt.Add(steadyRepeat))
	} else if !settled && !svc.SteadyAt.IsZero() {
		svc.SteadyAt = time.Time{}
	}
}
