package server

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/elbv2"
	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/network"
)

// buildELBv2 builds the ELBv2 control plane: ip targets must be in the
// task pool; ECS asks it about target groups and target health (build
// installs it as a registrar of service tasks beside Cloud Map). startELBv2 gives it its
// data plane once the node's network exists.
func (s *Server) buildELBv2(ctl *control.Control) (*elbv2.Service, error) {
	pool := network.DefaultPool
	if s.cfg.TaskPool != "" {
		p, err := netip.ParsePrefix(s.cfg.TaskPool)
		if err != nil {
			return nil, fmt.Errorf("task pool: %w", err)
		}
		pool = p
	}
	elb := elbv2.New(elbv2.Config{Logger: s.log.With("component", "elbv2"), TargetPrefixes: []netip.Prefix{pool}}, s.st)
	ctl.SetTargetGroups(elb)
	s.elb = elb
	return elb, nil
}

// startELBv2 starts the ELBv2 control plane. With this host's node, load
// balancers get addresses from its network (the instance's own pool, on
// its own link) and a data plane that really listens on them; without
// one (--no-agent, not root) the API works and nothing listens.
func (s *Server) startELBv2(ctx context.Context) error {
	if s.node != nil {
		s.lbs = lb.New(lb.ManagerConfig{Logger: s.log.With("component", "lb")})
		s.elb.SetDataPlane(s.lbs)
		s.elb.SetAddresses(s.node.net)
	}
	if err := s.elb.Start(ctx); err != nil {
		return fmt.Errorf("elbv2: %w", err)
	}
	return nil
}
