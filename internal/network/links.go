package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// linkByName returns the link or nil when there is none.
func linkByName(name string) (netlink.Link, error) {
	l, err := netlink.LinkByName(name)
	var nf netlink.LinkNotFoundError
	if errors.As(err, &nf) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("network: link %s: %w", name, err)
	}
	return l, nil
}

// deleteLink removes a link if it exists.
func deleteLink(name string) error {
	l, err := linkByName(name)
	if err != nil || l == nil {
		return err
	}
	if err := netlink.LinkDel(l); err != nil && !errors.Is(err, unix.ENODEV) {
		return fmt.Errorf("network: delete link %s: %w", name, err)
	}
	return nil
}

// listLinks lists the host's links, retrying dumps the kernel interrupted.
func listLinks() ([]netlink.Link, error) {
	var err error
	for range 5 {
		var ls []netlink.Link
		ls, err = netlink.LinkList()
		if err == nil {
			return ls, nil
		}
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	return nil, fmt.Errorf("network: list links: %w", err)
}

// prefixedLinks returns the names of the host's links that start with p.
func prefixedLinks(p string) ([]netlink.Link, error) {
	ls, err := listLinks()
	if err != nil {
		return nil, err
	}
	var out []netlink.Link
	for _, l := range ls {
		if strings.HasPrefix(l.Attrs().Name, p) {
			out = append(out, l)
		}
	}
	return out, nil
}

// ensureAddr adds addr to the link unless it is there already.
func ensureAddr(l netlink.Link, p netip.Prefix) error {
	a := &netlink.Addr{IPNet: ipNet(p)}
	if err := netlink.AddrReplace(l, a); err != nil {
		return fmt.Errorf("network: address %s on %s: %w", p, l.Attrs().Name, err)
	}
	return nil
}

// ensureMetadataLink creates the link that holds the metadata address from
// New to Close, so the agent can bind 169.254.170.2:80 before any task
// exists. It is a bridge without ports rather than a dummy link: kernels
// built without the dummy driver (Firecracker guests) are common, bridges
// are needed anyway, and a portless bridge that is up keeps its local
// addresses.
func ensureMetadataLink(name string, ip netip.Addr) error {
	l, err := linkByName(name)
	if err != nil {
		return err
	}
	if l == nil {
		d := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}
		if err := netlink.LinkAdd(d); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("network: add metadata link %s: %w", name, err)
		}
		if l, err = linkByName(name); err != nil || l == nil {
			return fmt.Errorf("network: metadata link %s vanished: %w", name, err)
		}
	}
	if err := ensureAddr(l, netip.PrefixFrom(ip, 32)); err != nil {
		return err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return fmt.Errorf("network: up %s: %w", name, err)
	}
	return nil
}

// ensureBridge creates (or repairs) a subnet's bridge: fixed MAC (a bridge
// otherwise takes the lowest MAC of its ports, which changes as tasks come
// and go and leaves stale ARP entries in the tasks), the gateway address,
// the metadata address, up.
func ensureBridge(name string, subnet netip.Prefix, metadata netip.Addr) (netlink.Link, error) {
	gw := gateway(subnet)
	l, err := linkByName(name)
	if err != nil {
		return nil, err
	}
	if l != nil {
		if _, ok := l.(*netlink.Bridge); !ok {
			return nil, fmt.Errorf("network: link %s exists and is a %s, not a bridge", name, l.Type())
		}
	} else {
		mac, _ := net.ParseMAC(macFor(gw))
		br := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name, HardwareAddr: mac, MTU: 1500}}
		if err := netlink.LinkAdd(br); err != nil && !errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("network: add bridge %s: %w", name, err)
		}
		if l, err = linkByName(name); err != nil || l == nil {
			return nil, fmt.Errorf("network: bridge %s vanished: %w", name, err)
		}
	}
	if err := ensureAddr(l, netip.PrefixFrom(gw, subnet.Bits())); err != nil {
		return nil, err
	}
	if err := ensureAddr(l, netip.PrefixFrom(metadata, 32)); err != nil {
		return nil, err
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return nil, fmt.Errorf("network: up %s: %w", name, err)
	}
	return l, nil
}

// taskLink is what plumbTask needs to wire one task.
type taskLink struct {
	NetNS    string // netns file
	HostVeth string
	Bridge   netlink.Link
	IP       netip.Prefix // task address with the subnet's length
	Gateway  netip.Addr
	MAC      string
}

// plumbTask creates the veth pair with its task end directly inside the
// netns as eth0, puts the host end on the bridge, and configures the task
// side: lo up, address, MAC, default route via the gateway.
func plumbTask(tl taskLink) error {
	ns, err := netns.GetFromPath(tl.NetNS)
	if err != nil {
		return fmt.Errorf("network: open netns %s: %w", tl.NetNS, err)
	}
	defer ns.Close()
	mac, err := net.ParseMAC(tl.MAC)
	if err != nil {
		return fmt.Errorf("network: mac %q: %w", tl.MAC, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.LinkAttrs{Name: tl.HostVeth, MTU: 1500, MasterIndex: tl.Bridge.Attrs().Index},
		PeerName:         "eth0",
		PeerHardwareAddr: mac,
		PeerNamespace:    netlink.NsFd(int(ns)),
	}
	if err := netlink.LinkAdd(veth); err != nil {
		return fmt.Errorf("network: add veth %s: %w", tl.HostVeth, err)
	}
	host, err := linkByName(tl.HostVeth)
	if err != nil || host == nil {
		return fmt.Errorf("network: veth %s vanished: %w", tl.HostVeth, err)
	}
	if err := netlink.LinkSetUp(host); err != nil {
		return fmt.Errorf("network: up %s: %w", tl.HostVeth, err)
	}

	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return fmt.Errorf("network: netlink in %s: %w", tl.NetNS, err)
	}
	defer h.Close()
	lo, err := h.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("network: lo in %s: %w", tl.NetNS, err)
	}
	if err := h.LinkSetUp(lo); err != nil {
		return fmt.Errorf("network: up lo in %s: %w", tl.NetNS, err)
	}
	eth0, err := h.LinkByName("eth0")
	if err != nil {
		return fmt.Errorf("network: eth0 in %s: %w", tl.NetNS, err)
	}
	if err := h.AddrAdd(eth0, &netlink.Addr{IPNet: ipNet(tl.IP)}); err != nil {
		return fmt.Errorf("network: address %s in %s: %w", tl.IP, tl.NetNS, err)
	}
	if err := h.LinkSetUp(eth0); err != nil {
		return fmt.Errorf("network: up eth0 in %s: %w", tl.NetNS, err)
	}
	route := &netlink.Route{LinkIndex: eth0.Attrs().Index, Gw: net.IP(tl.Gateway.AsSlice()), Scope: netlink.SCOPE_UNIVERSE}
	if err := h.RouteAdd(route); err != nil {
		return fmt.Errorf("network: default route via %s in %s: %w", tl.Gateway, tl.NetNS, err)
	}
	return nil
}

func ipNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: net.IP(p.Addr().AsSlice()), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}
