package network

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"
)

// The address tests have a prefix, table, pool and metadata address of
// their own (no other test uses them).
const (
	addrTestPrefix = "fgl"
	addrTestTable  = "fargolbtest"
)

func addrTestConfig(dir string) Config {
	return Config{
		StateDir:   dir,
		Pool:       netip.MustParsePrefix("10.216.0.0/16"),
		NamePrefix: addrTestPrefix,
		TableName:  addrTestTable,
		MetadataIP: netip.MustParseAddr("169.254.170.41"),
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func TestAddressBlockIsLeftToLoadBalancers(t *testing.T) {
	cfg, err := Config{StateDir: "/x", Pool: netip.MustParsePrefix("10.216.0.0/22")}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if b := addressBlock(cfg); b != netip.MustParsePrefix("10.216.3.0/24") {
		t.Fatalf("address block %s", b)
	}
	st := newState()
	st.Addresses = map[string]*addressInfo{"lb": {Owner: "lb", IP: netip.MustParseAddr("10.216.3.1")}}
	for _, acct := range []string{"a", "b", "c"} {
		s, err := st.subnetFor(cfg, acct, "r")
		if err != nil || s.CIDR == addressBlock(cfg) {
			t.Fatalf("subnet of %s: %v, %v", acct, s, err)
		}
		st.Tasks["t"+acct] = &taskInfo{TaskID: "t" + acct, Account: acct, Region: "r"}
	}
	if _, err := st.subnetFor(cfg, "d", "r"); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Errorf("fourth subnet with an address held: %v", err)
	}
	// Without addresses the whole pool is for subnets, as before.
	delete(st.Addresses, "lb")
	if s, err := st.subnetFor(cfg, "d", "r"); err != nil || s.CIDR != addressBlock(cfg) {
		t.Errorf("fourth subnet without addresses: %v, %v", s, err)
	}
	one, _ := Config{StateDir: "/x", Pool: netip.MustParsePrefix("10.216.0.0/24")}.withDefaults()
	if addressBlock(one).IsValid() {
		t.Error("a single-subnet pool has an address block")
	}
}

func sweepAddrTest(t *testing.T) {
	t.Helper()
	m, err := New(addrTestConfig(t.TempDir()))
	if err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if err := m.Recover(context.Background()); err != nil {
		t.Fatalf("sweep: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("sweep: %v", err)
	}
}

func onMetadataLink(t *testing.T, ip netip.Addr) bool {
	t.Helper()
	l, err := netlink.LinkByName(addrTestPrefix + "md")
	if err != nil {
		return false
	}
	addrs, err := netlink.AddrList(l, netlink.FAMILY_V4)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if a.IP.Equal(net.IP(ip.AsSlice())) {
			return true
		}
	}
	return false
}

func TestLoadBalancerAddresses(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (links, netns, nftables)")
	}
	sweepAddrTest(t)
	ctx := context.Background()
	dir := t.TempDir()
	m, err := New(addrTestConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, o := range []string{"lb-a", "lb-b", "lb-c"} {
			if err := m.ReleaseAddress(ctx, o); err != nil {
				t.Errorf("release %s: %v", o, err)
			}
		}
		for _, a := range m.Attachments() {
			if err := m.Teardown(ctx, a.TaskID); err != nil {
				t.Errorf("teardown: %v", err)
			}
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		links, _ := prefixedLinks(addrTestPrefix)
		for _, l := range links {
			t.Errorf("link left behind: %s", l.Attrs().Name)
		}
		c, err := nftables.New()
		if err == nil {
			if ok, _ := (firewall{table: addrTestTable}).exists(c); ok {
				t.Errorf("table %s left behind", addrTestTable)
			}
		}
	})

	a1, err := m.AcquireAddress(ctx, "lb-a")
	if err != nil || a1 != netip.MustParseAddr("10.216.255.1") {
		t.Fatalf("first address: %v, %v", a1, err)
	}
	if again, err := m.AcquireAddress(ctx, "lb-a"); err != nil || again != a1 {
		t.Fatalf("same owner: %v, %v", again, err)
	}
	a2, err := m.AcquireAddress(ctx, "lb-b")
	if err != nil || a2 != netip.MustParseAddr("10.216.255.2") {
		t.Fatalf("second address: %v, %v", a2, err)
	}
	if _, err := m.AcquireAddress(ctx, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("empty owner: %v", err)
	}

	// fargo binds it; the host and a task reach it. A task's own
	// subnet is not the address block.
	ln, err := net.Listen("tcp4", hostPort(a1, 0))
	if err != nil {
		t.Fatalf("bind %s: %v", a1, err)
	}
	defer ln.Close()
	go serveEcho(ln, "lb")
	addr := ln.Addr().String()
	mustReach(t, "", addr, "lb")
	task := setup(t, m, "lbtask", acctA)
	if task.Prefix.Contains(a1) {
		t.Fatalf("task subnet %s holds the address %s", task.Prefix, a1)
	}
	mustReach(t, task.NetNSPath, addr, "lb")
	// The rest of the host stays out of the task's reach.
	other, err := net.Listen("tcp4", hostPort(task.Gateway, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go serveEcho(other, "host")
	mustNotReach(t, task.NetNSPath, other.Addr().String())

	// Restart after the kernel lost the address: the same owners get the
	// same addresses, back on the link after Recover.
	l, _ := netlink.LinkByName(addrTestPrefix + "md")
	if err := netlink.AddrDel(l, &netlink.Addr{IPNet: ipNet(netip.PrefixFrom(a1, 32))}); err != nil {
		t.Fatal(err)
	}
	m2, err := New(addrTestConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	if !onMetadataLink(t, a1) || !onMetadataLink(t, a2) {
		t.Fatal("addresses not restored by Recover")
	}
	if got, err := m2.AcquireAddress(ctx, "lb-a"); err != nil || got != a1 {
		t.Fatalf("after restart: %v, %v", got, err)
	}
	m = m2 // the cleanup works on the restarted manager

	// Release: off the link, free for the next owner; unknown owners are fine.
	if err := m.ReleaseAddress(ctx, "lb-a"); err != nil {
		t.Fatal(err)
	}
	if onMetadataLink(t, a1) {
		t.Error("released address still on the link")
	}
	if err := m.ReleaseAddress(ctx, "never-acquired"); err != nil {
		t.Errorf("release unknown: %v", err)
	}
	if a3, err := m.AcquireAddress(ctx, "lb-c"); err != nil || a3 != a1 {
		t.Errorf("reuse: %v, %v", a3, err)
	}
}
