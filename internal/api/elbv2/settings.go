package elbv2

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/api/wire"
)

func (h *handlers) setSecurityGroups(ctx context.Context, req *api.Request, in *w.SetSecurityGroupsInput) (*w.SetSecurityGroupsOutput, error) {
	arn, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	groups, err := h.sv.SetSecurityGroups(ctx, req.Scope, arn, in.SecurityGroups)
	if err != nil {
		return nil, err
	}
	return &w.SetSecurityGroupsOutput{SecurityGroupIds: groups}, nil
}

func (h *handlers) setSubnets(ctx context.Context, req *api.Request, in *w.SetSubnetsInput) (*w.SetSubnetsOutput, error) {
	arn, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	subnets := in.Subnets
	for _, m := range in.SubnetMappings {
		subnets = append(subnets, str(m.SubnetId))
	}
	lb, err := h.sv.SetSubnets(ctx, req.Scope, arn, subnets)
	if err != nil {
		return nil, err
	}
	out := lbOut(lb, h.sv.Now())
	return &w.SetSubnetsOutput{AvailabilityZones: out.AvailabilityZones, IpAddressType: out.IpAddressType}, nil
}

func (h *handlers) setIPAddressType(ctx context.Context, req *api.Request, in *w.SetIpAddressTypeInput) (*w.SetIpAddressTypeOutput, error) {
	arn, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	t, err := required(in.IpAddressType, "IpAddressType")
	if err != nil {
		return nil, err
	}
	got, err := h.sv.SetIPAddressType(ctx, req.Scope, arn, t)
	if err != nil {
		return nil, err
	}
	return &w.SetIpAddressTypeOutput{IpAddressType: wire.String(got)}, nil
}

func (h *handlers) addListenerCertificates(ctx context.Context, req *api.Request, in *w.AddListenerCertificatesInput) (*w.AddListenerCertificatesOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	added, err := h.sv.AddListenerCertificates(ctx, req.Scope, arn, certsIn(in.Certificates))
	if err != nil {
		return nil, err
	}
	out := &w.AddListenerCertificatesOutput{}
	for _, c := range added {
		out.Certificates = append(out.Certificates, w.Certificate{CertificateArn: wire.String(c), IsDefault: wire.Bool(false)})
	}
	return out, nil
}

func (h *handlers) removeListenerCertificates(ctx context.Context, req *api.Request, in *w.RemoveListenerCertificatesInput) (*w.RemoveListenerCertificatesOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	return &w.RemoveListenerCertificatesOutput{}, h.sv.RemoveListenerCertificates(ctx, req.Scope, arn, certsIn(in.Certificates))
}
