package lb

import (
	"context"
	mrand "math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// group is the live side of a target group: its targets, their health and
// the set requests are balanced over. It outlives Apply calls as long as
// the target group stays in the Config, and so does each target's health.
type group struct {
	m   *Manager
	arn string

	mu      sync.Mutex
	cfg     TargetGroup // Targets left empty; see targets
	matcher codeMatcher
	used    bool
	targets map[string]*target // by targetKey
	order   []*target          // as the Config lists them

	pending []pendingCheck // checkers to start

	sel atomic.Pointer[selection]
	rr  atomic.Uint64
}

// target is one registered target of a group.
type target struct {
	key  string
	cfg  Target
	host string // addr:port the proxy dials
	// health and cancel are guarded by the group's mu.
	health healthState
	cancel context.CancelFunc // the running checker, nil when none
	// healthySince is when the target last became healthy (Unix ns; 0
	// when it is not): its slow start runs from there.
	healthySince atomic.Int64
}

// selection is what the proxy balances over, rebuilt on every change.
type selection struct {
	healthy   []*target // healthy, or health checks disabled
	open      []*target // every target not draining (fail open)
	byHost    map[string]*target
	slowStart time.Duration
	// The group's settings the proxy reads (the group's cfg is guarded
	// by its lock; the selection is read without one).
	stickiness time.Duration
	scheme     string
}

func targetKey(t Target) string {
	return t.ID + "|" + netip.AddrPortFrom(t.Addr, uint16(t.Port)).String()
}

func newGroup(m *Manager, arn string) *group {
	g := &group{m: m, arn: arn, targets: map[string]*target{}}
	g.sel.Store(&selection{})
	return g
}

// update applies a target group's new configuration; it returns the health
// changes to report. Caller holds no lock.
func (g *group) update(tg TargetGroup, used bool) ([]TargetHealth, error) {
	m, err := parseMatcher(tg.HealthCheck.Matcher)
	if err != nil {
		m, _ = parseMatcher("200")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	hcChanged := g.cfg.HealthCheck != tg.HealthCheck || g.cfg.Port != tg.Port
	cfg := tg
	cfg.Targets = nil
	g.cfg, g.matcher, g.used = cfg, m, used

	var changes []TargetHealth
	seen := map[string]bool{}
	g.order = g.order[:0]
	for _, tc := range tg.Targets {
		if tc.Port == 0 {
			tc.Port = tg.Port // a target registered without a port takes the group's
		}
		k := targetKey(tc)
		if seen[k] {
			continue
		}
		seen[k] = true
		t, ok := g.targets[k]
		if !ok {
			t = &target{key: k, cfg: tc, host: netip.AddrPortFrom(tc.Addr, uint16(tc.Port)).String(), health: initialHealth()}
			g.targets[k] = t
			changes = append(changes, g.reportLocked(t))
		}
		t.cfg = tc
		g.order = append(g.order, t)
		if hcChanged {
			g.stopLocked(t)
		}
		if c, ok := g.syncLocked(t); ok {
			changes = append(changes, c)
		}
	}
	for k, t := range g.targets {
		if !seen[k] {
			g.stopLocked(t)
			delete(g.targets, k)
		}
	}
	g.rebuildLocked()
	return changes, err
}

// syncLocked puts a target in the state its registration and the group's
// use call for, and starts or stops its checker.
func (g *group) syncLocked(t *target) (TargetHealth, bool) {
	before := t.health
	hc := g.cfg.HealthCheck
	switch {
	case t.cfg.Draining:
		g.stopLocked(t)
		t.health = healthState{State: StateDraining, Reason: ReasonDeregistrationInProgress, Description: descDeregistering}
	case !g.used:
		g.stopLocked(t)
		t.health = healthState{State: StateUnused, Reason: ReasonNotInUse, Description: descNotInUse}
	case !hc.Enabled:
		g.stopLocked(t)
		t.health = healthState{State: StateUnavailable, Reason: ReasonHealthCheckDisabled, Description: descDisabled}
	default:
		switch t.health.State {
		case StateDraining, StateUnused, StateUnavailable:
			t.health = initialHealth()
		}
		if t.cancel == nil {
			// Started by startPending, once Apply has reported.
			ctx, cancel := context.WithCancel(g.m.ctx)
			t.cancel = cancel
			g.pending = append(g.pending, pendingCheck{ctx, t})
		}
	}
	if t.health.State == before.State && t.health.Reason == before.Reason {
		return TargetHealth{}, false
	}
	return g.reportLocked(t), true
}

type pendingCheck struct {
	ctx context.Context
	t   *target
}

// startPending starts the checkers update asked for.
func (g *group) startPending() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.pending {
		if p.ctx.Err() == nil {
			g.m.wg.Add(1)
			go g.check(p.ctx, p.t)
		}
	}
	g.pending = nil
}

func (g *group) stopLocked(t *target) {
	if t.cancel != nil {
		t.cancel()
		t.cancel = nil
	}
}

func (g *group) stopAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.targets {
		g.stopLocked(t)
	}
}

func (g *group) reportLocked(t *target) TargetHealth {
	return TargetHealth{TargetGroupARN: g.arn, Target: t.cfg, State: t.health.State,
		Reason: t.health.Reason, Description: t.health.Description}
}

// rebuildLocked recomputes the selection after a change.
func (g *group) rebuildLocked() {
	s := &selection{byHost: make(map[string]*target, len(g.order)), slowStart: g.cfg.SlowStart,
		stickiness: g.cfg.Stickiness, scheme: "http"}
	if strings.EqualFold(g.cfg.Protocol, "HTTPS") {
		s.scheme = "https"
	}
	for _, t := range g.order {
		if t.health.State != StateHealthy {
			t.healthySince.Store(0)
		} else if t.healthySince.Load() == 0 {
			t.healthySince.Store(time.Now().UnixNano())
		}
		if t.cfg.Draining {
			continue
		}
		s.open = append(s.open, t)
		s.byHost[t.host] = t
		if t.health.State == StateHealthy || t.health.State == StateUnavailable {
			s.healthy = append(s.healthy, t)
		}
	}
	g.sel.Store(s)
}

// pick chooses the next target round robin among the healthy ones, or
// among all when none is healthy (fail open); nil when the group has no
// target that may take a request.
func (g *group) pick() *target {
	s := g.sel.Load()
	list := s.healthy
	if len(list) == 0 {
		list = s.open
	}
	n := uint64(len(list))
	switch n {
	case 0:
		return nil
	case 1:
		return list[0]
	}
	next := g.rr.Add(1)
	if s.slowStart <= 0 {
		return list[next%n]
	}
	// Slow start: a target that became healthy less than slowStart ago
	// takes its turn with a chance that grows linearly from 0 to 1.
	now := time.Now().UnixNano()
	for i := range n {
		t := list[(next+i)%n]
		since := t.healthySince.Load()
		if since == 0 || now-since >= int64(s.slowStart) || mrand.Int64N(int64(s.slowStart)) < now-since {
			return t
		}
	}
	return list[next%n] // all in slow start
}

// sticky returns the target a stickiness cookie names if it may still
// take requests.
func (g *group) sticky(host string) *target {
	s := g.sel.Load()
	t := s.byHost[host]
	if t == nil {
		return nil
	}
	if len(s.healthy) > 0 && !slices.Contains(s.healthy, t) {
		return nil
	}
	return t
}

// check runs a target's health checks until ctx ends.
func (g *group) check(ctx context.Context, t *target) {
	defer g.m.wg.Done()
	first := true
	for {
		g.mu.Lock()
		hc, m, addr, port := g.cfg.HealthCheck, g.matcher, t.cfg.Addr, t.cfg.Port
		g.mu.Unlock()
		interval := hc.Interval
		if interval <= 0 {
			interval = 30 * time.Second
		}
		if !first {
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
		first = false
		if first := g.markChecking(ctx, t); first != nil {
			g.m.report(*first)
		}
		res := g.m.prober.probe(ctx, hc, m, addr, port)
		if ctx.Err() != nil {
			return
		}
		g.mu.Lock()
		if ctx.Err() != nil {
			g.mu.Unlock()
			return
		}
		changed := t.health.observe(res, hc)
		var th TargetHealth
		if changed {
			g.rebuildLocked()
			th = g.reportLocked(t)
		}
		g.mu.Unlock()
		if changed {
			g.m.log.Info("target health changed", "targetGroup", g.arn, "target", t.host,
				"state", th.State, "reason", th.Reason)
			g.m.report(th)
		}
	}
}

// markChecking moves a freshly registered target to "initial health
// checking" as its first check starts.
func (g *group) markChecking(ctx context.Context, t *target) *TargetHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	if ctx.Err() != nil || t.health.State != StateInitial || t.health.Reason != ReasonRegistrationInProgress {
		return nil
	}
	t.health.set(StateInitial, ReasonInitialHealthChecking, descInitial)
	th := g.reportLocked(t)
	return &th
}

// healthList reports every target's health in registration order.
func (g *group) healthList() []TargetHealth {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]TargetHealth, 0, len(g.order))
	for _, t := range g.order {
		out = append(out, g.reportLocked(t))
	}
	return out
}
