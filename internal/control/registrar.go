package control

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/store"
)

// Registrar attaches the tasks of a service to something outside ECS that
// routes to them: an ELBv2 target group (loadBalancers) or a Cloud Map
// service (serviceRegistries). ECS does this itself, not the container
// agent: the agent only asks, in ACTIVATING, for its task to be
// registered, and in DEACTIVATING for it to be deregistered, and waits
// the drain the registrars answer before its containers get their stop
// signal.
//
//	agent: containers started ─► ACTIVATING ─► Control.ActivateTask ─► RUNNING
//	agent: stop wanted ─► DEACTIVATING ─► Control.DeactivateTask ─► wait drain ─► STOPPING
//
// A registrar looks at the service's own configuration (svc.LoadBalancers,
// svc.ServiceRegistries) and does nothing for a service that names none
// of its kind. Tasks that belong to no service are never passed.
type Registrar interface {
	// Register registers a task that is ACTIVATING (its network and
	// ports are known: t.Attachments, t.Containers' network bindings).
	// Registering a registered task again succeeds.
	Register(ctx context.Context, t *Task, svc *Service) error
	// Deregister deregisters a task that is DEACTIVATING and returns how
	// long traffic to it keeps draining (the target group's
	// deregistration delay; 0 when there is nothing to drain).
	// Deregistering what is not registered succeeds.
	Deregister(ctx context.Context, t *Task, svc *Service) (time.Duration, error)
}

// SetRegistrars installs the registrars (server wiring, before the agent
// starts). Not safe to call while tasks run.
func (c *Control) SetRegistrars(rs ...Registrar) { c.registrars = rs }

// ErrRegistration classifies a registration that failed: the agent stops
// the task (it cannot get the traffic it is for).
var ErrRegistration = errors.New("task registration failed")

// ActivateTask registers a service task with its service's load balancers
// and service registries (the agent calls it in ACTIVATING). A task of no
// service has nothing to register.
func (c *Control) ActivateTask(ctx context.Context, ref TaskRef) error {
	t, svc, err := c.taskService(ctx, ref)
	if err != nil || svc == nil {
		return err
	}
	for _, r := range c.registrars {
		if err := r.Register(ctx, t, svc); err != nil {
			return fmt.Errorf("%w: %w", ErrRegistration, err)
		}
	}
	// The registrars cannot write service events: ECS's own are written
	// here, once every registration succeeded. A failure to write them
	// does not undo the registration.
	if err := c.registrationEvents(ctx, ref, svc, t, true); err != nil {
		c.log.Warn("service event", "service", svc.Name, "task", t.ID, "err", err)
	}
	return nil
}

// DeactivateTask deregisters a service task (the agent calls it in
// DEACTIVATING) and answers the longest drain of its registrations. Every
// registrar is asked even when one fails; the errors are joined.
func (c *Control) DeactivateTask(ctx context.Context, ref TaskRef) (time.Duration, error) {
	t, svc, err := c.taskService(ctx, ref)
	if err != nil || svc == nil {
		return 0, err
	}
	var drain time.Duration
	var errs []error
	for _, r := range c.registrars {
		d, err := r.Deregister(ctx, t, svc)
		errs = append(errs, err)
		drain = max(drain, d)
	}
	err = errors.Join(errs...)
	if err == nil {
		if err := c.registrationEvents(ctx, ref, svc, t, false); err != nil {
			c.log.Warn("service event", "service", svc.Name, "task", t.ID, "err", err)
		}
	}
	return drain, err
}

// taskService reads a task and, when it belongs to a service and a
// registrar is installed, the service as the task sees it (ForTask: the
// load balancers of the deployment that started it), nil otherwise.
func (c *Control) taskService(ctx context.Context, ref TaskRef) (*Task, *Service, error) {
	if len(c.registrars) == 0 {
		return nil, nil, nil
	}
	var t *Task
	err := c.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		t, err = get[Task](tx, taskKey(ref.Scope, ref.Cluster, ref.ID))
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	name, ok := strings.CutPrefix(t.Group, serviceGroupPrefix)
	if !ok {
		return t, nil, nil
	}
	svc, err := c.getService(ctx, ref.Scope, ref.Cluster, name)
	if errors.Is(err, ErrServiceNotFound) {
		return t, nil, nil // deleted since: nothing routes to it any more
	}
	if err != nil {
		return nil, nil, err
	}
	return t, svc.ForTask(t), nil
}
