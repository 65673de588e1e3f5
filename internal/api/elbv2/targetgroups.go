package elbv2

import (
	"context"
	"strconv"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/elbv2"
)

func itoa(n int) string { return strconv.Itoa(n) }

func (h *handlers) createTargetGroup(ctx context.Context, req *api.Request, in *w.CreateTargetGroupInput) (*w.CreateTargetGroupOutput, error) {
	name, err := required(in.Name, "Name")
	if err != nil {
		return nil, err
	}
	hc, err := healthCheckIn(in.HealthCheckEnabled, in.HealthCheckProtocol, in.HealthCheckPath, in.HealthCheckPort,
		in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher)
	if err != nil {
		return nil, err
	}
	tg, err := h.sv.CreateTargetGroup(ctx, req.Scope, elbv2.TargetGroupSpec{
		Name: name, Protocol: str(in.Protocol), ProtocolVersion: str(in.ProtocolVersion), Port: intp(in.Port),
		VpcID: str(in.VpcId), TargetType: str(in.TargetType), IPAddressType: str(in.IpAddressType), HealthCheck: hc, Tags: tagsIn(in.Tags),
	})
	if err != nil {
		return nil, err
	}
	return &w.CreateTargetGroupOutput{TargetGroups: []w.TargetGroup{tgOut(elbv2.TargetGroupView{TargetGroup: tg})}}, nil
}

func (h *handlers) describeTargetGroups(ctx context.Context, req *api.Request, in *w.DescribeTargetGroupsInput) (*w.DescribeTargetGroupsOutput, error) {
	tgs, err := h.sv.DescribeTargetGroups(ctx, req.Scope, str(in.LoadBalancerArn), in.TargetGroupArns, in.Names)
	if err != nil {
		return nil, err
	}
	out, next, err := pageOut(tgs, in.Marker, in.PageSize, tgOut)
	if err != nil {
		return nil, err
	}
	return &w.DescribeTargetGroupsOutput{TargetGroups: out, NextMarker: next}, nil
}

func (h *handlers) modifyTargetGroup(ctx context.Context, req *api.Request, in *w.ModifyTargetGroupInput) (*w.ModifyTargetGroupOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	hc, err := healthCheckIn(in.HealthCheckEnabled, in.HealthCheckProtocol, in.HealthCheckPath, in.HealthCheckPort,
		in.HealthCheckIntervalSeconds, in.HealthCheckTimeoutSeconds, in.HealthyThresholdCount, in.UnhealthyThresholdCount, in.Matcher)
	if err != nil {
		return nil, err
	}
	tg, err := h.sv.ModifyTargetGroup(ctx, req.Scope, arn, hc)
	if err != nil {
		return nil, err
	}
	return &w.ModifyTargetGroupOutput{TargetGroups: []w.TargetGroup{tgOut(*tg)}}, nil
}

func (h *handlers) deleteTargetGroup(ctx context.Context, req *api.Request, in *w.DeleteTargetGroupInput) (*w.DeleteTargetGroupOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	return &w.DeleteTargetGroupOutput{}, h.sv.DeleteTargetGroup(ctx, req.Scope, arn)
}

func tgAttrsOut(as []elbv2.Attribute) []w.TargetGroupAttribute {
	out := make([]w.TargetGroupAttribute, 0, len(as))
	for _, a := range as {
		out = append(out, w.TargetGroupAttribute{Key: wire.String(a.Key), Value: wire.String(a.Value)})
	}
	return out
}

func (h *handlers) describeTargetGroupAttributes(ctx context.Context, req *api.Request, in *w.DescribeTargetGroupAttributesInput) (*w.DescribeTargetGroupAttributesOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	as, err := h.sv.TargetGroupAttributes(ctx, req.Scope, arn)
	if err != nil {
		return nil, err
	}
	return &w.DescribeTargetGroupAttributesOutput{Attributes: tgAttrsOut(as)}, nil
}

func (h *handlers) modifyTargetGroupAttributes(ctx context.Context, req *api.Request, in *w.ModifyTargetGroupAttributesInput) (*w.ModifyTargetGroupAttributesOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	as, err := h.sv.ModifyTargetGroupAttributes(ctx, req.Scope, arn, attrsIn(in.Attributes))
	if err != nil {
		return nil, err
	}
	return &w.ModifyTargetGroupAttributesOutput{Attributes: tgAttrsOut(as)}, nil
}

func (h *handlers) registerTargets(ctx context.Context, req *api.Request, in *w.RegisterTargetsInput) (*w.RegisterTargetsOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	ts, err := targetsIn(in.Targets)
	if err != nil {
		return nil, err
	}
	return &w.RegisterTargetsOutput{}, h.sv.RegisterTargets(ctx, req.Scope, arn, ts)
}

func (h *handlers) deregisterTargets(ctx context.Context, req *api.Request, in *w.DeregisterTargetsInput) (*w.DeregisterTargetsOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	ts, err := targetsIn(in.Targets)
	if err != nil {
		return nil, err
	}
	_, err = h.sv.DeregisterTargets(ctx, req.Scope, arn, ts)
	return &w.DeregisterTargetsOutput{}, err
}

func (h *handlers) describeTargetHealth(ctx context.Context, req *api.Request, in *w.DescribeTargetHealthInput) (*w.DescribeTargetHealthOutput, error) {
	arn, err := required(in.TargetGroupArn, "TargetGroupArn")
	if err != nil {
		return nil, err
	}
	ts, err := targetsIn(in.Targets)
	if err != nil {
		return nil, err
	}
	hs, err := h.sv.DescribeTargetHealth(ctx, req.Scope, arn, ts)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeTargetHealthOutput{}
	for _, th := range hs {
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, healthOut(th))
	}
	return out, nil
}
