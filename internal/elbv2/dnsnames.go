package elbv2

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// LookupName answers the address of the scope's load balancer whose
// DNSName is fqdn (fargo's DNS server asks it for names outside Cloud
// Map), none for any other name.
func (sv *Service) LookupName(s tenant.Scope, fqdn string) []netip.Addr {
	name := strings.ToLower(strings.TrimSuffix(fqdn, "."))
	if !strings.HasSuffix(name, ".elb.amazonaws.com") {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	lbs, err := sv.DescribeLoadBalancers(ctx, s, nil, nil)
	if err != nil {
		return nil
	}
	for _, lb := range lbs {
		if strings.EqualFold(lb.DNSName, name) && lb.Addr.IsValid() {
			return []netip.Addr{lb.Addr}
		}
	}
	return nil
}
