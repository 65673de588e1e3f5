package network

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Load balancer addresses.
//
// Every load balancer gets an IPv4 address of its own (AcquireAddress),
// taken from the last SubnetBits block of Config.Pool (10.218.255.0/24 by
// default): the instance's own pool, so it never collides with a task or
// with another fargo instance, and a block subnetFor leaves to the
// addresses once one is held (an account gets it only when the pool has
// no other room and no load balancer holds an address). Addresses count up
// from the block's first host address (.1).
//
// The address is a /32 on the instance's metadata link ("<prefix>md", the
// portless bridge that lives from New to Close), so it is local to the
// host: fargo binds it, the host reaches it directly, and tasks reach it
// through their gateway like the metadata address; the input chain of the
// nftables table accepts task traffic to each held address (and, as
// before, nothing else of the host). Tasks of every account reach every
// load balancer, as an internet-facing ALB is reachable from anywhere.
//
// Addresses are kept in network.json by owner (the load balancer's ARN):
// the same owner gets the same address back, also after a restart, and
// Recover puts them back on the link.

// addressInfo is one load balancer address.
type addressInfo struct {
	Owner string     `json:"owner"`
	IP    netip.Addr `json:"ip"`
}

// maxOwnerLen bounds an owner name (an ELBv2 ARN is far shorter).
const maxOwnerLen = 1024

// blockCount is how many SubnetBits blocks the pool holds.
func blockCount(cfg Config) int { return 1 << (cfg.SubnetBits - cfg.Pool.Bits()) }

// subnetCount is how many blocks subnets may take: all but the last while
// a load balancer address is held.
func (st *state) subnetCount(cfg Config) int {
	n := blockCount(cfg)
	if len(st.Addresses) > 0 && n > 1 {
		n--
	}
	return n
}

// addressBlock is the block load balancer addresses come from; invalid
// when the pool is a single block.
func addressBlock(cfg Config) netip.Prefix {
	n := blockCount(cfg)
	if n < 2 {
		return netip.Prefix{}
	}
	return subnetCIDR(cfg, n-1)
}

// addressList is the held addresses, sorted.
func (st *state) addressList() []netip.Addr {
	out := make([]netip.Addr, 0, len(st.Addresses))
	for _, a := range st.Addresses {
		out = append(out, a.IP)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// AcquireAddress returns owner's load balancer address, allocating and
// configuring it on the first call; it is idempotent per owner, also
// across restarts.
func (m *Manager) AcquireAddress(ctx context.Context, owner string) (netip.Addr, error) {
	if owner == "" || len(owner) > maxOwnerLen {
		return netip.Addr{}, errdefs.Invalidf("network: invalid address owner %q", owner)
	}
	if err := ctx.Err(); err != nil {
		return netip.Addr{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return netip.Addr{}, errdefs.Newf(errdefs.ErrUnavailable, "network: manager closed")
	}
	if m.st.Addresses == nil {
		m.st.Addresses = map[string]*addressInfo{}
	}
	if a, ok := m.st.Addresses[owner]; ok {
		return a.IP, m.configureAddressLocked(a.IP)
	}
	block := addressBlock(m.cfg)
	if !block.IsValid() {
		return netip.Addr{}, errdefs.Newf(errdefs.ErrUnsupported,
			"network: pool %s has a single subnet, no room for load balancer addresses", m.cfg.Pool)
	}
	for key, s := range m.st.Subnets {
		if s.CIDR == block {
			return netip.Addr{}, errdefs.Newf(errdefs.ErrLimitExceeded,
				"network: the load balancer block %s of pool %s is the subnet of %s", block, m.cfg.Pool, key)
		}
	}
	held := map[netip.Addr]bool{}
	for _, a := range m.st.Addresses {
		held[a.IP] = true
	}
	var ip netip.Addr
	for a := block.Addr().Next(); block.Contains(a.Next()); a = a.Next() { // not the network, not the broadcast
		if !held[a] {
			ip = a
			break
		}
	}
	if !ip.IsValid() {
		return netip.Addr{}, errdefs.Newf(errdefs.ErrLimitExceeded, "network: no free load balancer address in %s", block)
	}
	m.st.Addresses[owner] = &addressInfo{Owner: owner, IP: ip}
	if err := m.st.save(m.cfg.StateDir); err != nil {
		delete(m.st.Addresses, owner)
		return netip.Addr{}, err
	}
	if err := m.configureAddressLocked(ip); err != nil {
		delete(m.st.Addresses, owner)
		m.unconfigureAddressLocked(ip)
		if serr := m.st.save(m.cfg.StateDir); serr != nil {
			m.log.Error("save network state", "err", serr)
		}
		return netip.Addr{}, err
	}
	m.log.Info("load balancer address acquired", "owner", owner, "ip", ip)
	return ip, nil
}

// ReleaseAddress removes owner's address from the host and frees it.
// Releasing an owner without an address succeeds.
func (m *Manager) ReleaseAddress(ctx context.Context, owner string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	a, ok := m.st.Addresses[owner]
	if !ok {
		return nil
	}
	if err := m.removeAddrFromLink(a.IP); err != nil {
		return err
	}
	delete(m.st.Addresses, owner)
	if err := m.st.save(m.cfg.StateDir); err != nil {
		m.st.Addresses[owner] = a
		return err
	}
	m.fw.addresses = m.st.addressList()
	if err := m.applyFirewallLocked(); err != nil {
		return err
	}
	m.log.Info("load balancer address released", "owner", owner, "ip", a.IP)
	return nil
}

// configureAddressLocked puts ip on the metadata link and lets tasks reach
// it.
func (m *Manager) configureAddressLocked(ip netip.Addr) error {
	if err := ensureMetadataLink(m.cfg.metadataLinkName(), m.cfg.MetadataIP); err != nil {
		return err
	}
	l, err := linkByName(m.cfg.metadataLinkName())
	if err != nil || l == nil {
		return fmt.Errorf("network: metadata link %s vanished: %w", m.cfg.metadataLinkName(), err)
	}
	if err := ensureAddr(l, netip.PrefixFrom(ip, 32)); err != nil {
		return err
	}
	if want := m.st.addressList(); !slices.Equal(m.fw.addresses, want) {
		m.fw.addresses = want
		return m.applyFirewallLocked()
	}
	return nil
}

func (m *Manager) unconfigureAddressLocked(ip netip.Addr) {
	if err := m.removeAddrFromLink(ip); err != nil {
		m.log.Error("remove load balancer address", "ip", ip, "err", err)
	}
	m.fw.addresses = m.st.addressList()
	if err := m.applyFirewallLocked(); err != nil {
		m.log.Error("rewrite firewall", "err", err)
	}
}

// removeAddrFromLink deletes ip/32 from the metadata link; a missing link
// or address is fine.
func (m *Manager) removeAddrFromLink(ip netip.Addr) error {
	l, err := linkByName(m.cfg.metadataLinkName())
	if err != nil || l == nil {
		return err
	}
	err = netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(ip, 32))})
	if err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("network: remove address %s from %s: %w", ip, l.Attrs().Name, err)
	}
	return nil
}

// restoreAddressesLocked puts every held address back on the metadata link
// (Recover).
func (m *Manager) restoreAddressesLocked() error {
	var errs []error
	for _, a := range m.st.Addresses {
		if err := m.configureAddressLocked(a.IP); err != nil {
			errs = append(errs, fmt.Errorf("network: restore address %s of %s: %w", a.IP, a.Owner, err))
		}
	}
	return errors.Join(errs...)
}
