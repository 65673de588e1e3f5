package autoscaling

import (
	"context"
	"math"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/autoscalingwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/autoscaling"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
)

func (a *Adapter) putScalingPolicy(ctx context.Context, req *api.Request, in *autoscalingwire.PutScalingPolicyRequest) (*autoscalingwire.PutScalingPolicyResponse, error) {
	if in.PolicyName == nil {
		return nil, nullErr("policyName")
	}
	rid, err := target(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
	if err != nil {
		return nil, err
	}
	pi := autoscaling.PolicyInput{ResourceID: rid, Name: *in.PolicyName, Type: deref(in.PolicyType)}
	if in.PredictiveScalingPolicyConfiguration != nil {
		return nil, errdefs.Invalidf("PredictiveScalingPolicyConfiguration is not supported by fargo.")
	}
	if c := in.TargetTrackingScalingPolicyConfiguration; c != nil {
		tt, err := targetTrackingIn(c)
		if err != nil {
			return nil, err
		}
		pi.TargetTracking = tt
	}
	if c := in.StepScalingPolicyConfiguration; c != nil {
		st := &autoscaling.StepScaling{AdjustmentType: deref(c.AdjustmentType), MetricAggregationType: deref(c.MetricAggregationType),
			Cooldown: int(deref(c.Cooldown)), CooldownSet: c.Cooldown != nil, MinAdjustmentMagnitude: int(deref(c.MinAdjustmentMagnitude))}
		for _, s := range c.StepAdjustments {
			if s.ScalingAdjustment == nil {
				return nil, nullErr("stepScalingPolicyConfiguration.stepAdjustments.member.scalingAdjustment")
			}
			st.Steps = append(st.Steps, autoscaling.StepAdjustment{Lower: s.MetricIntervalLowerBound, Upper: s.MetricIntervalUpperBound, Adjustment: int(*s.ScalingAdjustment)})
		}
		pi.Step = st
	}
	p, err := a.svc.PutPolicy(ctx, req.Scope, pi)
	if err != nil {
		return nil, err
	}
	return &autoscalingwire.PutScalingPolicyResponse{PolicyARN: ptr(p.ARN()), Alarms: alarmsOut(p)}, nil
}

func targetTrackingIn(c *autoscalingwire.TargetTrackingScalingPolicyConfiguration) (*autoscaling.TargetTracking, error) {
	if c.TargetValue == nil {
		return nil, nullErr("targetTrackingScalingPolicyConfiguration.targetValue")
	}
	tt := &autoscaling.TargetTracking{TargetValue: *c.TargetValue, DisableScaleIn: deref(c.DisableScaleIn),
		ScaleOutCool: int(deref(c.ScaleOutCooldown)), OutSet: c.ScaleOutCooldown != nil,
		ScaleInCool: int(deref(c.ScaleInCooldown)), InSet: c.ScaleInCooldown != nil}
	if pm := c.PredefinedMetricSpecification; pm != nil {
		if pm.PredefinedMetricType == nil {
			return nil, nullErr("targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType")
		}
		tt.Metric.Predefined, tt.Metric.ResourceLabel = *pm.PredefinedMetricType, deref(pm.ResourceLabel)
	}
	if cm := c.CustomizedMetricSpecification; cm != nil {
		if len(cm.Metrics) > 0 {
			return nil, errdefs.Newf(errdefs.ErrUnsupported, "Metric math in CustomizedMetricSpecification.Metrics is not supported by fargo; name one metric with Namespace, MetricName, Dimensions and Statistic.")
		}
		if cm.MetricName == nil {
			return nil, nullErr("targetTrackingScalingPolicyConfiguration.customizedMetricSpecification.metricName")
		}
		tt.Metric.Namespace, tt.Metric.MetricName = deref(cm.Namespace), *cm.MetricName
		tt.Metric.Statistic, tt.Metric.Unit = deref(cm.Statistic), deref(cm.Unit)
		for _, d := range cm.Dimensions {
			if d.Name == nil || d.Value == nil {
				return nil, nullErr("targetTrackingScalingPolicyConfiguration.customizedMetricSpecification.dimensions.member.name")
			}
			tt.Metric.Dimensions = append(tt.Metric.Dimensions, autoscaling.MetricDimension{Name: *d.Name, Value: *d.Value})
		}
	}
	return tt, nil
}

func alarmsOut(p *autoscaling.Policy) []autoscalingwire.Alarm {
	out := []autoscalingwire.Alarm{}
	for _, a := range p.Alarms {
		out = append(out, autoscalingwire.Alarm{AlarmName: ptr(a.Name), AlarmARN: ptr(a.ARN)})
	}
	return out
}

func (a *Adapter) describeScalingPolicies(ctx context.Context, req *api.Request, in *autoscalingwire.DescribeScalingPoliciesRequest) (*autoscalingwire.DescribeScalingPoliciesResponse, error) {
	rid, p, err := describeFilter("DescribeScalingPolicies", in.ServiceNamespace, in.ScalableDimension, in.ResourceId, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	pols, err := a.svc.Policies(ctx, req.Scope, rid, in.PolicyNames)
	if err != nil {
		return nil, err
	}
	pols, next, err := paging.Slice(pols, func(p *autoscaling.Policy) string { return paging.Join(p.ResourceID, p.Name) }, p)
	if err != nil {
		return nil, err
	}
	out := &autoscalingwire.DescribeScalingPoliciesResponse{ScalingPolicies: []autoscalingwire.ScalingPolicy{}}
	if next != "" {
		out.NextToken = &next
	}
	for _, p := range pols {
		out.ScalingPolicies = append(out.ScalingPolicies, policyOut(p))
	}
	return out, nil
}

func policyOut(p *autoscaling.Policy) autoscalingwire.ScalingPolicy {
	w := autoscalingwire.ScalingPolicy{Alarms: alarmsOut(p), CreationTime: wire.NewTimestamp(p.Created), PolicyARN: ptr(p.ARN()),
		PolicyName: ptr(p.Name), PolicyType: ptr(p.Type), ResourceId: ptr(p.ResourceID),
		ScalableDimension: ptr(autoscaling.DimensionDesired), ServiceNamespace: ptr(autoscaling.NamespaceECS)}
	if tt := p.TargetTracking; tt != nil {
		c := &autoscalingwire.TargetTrackingScalingPolicyConfiguration{TargetValue: ptr(tt.TargetValue)}
		if tt.OutSet {
			c.ScaleOutCooldown = i32(tt.ScaleOutCool)
		}
		if tt.InSet {
			c.ScaleInCooldown = i32(tt.ScaleInCool)
		}
		if tt.DisableScaleIn {
			c.DisableScaleIn = ptr(true)
		}
		m := tt.Metric
		if m.Predefined != "" {
			c.PredefinedMetricSpecification = &autoscalingwire.PredefinedMetricSpecification{PredefinedMetricType: ptr(m.Predefined)}
			if m.ResourceLabel != "" {
				c.PredefinedMetricSpecification.ResourceLabel = ptr(m.ResourceLabel)
			}
		} else {
			cm := &autoscalingwire.CustomizedMetricSpecification{Namespace: ptr(m.Namespace), MetricName: ptr(m.MetricName), Statistic: ptr(m.Statistic)}
			if m.Unit != "" {
				cm.Unit = ptr(m.Unit)
			}
			for _, d := range m.Dimensions {
				cm.Dimensions = append(cm.Dimensions, autoscalingwire.MetricDimension{Name: ptr(d.Name), Value: ptr(d.Value)})
			}
			c.CustomizedMetricSpecification = cm
		}
		w.TargetTrackingScalingPolicyConfiguration = c
	}
	if st := p.Step; st != nil {
		c := &autoscalingwire.StepScalingPolicyConfiguration{AdjustmentType: ptr(st.AdjustmentType), MetricAggregationType: ptr(st.MetricAggregationType)}
		if st.CooldownSet {
			c.Cooldown = i32(st.Cooldown)
		}
		if st.MinAdjustmentMagnitude > 0 {
			c.MinAdjustmentMagnitude = i32(st.MinAdjustmentMagnitude)
		}
		for _, s := range st.Steps {
			c.StepAdjustments = append(c.StepAdjustments, autoscalingwire.StepAdjustment{MetricIntervalLowerBound: s.Lower,
				MetricIntervalUpperBound: s.Upper, ScalingAdjustment: i32(s.Adjustment)})
		}
		w.StepScalingPolicyConfiguration = c
	}
	return w
}

func (a *Adapter) deleteScalingPolicy(ctx context.Context, req *api.Request, in *autoscalingwire.DeleteScalingPolicyRequest) (*autoscalingwire.DeleteScalingPolicyResponse, error) {
	if in.PolicyName == nil {
		return nil, nullErr("policyName")
	}
	rid, err := target(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeletePolicy(ctx, req.Scope, rid, *in.PolicyName)
}

func (a *Adapter) putScheduledAction(ctx context.Context, req *api.Request, in *autoscalingwire.PutScheduledActionRequest) (*autoscalingwire.PutScheduledActionResponse, error) {
	if in.ScheduledActionName == nil {
		return nil, nullErr("scheduledActionName")
	}
	rid, err := target(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
	if err != nil {
		return nil, err
	}
	si := autoscaling.ScheduledInput{ResourceID: rid, Name: *in.ScheduledActionName, Schedule: in.Schedule, Timezone: in.Timezone}
	if in.StartTime != nil {
		si.Start = &in.StartTime.Time
	}
	if in.EndTime != nil {
		si.End = &in.EndTime.Time
	}
	if sa := in.ScalableTargetAction; sa != nil {
		for _, p := range []*int32{sa.MinCapacity, sa.MaxCapacity} {
			if p != nil && (*p < 0 || *p > math.MaxInt32) {
				return nil, errdefs.Invalidf("Capacity must be a non-negative integer.")
			}
		}
		si.Min, si.Max = intp(sa.MinCapacity), intp(sa.MaxCapacity)
	}
	_, err = a.svc.PutScheduledAction(ctx, req.Scope, si)
	return nil, err
}

func (a *Adapter) describeScheduledActions(ctx context.Context, req *api.Request, in *autoscalingwire.DescribeScheduledActionsRequest) (*autoscalingwire.DescribeScheduledActionsResponse, error) {
	rid, p, err := describeFilter("DescribeScheduledActions", in.ServiceNamespace, in.ScalableDimension, in.ResourceId, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	acts, err := a.svc.ScheduledActions(ctx, req.Scope, rid, in.ScheduledActionNames)
	if err != nil {
		return nil, err
	}
	acts, next, err := paging.Slice(acts, func(x *autoscaling.ScheduledAction) string { return paging.Join(x.ResourceID, x.Name) }, p)
	if err != nil {
		return nil, err
	}
	out := &autoscalingwire.DescribeScheduledActionsResponse{ScheduledActions: []autoscalingwire.ScheduledAction{}}
	if next != "" {
		out.NextToken = &next
	}
	for _, x := range acts {
		w := autoscalingwire.ScheduledAction{CreationTime: wire.NewTimestamp(x.Created), StartTime: wire.NewTimestamp(x.Start),
			EndTime: wire.NewTimestamp(x.End), ResourceId: ptr(x.ResourceID), ScalableDimension: ptr(autoscaling.DimensionDesired),
			Schedule: ptr(x.Schedule), ScheduledActionARN: ptr(x.ARN()), ScheduledActionName: ptr(x.Name),
			ServiceNamespace: ptr(autoscaling.NamespaceECS), Timezone: ptr(x.Timezone),
			ScalableTargetAction: &autoscalingwire.ScalableTargetAction{}}
		if x.Timezone == "" {
			w.Timezone = ptr("UTC")
		}
		if x.Min != nil {
			w.ScalableTargetAction.MinCapacity = i32(*x.Min)
		}
		if x.Max != nil {
			w.ScalableTargetAction.MaxCapacity = i32(*x.Max)
		}
		out.ScheduledActions = append(out.ScheduledActions, w)
	}
	return out, nil
}

func (a *Adapter) deleteScheduledAction(ctx context.Context, req *api.Request, in *autoscalingwire.DeleteScheduledActionRequest) (*autoscalingwire.DeleteScheduledActionResponse, error) {
	if in.ScheduledActionName == nil {
		return nil, nullErr("scheduledActionName")
	}
	rid, err := target(in.ServiceNamespace, in.ResourceId, in.ScalableDimension)
	if err != nil {
		return nil, err
	}
	return nil, a.svc.DeleteScheduledAction(ctx, req.Scope, rid, *in.ScheduledActionName)
}
