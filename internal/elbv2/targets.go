package elbv2

import (
	"context"
	"errors"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

var instanceIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// privateRanges are the addresses an ip target may have when no task
// subnet is configured (AWS: the VPC's ranges and RFC 1918/6598).
var privateRanges = []netip.Prefix{
	netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"), netip.MustParsePrefix("100.64.0.0/10"),
}

func invalidTarget(format string, args ...any) error {
	return newErr(errdefs.ErrInvalidArgument, CodeInvalidTarget, format, args...)
}

// resolve checks a target against its group and answers the address the
// data plane connects to and the port.
func (sv *Service) resolve(tg *TargetGroup, t Target) (netip.Addr, int, error) {
	port := t.Port
	if port == 0 {
		port = tg.Port
	}
	if port < 1 || port > 65535 {
		return netip.Addr{}, 0, validationf("Port '%d' must be between 1 and 65535", port)
	}
	switch tg.TargetType {
	case TargetTypeIP:
		a, err := netip.ParseAddr(t.ID)
		if err != nil || !a.Is4() {
			return netip.Addr{}, 0, invalidTarget("The IP address '%s' is not a valid IPv4 address", t.ID)
		}
		ranges := sv.cfg.TargetPrefixes
		if len(ranges) == 0 {
			ranges = privateRanges
		}
		if !slices.ContainsFunc(ranges, func(p netip.Prefix) bool { return p.Contains(a) }) {
			return netip.Addr{}, 0, invalidTarget("The IP address '%s' is not within a subnet of the VPC '%s'", t.ID, tg.VpcID)
		}
		return a, port, nil
	default:
		if !instanceIDRe.MatchString(t.ID) {
			return netip.Addr{}, 0, invalidTarget("The following targets are not valid instances: '%s'", t.ID)
		}
		return sv.cfg.InstanceAddr, port, nil
	}
}

// RegisterTargets registers targets in a group (again: a draining target
// is registered anew).
func (sv *Service) RegisterTargets(ctx context.Context, s tenant.Scope, tgARN string, targets []Target) error {
	return sv.register(ctx, s, tgARN, targets, "")
}

func (sv *Service) register(ctx context.Context, s tenant.Scope, tgARN string, targets []Target, task string) error {
	if len(targets) == 0 {
		return validationf("At least one target must be specified")
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var undrained []string
	err := sv.updateLocked(ctx, func(tx store.Tx) error {
		undrained = undrained[:0]
		tg, err := getTG(tx, s, tgARN)
		if err != nil {
			return err
		}
		kvs, err := tx.List(targetsPrefix(s, tg.Name))
		if err != nil {
			return err
		}
		count := len(kvs)
		now := sv.now().UTC()
		for _, t := range targets {
			addr, port, err := sv.resolve(tg, t)
			if err != nil {
				return err
			}
			key := targetKey(s, tg.Name, t.ID, port)
			r, err := store.GetJSON[Registration](tx, key)
			switch {
			case errors.Is(err, store.ErrNotFound):
				count++
				if count > LimitTargetsPerLB {
					return tooMany(CodeTooManyTargets, "You've reached the limit on the number of targets per target group")
				}
				r = &Registration{TargetGroupARN: tg.ARN, ID: t.ID, Port: port, RegisteredAt: now}
			case err != nil:
				return err
			case !r.DrainUntil.IsZero():
				r.DrainUntil, r.RegisteredAt = time.Time{}, now
				undrained = append(undrained, key)
			}
			r.Addr, r.AvailabilityZone = addr, t.AvailabilityZone
			if task != "" {
				r.Task = task
			}
			if err := store.PutJSON(tx, key, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		for _, k := range undrained {
			sv.disarmLocked(k)
		}
	}
	return err
}

// DeregisterTargets starts draining targets: they get no new request and
// are removed after the group's deregistration delay. It answers the
// delay.
func (sv *Service) DeregisterTargets(ctx context.Context, s tenant.Scope, tgARN string, targets []Target) (time.Duration, error) {
	return sv.deregister(ctx, s, tgARN, targets, true)
}

func (sv *Service) deregister(ctx context.Context, s tenant.Scope, tgARN string, targets []Target, strict bool) (time.Duration, error) {
	if len(targets) == 0 {
		return 0, validationf("At least one target must be specified")
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var delay time.Duration
	arm := map[string]time.Time{}
	err := sv.updateLocked(ctx, func(tx store.Tx) error {
		clear(arm)
		tg, err := getTG(tx, s, tgARN)
		if err != nil {
			return err
		}
		delay = time.Duration(intAttrValue(tg.Attributes, "deregistration_delay.timeout_seconds")) * time.Second
		now := sv.now().UTC()
		for _, t := range targets {
			port := t.Port
			if port == 0 {
				port = tg.Port
			}
			key := targetKey(s, tg.Name, t.ID, port)
			r, err := store.GetJSON[Registration](tx, key)
			if errors.Is(err, store.ErrNotFound) {
				if strict {
					return invalidTarget("The target '%s' on port %d is not registered in target group '%s'", t.ID, port, tgARN)
				}
				continue
			}
			if err != nil {
				return err
			}
			if !r.DrainUntil.IsZero() {
				arm[key] = r.DrainUntil
				continue
			}
			if delay == 0 {
				if err := tx.Delete(key); err != nil {
					return err
				}
				continue
			}
			r.DrainUntil = now.Add(delay)
			arm[key] = r.DrainUntil
			if err := store.PutJSON(tx, key, r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for k, at := range arm {
		sv.armDrainLocked(k, at)
	}
	return delay, nil
}

// armDrainLocked (re)sets the timer that removes a drained target at at.
func (sv *Service) armDrainLocked(key string, at time.Time) {
	if sv.closed {
		return
	}
	if t, ok := sv.timers[key]; ok {
		t.Stop()
	}
	sv.timers[key] = time.AfterFunc(max(at.Sub(sv.now()), 0), func() { sv.drained(key) })
}

func (sv *Service) disarmLocked(key string) {
	if t, ok := sv.timers[key]; ok {
		t.Stop()
		delete(sv.timers, key)
	}
}

// drained removes a target whose deregistration delay has passed.
func (sv *Service) drained(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	sv.mu.Lock()
	defer sv.mu.Unlock()
	if sv.closed {
		return
	}
	delete(sv.timers, key)
	var later time.Time
	err := sv.updateLocked(ctx, func(tx store.Tx) error {
		later = time.Time{}
		r, err := store.GetJSON[Registration](tx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || r.DrainUntil.IsZero() {
			return err
		}
		if sv.now().Before(r.DrainUntil) {
			later = r.DrainUntil
			return nil
		}
		return tx.Delete(key)
	})
	switch {
	case err != nil:
		sv.log.Warn("elbv2: remove a drained target", "key", key, "err", err)
		sv.timers[key] = time.AfterFunc(5*time.Second, func() { sv.drained(key) })
	case !later.IsZero():
		sv.armDrainLocked(key, later)
	}
}

// Target health descriptions, as AWS words them.
const (
	descRegistration  = "Target registration is in progress"
	descNotRegistered = "Target is not registered to the target group"
	descNotInUse      = "Target group is not configured to receive traffic from the load balancer"
	descDraining      = "Target deregistration is in progress"
)

// DescribeTargetHealth answers the health of a group's targets (all of
// them, or those named: a target not registered is unused,
// Target.NotRegistered).
func (sv *Service) DescribeTargetHealth(ctx context.Context, s tenant.Scope, tgARN string, targets []Target) ([]TargetHealth, error) {
	var tg *TargetGroup
	var regs []*Registration
	var used bool
	err := sv.view(ctx, func(tx store.ReadTx) error {
		var err error
		if tg, err = getTG(tx, s, tgARN); err != nil {
			return err
		}
		if regs, err = store.ListJSON[Registration](tx, targetsPrefix(s, tg.Name)); err != nil {
			return err
		}
		use, err := usage(tx, s)
		used = len(use[tgARN]) > 0
		return err
	})
	if err != nil {
		return nil, err
	}
	dp := sv.dataPlaneHealth(tgARN)
	if len(targets) == 0 {
		out := make([]TargetHealth, 0, len(regs))
		for _, r := range regs {
			out = append(out, sv.healthOf(tg, used, r, dp))
		}
		return out, nil
	}
	var out []TargetHealth
	for _, t := range targets {
		if _, _, err := sv.resolve(tg, Target{ID: t.ID, Port: t.Port}); err != nil {
			return nil, err
		}
		found := false
		for _, r := range regs {
			if r.ID == t.ID && (t.Port == 0 || r.Port == t.Port) {
				out = append(out, sv.healthOf(tg, used, r, dp))
				found = true
			}
		}
		if !found {
			port := t.Port
			if port == 0 {
				port = tg.Port
			}
			out = append(out, TargetHealth{
				Target: Target{ID: t.ID, Port: port, AvailabilityZone: t.AvailabilityZone}, HealthCheckPort: hcPort(tg, port),
				State: lb.StateUnused, Reason: lb.ReasonNotRegistered, Description: descNotRegistered,
			})
		}
	}
	return out, nil
}

func hcPort(tg *TargetGroup, port int) string {
	if tg.HealthCheck.Port == "traffic-port" || tg.HealthCheck.Port == "" {
		return strconv.Itoa(port)
	}
	return tg.HealthCheck.Port
}

func (sv *Service) dataPlaneHealth(tgARN string) map[string]lb.TargetHealth {
	if sv.cfg.DataPlane == nil {
		return nil
	}
	out := map[string]lb.TargetHealth{}
	for _, h := range sv.cfg.DataPlane.Health(tgARN) {
		out[h.Target.ID+"/"+strconv.Itoa(h.Target.Port)] = h
	}
	return out
}

// healthOf merges a registration with what the data plane sees.
func (sv *Service) healthOf(tg *TargetGroup, used bool, r *Registration, dp map[string]lb.TargetHealth) TargetHealth {
	th := TargetHealth{
		Target:          Target{ID: r.ID, Port: r.Port, AvailabilityZone: r.AvailabilityZone},
		HealthCheckPort: hcPort(tg, r.Port),
	}
	switch h, ok := dp[r.ID+"/"+strconv.Itoa(r.Port)]; {
	case !r.DrainUntil.IsZero():
		th.State, th.Reason, th.Description = lb.StateDraining, lb.ReasonDeregistrationInProgress, descDraining
	case !used:
		th.State, th.Reason, th.Description = lb.StateUnused, lb.ReasonNotInUse, descNotInUse
	case ok && h.State != "":
		th.State, th.Reason, th.Description = h.State, h.Reason, h.Description
		if h.State == lb.StateHealthy {
			th.Reason, th.Description = "", ""
		}
	default:
		th.State, th.Reason, th.Description = lb.StateInitial, lb.ReasonRegistrationInProgress, descRegistration
	}
	return th
}
