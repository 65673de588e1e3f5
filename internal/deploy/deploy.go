// Package deploy is the ECS service controller: it keeps every service's
// promise of "desiredCount healthy tasks of the PRIMARY deployment", rolls
// deployments over within minimumHealthyPercent and maximumPercent, trips
// the deployment circuit breaker and rolls back, replaces tasks that stop,
// throttles services whose tasks keep failing, and writes the service
// events AWS users expect.
//
//	store watch (services, tasks, nodes) ─┐
//	resync ticker ────────────────────────┼─► work queue (per service, due time)
//	wake-ups (grace periods, throttle) ───┘          │
//	                                                 ▼
//	          control.ServiceSnapshot ─► decide (pure) ─► control.ApplyServicePlan
//
// The controller keeps no state of its own: everything it must remember
// (deployments, failed-task accounting, throttle, events) is in the service
// record, and every decision is applied in one store transaction guarded by
// the service's version. A controller restarted at any moment re-reads the
// store and carries on; a decision that was committed is never repeated,
// one that was not is made again.
package deploy

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// Config configures the controller. Zero fields take the defaults.
type Config struct {
	// Logger logs decisions (nil: discard).
	Logger *slog.Logger
	// Resync is the interval of a full pass over every service
	// (default 5 min): a safety net, as the store's watch and the
	// controller's own timers wake each service when it has work. Every
	// pass reads every service's tasks, which is what idle services cost.
	Resync time.Duration
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// MinHealthyTime is how long a task without container health checks
	// must have been RUNNING to count as healthy (default 5s, so that
	// local deployments are quick; AWS waits 40s, and `fargo server
	// --healthy-after 40s` does too). Negative means no wait.
	MinHealthyTime time.Duration
	// ThrottleBase is the first delay of the task-start throttle
	// (default 15s); it doubles with each further failed attempt up to
	// 27 minutes.
	ThrottleBase time.Duration
	// TargetHealth answers the ELBv2 health of tasks of services with
	// load balancers (internal/elbv2). With it, such a task counts as
	// healthy only once its targets are, and one whose targets are
	// unhealthy after healthCheckGracePeriodSeconds is replaced; nil:
	// load balancers do not gate task health.
	TargetHealth control.TargetHealth
	// TargetPoll is how often a service with load balancers is looked at
	// again to follow its targets' health (default 2s): target health
	// changes are not store writes, so nothing else wakes the service.
	TargetPoll time.Duration
}

// Defaults.
const (
	DefaultResync         = 5 * time.Minute
	DefaultMinHealthyTime = 5 * time.Second
	DefaultThrottleBase   = 15 * time.Second
	DefaultTargetPoll     = 2 * time.Second
	MaxThrottle           = 27 * time.Minute
	steadyRepeat          = 6 * time.Hour
)

// ControlPlane is what the controller needs of the control plane
// (*control.Control): the services to reconcile, a consistent view of one,
// and one transaction that applies a plan.
type ControlPlane interface {
	WatchServices(ctx context.Context) (<-chan control.ServiceRef, error)
	ActiveServiceRefs(ctx context.Context) ([]control.ServiceRef, error)
	ServiceSnapshot(ctx context.Context, ref control.ServiceRef) (*control.ServiceState, error)
	ApplyServicePlan(ctx context.Context, ref control.ServiceRef, plan control.ServicePlan) (*control.ServicePlanResult, error)
}

// Controller reconciles services.
type Controller struct {
	cfg Config
	ctl ControlPlane
	log *slog.Logger

	mu     sync.Mutex
	due    map[control.ServiceRef]time.Time
	all    bool
	signal chan struct{}
}

// New returns a controller over a control plane.
func New(cfg Config, ctl ControlPlane) *Controller {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Resync <= 0 {
		cfg.Resync = DefaultResync
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	switch {
	case cfg.MinHealthyTime == 0:
		cfg.MinHealthyTime = DefaultMinHealthyTime
	case cfg.MinHealthyTime < 0:
		cfg.MinHealthyTime = 0
	}
	if cfg.ThrottleBase <= 0 {
		cfg.ThrottleBase = DefaultThrottleBase
	}
	if cfg.TargetPoll <= 0 {
		cfg.TargetPoll = DefaultTargetPoll
	}
	return &Controller{cfg: cfg, ctl: ctl, log: cfg.Logger, due: map[control.ServiceRef]time.Time{}, signal: make(chan struct{}, 1)}
}

// Run reconciles until ctx ends; it returns nil then.
func (c *Controller) Run(ctx context.Context) error {
	events, err := c.ctl.WatchServices(ctx)
	if err != nil {
		return err
	}
	go func() {
		for r := range events {
			if r == (control.ServiceRef{}) {
				c.enqueueAll()
			} else {
				c.enqueue(r, time.Time{})
			}
		}
	}()
	c.enqueueAll()
	resync := time.NewTicker(c.cfg.Resync)
	defer resync.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		c.runDue(ctx)
		if ctx.Err() != nil {
			return nil
		}
		timer.Reset(c.untilNext())
		select {
		case <-ctx.Done():
			return nil
		case <-resync.C:
			c.enqueueAll()
		case <-c.signal:
		case <-timer.C:
		}
	}
}

func (c *Controller) enqueue(r control.ServiceRef, at time.Time) {
	c.mu.Lock()
	if cur, ok := c.due[r]; !ok || at.Before(cur) {
		c.due[r] = at
	}
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *Controller) enqueueAll() {
	c.mu.Lock()
	c.all = true
	c.mu.Unlock()
	select {
	case c.signal <- struct{}{}:
	default:
	}
}

func (c *Controller) untilNext() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := time.Hour
	now := c.cfg.Now()
	for _, at := range c.due {
		next = min(next, at.Sub(now))
	}
	return max(next, time.Millisecond)
}

// runDue reconciles every service that is due.
func (c *Controller) runDue(ctx context.Context) {
	c.mu.Lock()
	all := c.all
	c.all = false
	c.mu.Unlock()
	if all {
		refs, err := c.ctl.ActiveServiceRefs(ctx)
		if err != nil {
			c.log.Warn("list services", "err", err)
		}
		for _, r := range refs {
			c.enqueue(r, time.Time{})
		}
	}
	now := c.cfg.Now()
	var refs []control.ServiceRef
	c.mu.Lock()
	for r, at := range c.due {
		if !at.After(now) {
			refs = append(refs, r)
			delete(c.due, r)
		}
	}
	c.mu.Unlock()
	for _, r := range refs {
		if ctx.Err() != nil {
			return
		}
		if wake := c.Reconcile(ctx, r); !wake.IsZero() {
			c.enqueue(r, wake)
		}
	}
}

// Reconcile brings one service a step closer to what it promises and
// returns when it wants to look again (zero: only on a change).
func (c *Controller) Reconcile(ctx context.Context, ref control.ServiceRef) time.Time {
	for range 16 {
		st, err := c.ctl.ServiceSnapshot(ctx, ref)
		if errors.Is(err, control.ErrServiceNotFound) {
			return time.Time{}
		}
		if err != nil {
			c.log.Warn("service snapshot", "cluster", ref.Cluster, "service", ref.Name, "err", err)
			return c.cfg.Now().Add(time.Second)
		}
		if st.Service.Status == control.ServiceInactive {
			return time.Time{}
		}
		c.fillTargets(ctx, st)
		now := c.cfg.Now().UTC()
		plan, wake := decide(st, now, c.cfg)
		if plan == nil {
			return wake
		}
		res, err := c.ctl.ApplyServicePlan(ctx, ref, *plan)
		if errors.Is(err, control.ErrServiceChanged) {
			continue
		}
		if err != nil {
			c.log.Warn("apply service plan", "cluster", ref.Cluster, "service", ref.Name, "err", err)
			return c.cfg.Now().Add(time.Second)
		}
		if len(plan.Starts)+len(plan.Stops) > 0 {
			c.log.Info("service reconciled", "cluster", ref.Cluster, "service", ref.Name,
				"started", len(res.Started), "unplaced", len(res.Unplaced), "stopped", len(plan.Stops))
		}
	}
	return c.cfg.Now().Add(time.Second)
}

// fillTargets asks TargetHealth about the RUNNING tasks whose deployment
// has load balancers. A task whose health cannot be read counts as
// initial: neither healthy nor failing.
func (c *Controller) fillTargets(ctx context.Context, st *control.ServiceState) {
	if c.cfg.TargetHealth == nil {
		return
	}
	st.Targets = map[string]control.TargetState{}
	for _, t := range st.Tasks {
		if t.LastStatus != control.TaskRunning || t.DesiredStatus != control.TaskRunning {
			continue
		}
		svc := st.Service.ForTask(t)
		if len(svc.LoadBalancers) == 0 {
			continue
		}
		h, err := c.cfg.TargetHealth.TaskTargetHealth(ctx, st.Ref.Scope, svc, t)
		if err != nil {
			c.log.Warn("target health", "cluster", st.Ref.Cluster, "service", svc.Name, "task", t.ID, "err", err)
			h = control.TargetState{State: control.TargetInitial}
		}
		st.Targets[t.ID] = h
	}
}
