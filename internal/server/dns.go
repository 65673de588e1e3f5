package server

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/discovery/dnsserver"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/tenant"
)

// startDNS starts the DNS server tasks resolve through (issue 12) on the
// metadata address, which every task of this fargo reaches through its
// gateway (the firewall lets tasks reach it) and which no other fargo on
// the host uses. nil, nil when the DNS server is off.
func (s *Server) startDNS(netm *network.Manager, nodeID string, pool netip.Prefix) (*dnsserver.Server, error) {
	if s.cfg.DNSPort == 0 {
		return nil, nil
	}
	rate := float64(s.cfg.DNSRate)
	if rate == 0 {
		rate = -1 // unbounded
	}
	addr := netip.AddrPortFrom(netm.MetadataIP(), uint16(s.cfg.DNSPort)).String()
	srv := dnsserver.New(dnsserver.Config{
		Addr: addr, Upstreams: s.cfg.DNSUpstreams, Rate: rate, Burst: 2 * max(s.cfg.DNSRate, 1),
		Logger: s.log.With("component", "dns"),
	}, s.discovery, &taskScopes{
		net: netm, ctl: s.ctl, node: nodeID, pool: pool,
		host: tenant.Scope{Account: s.cfg.AccountID, Region: s.cfg.Region}, cache: map[netip.Addr]tenant.Scope{},
	})
	if err := srv.Start(); err != nil {
		return nil, fmt.Errorf("DNS server (dns-port %d; 0 turns it off): %w", s.cfg.DNSPort, err)
	}
	return srv, nil
}

// dnsNameservers is what tasks get in /etc/resolv.conf: the DNS server,
// when it is on the port resolv.conf implies (53).
func (s *Server) dnsNameservers(netm *network.Manager) []string {
	if s.cfg.DNSPort != 53 {
		return nil
	}
	return []string{netm.MetadataIP().String()}
}

// DNSAddr is the DNS server's address ("" when it is off or no agent
// runs), for tests and the banner.
func (s *Server) DNSAddr() string {
	if s.node == nil || s.node.dns == nil {
		return ""
	}
	return s.node.dns.Addr()
}

// taskScopes maps the source address of a DNS query to the account and
// region it acts for: a task's (by its network attachment), or the host
// administrator's default scope for sources outside the task pool (the
// host itself: `dig @<metadata ip>`). An address of the pool that belongs
// to no task of this host is refused, never given the default.
type taskScopes struct {
	net  *network.Manager
	ctl  *control.Control
	node string
	pool netip.Prefix
	host tenant.Scope

	mu      sync.Mutex
	cache   map[netip.Addr]tenant.Scope
	built   time.Time
	lastTry time.Time
}

// scopesTTL bounds how long a cached address→account mapping is trusted
// (an address is reused only after its task is gone).
const scopesTTL = 2 * time.Second

func (t *taskScopes) ScopeOf(ip netip.Addr) (tenant.Scope, error) {
	if !t.pool.Contains(ip) {
		return t.host, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := time.Now()
	if sc, ok := t.cache[ip]; ok && now.Sub(t.built) < scopesTTL {
		return sc, nil
	}
	// Rebuild, at most every 100 ms (a source flooding from an unknown
	// address must not make every query read the store).
	if now.Sub(t.lastTry) >= 100*time.Millisecond || now.Sub(t.built) >= scopesTTL {
		t.lastTry = now
		if err := t.rebuild(now); err != nil {
			return tenant.Scope{}, err
		}
	}
	if sc, ok := t.cache[ip]; ok {
		return sc, nil
	}
	return tenant.Scope{}, fmt.Errorf("no task of this host has address %s", ip)
}

func (t *taskScopes) rebuild(now time.Time) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, refs, err := t.ctl.NodeTasks(ctx, t.node)
	if err != nil {
		return err
	}
	byID := make(map[string]tenant.Scope, len(refs))
	for _, r := range refs {
		byID[r.ID] = r.Scope
	}
	cache := map[netip.Addr]tenant.Scope{}
	for _, a := range t.net.Attachments() {
		if sc, ok := byID[a.TaskID]; ok {
			cache[a.IP] = sc
		}
	}
	t.cache, t.built = cache, now
	return nil
}

// taskStates answers the reconciler of Cloud Map registrations
// (discovery.Tasks) from control's tasks.
type taskStates struct{ ctl *control.Control }

func (t taskStates) TaskStates(ctx context.Context, s tenant.Scope, cluster string, ids []string) (map[string]discovery.TaskState, error) {
	out := map[string]discovery.TaskState{}
	for len(ids) > 0 {
		n := min(len(ids), 100) // DescribeTasks' limit
		tasks, _, err := t.ctl.DescribeTasks(ctx, s, cluster, ids[:n])
		if errors.Is(err, control.ErrClusterNotFound) {
			return out, nil // the cluster is gone, and its tasks with it
		}
		if err != nil {
			return nil, err
		}
		for _, task := range tasks {
			out[task.ID] = discovery.TaskState{
				Live:   task.DesiredStatus == control.TaskRunning && task.LastStatus != control.TaskStopped,
				Health: task.HealthStatus,
			}
		}
		ids = ids[n:]
	}
	return out, nil
}

// reconcileDiscovery brings ECS's Cloud Map registrations in line with the
// tasks (see discovery.Directory.Reconcile).
func (s *Server) reconcileDiscovery(ctx context.Context) {
	if err := s.discovery.Reconcile(ctx, taskStates{ctl: s.ctl}); err != nil {
		s.log.Warn("service discovery: reconcile registrations", "err", err)
	}
}

// hostAddr is the address tasks reach the host at (the metadata address):
// host-mode tasks are registered in Cloud Map with it.
func (s *Server) hostAddr() string {
	if s.cfg.MetadataIP != "" {
		return s.cfg.MetadataIP
	}
	return network.DefaultMetadataIP.String()
}

// SetDNSExtraNames makes names fargo owns outside Cloud Map (an ALB's
// DNSName) resolve through the DNS server; a no-op when it is off.
func (s *Server) SetDNSExtraNames(x dnsserver.ExtraNames) {
	if s.node != nil && s.node.dns != nil {
		s.node.dns.SetExtraNames(x)
	}
}

// purgeOperations forgets Cloud Map operations past their retention.
func (s *Server) purgeOperations(ctx context.Context) {
	if n, err := s.discovery.PurgeOperations(ctx, time.Now().Add(-discovery.OperationRetention)); err != nil {
		s.log.Warn("service discovery: purge operations", "err", err)
	} else if n > 0 {
		s.log.Debug("purged Cloud Map operations", "count", n)
	}
}
