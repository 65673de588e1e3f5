package autoscaling

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var scope = tenant.Scope{Account: "123456789012", Region: "us-east-1"}

// fakeECS is services' desired counts; fail makes the next sets fail.
type fakeECS struct {
	mu      sync.Mutex
	desired map[string]int
	sets    int
	fail    error
}

func (f *fakeECS) DesiredCount(_ context.Context, _ tenant.Scope, cluster, service string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.desired[cluster+"/"+service]
	if !ok {
		return 0, errdefs.NotFoundf("Service not found.")
	}
	return n, nil
}

func (f *fakeECS) SetDesiredCount(_ context.Context, _ tenant.Scope, cluster, service string, n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return f.fail
	}
	f.desired[cluster+"/"+service] = n
	f.sets++
	return nil
}

func (f *fakeECS) get(k string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.desired[k]
}

// fakeAlarms keeps alarms in a map.
type fakeAlarms struct {
	mu     sync.Mutex
	alarms map[string]metrics.Alarm
}

func (f *fakeAlarms) PutAlarm(_ context.Context, a metrics.Alarm) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if old, ok := f.alarms[a.Name]; ok {
		a.State, a.StateReasonData, a.Transitions, a.StateTransitioned = old.State, old.StateReasonData, old.Transitions, old.StateTransitioned
	}
	f.alarms[a.Name] = a
	return nil
}

func (f *fakeAlarms) Alarms(_ context.Context, _ tenant.Scope, flt metrics.AlarmFilter) ([]metrics.Alarm, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []metrics.Alarm
	for _, a := range f.alarms {
		if len(flt.Names) > 0 && !slices.Contains(flt.Names, a.Name) {
			continue
		}
		if flt.ActionPrefix != "" && !slices.ContainsFunc(a.AlarmActions, func(x string) bool { return strings.HasPrefix(x, flt.ActionPrefix) }) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

func (f *fakeAlarms) DeleteAlarms(_ context.Context, _ tenant.Scope, names []string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, n := range names {
		if _, ok := f.alarms[n]; !ok {
			return errdefs.NotFoundf("no alarm %s", n)
		}
		delete(f.alarms, n)
	}
	return nil
}

func (f *fakeAlarms) Statistics(tenant.Scope, metrics.Metric, string, time.Time, time.Time, time.Duration) ([]metrics.Point, error) {
	return nil, nil
}

// setState moves an alarm, as SetAlarmState does, and returns the event.
func (f *fakeAlarms) setState(name, state, data string, at time.Time) metrics.ActionEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	a := f.alarms[name]
	a.State, a.StateReasonData, a.StateTransitioned = state, data, at
	a.Transitions++
	f.alarms[name] = a
	return metrics.ActionEvent{AlarmName: name, AlarmARN: a.ARN(), State: state, TransitionID: fmt.Sprintf("%s/%d", a.ARN(), a.Transitions)}
}

type fixture struct {
	svc    *Service
	st     store.Store
	ecs    *fakeECS
	alarms *fakeAlarms
	now    time.Time
	path   string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	fx := &fixture{ecs: &fakeECS{desired: map[string]int{"default/web": 1}}, alarms: &fakeAlarms{alarms: map[string]metrics.Alarm{}},
		now: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), path: filepath.Join(t.TempDir(), "fargo.db")}
	fx.open(t)
	return fx
}

// open (re)opens the store and the service over it, as a restart does.
func (fx *fixture) open(t *testing.T) {
	t.Helper()
	st, err := bolt.Open(fx.path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	fx.st = st
	fx.svc = New(Config{Now: func() time.Time { return fx.now }}, st, fx.ecs, fx.alarms)
}

func ip(n int) *int { return &n }

func (fx *fixture) register(t *testing.T, min, max int) {
	t.Helper()
	if _, err := fx.svc.RegisterTarget(context.Background(), scope, RegisterInput{ResourceID: "service/default/web", Min: ip(min), Max: ip(max)}); err != nil {
		t.Fatal(err)
	}
}

func (fx *fixture) cpuPolicy(t *testing.T, name string) *Policy {
	t.Helper()
	p, err := fx.svc.PutPolicy(context.Background(), scope, PolicyInput{ResourceID: "service/default/web", Name: name, Type: PolicyTargetTracking,
		TargetTracking: &TargetTracking{TargetValue: 50, Metric: MetricSpec{Predefined: MetricCPU}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRegisterClampsAndValidates(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	if _, err := fx.svc.RegisterTarget(ctx, scope, RegisterInput{ResourceID: "service/default/nope", Min: ip(1), Max: ip(2)}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("missing service: %v", err)
	}
	if _, err := fx.svc.RegisterTarget(ctx, scope, RegisterInput{ResourceID: "service/default/web", Min: ip(3), Max: ip(2)}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("min > max: %v", err)
	}
	if _, err := fx.svc.RegisterTarget(ctx, scope, RegisterInput{ResourceID: "service/default/web", Min: ip(3)}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("new target without max: %v", err)
	}
	if ts, _ := fx.svc.Targets(ctx, scope, nil); len(ts) != 0 {
		t.Fatalf("refused registrations stored %d targets", len(ts))
	}
	_, err := fx.svc.PutPolicy(ctx, scope, PolicyInput{ResourceID: "service/default/web", Name: "cpu", Type: PolicyTargetTracking,
		TargetTracking: &TargetTracking{TargetValue: 50, Metric: MetricSpec{Predefined: MetricCPU}}})
	if !errors.Is(err, errdefs.ErrNotFound) || len(fx.alarms.alarms) != 0 {
		t.Errorf("policy on an unregistered target: %v, %d alarms", err, len(fx.alarms.alarms))
	}
	fx.register(t, 2, 4)
	if n := fx.ecs.get("default/web"); n != 2 {
		t.Errorf("desired after registering min 2: %d", n)
	}
	// Updating only max keeps min, and clamps from above.
	fx.ecs.desired["default/web"] = 9
	if _, err := fx.svc.RegisterTarget(ctx, scope, RegisterInput{ResourceID: "service/default/web", Max: ip(5)}); err != nil {
		t.Fatal(err)
	}
	ts, _ := fx.svc.Targets(ctx, scope, nil)
	if len(ts) != 1 || ts[0].Min != 2 || ts[0].Max != 5 || fx.ecs.get("default/web") != 5 {
		t.Errorf("after updating max: %+v desired %d", ts[0], fx.ecs.get("default/web"))
	}
}

func TestAlarmFiredOncePerTransition(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.register(t, 1, 6)
	p := fx.cpuPolicy(t, "cpu")
	if len(p.Alarms) != 2 || fx.alarms.alarms[p.Alarms[0].Name].DatapointsToAlarm != 3 || fx.alarms.alarms[p.Alarms[1].Name].Threshold != 45 {
		t.Fatalf("alarms %+v", fx.alarms.alarms)
	}
	ev := fx.alarms.setState(p.Alarms[0].Name, metrics.StateAlarm, `{"recentDatapoints":[80,95]}`, fx.now)
	for range 3 { // the outbox delivers at least once
		if err := fx.svc.AlarmFired(ctx, scope, p.ARN(), ev); err != nil {
			t.Fatal(err)
		}
	}
	// ceil(1 × 95 / 50) = 2
	acts, _ := fx.svc.Activities(ctx, scope, "service/default/web")
	if len(acts) != 1 || fx.ecs.get("default/web") != 2 || fx.ecs.sets != 1 {
		t.Fatalf("activities %d, desired %d, sets %d", len(acts), fx.ecs.get("default/web"), fx.ecs.sets)
	}
	a := acts[0]
	if a.Description != "Setting desired count to 2." || a.Status != StatusSuccessful ||
		a.Cause != "monitor alarm "+p.Alarms[0].Name+" in state ALARM triggered policy cpu" {
		t.Errorf("activity %+v", a)
	}
	// A restart does not replay it either.
	fx.st.Close()
	fx.open(t)
	if err := fx.svc.AlarmFired(ctx, scope, p.ARN(), ev); err != nil || fx.ecs.sets != 1 {
		t.Errorf("after a restart the same transition set the count again (%v, %d sets)", err, fx.ecs.sets)
	}
	// An OK transition, or a policy that no longer exists, does nothing.
	if err := fx.svc.AlarmFired(ctx, scope, p.ARN(), fx.alarms.setState(p.Alarms[0].Name, metrics.StateOK, "", fx.now)); err != nil || fx.ecs.sets != 1 {
		t.Errorf("OK transition: %v, %d sets", err, fx.ecs.sets)
	}
	if err := fx.svc.AlarmFired(ctx, scope, strings.Replace(p.ARN(), "policyName/cpu", "policyName/gone", 1), ev); err != nil {
		t.Errorf("unknown policy: %v", err)
	}
}

func TestRetriggerWhileInAlarm(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.register(t, 1, 10)
	p := fx.cpuPolicy(t, "cpu")
	ev := fx.alarms.setState(p.Alarms[0].Name, metrics.StateAlarm, `{"recentDatapoints":[100]}`, fx.now)
	if err := fx.svc.AlarmFired(ctx, scope, p.ARN(), ev); err != nil {
		t.Fatal(err)
	}
	if n := fx.ecs.get("default/web"); n != 2 {
		t.Fatalf("desired %d, want 2", n)
	}
	// Within the period: nothing. After each period in ALARM (past the
	// 300 s scale-out cooldown) one more scale-out.
	fx.now = fx.now.Add(30 * time.Second)
	if err := fx.svc.Retrigger(ctx); err != nil || fx.ecs.sets != 1 {
		acts, _ := fx.svc.Activities(ctx, scope, "")
		t.Fatalf("re-triggered within the period: %v %d %+v %+v", err, fx.ecs.sets, acts[0], fx.alarms.alarms[p.Alarms[0].Name])
	}
	fx.now = fx.now.Add(5 * time.Minute)
	for range 2 {
		if err := fx.svc.Retrigger(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if n := fx.ecs.get("default/web"); n != 3 || fx.ecs.sets != 2 {
		t.Errorf("after re-evaluation: desired %d sets %d, want 3 and 2", n, fx.ecs.sets)
	}
	// Within the new cooldown the same alarm adds nothing more.
	fx.now = fx.now.Add(time.Minute)
	if err := fx.svc.Retrigger(ctx); err != nil || fx.ecs.sets != 2 {
		t.Errorf("scaled out again during the cooldown: %v %d", err, fx.ecs.sets)
	}
}

func TestPendingActivityResumes(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.register(t, 1, 6)
	p := fx.cpuPolicy(t, "cpu")
	fx.ecs.fail = errdefs.Newf(errdefs.ErrUnavailable, "store closed")
	ev := fx.alarms.setState(p.Alarms[0].Name, metrics.StateAlarm, `{"recentDatapoints":[150]}`, fx.now)
	if err := fx.svc.AlarmFired(ctx, scope, p.ARN(), ev); err == nil {
		t.Fatal("a failed UpdateService was not reported")
	}
	acts, _ := fx.svc.Activities(ctx, scope, "")
	if len(acts) != 1 || acts[0].Status != StatusInProgress {
		t.Fatalf("activities %+v", acts)
	}
	// The crash: a restart finishes it, and the redelivered transition
	// does not start a second one.
	fx.ecs.fail = nil
	fx.st.Close()
	fx.open(t)
	fx.svc.resumePending(ctx)
	if err := fx.svc.AlarmFired(ctx, scope, p.ARN(), ev); err != nil {
		t.Fatal(err)
	}
	acts, _ = fx.svc.Activities(ctx, scope, "")
	if len(acts) != 1 || acts[0].Status != StatusSuccessful || fx.ecs.get("default/web") != 3 || fx.ecs.sets != 1 {
		t.Errorf("after resuming: %+v desired %d sets %d", acts, fx.ecs.get("default/web"), fx.ecs.sets)
	}
	if kvs, _ := fx.st.List(ctx, pendingPrefix); len(kvs) != 0 {
		t.Errorf("%d pending markers left", len(kvs))
	}
}

// TestLargestCapacityWins: a target-tracking policy scales in only when
// every target-tracking policy of the target wants to (scale-outs only
// ever raise the count, so the largest one stands).
func TestLargestCapacityWins(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.register(t, 1, 10)
	fx.ecs.desired["default/web"] = 4
	cpu := fx.cpuPolicy(t, "cpu")
	mem, err := fx.svc.PutPolicy(ctx, scope, PolicyInput{ResourceID: "service/default/web", Name: "mem", Type: PolicyTargetTracking,
		TargetTracking: &TargetTracking{TargetValue: 50, Metric: MetricSpec{Predefined: MetricMemory}}})
	if err != nil {
		t.Fatal(err)
	}
	// cpu wants to scale in, mem does not: nothing happens.
	ev := fx.alarms.setState(cpu.Alarms[1].Name, metrics.StateAlarm, `{"recentDatapoints":[10]}`, fx.now)
	if err := fx.svc.AlarmFired(ctx, scope, cpu.ARN(), ev); err != nil || fx.ecs.get("default/web") != 4 {
		t.Fatalf("scaled in against the other policy: %v, desired %d", err, fx.ecs.get("default/web"))
	}
	// Both low: scale in.
	fx.alarms.setState(mem.Alarms[1].Name, metrics.StateAlarm, `{"recentDatapoints":[10]}`, fx.now)
	ev = fx.alarms.setState(cpu.Alarms[1].Name, metrics.StateAlarm, `{"recentDatapoints":[10]}`, fx.now)
	if err := fx.svc.AlarmFired(ctx, scope, cpu.ARN(), ev); err != nil || fx.ecs.get("default/web") != 1 {
		t.Fatalf("both low: %v, desired %d, want ceil(4×10/50)=1", err, fx.ecs.get("default/web"))
	}
}

func TestDeregisterRemovesPoliciesAndAlarms(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.register(t, 1, 3)
	fx.cpuPolicy(t, "cpu")
	fx.cpuPolicy(t, "cpu") // an update keeps the alarms
	if len(fx.alarms.alarms) != 2 {
		t.Fatalf("%d alarms after an update", len(fx.alarms.alarms))
	}
	if _, err := fx.svc.PutScheduledAction(ctx, scope, ScheduledInput{ResourceID: "service/default/web", Name: "s", Schedule: ptrs("rate(1 hour)"), Min: ip(1)}); err != nil {
		t.Fatal(err)
	}
	if err := fx.svc.DeregisterTarget(ctx, scope, "service/default/web"); err != nil {
		t.Fatal(err)
	}
	ps, _ := fx.svc.Policies(ctx, scope, "", nil)
	sa, _ := fx.svc.ScheduledActions(ctx, scope, "", nil)
	if len(ps) != 0 || len(sa) != 0 || len(fx.alarms.alarms) != 0 {
		t.Errorf("left: %d policies, %d scheduled actions, %d alarms", len(ps), len(sa), len(fx.alarms.alarms))
	}
	if err := fx.svc.DeregisterTarget(ctx, scope, "service/default/web"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("deregistering again: %v", err)
	}
}

func ptrs(s string) *string { return &s }

func TestScheduledActionRuns(t *testing.T) {
	fx := newFixture(t)
	ctx := context.Background()
	fx.register(t, 1, 3)
	if _, err := fx.svc.PutScheduledAction(ctx, scope, ScheduledInput{ResourceID: "service/default/web", Name: "bad", Schedule: ptrs("cron(0 25 * * ? *)"), Min: ip(1)}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("malformed cron: %v", err)
	}
	if _, err := fx.svc.PutScheduledAction(ctx, scope, ScheduledInput{ResourceID: "service/default/web", Name: "tz", Schedule: ptrs("rate(1 hour)"), Timezone: ptrs("Nowhere/Land"), Min: ip(1)}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad time zone: %v", err)
	}
	if _, err := fx.svc.PutScheduledAction(ctx, scope, ScheduledInput{ResourceID: "service/default/web", Name: "morning", Schedule: ptrs("cron(0 11 * * ? *)"), Min: ip(4), Max: ip(8)}); err != nil {
		t.Fatal(err)
	}
	fx.now = fx.now.Add(59 * time.Minute)
	if err := fx.svc.RunScheduled(ctx); err != nil || fx.ecs.get("default/web") != 1 {
		t.Fatalf("ran early: %v", err)
	}
	fx.now = fx.now.Add(time.Minute)
	if err := fx.svc.RunScheduled(ctx); err != nil {
		t.Fatal(err)
	}
	ts, _ := fx.svc.Targets(ctx, scope, nil)
	acts, _ := fx.svc.Activities(ctx, scope, "")
	if ts[0].Min != 4 || ts[0].Max != 8 || fx.ecs.get("default/web") != 4 || len(acts) != 1 ||
		acts[0].Description != "Setting min capacity to 4 and max capacity to 8 and desired count to 4" ||
		acts[0].Cause != "scheduled action name morning was triggered" {
		t.Errorf("target %+v desired %d activities %+v", ts[0], fx.ecs.get("default/web"), acts)
	}
	sa, _ := fx.svc.ScheduledActions(ctx, scope, "", []string{"morning"})
	if want := time.Date(2026, 12, 8, 11, 0, 0, 0, time.UTC); !sa[0].Next.Equal(want) {
		t.Errorf("next run %v, want %v", sa[0].Next, want)
	}
}

func TestScaled(t *testing.T) {
	for period, want := range map[time.Duration]time.Duration{time.Minute: 300 * time.Second, 2 * time.Second: 10 * time.Second, 6 * time.Second: 30 * time.Second} {
		s := New(Config{Period: period}, nil, nil, nil)
		if got := s.scaled(300 * time.Second); got != want {
			t.Errorf("300 s at a %v period: %v, want %v", period, got, want)
		}
	}
}
