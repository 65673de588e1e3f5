package network

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/google/nftables"
)

// The tests run against the real kernel with their own prefix, pool and
// table, so they never touch a fargo running on the same machine.
const (
	testPrefix = "fgt"
	testTable  = "fargotest"
	acctA      = "111111111111"
	acctB      = "222222222222"
	region     = "us-east-1"
	shortWait  = 500 * time.Millisecond
	reachWait  = 5 * time.Second
)

var testPool = netip.MustParsePrefix("10.219.0.0/16")

func testConfig(dir string) Config {
	return Config{
		StateDir:   dir,
		Pool:       testPool,
		NamePrefix: testPrefix,
		TableName:  testTable,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

// newTestManager skips unless root, clears leftovers of an earlier crashed
// run, and on cleanup closes the manager and checks that nothing is left.
func newTestManager(t *testing.T) (*Manager, string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network tests need root (netns, veth, bridges, nftables); CI runs them as root")
	}
	sweep(t)
	dir := t.TempDir()
	m, err := New(testConfig(dir))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		for _, a := range m.Attachments() {
			if err := m.Teardown(context.Background(), a.TaskID); err != nil {
				t.Errorf("Teardown %s: %v", a.TaskID, err)
			}
		}
		if err := m.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		assertClean(t)
	})
	return m, dir
}

// sweep removes what a crashed test run may have left.
func sweep(t *testing.T) {
	t.Helper()
	m, err := New(testConfig(t.TempDir()))
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

// assertClean fails the test if any link, netns or table of the tests
// remains.
func assertClean(t *testing.T) {
	t.Helper()
	links, err := prefixedLinks(testPrefix)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		t.Errorf("link left behind: %s", l.Attrs().Name)
	}
	ents, _ := os.ReadDir(DefaultNetNSDir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), testPrefix+"-") {
			t.Errorf("netns left behind: %s", e.Name())
		}
	}
	c, err := nftables.New()
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := (firewall{table: testTable}).exists(c); err != nil || ok {
		t.Errorf("nftables table inet %s left behind (err %v)", testTable, err)
	}
}

func setup(t *testing.T, m *Manager, id, account string) *Attachment {
	t.Helper()
	a, err := m.Setup(context.Background(), Request{TaskID: id, Account: account, Region: region})
	if err != nil {
		t.Fatalf("Setup %s: %v", id, err)
	}
	return a
}

// listenIn starts a TCP server inside a netns that answers every line with
// name and the line.
func listenIn(t *testing.T, nsPath, name string, port int) {
	t.Helper()
	var ln net.Listener
	err := inNetNS(nsPath, func() error {
		var err error
		ln, err = net.Listen("tcp4", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", nsPath, err)
	}
	t.Cleanup(func() { ln.Close() })
	go serveEcho(ln, name)
}

func serveEcho(ln net.Listener, name string) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			s := bufio.NewScanner(c)
			for s.Scan() {
				fmt.Fprintf(c, "%s:%s\n", name, s.Text())
			}
		}()
	}
}

// dial connects to addr from nsPath ("" = the host) and returns the first
// reply line to "ping", or an error.
func dial(nsPath, addr string, timeout time.Duration) (string, error) {
	var c net.Conn
	do := func() error {
		var err error
		c, err = net.DialTimeout("tcp4", addr, timeout)
		return err
	}
	var err error
	if nsPath == "" {
		err = do()
	} else {
		err = inNetNS(nsPath, do)
	}
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.WriteString(c, "ping\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return strings.TrimSpace(line), err
}

func mustReach(t *testing.T, from, addr, want string) {
	t.Helper()
	// Generous: under a loaded CI (every package's tests at once on two
	// cores) the first ARP round trip can take longer than shortWait.
	got, err := dial(from, addr, reachWait)
	if err != nil || got != want+":ping" {
		t.Errorf("from %q to %s: got %q, %v; want %q", nsName(from), addr, got, err, want+":ping")
	}
}

func mustNotReach(t *testing.T, from, addr string) {
	t.Helper()
	start := time.Now()
	got, err := dial(from, addr, shortWait)
	if err == nil {
		t.Errorf("from %q to %s: reached (%q), want blocked", nsName(from), addr, got)
	}
	if d := time.Since(start); d > 3*shortWait {
		t.Errorf("from %q to %s: took %v to fail", nsName(from), addr, d)
	}
}

func nsName(p string) string {
	if p == "" {
		return "host"
	}
	return filepath.Base(p)
}

func hostPort(a netip.Addr, port int) string { return netip.AddrPortFrom(a, uint16(port)).String() }

func TestIsolationAndReachability(t *testing.T) {
	m, _ := newTestManager(t)
	a1 := setup(t, m, "a1", acctA)
	a2 := setup(t, m, "a2", acctA)
	b1 := setup(t, m, "b1", acctB)

	// Addressing.
	if a1.Prefix != a2.Prefix || a1.Prefix == b1.Prefix || !testPool.Contains(b1.IP) {
		t.Fatalf("subnets: a1 %s a2 %s b1 %s", a1.Prefix, a2.Prefix, b1.Prefix)
	}
	if a1.Bridge != a2.Bridge || a1.Bridge == b1.Bridge || a1.SubnetID != a2.SubnetID || a1.SubnetID == b1.SubnetID {
		t.Errorf("bridges/subnets: %+v %+v %+v", a1, a2, b1)
	}
	if a1.IP == a2.IP || a1.Gateway != a1.Prefix.Addr().Next() {
		t.Errorf("ips: a1 %s a2 %s gw %s", a1.IP, a2.IP, a1.Gateway)
	}
	for _, a := range []*Attachment{a1, a2, b1} {
		if !regexp.MustCompile(`^eni-[0-9a-f]{17}$`).MatchString(a.ENIID) ||
			!regexp.MustCompile(`^subnet-[0-9a-f]{17}$`).MatchString(a.SubnetID) ||
			a.MAC != macFor(a.IP) || !isNetNS(a.NetNSPath) {
			t.Errorf("attachment %+v", a)
		}
	}
	if a1.PrivateDNSName != fmt.Sprintf("ip-%s.ec2.internal", strings.ReplaceAll(a1.IP.String(), ".", "-")) {
		t.Errorf("PrivateDNSName %q", a1.PrivateDNSName)
	}

	for _, a := range []*Attachment{a1, a2, b1} {
		listenIn(t, a.NetNSPath, a.TaskID, 8080)
	}
	t.Run("host reaches every task", func(t *testing.T) {
		for _, a := range []*Attachment{a1, a2, b1} {
			mustReach(t, "", hostPort(a.IP, 8080), a.TaskID)
		}
	})
	t.Run("same account reaches", func(t *testing.T) {
		mustReach(t, a1.NetNSPath, hostPort(a2.IP, 8080), "a2")
		mustReach(t, a2.NetNSPath, hostPort(a1.IP, 8080), "a1")
	})
	t.Run("other account blocked", func(t *testing.T) {
		mustNotReach(t, a1.NetNSPath, hostPort(b1.IP, 8080))
		mustNotReach(t, b1.NetNSPath, hostPort(a1.IP, 8080))
		// Nor through the other bridge's gateway address on the host.
		mustNotReach(t, b1.NetNSPath, hostPort(a1.Gateway, 8080))
	})
	t.Run("metadata endpoint reachable from every task", func(t *testing.T) {
		// An ephemeral port rather than 80: a real fargo may hold :80.
		ln, err := net.Listen("tcp4", hostPort(m.MetadataIP(), 0))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go serveEcho(ln, "metadata")
		addr := ln.Addr().String()
		for _, a := range []*Attachment{a1, a2, b1} {
			mustReach(t, a.NetNSPath, addr, "metadata")
		}
	})
	t.Run("rest of the host blocked", func(t *testing.T) {
		ln, err := net.Listen("tcp4", "0.0.0.0:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go serveEcho(ln, "host")
		port := ln.Addr().(*net.TCPAddr).Port
		mustReach(t, "", fmt.Sprintf("127.0.0.1:%d", port), "host")
		mustNotReach(t, a1.NetNSPath, hostPort(a1.Gateway, port))
	})
	t.Run("no route out", func(t *testing.T) {
		// TEST-NET-2: never routed anywhere; the host drops it.
		mustNotReach(t, a1.NetNSPath, "198.51.100.1:80")
	})
	t.Run("metadata survives a bridge going away", func(t *testing.T) {
		if err := m.Teardown(context.Background(), "b1"); err != nil {
			t.Fatal(err)
		}
		if l, _ := linkByName(b1.Bridge); l != nil {
			t.Errorf("bridge %s of account B still there after its last task", b1.Bridge)
		}
		ln, err := net.Listen("tcp4", hostPort(m.MetadataIP(), 0))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go serveEcho(ln, "metadata")
		mustReach(t, a1.NetNSPath, ln.Addr().String(), "metadata")
	})
}

func TestSetupIdempotentAndValidation(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	a := setup(t, m, "idem", acctA)
	again := setup(t, m, "idem", acctA)
	if *again != *a {
		t.Errorf("second Setup: %+v, want %+v", again, a)
	}
	if _, err := m.Setup(ctx, Request{TaskID: "idem", Account: acctB, Region: region}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("Setup under another account: %v, want conflict", err)
	}
	for _, req := range []Request{
		{TaskID: "../etc", Account: acctA, Region: region},
		{TaskID: "", Account: acctA, Region: region},
		{TaskID: "x", Account: "", Region: region},
		{TaskID: "x", Account: "a/b", Region: region},
	} {
		if _, err := m.Setup(ctx, req); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Setup(%+v): %v, want invalid argument", req, err)
		}
	}
	if err := m.Teardown(ctx, "never-set-up"); err != nil {
		t.Errorf("Teardown of an unknown task: %v", err)
	}
	if err := m.Teardown(ctx, "idem"); err != nil {
		t.Fatal(err)
	}
	if err := m.Teardown(ctx, "idem"); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if _, err := m.Attachment("idem"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Attachment after Teardown: %v", err)
	}
}

func TestIPReuseAfterRelease(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	first := setup(t, m, "r1", acctA)
	second := setup(t, m, "r2", acctA)
	if err := m.Teardown(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	third := setup(t, m, "r3", acctA)
	if third.IP != first.IP || third.MAC != first.MAC {
		t.Errorf("r3 got %s (%s), want the released %s", third.IP, third.MAC, first.IP)
	}
	if third.IP == second.IP {
		t.Errorf("r3 and r2 share %s", third.IP)
	}
	// The account keeps its subnet across its bridge going away.
	for _, id := range []string{"r2", "r3"} {
		if err := m.Teardown(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	again := setup(t, m, "r4", acctA)
	if again.Prefix != first.Prefix || again.SubnetID != first.SubnetID || again.IP != first.IP {
		t.Errorf("after the bridge went away: %+v, want subnet %s", again, first.Prefix)
	}
	listenIn(t, again.NetNSPath, "r4", 8080)
	mustReach(t, "", hostPort(again.IP, 8080), "r4")
}

func TestConcurrentSetup(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	const n = 20
	atts := make([]*Attachment, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			acct := acctA
			if i%2 == 1 {
				acct = acctB
			}
			atts[i], errs[i] = m.Setup(ctx, Request{TaskID: fmt.Sprintf("c%02d", i), Account: acct, Region: region})
		})
	}
	wg.Wait()
	seen := map[netip.Addr]string{}
	for i, a := range atts {
		if errs[i] != nil {
			t.Fatalf("Setup c%02d: %v", i, errs[i])
		}
		if other, dup := seen[a.IP]; dup {
			t.Errorf("%s and %s share %s", a.TaskID, other, a.IP)
		}
		seen[a.IP] = a.TaskID
		if !a.Prefix.Contains(a.IP) {
			t.Errorf("%s: %s outside %s", a.TaskID, a.IP, a.Prefix)
		}
	}
	// Every task is really wired: the host reaches each one.
	for _, a := range atts {
		listenIn(t, a.NetNSPath, a.TaskID, 8080)
		mustReach(t, "", hostPort(a.IP, 8080), a.TaskID)
	}
	for i := range n {
		wg.Go(func() { errs[i] = m.Teardown(ctx, atts[i].TaskID) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Teardown c%02d: %v", i, err)
		}
	}
}

func TestRecoverAfterRestart(t *testing.T) {
	m, dir := newTestManager(t)
	ctx := context.Background()
	keep := setup(t, m, "keep", acctA)
	lost := setup(t, m, "lost", acctA)
	other := setup(t, m, "other", acctB)

	// The "crash": fargo dies without Close; meanwhile the kernel loses
	// lost's veth and account B's whole task, and a stray netns and veth of
	// the prefix appear that no record claims.
	if err := deleteLink(lost.HostVeth); err != nil {
		t.Fatal(err)
	}
	if err := deleteLink(other.HostVeth); err != nil {
		t.Fatal(err)
	}
	if err := deleteNetNS(other.NetNSPath); err != nil {
		t.Fatal(err)
	}
	stray := filepath.Join(DefaultNetNSDir, testPrefix+"-stray")
	if err := createNetNS(stray); err != nil {
		t.Fatal(err)
	}
	defer deleteNetNS(stray)

	m2, err := New(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Recover(ctx); err != nil {
		t.Fatalf("Recover: %v", err)
	}
	got := m2.Attachments()
	if len(got) != 1 || *got[0] != *keep {
		t.Fatalf("after Recover: %+v, want only %+v", got, keep)
	}
	if isNetNS(stray) || isNetNS(lost.NetNSPath) {
		t.Errorf("orphaned netns survived Recover")
	}
	if l, _ := linkByName(other.Bridge); l != nil {
		t.Errorf("bridge %s of a subnet without tasks survived Recover", other.Bridge)
	}
	// The kept task still works, and lost's address is free again.
	listenIn(t, keep.NetNSPath, "keep", 8080)
	mustReach(t, "", hostPort(keep.IP, 8080), "keep")
	next, err := m2.Setup(ctx, Request{TaskID: "next", Account: acctA, Region: region})
	if err != nil {
		t.Fatal(err)
	}
	if next.IP != lost.IP {
		t.Errorf("next got %s, want lost's released %s", next.IP, lost.IP)
	}
	mustReach(t, next.NetNSPath, hostPort(keep.IP, 8080), "keep")

	// Hand everything to m2; the cleanup of m tears down what m2 knows too
	// (same state, same kernel objects) and checks nothing is left.
	for _, a := range m2.Attachments() {
		if err := m2.Teardown(ctx, a.TaskID); err != nil {
			t.Error(err)
		}
	}
	if err := m2.Close(); err != nil {
		t.Error(err)
	}
	m.mu.Lock()
	m.st = newState()
	m.mu.Unlock()
}

func TestPublishPorts(t *testing.T) {
	m, dir := newTestManager(t)
	ctx := context.Background()
	a := setup(t, m, "web", acctA)
	listenIn(t, a.NetNSPath, "web", 8080)
	var uc *net.UDPConn
	err := inNetNS(a.NetNSPath, func() error {
		var err error
		uc, err = net.ListenUDP("udp4", &net.UDPAddr{Port: 5353})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	defer uc.Close()
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := uc.ReadFromUDP(buf)
			if err != nil {
				return
			}
			uc.WriteToUDP(append([]byte("udp:"), buf[:n]...), from)
		}
	}()

	bs, err := m.PublishPorts(ctx, "web", []PortMapping{
		{HostPort: 0, ContainerPort: 8080},
		{HostPort: 0, ContainerPort: 5353, Protocol: "udp"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 2 || bs[0].HostPort == 0 || bs[0].Protocol != "tcp" || bs[1].HostPort == 0 || bs[1].Protocol != "udp" {
		t.Fatalf("bindings %+v", bs)
	}
	tcpAddr := fmt.Sprintf("127.0.0.1:%d", bs[0].HostPort)
	mustReach(t, "", tcpAddr, "web")
	udpEcho := func() (string, error) {
		c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", bs[1].HostPort))
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("hi")); err != nil {
			return "", err
		}
		buf := make([]byte, 100)
		n, err := c.Read(buf)
		return string(buf[:n]), err
	}
	if got, err := udpEcho(); got != "udp:hi" {
		t.Errorf("udp through the proxy: %q, %v", got, err)
	}
	// Publishing it again (an agent re-adopting the task) answers the
	// same bindings and starts nothing new.
	again, err := m.PublishPorts(ctx, "web", []PortMapping{{HostPort: 0, ContainerPort: 8080}, {HostPort: bs[1].HostPort, ContainerPort: 5353, Protocol: "udp"}})
	if err != nil || len(again) != 2 || again[0] != bs[0] || again[1] != bs[1] {
		t.Errorf("republishing: %+v, %v; want %+v", again, err, bs)
	}
	// A taken host port is a conflict.
	if _, err := m.PublishPorts(ctx, "web", []PortMapping{{HostPort: bs[0].HostPort, ContainerPort: 9090}}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("publishing a taken port: %v, want conflict", err)
	}
	// A task of another account cannot use the published port either.
	b := setup(t, m, "intruder", acctB)
	mustNotReach(t, b.NetNSPath, hostPort(b.Gateway, int(bs[0].HostPort)))

	// Restart: the bindings come back on the same ports.
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := dial("", tcpAddr, shortWait); err == nil {
		t.Errorf("proxy still serving after Close")
	}
	m2, err := New(testConfig(dir))
	if err != nil {
		t.Fatal(err)
	}
	if err := m2.Recover(ctx); err != nil {
		t.Fatal(err)
	}
	mustReach(t, "", tcpAddr, "web")
	if again, err := m2.PublishPorts(ctx, "web", []PortMapping{{ContainerPort: 8080}}); err != nil || len(again) != 1 || again[0] != bs[0] {
		t.Errorf("republishing after Recover: %+v, %v; want %+v", again, err, bs[0])
	}
	for _, id := range []string{"web", "intruder"} {
		if err := m2.Teardown(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := dial("", tcpAddr, shortWait); err == nil {
		t.Errorf("proxy still serving after Teardown")
	}
	if err := m2.Close(); err != nil {
		t.Fatal(err)
	}
	m.mu.Lock()
	m.st, m.closed = newState(), false
	m.mu.Unlock()
}
