package network

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
)

// forwardHelperEnv marks the child process of TestFirewallWithForwarding.
const forwardHelperEnv = "FARGO_NETWORK_FORWARD_HELPER"

// TestFirewallWithForwarding checks the nftables rules themselves. On a
// normal host ip_forward is off and the kernel drops routed task traffic
// before the rules see it; so this test re-runs itself in a fresh network
// namespace (a sandboxed "host") where it turns forwarding on and gives the
// sandbox an uplink to another namespace standing in for the outside world.
// No packet leaves the namespaces the test creates.
//
//	sandbox netns (the "host", ip_forward=1)          outside netns
//	 fgtbr0000 ── task a1 ─┐                          fgt-outside
//	 fgtbr0001 ── task b1  │ routed? must be dropped   198.51.100.1:80
//	 fgtup0 198.51.100.2 ──┴──────── veth ──────────── eth0
func TestFirewallWithForwarding(t *testing.T) {
	if os.Getenv(forwardHelperEnv) == "1" {
		forwardSandbox(t)
		return
	}
	if os.Geteuid() != 0 {
		t.Skip("network tests need root (netns, veth, bridges, nftables); CI runs them as root")
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestFirewallWithForwarding$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), forwardHelperEnv+"=1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	out, err := cmd.CombinedOutput()
	t.Logf("sandbox:\n%s", out)
	if err != nil {
		t.Fatalf("sandbox: %v", err)
	}
	assertClean(t) // the netns files live in the shared mount namespace
}

func forwardSandbox(t *testing.T) {
	ctx := context.Background()
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		t.Fatal(err)
	}
	// Per-namespace sysctl: this only affects the sandbox.
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The outside world: a namespace behind an uplink veth, with a listener.
	outside := filepath.Join(DefaultNetNSDir, testPrefix+"-outside")
	if err := createNetNS(outside); err != nil {
		t.Fatal(err)
	}
	defer deleteNetNS(outside)
	ons, err := netns.GetFromPath(outside)
	if err != nil {
		t.Fatal(err)
	}
	defer ons.Close()
	up := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: "fgtup0"}, PeerName: "eth0", PeerNamespace: netlink.NsFd(int(ons))}
	if err := netlink.LinkAdd(up); err != nil {
		t.Fatal(err)
	}
	upl, _ := netlink.LinkByName("fgtup0")
	must(t, netlink.AddrAdd(upl, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("198.51.100.2/24"))}))
	must(t, netlink.LinkSetUp(upl))
	must(t, netlink.RouteAdd(&netlink.Route{Gw: net.ParseIP("198.51.100.1")}))
	oh, err := netlink.NewHandleAt(ons)
	if err != nil {
		t.Fatal(err)
	}
	defer oh.Close()
	oeth, _ := oh.LinkByName("eth0")
	must(t, oh.AddrAdd(oeth, &netlink.Addr{IPNet: ipNet(netip.MustParsePrefix("198.51.100.1/24"))}))
	must(t, oh.LinkSetUp(oeth))
	must(t, oh.RouteAdd(&netlink.Route{Gw: net.ParseIP("198.51.100.2")}))
	listenIn(t, outside, "outside", 80)

	m, err := New(testConfig(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	a1 := setup(t, m, "a1", acctA)
	b1 := setup(t, m, "b1", acctB)
	listenIn(t, a1.NetNSPath, "a1", 8080)
	listenIn(t, b1.NetNSPath, "b1", 8080)

	mustReach(t, "", "198.51.100.1:80", "outside") // the sandbox "host" itself may
	mustNotReach(t, a1.NetNSPath, "198.51.100.1:80")
	mustNotReach(t, a1.NetNSPath, hostPort(b1.IP, 8080))
	mustNotReach(t, b1.NetNSPath, hostPort(a1.IP, 8080))
	mustNotReach(t, outside, hostPort(a1.IP, 8080))

	// Control: without fargo's table the same traffic is routed, so the
	// checks above did test the rules.
	must(t, m.fw.remove())
	mustReach(t, a1.NetNSPath, "198.51.100.1:80", "outside")
	mustReach(t, a1.NetNSPath, hostPort(b1.IP, 8080), "b1")
	m.mu.Lock()
	must(t, m.applyFirewallLocked())
	m.mu.Unlock()
	mustNotReach(t, a1.NetNSPath, "198.51.100.1:80")

	for _, id := range []string{"a1", "b1"} {
		must(t, m.Teardown(ctx, id))
	}
	must(t, m.Close())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
