package elbv2

import (
	"context"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// modifyLB reads a load balancer by ARN, lets fn change it and writes it.
func (sv *Service) modifyLB(ctx context.Context, s tenant.Scope, arn string, fn func(lb *LoadBalancer) error) (*LoadBalancer, error) {
	var out *LoadBalancer
	err := sv.update(ctx, func(tx store.Tx) error {
		lb, err := getLB(tx, s, arn)
		if err != nil {
			return err
		}
		if err := fn(lb); err != nil {
			return err
		}
		out = lb
		return store.PutJSON(tx, lbKey(s, lb.Name), lb)
	})
	return out, err
}

// SetSecurityGroups replaces a load balancer's security groups.
func (sv *Service) SetSecurityGroups(ctx context.Context, s tenant.Scope, arn string, groups []string) ([]string, error) {
	for _, g := range groups {
		if !strings.HasPrefix(g, "sg-") {
			return nil, newErr(errdefs.ErrInvalidArgument, "InvalidSecurityGroup", "Invalid security group '%s'", g)
		}
	}
	lb, err := sv.modifyLB(ctx, s, arn, func(lb *LoadBalancer) error { lb.SecurityGroups = groups; return nil })
	if err != nil {
		return nil, err
	}
	return lb.SecurityGroups, nil
}

// SetSubnets replaces a load balancer's subnets.
func (sv *Service) SetSubnets(ctx context.Context, s tenant.Scope, arn string, subnets []string) (*LoadBalancer, error) {
	if len(subnets) == 0 {
		return nil, validationf("At least one subnet must be specified")
	}
	for _, sn := range subnets {
		if !strings.HasPrefix(sn, "subnet-") {
			return nil, newErr(errdefs.ErrNotFound, "SubnetNotFound", "The subnet ID '%s' is not valid", sn)
		}
	}
	return sv.modifyLB(ctx, s, arn, func(lb *LoadBalancer) error { lb.Subnets = subnets; return nil })
}

// SetIPAddressType sets a load balancer's IP address type (ipv4 only).
func (sv *Service) SetIPAddressType(ctx context.Context, s tenant.Scope, arn, t string) (string, error) {
	switch t {
	case "ipv4":
	case "dualstack", "dualstack-without-public-ipv4":
		return "", invalidConfigf("IP address type '%s' is not supported by fargo's load balancers", t)
	default:
		return "", validationf("IP address type '%s' is not valid", t)
	}
	lb, err := sv.modifyLB(ctx, s, arn, func(lb *LoadBalancer) error { lb.IPAddressType = t; return nil })
	if err != nil {
		return "", err
	}
	return lb.IPAddressType, nil
}

// AddListenerCertificates adds certificates to an HTTPS listener's
// certificate list (chosen by SNI) and answers them.
func (sv *Service) AddListenerCertificates(ctx context.Context, s tenant.Scope, arn string, certs []string) ([]string, error) {
	if len(certs) == 0 {
		return nil, validationf("At least one certificate must be specified")
	}
	for _, c := range certs {
		if _, err := certID(c); err != nil {
			return nil, err
		}
	}
	var out []string
	err := sv.update(ctx, func(tx store.Tx) error {
		l, p, err := getListener(tx, s, arn)
		if err != nil {
			return err
		}
		if l.Protocol != "HTTPS" {
			return invalidConfigf("Certificates can only be added to HTTPS listeners")
		}
		lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, p.lb))
		if err != nil {
			return err
		}
		next := slices.Clone(l.Certificates)
		for _, c := range certs {
			if !slices.Contains(next, c) {
				next = append(next, c)
			}
		}
		if len(next) > LimitCertificatesPerLB {
			return tooMany(CodeTooManyCertificates, "A listener can have at most %d certificates", LimitCertificatesPerLB)
		}
		if err := ensureCerts(tx, s, lb, next); err != nil {
			return err
		}
		l.Certificates, out = next, certs
		return store.PutJSON(tx, listenerKey(s, p.lb, p.lsID), l)
	})
	return out, err
}

// RemoveListenerCertificates removes certificates (not the default one).
func (sv *Service) RemoveListenerCertificates(ctx context.Context, s tenant.Scope, arn string, certs []string) error {
	if len(certs) == 0 {
		return validationf("At least one certificate must be specified")
	}
	return sv.update(ctx, func(tx store.Tx) error {
		l, p, err := getListener(tx, s, arn)
		if err != nil {
			return err
		}
		if len(l.Certificates) > 0 && slices.Contains(certs, l.Certificates[0]) {
			return newErr(errdefs.ErrInvalidArgument, CodeOperationNotPermitted, "The default certificate '%s' cannot be removed; use ModifyListener to change it", l.Certificates[0])
		}
		l.Certificates = slices.DeleteFunc(slices.Clone(l.Certificates), func(c string) bool { return slices.Contains(certs, c) })
		return store.PutJSON(tx, listenerKey(s, p.lb, p.lsID), l)
	})
}
