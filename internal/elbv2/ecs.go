package elbv2

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// The ECS side of load balancing: Service registers service tasks as
// targets (control.Registrar), answers what ECS validates of a target
// group (control.TargetGroups) and the health of a task's targets
// (control.TargetHealth).
var (
	_ control.Registrar    = (*Service)(nil)
	_ control.TargetGroups = (*Service)(nil)
	_ control.TargetHealth = (*Service)(nil)
)

// taskScope reads the scope out of a task ARN
// (arn:aws:ecs:<region>:<account>:task/...).
func taskScope(t *control.Task) (tenant.Scope, error) {
	f := strings.SplitN(t.ARN, ":", 6)
	if len(f) != 6 || f[2] != "ecs" {
		return tenant.Scope{}, fmt.Errorf("task ARN %q: not an ECS task ARN", t.ARN)
	}
	return tenant.Scope{Region: f[3], Account: f[4]}, nil
}

// hasTargetGroups reports whether a service names a target group.
func hasTargetGroups(svc *control.Service) bool {
	for _, l := range svc.LoadBalancers {
		if l.TargetGroupARN != "" {
			return true
		}
	}
	return false
}

// taskIP is an awsvpc task's private address.
func taskIP(t *control.Task) string {
	for _, a := range t.Attachments {
		for _, d := range a.Details {
			if d.Name == "privateIPv4Address" && d.Value != "" {
				return d.Value
			}
		}
	}
	for _, c := range t.Containers {
		for _, ni := range c.NetworkInterfaces {
			if ni.PrivateIPv4Address != "" {
				return ni.PrivateIPv4Address
			}
		}
	}
	return ""
}

// taskTarget is the target a task is in a group: ip → the task's address
// and the container port; instance → the task's host and the host port
// the container port is published on (bridge mode).
func taskTarget(t *control.Task, tg *TargetGroup, slb control.ServiceLoadBalancer) (Target, error) {
	switch tg.TargetType {
	case TargetTypeIP:
		ip := taskIP(t)
		if ip == "" {
			return Target{}, invalidTarget("Task %s has no private IP address: target group '%s' has target type ip, which needs network mode awsvpc", t.ARN, tg.ARN)
		}
		return Target{ID: ip, Port: slb.ContainerPort}, nil
	default:
		for _, c := range t.Containers {
			if c.Name != slb.ContainerName {
				continue
			}
			for _, b := range c.NetworkBindings {
				if b.ContainerPort == slb.ContainerPort && b.HostPort != 0 {
					return Target{ID: t.Node, Port: b.HostPort}, nil
				}
			}
		}
		return Target{}, invalidTarget("Container %s of task %s publishes no host port for container port %d: target group '%s' has target type instance", slb.ContainerName, t.ARN, slb.ContainerPort, tg.ARN)
	}
}

// Register registers an ACTIVATING service task in every target group of
// its service.
func (sv *Service) Register(ctx context.Context, t *control.Task, svc *control.Service) error {
	if !hasTargetGroups(svc) {
		return nil
	}
	s, err := taskScope(t)
	if err != nil {
		return err
	}
	for _, slb := range svc.LoadBalancers {
		if slb.TargetGroupARN == "" {
			continue
		}
		var tg *TargetGroup
		if err := sv.view(ctx, func(tx store.ReadTx) error {
			var err error
			tg, err = getTG(tx, s, slb.TargetGroupARN)
			return err
		}); err != nil {
			return err
		}
		target, err := taskTarget(t, tg, slb)
		if err != nil {
			return err
		}
		if err := sv.register(ctx, s, tg.ARN, []Target{target}, t.ARN); err != nil {
			return err
		}
		sv.log.Info("elbv2: task registered", "task", t.ARN, "targetGroup", tg.ARN, "target", target.ID, "port", target.Port)
	}
	return nil
}

// taskRegistrations are the registrations a task made in a group.
func (sv *Service) taskRegistrations(ctx context.Context, s tenant.Scope, tgARN, task string) (*TargetGroup, []*Registration, bool, error) {
	var tg *TargetGroup
	var mine []*Registration
	var used bool
	err := sv.view(ctx, func(tx store.ReadTx) error {
		var err error
		if tg, err = getTG(tx, s, tgARN); err != nil {
			return err
		}
		regs, err := store.ListJSON[Registration](tx, targetsPrefix(s, tg.Name))
		if err != nil {
			return err
		}
		for _, r := range regs {
			if r.Task == task {
				mine = append(mine, r)
			}
		}
		use, err := usage(tx, s)
		used = len(use[tgARN]) > 0
		return err
	})
	return tg, mine, used, err
}

// Deregister starts draining a DEACTIVATING task's targets and answers
// the longest deregistration delay among its groups (0 when it had no
// target). A group deleted since has nothing to drain.
func (sv *Service) Deregister(ctx context.Context, t *control.Task, svc *control.Service) (time.Duration, error) {
	if !hasTargetGroups(svc) {
		return 0, nil
	}
	s, err := taskScope(t)
	if err != nil {
		return 0, err
	}
	var drain time.Duration
	var errs []error
	for _, slb := range svc.LoadBalancers {
		if slb.TargetGroupARN == "" {
			continue
		}
		_, regs, _, err := sv.taskRegistrations(ctx, s, slb.TargetGroupARN, t.ARN)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(regs) == 0 {
			continue
		}
		targets := make([]Target, 0, len(regs))
		for _, r := range regs {
			targets = append(targets, Target{ID: r.ID, Port: r.Port})
		}
		d, err := sv.deregister(ctx, s, slb.TargetGroupARN, targets, false)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		drain = max(drain, d)
		sv.log.Info("elbv2: task deregistered", "task", t.ARN, "targetGroup", slb.TargetGroupARN, "drain", d)
	}
	return drain, errors.Join(errs...)
}

// TargetGroup answers what ECS checks of a target group.
func (sv *Service) TargetGroup(ctx context.Context, s tenant.Scope, arn string) (control.TargetGroupInfo, error) {
	views, err := sv.DescribeTargetGroups(ctx, s, "", []string{arn}, nil)
	if err != nil {
		return control.TargetGroupInfo{}, err
	}
	v := views[0]
	return control.TargetGroupInfo{
		ARN: v.ARN, TargetType: v.TargetType, Protocol: v.Protocol, Port: v.Port,
		LoadBalancerARNs: v.LoadBalancerARNs, VpcID: v.VpcID,
	}, nil
}

// TaskTargetHealth answers the health of a service task's targets across
// its service's target groups.
func (sv *Service) TaskTargetHealth(ctx context.Context, s tenant.Scope, svc *control.Service, t *control.Task) (control.TargetState, error) {
	var out control.TargetState
	allHealthy, any := true, false
	for _, slb := range svc.LoadBalancers {
		if slb.TargetGroupARN == "" {
			continue
		}
		tg, regs, used, err := sv.taskRegistrations(ctx, s, slb.TargetGroupARN, t.ARN)
		if errors.Is(err, errdefs.ErrNotFound) {
			continue
		}
		if err != nil {
			return control.TargetState{}, err
		}
		dp := sv.dataPlaneHealth(tg.ARN)
		for _, r := range regs {
			any = true
			h := sv.healthOf(tg, used, r, dp)
			switch h.State {
			case lb.StateHealthy:
			case lb.StateUnhealthy:
				return control.TargetState{State: control.TargetUnhealthy, TargetGroupARN: tg.ARN, Reason: h.Reason, Description: h.Description}, nil
			default:
				allHealthy = false
				if out.TargetGroupARN == "" {
					out = control.TargetState{State: control.TargetInitial, TargetGroupARN: tg.ARN, Reason: h.Reason, Description: h.Description}
				}
			}
		}
	}
	switch {
	case !any:
		return control.TargetState{}, nil
	case allHealthy:
		return control.TargetState{State: control.TargetHealthy}, nil
	}
	return out, nil
}
