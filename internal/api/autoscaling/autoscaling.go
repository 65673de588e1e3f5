// Package autoscaling is the thin Application Auto Scaling adapter of the
// API front door (awsJson1_1, X-Amz-Target AnyScaleFrontendService.<Op>):
// it decodes the shapes of internal/api/autoscalingwire, calls the domain
// (internal/autoscaling) and converts answers and errors back. Errors are
// mapped to Application Auto Scaling codes exactly once, in mapError.
package autoscaling

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/autoscalingwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/autoscaling"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
)

// Adapter serves the API over an autoscaling.Service.
type Adapter struct {
	svc *autoscaling.Service
}

// New returns the service description for the router.
func New(svc *autoscaling.Service) *api.JSONService {
	a := &Adapter{svc: svc}
	return &api.JSONService{
		Name:         autoscalingwire.SigningName,
		TargetPrefix: autoscalingwire.TargetPrefix,
		JSONVersion:  autoscalingwire.JSONVersion,
		MessageKey:   "Message",
		Known: func(op string) bool {
			_, ok := autoscalingwire.Operations[op]
			return ok
		},
		Handlers: map[string]api.Handler{
			"RegisterScalableTarget":    api.JSON(a.registerScalableTarget),
			"DescribeScalableTargets":   api.JSON(a.describeScalableTargets),
			"DeregisterScalableTarget":  api.JSON(a.deregisterScalableTarget),
			"PutScalingPolicy":          api.JSON(a.putScalingPolicy),
			"DescribeScalingPolicies":   api.JSON(a.describeScalingPolicies),
			"DeleteScalingPolicy":       api.JSON(a.deleteScalingPolicy),
			"PutScheduledAction":        api.JSON(a.putScheduledAction),
			"DescribeScheduledActions":  api.JSON(a.describeScheduledActions),
			"DeleteScheduledAction":     api.JSON(a.deleteScheduledAction),
			"DescribeScalingActivities": api.JSON(a.describeScalingActivities),
			"TagResource":               api.JSON(a.tagResource),
			"UntagResource":             api.JSON(a.untagResource),
			"ListTagsForResource":       api.JSON(a.listTagsForResource),
		},
		MapError: mapError,
	}
}

// mapError maps domain errors to Application Auto Scaling codes.
func mapError(err error) *api.Error {
	msg := errdefs.Message(err)
	switch {
	case errors.Is(err, paging.ErrInvalid):
		return &api.Error{Code: "InvalidNextTokenException", Message: "Invalid NextToken"}
	case errors.Is(err, autoscaling.ErrResourceNotFound):
		return &api.Error{Code: "ResourceNotFoundException", Message: msg}
	case errors.Is(err, errdefs.ErrNotFound):
		return &api.Error{Code: "ObjectNotFoundException", Message: msg}
	case errors.Is(err, errdefs.ErrInvalidArgument), errors.Is(err, errdefs.ErrUnsupported):
		return &api.Error{Code: "ValidationException", Message: msg}
	case errors.Is(err, errdefs.ErrLimitExceeded):
		return &api.Error{Code: "LimitExceededException", Message: msg}
	case errors.Is(err, errdefs.ErrConflict):
		return &api.Error{Code: "ConcurrentUpdateException", Message: msg}
	}
	return nil
}

func nullErr(member string) error {
	return errdefs.Invalidf("1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", member)
}

// target checks the namespace, resource id and dimension every operation
// names, and returns the resource id.
func target(ns, rid, dim *string) (string, error) {
	switch {
	case ns == nil:
		return "", nullErr("serviceNamespace")
	case rid == nil:
		return "", nullErr("resourceId")
	case dim == nil:
		return "", nullErr("scalableDimension")
	}
	if err := namespace(ns, dim); err != nil {
		return "", err
	}
	return *rid, autoscaling.CheckResourceID(*rid)
}

// namespace checks an optional namespace/dimension pair.
func namespace(ns, dim *string) error {
	if ns == nil {
		return nullErr("serviceNamespace")
	}
	if _, ok := knownNamespaces[*ns]; !ok {
		return errdefs.Invalidf("1 validation error detected: Value '%s' at 'serviceNamespace' failed to satisfy constraint: Member must satisfy enum value set", *ns)
	}
	if *ns != autoscaling.NamespaceECS {
		return errdefs.Newf(errdefs.ErrUnsupported, "Service namespace %s is not supported by fargo; it scales ECS services (ecs).", *ns)
	}
	if dim != nil && *dim != autoscaling.DimensionDesired {
		return errdefs.Invalidf("Unsupported scalable dimension %s for service namespace ecs; use %s.", *dim, autoscaling.DimensionDesired)
	}
	return nil
}

var knownNamespaces = map[string]struct{}{"ecs": {}, "elasticmapreduce": {}, "ec2": {}, "appstream": {}, "dynamodb": {}, "rds": {},
	"sagemaker": {}, "custom-resource": {}, "comprehend": {}, "lambda": {}, "cassandra": {}, "kafka": {}, "elasticache": {},
	"neptune": {}, "workspaces": {}}

func ptr[T any](v T) *T { return &v }

func intp(p *int32) *int {
	if p == nil {
		return nil
	}
	n := int(*p)
	return &n
}

func i32(n int) *int32 { v := int32(n); return &v }

func deref[T any](p *T) T {
	var z T
	if p == nil {
		return z
	}
	return *p
}

// page reads MaxResults (1-50, default 50).
// describeFilter checks the filter members the Describe operations share:
// namespace and dimension, an optional resource id, and the page.
func describeFilter(list string, ns, dim, resourceID *string, maxResults *int32, token *string) (string, paging.Page, error) {
	if err := namespace(ns, dim); err != nil {
		return "", paging.Page{}, err
	}
	rid := deref(resourceID)
	if rid != "" {
		if err := autoscaling.CheckResourceID(rid); err != nil {
			return "", paging.Page{}, err
		}
	}
	p, err := page(list, maxResults, token)
	return rid, p, err
}

func page(list string, maxResults *int32, token *string) (paging.Page, error) {
	limit := 50
	if maxResults != nil {
		if *maxResults < 1 || *maxResults > 50 {
			return paging.Page{}, errdefs.Invalidf("1 validation error detected: Value '%d' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 50", *maxResults)
		}
		limit = int(*maxResults)
	}
	return paging.Page{List: list, Limit: limit, Token: deref(token)}, nil
}

func tsp(t time.Time) *wire.Timestamp { return wire.NewTimestamp(t) }

func (a *Adapter) registerScalableTarget(ctx context.Context, req *api.Request, in *autoscalingwire.RegisterScalableTargetRequest) (*autoscalingwire.RegisterScalableTargetResponse, error) {
	rid, err := target(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
	if err != nil {
		return nil, err
	}
	ri := autoscaling.RegisterInput{ResourceID: rid, Min: intp(in.MinCapacity), Max: intp(in.MaxCapacity), RoleARN: in.RoleARN, Tags: in.Tags}
	if ss := in.SuspendedState; ss != nil {
		ri.Suspended.In, ri.Suspended.Out, ri.Suspended.Scheduled = ss.DynamicScalingInSuspended, ss.DynamicScalingOutSuspended, ss.ScheduledScalingSuspended
	}
	t, err := a.svc.RegisterTarget(ctx, req.Scope, ri)
	if err != nil {
		return nil, err
	}
	return &autoscalingwire.RegisterScalableTargetResponse{ScalableTargetARN: ptr(t.ARN())}, nil
}

func (a *Adapter) describeScalableTargets(ctx context.Context, req *api.Request, in *autoscalingwire.DescribeScalableTargetsRequest) (*autoscalingwire.DescribeScalableTargetsResponse, error) {
	if err := namespace(in.ServiceNamespace, in.ScalableDimension); err != nil {
		return nil, err
	}
	p, err := page("DescribeScalableTargets", in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	ts, err := a.svc.Targets(ctx, req.Scope, in.ResourceIds)
	if err != nil {
		return nil, err
	}
	ts, next, err := paging.Slice(ts, func(t *autoscaling.Target) string { return t.ResourceID }, p)
	if err != nil {
		return nil, err
	}
	out := &autoscalingwire.DescribeScalableTargetsResponse{ScalableTargets: []autoscalingwire.ScalableTarget{}}
	if next != "" {
		out.NextToken = &next
	}
	for _, t := range ts {
		out.ScalableTargets = append(out.ScalableTargets, autoscalingwire.ScalableTarget{
			CreationTime: tsp(t.Created), MinCapacity: i32(t.Min), MaxCapacity: i32(t.Max), ResourceId: ptr(t.ResourceID),
			RoleARN: roleARN(req, t), ScalableDimension: ptr(autoscaling.DimensionDesired), ScalableTargetARN: ptr(t.ARN()),
			ServiceNamespace: ptr(autoscaling.NamespaceECS),
			SuspendedState: &autoscalingwire.SuspendedState{
				DynamicScalingInSuspended:  ptr(t.Suspended.DynamicScalingInSuspended),
				DynamicScalingOutSuspended: ptr(t.Suspended.DynamicScalingOutSuspended),
				ScheduledScalingSuspended:  ptr(t.Suspended.ScheduledScalingSuspended),
			},
		})
	}
	return out, nil
}

// roleARN is the target's role, or the service-linked role AWS fills in.
func roleARN(req *api.Request, t *autoscaling.Target) *string {
	if t.RoleARN != "" {
		return &t.RoleARN
	}
	return ptr(fmt.Sprintf("arn:aws:iam::%s:role/aws-service-role/ecs.application-autoscaling.amazonaws.com/AWSServiceRoleForApplicationAutoScaling_ECSService", req.Scope.Account))
}

func (a *Adapter) deregisterScalableTarget(ctx context.Context, req *api.Request, in *autoscalingwire.DeregisterScalableTargetRequest) (*autoscalingwire.DeregisterScalableTargetResponse, error) {
	rid, err := target(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeregisterTarget(ctx, req.Scope, rid)
}

func (a *Adapter) describeScalingActivities(ctx context.Context, req *api.Request, in *autoscalingwire.DescribeScalingActivitiesRequest) (*autoscalingwire.DescribeScalingActivitiesResponse, error) {
	rid, p, err := describeFilter("DescribeScalingActivities", in.ServiceNamespace, in.ScalableDimension, in.ResourceId, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	p.Descending = true
	acts, err := a.svc.Activities(ctx, req.Scope, rid)
	if err != nil {
		return nil, err
	}
	acts, next, err := paging.Slice(acts, func(x *autoscaling.Activity) string { return paging.Join(paging.Time(x.Start), x.ID) }, p)
	if err != nil {
		return nil, err
	}
	out := &autoscalingwire.DescribeScalingActivitiesResponse{ScalingActivities: []autoscalingwire.ScalingActivity{}}
	if next != "" {
		out.NextToken = &next
	}
	for _, x := range acts {
		w := autoscalingwire.ScalingActivity{ActivityId: ptr(x.ID), Cause: ptr(x.Cause), Description: ptr(x.Description),
			StartTime: tsp(x.Start), EndTime: tsp(x.End), ResourceId: ptr(x.ResourceID), ScalableDimension: ptr(autoscaling.DimensionDesired),
			ServiceNamespace: ptr(autoscaling.NamespaceECS), StatusCode: ptr(x.Status)}
		if x.StatusMessage != "" {
			w.StatusMessage = ptr(x.StatusMessage)
		}
		out.ScalingActivities = append(out.ScalingActivities, w)
	}
	return out, nil
}

func (a *Adapter) tagResource(ctx context.Context, req *api.Request, in *autoscalingwire.TagResourceRequest) (*autoscalingwire.TagResourceResponse, error) {
	if in.ResourceARN == nil {
		return nil, nullErr("resourceARN")
	}
	if in.Tags == nil {
		return nil, nullErr("tags")
	}
	return nil, a.svc.Tag(ctx, req.Scope, *in.ResourceARN, in.Tags)
}

func (a *Adapter) untagResource(ctx context.Context, req *api.Request, in *autoscalingwire.UntagResourceRequest) (*autoscalingwire.UntagResourceResponse, error) {
	if in.ResourceARN == nil {
		return nil, nullErr("resourceARN")
	}
	if in.TagKeys == nil {
		return nil, nullErr("tagKeys")
	}
	return nil, a.svc.Untag(ctx, req.Scope, *in.ResourceARN, in.TagKeys)
}

func (a *Adapter) listTagsForResource(ctx context.Context, req *api.Request, in *autoscalingwire.ListTagsForResourceRequest) (*autoscalingwire.ListTagsForResourceResponse, error) {
	if in.ResourceARN == nil {
		return nil, nullErr("resourceARN")
	}
	tags, err := a.svc.Tags(ctx, req.Scope, *in.ResourceARN)
	if err != nil {
		return nil, err
	}
	if tags == nil {
		tags = map[string]string{}
	}
	return &autoscalingwire.ListTagsForResourceResponse{Tags: tags}, nil
}
