package server

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/elbv2"
	"github.com/fargo-run/fargo/internal/network"
)

// buildELBv2 builds the ELBv2 control plane: ip targets must be in the
// task pool; it registers service tasks in their target groups. The data
// plane (internal/lb) and the load balancer addresses are installed with
// SetDataPlane and SetAddresses before Start.
func (s *Server) buildELBv2(ctx context.Context, ctl *control.Control) (*elbv2.Service, error) {
	pool := network.DefaultPool
	if s.cfg.TaskPool != "" {
		p, err := netip.ParsePrefix(s.cfg.TaskPool)
		if err != nil {
			return nil, fmt.Errorf("task pool: %w", err)
		}
		pool = p
	}
	elb := elbv2.New(elbv2.Config{Logger: s.log.With("component", "elbv2"), TargetPrefixes: []netip.Prefix{pool}}, s.st)
	ctl.SetRegistrars(elb)
	if err := elb.Start(ctx); err != nil {
		return nil, fmt.Errorf("elbv2: %w", err)
	}
	s.elb = elb
	return elb, nil
}
