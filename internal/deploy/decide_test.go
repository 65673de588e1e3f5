package deploy

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// These tests drive decide, the pure function, pass by pass on a
// simulated clock: each pass's plan is applied to the snapshot the way
// control.ApplyServicePlan applies it to the store.

const (
	tdPlain  = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:1"
	tdHealth = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2"
	primary  = "ecs-svc/1000000000000000001"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type sim struct {
	t   *testing.T
	st  *control.ServiceState
	now time.Time
	cfg Config
	n   int
}

// newSim is a REPLICA service of desired tasks of td (one deployment, IN
// PROGRESS), with the circuit breaker on (rollback off) and no task yet.
func newSim(t *testing.T, desired int, td string) *sim {
	svc := &control.Service{
		Name: "web", Cluster: "default", Status: control.ServiceActive, DesiredCount: desired, TaskDefinition: td,
		SchedulingStrategy: control.SchedulingReplica,
		DeploymentConfiguration: control.DeploymentConfiguration{MaximumPercent: 200, MinimumHealthyPercent: 100,
			CircuitBreaker: control.CircuitBreaker{Enable: true}},
		Deployments: []*control.Deployment{{ID: primary, Status: control.DeploymentPrimary, TaskDefinition: td,
			DesiredCount: desired, RolloutState: control.RolloutInProgress, DeploymentStatus: control.SvcDeployInProgress}},
		Version: 1,
	}
	hc := &control.HealthCheck{Command: []string{"CMD", "true"}}
	return &sim{t: t, now: epoch, cfg: Config{MinHealthyTime: 5 * time.Second, ThrottleBase: DefaultThrottleBase},
		st: &control.ServiceState{Service: svc, TaskDefs: map[string]*control.TaskDefinition{
			tdPlain:  {TaskDefinitionArn: tdPlain, ContainerDefinitions: []control.ContainerDefinition{{Name: "web"}}},
			tdHealth: {TaskDefinitionArn: tdHealth, ContainerDefinitions: []control.ContainerDefinition{{Name: "web", HealthCheck: hc}}},
		}}}
}

func (s *sim) svc() *control.Service    { return s.st.Service }
func (s *sim) dep() *control.Deployment { return s.st.Service.Primary() }
func (s *sim) advance(d time.Duration)  { s.now = s.now.Add(d) }

// pending lists the tasks started and not RUNNING yet.
func (s *sim) pending() []string {
	var out []string
	for _, t := range s.st.Tasks {
		if t.LastStatus == control.TaskProvisioning && t.DesiredStatus == control.TaskRunning {
			out = append(out, t.ID)
		}
	}
	return out
}

func (s *sim) find(id string) *control.Task {
	for _, t := range s.st.Tasks {
		if t.ID == id {
			return t
		}
	}
	s.t.Fatalf("no task %s", id)
	return nil
}

// pass runs decide once and applies its plan; it returns the ids of the
// tasks started and the tasks asked to stop.
func (s *sim) pass() (started, stopped []string) {
	s.t.Helper()
	plan, _ := decide(s.st, s.now, s.cfg)
	if plan == nil {
		return nil, nil
	}
	svc := plan.Service.Clone()
	svc.Version = s.st.Service.Version + 1
	for _, st := range plan.Stops {
		t := s.find(st.ID)
		t.DesiredStatus = control.TaskStopped
		if t.StopCode == "" {
			t.StopCode, t.StoppedReason = st.StopCode, st.Reason
		}
		stopped = append(stopped, st.ID)
	}
	for _, st := range plan.Starts {
		s.n++
		d := svc.Deployment(st.Deployment)
		t := &control.Task{ID: fmt.Sprintf("t%d", s.n), StartedBy: st.Deployment, TaskDefinitionARN: d.TaskDefinition,
			Group: "service:web", LastStatus: control.TaskProvisioning, DesiredStatus: control.TaskRunning, CreatedAt: s.now}
		s.st.Tasks = append(s.st.Tasks, t)
		started = append(started, t.ID)
	}
	s.st.Service = svc
	return started, stopped
}

// run marks a task RUNNING now.
func (s *sim) run(id string) {
	t := s.find(id)
	t.LastStatus, t.StartedAt = control.TaskRunning, s.now
}

// failStart stops a task that never reached RUNNING.
func (s *sim) failStart(id string) {
	t := s.find(id)
	t.LastStatus, t.DesiredStatus, t.StoppedAt = control.TaskStopped, control.TaskStopped, s.now
	t.StopCode, t.StoppedReason = control.StopTaskFailedToStart, "CannotPullContainerError"
}

// exit stops a RUNNING task whose essential container exited.
func (s *sim) exit(id string) {
	t := s.find(id)
	t.LastStatus, t.DesiredStatus, t.StoppedAt = control.TaskStopped, control.TaskStopped, s.now
	t.StopCode, t.StoppedReason = control.StopEssentialContainerExited, "Essential container in task exited"
}

// stopAsked finishes the stops the controller asked for.
func (s *sim) stopAsked() {
	for _, t := range s.st.Tasks {
		if t.DesiredStatus == control.TaskStopped && t.LastStatus != control.TaskStopped {
			t.LastStatus, t.StoppedAt = control.TaskStopped, s.now
		}
	}
}

func (s *sim) events(substr string) int {
	n := 0
	for _, ev := range s.svc().Events {
		if strings.Contains(ev.Message, substr) {
			n++
		}
	}
	return n
}

const unableEvent = "(service web) is unable to consistently start tasks successfully."

// TestThrottleDelaysGrowAndCap: one task at a time fails to start; from
// the third failure on, starts wait 15s, 30s, 60s, ... up to 27 minutes,
// and the event repeats with each delay, never on a pass without a new
// failure.
func TestThrottleDelaysGrowAndCap(t *testing.T) {
	s := newSim(t, 1, tdPlain)
	s.svc().DeploymentConfiguration.CircuitBreaker.Enable = false
	want := []time.Duration{0, 0, 15 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute,
		8 * time.Minute, 16 * time.Minute, 27 * time.Minute, 27 * time.Minute, 27 * time.Minute}
	started, _ := s.pass()
	for i, delay := range want {
		if len(started) != 1 {
			t.Fatalf("attempt %d: started %v", i+1, started)
		}
		s.advance(time.Second)
		s.failStart(started[0])
		started, _ = s.pass()
		th := s.svc().Throttle
		if got := th.NextStartAt.Sub(s.now); (th.NextStartAt.IsZero() && delay != 0) || (!th.NextStartAt.IsZero() && got != delay) {
			t.Fatalf("failure %d: delay %v (next start %v), want %v", i+1, got, th.NextStartAt, delay)
		}
		wantEvents := max(0, i+1-2)
		if got := s.events(unableEvent); got != wantEvents {
			t.Fatalf("failure %d: %d throttle events, want %d", i+1, got, wantEvents)
		}
		if delay == 0 {
			continue
		}
		// Held back until the delay is over, with no new event.
		if len(started) != 0 {
			t.Fatalf("failure %d: started %v at once", i+1, started)
		}
		s.advance(delay - time.Millisecond)
		if started, _ := s.pass(); len(started) != 0 {
			t.Fatalf("failure %d: started %v before the delay was over", i+1, started)
		}
		if got := s.events(unableEvent); got != wantEvents {
			t.Fatalf("failure %d: event repeated on a pass without a failure", i+1)
		}
		s.advance(time.Millisecond)
		started, _ = s.pass()
	}
}

// TestThrottleBatchGrowsOnce: tasks of one attempt failing together (in
// one pass or several) cost one step of the delay, not one per task.
func TestThrottleBatchGrowsOnce(t *testing.T) {
	s := newSim(t, 5, tdPlain)
	s.svc().DeploymentConfiguration.CircuitBreaker.Enable = false
	for i, want := range []time.Duration{15 * time.Second, 30 * time.Second, time.Minute} {
		started, _ := s.pass()
		if len(started) != 5 {
			t.Fatalf("batch %d: started %v", i+1, started)
		}
		s.advance(time.Second)
		for _, id := range started[:3] {
			s.failStart(id)
		}
		s.pass()
		s.advance(time.Second)
		for _, id := range started[3:] {
			s.failStart(id)
		}
		s.pass()
		if got := s.svc().Throttle.NextStartAt.Sub(s.now); got != want-time.Second {
			t.Fatalf("batch %d: delay %v, want %v", i+1, got+time.Second, want)
		}
		if got := s.events(unableEvent); got != i+1 {
			t.Fatalf("batch %d: %d throttle events", i+1, got)
		}
		s.advance(want)
	}
}

// TestThrottleIgnoresTasksThatRan: a task that ran a while before it
// stopped does not count toward the throttle; one that exits right after
// RUNNING does.
func TestThrottleIgnoresTasksThatRan(t *testing.T) {
	s := newSim(t, 1, tdPlain)
	s.svc().DeploymentConfiguration.CircuitBreaker.Enable = false
	started, _ := s.pass()
	s.run(started[0])
	s.advance(fastCrash)
	s.exit(started[0])
	started, _ = s.pass()
	if f := s.svc().Throttle.Failures; f != 0 {
		t.Fatalf("a task that ran %v counted for the throttle (%d)", fastCrash, f)
	}
	s.run(started[0])
	s.advance(fastCrash - time.Millisecond)
	s.exit(started[0])
	s.pass()
	if f := s.svc().Throttle.Failures; f != 1 {
		t.Fatalf("a task that crashed at once: throttle failures %d", f)
	}
}

// TestBreakerStage1: tasks that never reach RUNNING trip the breaker at
// the threshold with the stage-1 reason, and no task starts after.
func TestBreakerStage1(t *testing.T) {
	s := newSim(t, 3, tdPlain)
	s.cfg.ThrottleBase = time.Millisecond
	started, _ := s.pass()
	s.advance(time.Second)
	s.failStart(started[0])
	s.failStart(started[1])
	s.pass()
	if d := s.dep(); d.FailedTasks != 2 || d.RolloutState != control.RolloutInProgress {
		t.Fatalf("after 2 failures: %d %s", d.FailedTasks, d.RolloutState)
	}
	s.advance(time.Second)
	s.failStart(started[2])
	s.pass()
	d := s.dep()
	if d.FailedTasks != 3 || d.RolloutState != control.RolloutFailed || d.RolloutStateReason != reasonFailedToStart ||
		d.DeploymentStatus != control.SvcDeployRollbackFailed && d.DeploymentStatus != control.SvcDeployStopped {
		t.Fatalf("after 3 failures: %d %s %q %s", d.FailedTasks, d.RolloutState, d.RolloutStateReason, d.DeploymentStatus)
	}
	if s.events("(service web) (deployment "+primary+") deployment failed: tasks failed to start.") != 1 {
		t.Fatalf("events %+v", s.svc().Events)
	}
	for _, id := range s.pending() {
		s.failStart(id)
	}
	s.advance(time.Hour)
	if started, _ := s.pass(); len(started) != 0 {
		t.Fatalf("a FAILED deployment started %v", started)
	}
}

// TestBreakerStage2: once a task has been RUNNING the stage-1 count starts
// over; tasks that exit after RUNNING count, tasks that fail to start no
// longer do, and the breaker trips with the stage-2 reason.
func TestBreakerStage2(t *testing.T) {
	s := newSim(t, 3, tdPlain)
	s.cfg.ThrottleBase = time.Millisecond
	s.pass()
	p := s.pending()
	s.advance(time.Second)
	s.failStart(p[0])
	s.failStart(p[1])
	s.pass()
	if f := s.dep().FailedTasks; f != 2 {
		t.Fatalf("stage 1 count %d", f)
	}
	s.run(p[2])
	s.pass()
	if d := s.dep(); !d.ReachedRunning || d.FailedTasks != 0 {
		t.Fatalf("entering stage 2: reached %v, count %d", d.ReachedRunning, d.FailedTasks)
	}
	s.advance(time.Second) // too soon for p[2] to be healthy: no reset
	q := s.pending()
	s.failStart(q[0]) // stage 2: not counted
	s.exit(p[2])
	s.run(q[1])
	s.pass()
	if f := s.dep().FailedTasks; f != 1 {
		t.Fatalf("stage 2 count %d, want 1 (the exit, not the failure to start)", f)
	}
	s.advance(time.Second)
	s.exit(q[1])
	s.pass()
	s.advance(time.Second)
	s.pass()
	r := s.pending()
	s.run(r[0])
	s.advance(time.Second)
	s.exit(r[0])
	s.pass()
	d := s.dep()
	if d.FailedTasks != 3 || d.RolloutState != control.RolloutFailed || d.RolloutStateReason != reasonFailedToStart {
		t.Fatalf("stage 2 trip: %d %s %q", d.FailedTasks, d.RolloutState, d.RolloutStateReason)
	}
	if s.events("(service web) (deployment "+primary+") deployment failed: tasks failed after they started (container exits or health checks).") != 1 {
		t.Fatalf("events %+v", s.svc().Events)
	}
}

// TestBreakerResetsOnHealthyTask: a task that becomes healthy after the
// last failure resets the count (resetOnHealthyTask); a task healthy
// before it does not.
func TestBreakerResetsOnHealthyTask(t *testing.T) {
	s := newSim(t, 6, tdPlain) // threshold 3
	p, _ := s.pass()
	s.run(p[0])
	s.advance(10 * time.Second) // p[0] is healthy from here on
	for _, id := range p[1:4] {
		s.run(id)
	}
	s.pass()
	s.advance(time.Second)
	s.exit(p[1])
	s.exit(p[2])
	s.pass()
	if d := s.dep(); d.FailedTasks != 2 {
		t.Fatalf("count %d, want 2 (a task healthy before the failures must not reset it)", d.FailedTasks)
	}
	// p[3] started before the failures but turns healthy (5s after
	// RUNNING) after them: the count resets.
	s.advance(5 * time.Second)
	s.pass()
	if d := s.dep(); d.FailedTasks != 0 {
		t.Fatalf("count %d after a task became healthy, want 0", d.FailedTasks)
	}
	// Two more failures: without the reset they would trip the breaker.
	s.advance(time.Second)
	s.exit(p[3])
	s.exit(p[0])
	s.pass()
	if d := s.dep(); d.FailedTasks != 2 || d.RolloutState != control.RolloutInProgress {
		t.Fatalf("after the reset: count %d, %s", d.FailedTasks, d.RolloutState)
	}
}

// TestStopUnhealthyAfterGrace: an UNHEALTHY task is left alone during the
// grace period (and the controller asks to look again when it ends), then
// stopped, counted once as a failure and replaced in the same decision.
func TestStopUnhealthyAfterGrace(t *testing.T) {
	s := newSim(t, 1, tdHealth)
	s.svc().HealthCheckGracePeriodSeconds = 60
	started, _ := s.pass()
	s.run(started[0])
	s.find(started[0]).HealthStatus = "UNHEALTHY"
	s.advance(59 * time.Second)
	plan, wake := decide(s.st, s.now, s.cfg)
	if plan != nil && len(plan.Stops) > 0 {
		t.Fatalf("stopped within the grace period: %+v", plan.Stops)
	}
	if want := epoch.Add(60 * time.Second); !wake.Equal(want) {
		t.Fatalf("wake %v, want the end of the grace period %v", wake, want)
	}
	// maximumPercent 200 leaves room: the replacement starts first, and
	// the UNHEALTHY task runs on until the replacement is healthy.
	s.advance(time.Second)
	newTasks, stopped := s.pass()
	if len(stopped) != 0 || len(newTasks) != 1 {
		t.Fatalf("after the grace period: stopped %v, started %v; want a replacement first", stopped, newTasks)
	}
	sickAt := s.now
	if d := s.dep(); d.FailedTasks != 1 || !d.LastFailureAt.Equal(sickAt) {
		t.Fatalf("count %d at %v, want 1 at %v: a sick task fails when found sick", d.FailedTasks, d.LastFailureAt, sickAt)
	}
	s.advance(time.Second)
	s.run(newTasks[0])
	if more, stopped := s.pass(); len(stopped) != 0 || len(more) != 0 {
		t.Fatalf("replacement RUNNING, not healthy yet: stopped %v, started %v", stopped, more)
	}
	s.find(newTasks[0]).HealthStatus = "HEALTHY"
	s.advance(time.Second)
	if more, stopped := s.pass(); len(stopped) != 1 || stopped[0] != started[0] || len(more) != 0 {
		t.Fatalf("replacement healthy: stopped %v, started %v; want the UNHEALTHY task stopped", stopped, more)
	}
	if v := s.find(started[0]); v.StopCode != control.StopServiceSchedulerInitiated || v.StoppedReason != "Task failed container health checks" {
		t.Fatalf("victim %s %q", v.StopCode, v.StoppedReason)
	}
	// The replacement, healthy after the failure, reset the count
	// (resetOnHealthyTask); the stop does not count it again, nor does
	// its STOPPED state.
	if d := s.dep(); d.FailedTasks != 0 || !d.LastFailureAt.Equal(sickAt) {
		t.Fatalf("count %d (last failure %v) after the healthy replacement, want 0", d.FailedTasks, d.LastFailureAt)
	}
	s.stopAsked()
	s.advance(time.Second)
	s.pass()
	if d := s.dep(); d.FailedTasks != 0 {
		t.Fatalf("count %d once the unhealthy task stopped, want 0", d.FailedTasks)
	}

	// maximumPercent 100 leaves no room: the UNHEALTHY task stops first,
	// and its replacement starts once it has stopped.
	s3 := newSim(t, 1, tdHealth)
	s3.svc().DeploymentConfiguration.MaximumPercent = 100
	first, _ := s3.pass()
	s3.run(first[0])
	s3.find(first[0]).HealthStatus = "UNHEALTHY"
	if _, stopped := s3.pass(); len(stopped) != 1 || stopped[0] != first[0] {
		t.Fatalf("no room: stopped %v, want the UNHEALTHY task at once", stopped)
	}
	s3.stopAsked()
	if more, _ := s3.pass(); len(more) != 1 {
		t.Fatalf("no room: replacement %v after the stop", more)
	}

	// An UNHEALTHY task whose task definition has no health check is
	// never stopped for health.
	s2 := newSim(t, 1, tdPlain)
	st, _ := s2.pass()
	s2.run(st[0])
	s2.find(st[0]).HealthStatus = "UNHEALTHY"
	s2.advance(time.Hour)
	if _, stopped := s2.pass(); len(stopped) != 0 {
		t.Fatalf("task without health check stopped: %v", stopped)
	}
}

// TestStoppedTasksOfEarlierServiceIgnored: a service recreated under the
// name of an INACTIVE one sees that service's retained STOPPED tasks (same
// group); they are no failures of the new service.
func TestStoppedTasksOfEarlierServiceIgnored(t *testing.T) {
	s := newSim(t, 1, tdPlain)
	for i := range throttleAfter + 1 {
		s.st.Tasks = append(s.st.Tasks, &control.Task{ID: fmt.Sprintf("old%d", i), StartedBy: "ecs-svc/1000000000000000999",
			Group: "service:web", TaskDefinitionARN: tdPlain, LastStatus: control.TaskStopped, DesiredStatus: control.TaskStopped,
			StopCode: control.StopTaskFailedToStart, CreatedAt: epoch.Add(-time.Minute), StoppedAt: epoch.Add(-time.Minute)})
	}
	started, _ := s.pass()
	svc := s.svc()
	if len(started) != 1 || svc.Throttle.Failures != 0 || s.dep().FailedTasks != 0 {
		t.Fatalf("started %v, throttle %+v, failed %d, counted %v", started, svc.Throttle, s.dep().FailedTasks, svc.CountedStops)
	}
}

// TestUnhealthyReplacedFirstBounds: replace-first keeps no more UNHEALTHY
// tasks running than there are replacements on their way: a replacement
// that turns UNHEALTHY too leaves no room, and both stop (two failures);
// with healthy tasks beside it, one sick task of three gets one
// replacement.
func TestUnhealthyReplacedFirstBounds(t *testing.T) {
	s := newSim(t, 1, tdHealth)
	first, _ := s.pass()
	s.run(first[0])
	s.find(first[0]).HealthStatus = "UNHEALTHY"
	repl, stopped := s.pass()
	if len(repl) != 1 || len(stopped) != 0 {
		t.Fatalf("started %v stopped %v, want a replacement first", repl, stopped)
	}
	s.run(repl[0])
	s.find(repl[0]).HealthStatus = "UNHEALTHY"
	if more, stopped := s.pass(); len(more) != 0 || len(stopped) != 2 {
		t.Fatalf("both UNHEALTHY at maximumPercent: started %v stopped %v, want both stopped", more, stopped)
	}
	if d := s.dep(); d.FailedTasks != 2 {
		t.Fatalf("failedTasks %d, want 2", d.FailedTasks)
	}

	s3 := newSim(t, 3, tdHealth)
	tasks, _ := s3.pass()
	for _, id := range tasks {
		s3.run(id)
		s3.find(id).HealthStatus = "HEALTHY"
	}
	s3.find(tasks[1]).HealthStatus = "UNHEALTHY"
	if more, stopped := s3.pass(); len(more) != 1 || len(stopped) != 0 {
		t.Fatalf("one of three UNHEALTHY: started %v stopped %v, want one replacement", more, stopped)
	}
	if more, stopped := s3.pass(); len(more) != 0 || len(stopped) != 0 {
		t.Fatalf("replacement on its way: started %v stopped %v, want nothing", more, stopped)
	}
}

// TestUnhealthyStoppedWhenPlacementFails: while starts fail placement (a
// fixed host port the sick task holds, a full cluster), a sick task is not
// kept for a replacement that cannot come: it stops.
func TestUnhealthyStoppedWhenPlacementFails(t *testing.T) {
	s := newSim(t, 1, tdHealth)
	first, _ := s.pass()
	s.run(first[0])
	s.find(first[0]).HealthStatus = "UNHEALTHY"
	s.svc().Throttle.PlaceAfter = s.now.Add(control.PlacementRetryDelay)
	if _, stopped := s.pass(); len(stopped) != 1 || stopped[0] != first[0] {
		t.Fatalf("placement failing: stopped %v, want the UNHEALTHY task", stopped)
	}
}

// TestShutdownStopsAreNotFailures: tasks stopped by a graceful shutdown
// of fargo (TerminationNotice) do not count toward the circuit breaker.
func TestShutdownStopsAreNotFailures(t *testing.T) {
	s := newSim(t, 2, tdPlain)
	tasks, _ := s.pass()
	for _, id := range tasks {
		s.run(id)
	}
	s.advance(10 * time.Second)
	for _, id := range tasks {
		tk := s.find(id)
		tk.LastStatus, tk.DesiredStatus, tk.StoppedAt = control.TaskStopped, control.TaskStopped, s.now
		tk.StopCode, tk.StoppedReason = control.StopTerminationNotice, "fargo shut down"
	}
	s.pass()
	if d := s.dep(); d.FailedTasks != 0 {
		t.Fatalf("failedTasks %d after a shutdown, want 0", d.FailedTasks)
	}
}
