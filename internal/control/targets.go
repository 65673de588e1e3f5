package control

import (
	"context"

	"github.com/fargo-run/fargo/internal/tenant"
)

// TargetGroupInfo is what ECS checks of a target group a service names in
// loadBalancers (internal/elbv2 answers it).
type TargetGroupInfo struct {
	ARN        string
	TargetType string // "ip" or "instance"
	Protocol   string
	Port       int
	// LoadBalancerARNs are the load balancers whose listeners forward to
	// the group: ECS refuses a group attached to none.
	LoadBalancerARNs []string
	VpcID            string
}

// TargetGroups answers about ELBv2 target groups. TargetGroup answers an
// error of class errdefs.ErrNotFound for a group that does not exist in
// the scope.
type TargetGroups interface {
	TargetGroup(ctx context.Context, s tenant.Scope, arn string) (TargetGroupInfo, error)
}

// Target health of a service task, as the service controller counts it.
const (
	TargetHealthy   = "healthy"
	TargetUnhealthy = "unhealthy"
	TargetInitial   = "initial" // registered, checks have not decided yet
)

// TargetState is the health of a task's targets across its service's
// target groups: healthy when every one is healthy, unhealthy as soon as
// one is (with that group and ELBv2's reason), initial otherwise. State
// is "" when the service has no load balancer (or the task no target).
type TargetState struct {
	State          string
	TargetGroupARN string
	Reason         string
	Description    string
}

// TargetHealth answers the ELBv2 health of service tasks' targets
// (internal/elbv2 implements it; the service controller consumes it).
type TargetHealth interface {
	TaskTargetHealth(ctx context.Context, s tenant.Scope, svc *Service, t *Task) (TargetState, error)
}
