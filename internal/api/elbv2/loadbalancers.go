package elbv2

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/elbv2"
)

func (h *handlers) createLoadBalancer(ctx context.Context, req *api.Request, in *w.CreateLoadBalancerInput) (*w.CreateLoadBalancerOutput, error) {
	name, err := required(in.Name, "Name")
	if err != nil {
		return nil, err
	}
	subnets := in.Subnets
	for _, m := range in.SubnetMappings {
		if m.AllocationId != nil || m.PrivateIPv4Address != nil || m.IPv6Address != nil {
			return nil, api.Errorf("InvalidConfigurationRequest", "Subnet mappings with addresses are for network load balancers")
		}
		subnets = append(subnets, str(m.SubnetId))
	}
	lb, err := h.sv.CreateLoadBalancer(ctx, req.Scope, elbv2.LoadBalancerSpec{
		Name: name, Type: str(in.Type), Scheme: str(in.Scheme), IPAddressType: str(in.IpAddressType),
		Subnets: subnets, SecurityGroups: in.SecurityGroups, Tags: tagsIn(in.Tags),
	})
	if err != nil {
		return nil, err
	}
	return &w.CreateLoadBalancerOutput{LoadBalancers: []w.LoadBalancer{lbOut(lb, h.sv.Now())}}, nil
}

func (h *handlers) describeLoadBalancers(ctx context.Context, req *api.Request, in *w.DescribeLoadBalancersInput) (*w.DescribeLoadBalancersOutput, error) {
	lbs, err := h.sv.DescribeLoadBalancers(ctx, req.Scope, in.LoadBalancerArns, in.Names)
	if err != nil {
		return nil, err
	}
	now := h.sv.Now()
	out, next, err := pageOut(lbs, in.Marker, in.PageSize, func(lb *elbv2.LoadBalancer) w.LoadBalancer { return lbOut(lb, now) })
	if err != nil {
		return nil, err
	}
	return &w.DescribeLoadBalancersOutput{LoadBalancers: out, NextMarker: next}, nil
}

func (h *handlers) deleteLoadBalancer(ctx context.Context, req *api.Request, in *w.DeleteLoadBalancerInput) (*w.DeleteLoadBalancerOutput, error) {
	arn, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	return &w.DeleteLoadBalancerOutput{}, h.sv.DeleteLoadBalancer(ctx, req.Scope, arn)
}

func lbAttrsOut(as []elbv2.Attribute) []w.LoadBalancerAttribute {
	out := make([]w.LoadBalancerAttribute, 0, len(as))
	for _, a := range as {
		out = append(out, w.LoadBalancerAttribute{Key: wire.String(a.Key), Value: wire.String(a.Value)})
	}
	return out
}

func (h *handlers) describeLoadBalancerAttributes(ctx context.Context, req *api.Request, in *w.DescribeLoadBalancerAttributesInput) (*w.DescribeLoadBalancerAttributesOutput, error) {
	arn, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	as, err := h.sv.LoadBalancerAttributes(ctx, req.Scope, arn)
	if err != nil {
		return nil, err
	}
	return &w.DescribeLoadBalancerAttributesOutput{Attributes: lbAttrsOut(as)}, nil
}

func (h *handlers) modifyLoadBalancerAttributes(ctx context.Context, req *api.Request, in *w.ModifyLoadBalancerAttributesInput) (*w.ModifyLoadBalancerAttributesOutput, error) {
	arn, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	as, err := h.sv.ModifyLoadBalancerAttributes(ctx, req.Scope, arn, attrsIn(in.Attributes))
	if err != nil {
		return nil, err
	}
	return &w.ModifyLoadBalancerAttributesOutput{Attributes: lbAttrsOut(as)}, nil
}

func (h *handlers) describeSSLPolicies(_ context.Context, _ *api.Request, in *w.DescribeSSLPoliciesInput) (*w.DescribeSSLPoliciesOutput, error) {
	if t := str(in.LoadBalancerType); t != "" && t != "application" {
		return &w.DescribeSSLPoliciesOutput{}, nil
	}
	var pols []elbv2.SSLPolicy
	for _, p := range elbv2.SSLPolicies() {
		if len(in.Names) == 0 || contains(in.Names, p.Name) {
			pols = append(pols, p)
		}
	}
	for _, n := range in.Names {
		found := false
		for _, p := range pols {
			found = found || p.Name == n
		}
		if !found {
			return nil, api.Errorf("SSLPolicyNotFound", "SSL policy '%s' not found", n)
		}
	}
	pols, next, err := page(pols, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeSSLPoliciesOutput{NextMarker: next}
	for _, p := range pols {
		wp := w.SslPolicy{Name: wire.String(p.Name), SslProtocols: p.Protocols, SupportedLoadBalancerTypes: []string{"application"}}
		for i, c := range p.Ciphers {
			wp.Ciphers = append(wp.Ciphers, w.Cipher{Name: wire.String(c), Priority: i32(i + 1)})
		}
		out.SslPolicies = append(out.SslPolicies, wp)
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (h *handlers) describeAccountLimits(_ context.Context, _ *api.Request, in *w.DescribeAccountLimitsInput) (*w.DescribeAccountLimitsOutput, error) {
	limits, next, err := page(elbv2.AccountLimits(), in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeAccountLimitsOutput{NextMarker: next}
	for _, l := range limits {
		out.Limits = append(out.Limits, w.Limit{Name: wire.String(l.Name), Max: wire.String(itoa(l.Max))})
	}
	return out, nil
}

func (h *handlers) addTags(ctx context.Context, req *api.Request, in *w.AddTagsInput) (*w.AddTagsOutput, error) {
	return &w.AddTagsOutput{}, h.sv.AddTags(ctx, req.Scope, in.ResourceArns, tagsIn(in.Tags))
}

func (h *handlers) removeTags(ctx context.Context, req *api.Request, in *w.RemoveTagsInput) (*w.RemoveTagsOutput, error) {
	return &w.RemoveTagsOutput{}, h.sv.RemoveTags(ctx, req.Scope, in.ResourceArns, in.TagKeys)
}

func (h *handlers) describeTags(ctx context.Context, req *api.Request, in *w.DescribeTagsInput) (*w.DescribeTagsOutput, error) {
	rts, err := h.sv.DescribeTags(ctx, req.Scope, in.ResourceArns)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeTagsOutput{}
	for _, rt := range rts {
		out.TagDescriptions = append(out.TagDescriptions, w.TagDescription{ResourceArn: wire.String(rt.ARN), Tags: tagsOut(rt.Tags)})
	}
	return out, nil
}
