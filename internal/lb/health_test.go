package lb

import (
	"testing"
	"time"
)

func timeNow() time.Time { return time.Unix(1_800_000_000, 0) }

func TestHealthStateMachine(t *testing.T) {
	hc := HealthCheck{Enabled: true, HealthyThreshold: 3, UnhealthyThreshold: 2}
	ok := probeResult{OK: true}
	bad := probeResult{Reason: ReasonResponseCodeMismatch, Description: "Health checks failed with these codes: [500]"}
	slow := probeResult{Reason: ReasonTimeout, Description: descTimeout}
	type step struct {
		in            probeResult
		state, reason string
		changed       bool
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"initial passes one check", []step{{ok, StateHealthy, "", true}}},
		{"initial fails to unhealthy", []step{
			{bad, StateInitial, ReasonInitialHealthChecking, true},
			{bad, StateUnhealthy, ReasonResponseCodeMismatch, true},
		}},
		{"initial fail then pass", []step{
			{bad, StateInitial, ReasonInitialHealthChecking, true},
			{ok, StateHealthy, "", true},
		}},
		{"healthy tolerates one failure", []step{
			{ok, StateHealthy, "", true},
			{bad, StateHealthy, "", false},
			{ok, StateHealthy, "", false},
			{bad, StateHealthy, "", false},
			{slow, StateUnhealthy, ReasonTimeout, true},
		}},
		{"unhealthy needs healthy threshold", []step{
			{bad, StateInitial, ReasonInitialHealthChecking, true},
			{bad, StateUnhealthy, ReasonResponseCodeMismatch, true},
			{ok, StateUnhealthy, ReasonResponseCodeMismatch, false},
			{ok, StateUnhealthy, ReasonResponseCodeMismatch, false},
			{ok, StateHealthy, "", true},
		}},
		{"unhealthy reason follows failures", []step{
			{bad, StateInitial, ReasonInitialHealthChecking, true},
			{bad, StateUnhealthy, ReasonResponseCodeMismatch, true},
			{slow, StateUnhealthy, ReasonTimeout, true},
			{ok, StateUnhealthy, ReasonTimeout, false},
			{bad, StateUnhealthy, ReasonResponseCodeMismatch, true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := initialHealth()
			for i, s := range tc.steps {
				changed := h.observe(s.in, hc)
				if h.State != s.state || h.Reason != s.reason || changed != s.changed {
					t.Fatalf("step %d: %s/%s changed=%v, want %s/%s changed=%v", i, h.State, h.Reason, changed, s.state, s.reason, s.changed)
				}
			}
		})
	}
	// Draining and unused do not move on check results.
	for _, st := range []string{StateDraining, StateUnused, StateUnavailable} {
		h := healthState{State: st}
		if h.observe(ok, hc) || h.State != st {
			t.Errorf("%s moved to %s", st, h.State)
		}
	}
}

func TestParseMatcher(t *testing.T) {
	tests := []struct {
		s       string
		in, out []int
	}{
		{"200", []int{200}, []int{201, 500}},
		{"", []int{200}, []int{204}},
		{"200,202", []int{200, 202}, []int{201}},
		{"200-299", []int{200, 250, 299}, []int{300, 199}},
		{"200-204,301", []int{203, 301}, []int{302}},
	}
	for _, tc := range tests {
		m, err := parseMatcher(tc.s)
		if err != nil {
			t.Fatalf("%q: %v", tc.s, err)
		}
		for _, c := range tc.in {
			if !m.match(c) {
				t.Errorf("%q does not match %d", tc.s, c)
			}
		}
		for _, c := range tc.out {
			if m.match(c) {
				t.Errorf("%q matches %d", tc.s, c)
			}
		}
	}
	for _, bad := range []string{"abc", "300-200", "99", "200-700"} {
		if _, err := parseMatcher(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSlowStart(t *testing.T) {
	m := New(ManagerConfig{})
	defer m.Close()
	g := newGroup(m, "tg")
	old := &target{host: "old", health: healthState{State: StateHealthy}}
	fresh := &target{host: "new", health: healthState{State: StateHealthy}}
	g.cfg.SlowStart = time.Hour
	g.order = []*target{old, fresh}
	old.healthySince.Store(time.Now().Add(-2 * time.Hour).UnixNano())
	g.rebuildLocked() // fresh becomes healthy now
	count := func() int {
		n := 0
		for range 2000 {
			if g.pick() == fresh {
				n++
			}
		}
		return n
	}
	if n := count(); n > 40 {
		t.Errorf("target in its first second of a 1h slow start got %d of 2000 requests", n)
	}
	fresh.healthySince.Store(time.Now().Add(-30 * time.Minute).UnixNano())
	if n := count(); n < 400 || n > 900 {
		t.Errorf("half way through slow start: %d of 2000 requests, want about a third", n)
	}
	fresh.healthySince.Store(time.Now().Add(-2 * time.Hour).UnixNano())
	if n := count(); n != 1000 {
		t.Errorf("after slow start: %d of 2000, want half", n)
	}
}
