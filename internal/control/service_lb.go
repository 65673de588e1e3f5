package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Services behind load balancers: what ECS checks of a service's
// loadBalancers, which load balancers a task belongs to, and the service
// events of its registrations.
//
//	CreateService/UpdateService ─► validateLoadBalancers ─► TargetGroups (ELBv2)
//	deployment ─ LoadBalancers (copied from the service when it starts)
//	task ─ StartedBy ─► its deployment's LoadBalancers (LoadBalancersOf)
//
// A deployment keeps the loadBalancers the service had when it started:
// when UpdateService changes them, the older deployment's tasks stay
// registered where they are (and are deregistered from there when they
// stop), as on AWS, where a deployment's task set carries its own load
// balancer configuration.

// maxServiceLoadBalancers is how many loadBalancers a service may have.
const maxServiceLoadBalancers = 5

// Target types of an ELBv2 target group ECS can register a task with.
const (
	TargetTypeIP       = "ip"
	TargetTypeInstance = "instance"
)

// SetTargetGroups installs what answers about ELBv2 target groups (server
// wiring). Without it a service cannot have loadBalancers.
func (c *Control) SetTargetGroups(tg TargetGroups) { c.targetGroups = tg }

// validateLoadBalancers checks a service's loadBalancers against its task
// definition and ELBv2, with ECS's InvalidParameterException messages
// where AWS's wording is known.
func (c *Control) validateLoadBalancers(ctx context.Context, s tenant.Scope, td *TaskDefinition, lbs []ServiceLoadBalancer) error {
	if len(lbs) == 0 {
		return nil
	}
	if len(lbs) > maxServiceLoadBalancers {
		return InvalidParameterf("load balancers can have at most %d items.", maxServiceLoadBalancers)
	}
	// What the task definition alone decides comes first.
	for _, lb := range lbs {
		if lb.LoadBalancerName != "" {
			return InvalidParameterf("fargo does not support Classic Load Balancers (loadBalancerName %s); use an Application Load Balancer's target group: targetGroupArn, containerName and containerPort.", lb.LoadBalancerName)
		}
		if lb.TargetGroupARN == "" {
			return InvalidParameterf("targetGroupArn is required in a loadBalancers entry (fargo's load balancers are Application Load Balancers).")
		}
		if lb.ContainerName == "" {
			return InvalidParameterf("Container Name can not be blank.")
		}
		if err := hasPortMapping(td, lb.ContainerName, lb.ContainerPort); err != nil {
			return err
		}
	}
	if c.targetGroups == nil {
		return InvalidParameterf("This fargo server runs without ELBv2, so a service cannot use load balancers; remove loadBalancers from the service.")
	}
	for _, lb := range lbs {
		tg, err := c.targetGroups.TargetGroup(ctx, s, lb.TargetGroupARN)
		if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrInvalidArgument) {
			// AWS's answer for a target group it cannot find (deleted,
			// another account or region, or not a target group ARN).
			return InvalidParameterf("Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions.")
		}
		if err != nil {
			return fmt.Errorf("target group %s: %w", lb.TargetGroupARN, err)
		}
		if len(tg.LoadBalancerARNs) == 0 {
			return InvalidParameterf("The target group with targetGroupArn %s does not have an associated load balancer.", lb.TargetGroupARN)
		}
		want := TargetTypeInstance
		if td.NetworkMode == NetworkModeAwsvpc {
			want = TargetTypeIP
		}
		if tg.TargetType != want {
			return InvalidParameterf("The provided target group %s has target type %s, which is incompatible with the %s network mode specified in the task definition.",
				lb.TargetGroupARN, tg.TargetType, td.NetworkMode)
		}
	}
	return nil
}

// checkUpdateLoadBalancers validates the loadBalancers an UpdateService
// leaves the service with, when they or its task definition change: a
// new task definition must still map the containers' ports.
func (c *Control) checkUpdateLoadBalancers(ctx context.Context, s tenant.Scope, cur *Service, target *serviceTarget, lbs *[]ServiceLoadBalancer) error {
	changed := lbs != nil && !sameLoadBalancers(*lbs, cur.LoadBalancers)
	newTD := target != nil && target.td.TaskDefinitionArn != cur.TaskDefinition
	if !changed && !newTD {
		return nil
	}
	want := cur.LoadBalancers
	if lbs != nil {
		want = *lbs
	}
	if len(want) == 0 {
		return nil
	}
	var td *TaskDefinition
	if target != nil {
		td = target.td
	} else {
		err := c.st.View(ctx, func(tx store.ReadTx) error {
			var err error
			td, err = c.taskDefByARN(tx, s, cur.TaskDefinition)
			return err
		})
		if err != nil {
			return err
		}
	}
	if !changed {
		// Only the task definition changes: the target groups were
		// checked when they were set.
		for _, lb := range want {
			if err := hasPortMapping(td, lb.ContainerName, lb.ContainerPort); err != nil {
				return err
			}
		}
		return nil
	}
	return c.validateLoadBalancers(ctx, s, td, want)
}

// hasPortMapping checks that a container of the task definition maps the
// port.
func hasPortMapping(td *TaskDefinition, container string, port int) error {
	for i := range td.ContainerDefinitions {
		cd := &td.ContainerDefinitions[i]
		if cd.Name != container {
			continue
		}
		for _, pm := range cd.PortMappings {
			if pm.ContainerPort != nil && *pm.ContainerPort == port {
				return nil
			}
		}
		return InvalidParameterf("The container %s did not have a container port %d defined.", container, port)
	}
	return InvalidParameterf("The container %s does not exist in the task definition.", container)
}

// sameLoadBalancers compares two loadBalancers lists (nil and empty are
// the same).
func sameLoadBalancers(a, b []ServiceLoadBalancer) bool {
	return len(a) == 0 && len(b) == 0 || slices.Equal(a, b)
}

// LoadBalancersOf answers the load balancers a task of the service is
// registered with: those of the deployment that started it, or the
// service's when that deployment is no longer known.
func (s *Service) LoadBalancersOf(t *Task) []ServiceLoadBalancer {
	if d := s.FindDeployment(t.StartedBy); d != nil {
		return d.LoadBalancers
	}
	return s.LoadBalancers
}

// ForTask is a copy of the service whose LoadBalancers are the task's
// (LoadBalancersOf): the service as registrars and target health see it
// for that task.
func (s *Service) ForTask(t *Task) *Service {
	cp := *s
	cp.LoadBalancers = s.LoadBalancersOf(t)
	return &cp
}

// TargetGroupARNs lists the target groups of a loadBalancers list, each
// once, in order.
func TargetGroupARNs(lbs []ServiceLoadBalancer) []string {
	var out []string
	for _, lb := range lbs {
		if lb.TargetGroupARN != "" && !slices.Contains(out, lb.TargetGroupARN) {
			out = append(out, lb.TargetGroupARN)
		}
	}
	return out
}

// registrationEvents writes the service events of a task's registration
// (registered) or deregistration with its target groups, as ECS words
// them:
//
//	(service web) registered 1 targets in (target-group arn:…)
//	(service web) deregistered 1 targets in (target-group arn:…)
//	(service web, taskSet ecs-svc/…) has begun draining connections on 1 tasks.
func (c *Control) registrationEvents(ctx context.Context, ref TaskRef, svc *Service, t *Task, registered bool) error {
	tgs := TargetGroupARNs(svc.LoadBalancers)
	if len(tgs) == 0 {
		return nil
	}
	verb := "deregistered"
	if registered {
		verb = "registered"
	}
	now := c.now().UTC()
	_, err := c.st.Update(ctx, func(tx store.Tx) error {
		key := serviceKey(ref.Scope, svc.Cluster, svc.Name)
		cur, err := get[Service](tx, key)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, arn := range tgs {
			cur.AddEvent(now, fmt.Sprintf("(service %s) %s 1 targets in (target-group %s)", cur.Name, verb, arn))
		}
		if !registered {
			cur.AddEvent(now.Add(time.Microsecond), fmt.Sprintf("(service %s, taskSet %s) has begun draining connections on 1 tasks.", cur.Name, t.StartedBy))
		}
		cur.Version++
		return put(tx, key, cur)
	})
	return err
}

// TargetPort is the port a task's target in a target group listens on:
// the container port under awsvpc (an ip target), else the host port the
// container port is published on (an instance target); 0 when unknown.
func TargetPort(t *Task, lbs []ServiceLoadBalancer, tgARN string) int {
	for _, lb := range lbs {
		if lb.TargetGroupARN != tgARN {
			continue
		}
		for _, c := range t.Containers {
			if c.Name != lb.ContainerName {
				continue
			}
			for _, nb := range c.NetworkBindings {
				if nb.ContainerPort == lb.ContainerPort && nb.HostPort != 0 {
					return nb.HostPort
				}
			}
		}
		return lb.ContainerPort
	}
	return 0
}
