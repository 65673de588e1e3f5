package autoscaling

import (
	"context"
	"errors"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ECS is what scaling needs of the ECS control plane: a service's desired
// count, and changing it the way UpdateService does.
type ECS interface {
	// DesiredCount returns the ACTIVE service's desired count, or an
	// errdefs.ErrNotFound error.
	DesiredCount(ctx context.Context, scope tenant.Scope, cluster, service string) (int, error)
	// SetDesiredCount is UpdateService(desiredCount).
	SetDesiredCount(ctx context.Context, scope tenant.Scope, cluster, service string, n int) error
}

// Alarms is what scaling needs of CloudWatch: the target-tracking
// policies' alarms, and the metric values alarms evaluate.
type Alarms interface {
	PutAlarm(ctx context.Context, a metrics.Alarm) error
	Alarms(ctx context.Context, scope tenant.Scope, f metrics.AlarmFilter) ([]metrics.Alarm, error)
	DeleteAlarms(ctx context.Context, scope tenant.Scope, names []string) error
	Statistics(scope tenant.Scope, m metrics.Metric, unit string, start, end time.Time, period time.Duration) ([]metrics.Point, error)
}

// ControlECS adapts the ECS control plane to ECS.
type ControlECS struct{ Control *control.Control }

// DesiredCount implements ECS.
func (c ControlECS) DesiredCount(ctx context.Context, scope tenant.Scope, cluster, service string) (int, error) {
	svcs, _, err := c.Control.DescribeServices(ctx, scope, cluster, []string{service})
	if err != nil {
		return 0, err
	}
	if len(svcs) == 0 || svcs[0].Status != control.ServiceActive {
		return 0, control.ErrServiceNotFound
	}
	return svcs[0].DesiredCount, nil
}

// SetDesiredCount implements ECS.
func (c ControlECS) SetDesiredCount(ctx context.Context, scope tenant.Scope, cluster, service string, n int) error {
	_, err := c.Control.UpdateService(ctx, scope, control.ServiceUpdate{Cluster: cluster, Service: service, DesiredCount: &n})
	return err
}

// serviceMissing reports whether err says the service (or its cluster) is
// gone.
func serviceMissing(err error) bool {
	return errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, control.ErrServiceNotActive)
}
