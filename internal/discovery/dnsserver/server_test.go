package dnsserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var (
	acctA = tenant.Scope{Account: "111111111111", Region: "us-east-1"}
	acctB = tenant.Scope{Account: "222222222222", Region: "us-east-1"}
)

// sources maps loopback addresses to accounts: 127.0.0.1 is A, 127.0.0.2
// is B, anything else is refused.
type sources map[netip.Addr]tenant.Scope

func (s sources) ScopeOf(ip netip.Addr) (tenant.Scope, error) {
	if sc, ok := s[ip]; ok {
		return sc, nil
	}
	return tenant.Scope{}, fmt.Errorf("unknown source %s", ip)
}

// upstream is a resolver on loopback that answers NXDOMAIN to everything
// and remembers what it was asked.
type upstream struct {
	mu    sync.Mutex
	names []string
	addr  string
}

func (u *upstream) asked(name string) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Contains(u.names, name)
}

func startUpstream(t testing.TB) *upstream {
	u := &upstream{}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u.addr = pc.LocalAddr().String()
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, r *dns.Msg) {
		u.mu.Lock()
		u.names = append(u.names, r.Question[0].Name)
		u.mu.Unlock()
		m := new(dns.Msg).SetRcode(r, dns.RcodeNameError)
		m.RecursionAvailable = true
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return u
}

type fixture struct {
	dir  *discovery.Directory
	srv  *Server
	up   *upstream
	svcs map[string]*discovery.Service
	st   *bolt.Store
	path string
}

func nsID(t testing.TB, d *discovery.Directory, s tenant.Scope, name string) string {
	nss, _, err := d.ListNamespaces(context.Background(), s, []discovery.Filter{{Name: "NAME", Condition: "EQ", Values: []string{name}}}, discovery.Page{})
	if err != nil || len(nss) != 1 {
		t.Fatalf("namespace %s: %v %v", name, nss, err)
	}
	return nss[0].ID
}

func newFixture(t testing.TB, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "fargo.db")
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	d := discovery.New(discovery.Config{}, st)
	f := &fixture{dir: d, svcs: map[string]*discovery.Service{}, st: st, path: path}
	mustOp := func(_ string, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	mustOp(d.CreateNamespace(ctx, acctA, discovery.NamespaceInput{Name: "internal.local", Type: discovery.TypeDNSPrivate, Vpc: "vpc-1"}))
	mustOp(d.CreateNamespace(ctx, acctB, discovery.NamespaceInput{Name: "b.local", Type: discovery.TypeDNSPrivate, Vpc: "vpc-1"}))
	nsA := nsID(t, d, acctA, "internal.local")
	nsB := nsID(t, d, acctB, "b.local")
	mk := func(s tenant.Scope, ns, name, policy string, custom bool, recs ...discovery.DNSRecord) *discovery.Service {
		svc, err := d.CreateService(ctx, s, discovery.ServiceInput{Name: name, NamespaceID: ns, CustomHealth: custom,
			DNS: &discovery.DNSConfig{RoutingPolicy: policy, Records: recs}})
		if err != nil {
			t.Fatal(err)
		}
		if s == acctA {
			f.svcs[name] = svc
		}
		return svc
	}
	orders := mk(acctA, nsA, "orders", discovery.Multivalue, true, discovery.DNSRecord{Type: "A", TTL: 10})
	for i := 1; i <= 10; i++ {
		mustOp(d.RegisterInstance(ctx, acctA, orders.ID, fmt.Sprintf("task%02d", i), map[string]string{"AWS_INSTANCE_IPV4": fmt.Sprintf("10.0.0.%d", i)}, ""))
	}
	pay := mk(acctA, nsA, "pay", discovery.Multivalue, false, discovery.DNSRecord{Type: "SRV", TTL: 20}, discovery.DNSRecord{Type: "A", TTL: 30})
	mustOp(d.RegisterInstance(ctx, acctA, pay.ID, "abc123", map[string]string{"AWS_INSTANCE_IPV4": "10.0.1.1", "AWS_INSTANCE_PORT": "8080"}, ""))
	w := mk(acctA, nsA, "web", discovery.Weighted, false, discovery.DNSRecord{Type: "A", TTL: 5})
	for i := 1; i <= 3; i++ {
		mustOp(d.RegisterInstance(ctx, acctA, w.ID, fmt.Sprintf("w%d", i), map[string]string{"AWS_INSTANCE_IPV4": fmt.Sprintf("10.0.2.%d", i)}, ""))
	}
	mk(acctA, nsA, "empty", discovery.Multivalue, false, discovery.DNSRecord{Type: "A", TTL: 5})
	bsvc := mk(acctB, nsB, "orders", discovery.Multivalue, false, discovery.DNSRecord{Type: "A", TTL: 10})
	mustOp(d.RegisterInstance(ctx, acctB, bsvc.ID, "b1", map[string]string{"AWS_INSTANCE_IPV4": "10.9.9.9"}, ""))

	f.up = startUpstream(t)
	cfg.Addr = "127.0.0.1:0"
	cfg.Upstreams = []string{f.up.addr}
	f.srv = New(cfg, d, sources{netip.MustParseAddr("127.0.0.1"): acctA, netip.MustParseAddr("127.0.0.2"): acctB, netip.MustParseAddr("127.0.0.3"): acctA})
	if err := f.srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.srv.Close() })
	return f
}

// ask sends one query from a loopback source address.
func (f *fixture) ask(t *testing.T, from, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m, err := f.try(from, "udp", name, qtype, 2*time.Second)
	if err != nil {
		t.Fatalf("query %s %s from %s: %v", name, dns.TypeToString[qtype], from, err)
	}
	return m
}

func (f *fixture) try(from, netw, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	var laddr net.Addr = &net.UDPAddr{IP: net.ParseIP(from)}
	if netw == "tcp" {
		laddr = &net.TCPAddr{IP: net.ParseIP(from)}
	}
	c := &dns.Client{Net: netw, Timeout: timeout, Dialer: &net.Dialer{LocalAddr: laddr, Timeout: timeout}}
	q := new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype)
	m, _, err := c.Exchange(q, f.srv.Addr())
	return m, err
}

func addrs(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		switch r := rr.(type) {
		case *dns.A:
			out = append(out, r.A.String())
		case *dns.AAAA:
			out = append(out, r.AAAA.String())
		}
	}
	return out
}

func TestMultivalueAnswersUpToEightHealthy(t *testing.T) {
	f := newFixture(t, Config{})
	m := f.ask(t, "127.0.0.1", "orders.internal.local", dns.TypeA)
	got := addrs(m)
	if m.Rcode != dns.RcodeSuccess || !m.Authoritative || len(got) != 8 {
		t.Fatalf("rcode %d aa %v answers %v", m.Rcode, m.Authoritative, got)
	}
	seen := map[string]bool{}
	for _, a := range got {
		if seen[a] || !netip.MustParsePrefix("10.0.0.0/24").Contains(netip.MustParseAddr(a)) {
			t.Fatalf("answers %v", got)
		}
		seen[a] = true
	}
	if ttl := m.Answer[0].Header().Ttl; ttl != 10 {
		t.Fatalf("TTL %d, want the service's 10", ttl)
	}
	// Case does not matter.
	if got := addrs(f.ask(t, "127.0.0.1", "ORDERS.Internal.Local", dns.TypeA)); len(got) != 8 {
		t.Fatalf("mixed case: %v", got)
	}
}

func TestCustomHealthAndAllUnhealthyFallback(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	for i := 3; i <= 10; i++ {
		if err := f.dir.UpdateInstanceCustomHealthStatus(ctx, acctA, f.svcs["orders"].ID, fmt.Sprintf("task%02d", i), discovery.Unhealthy); err != nil {
			t.Fatal(err)
		}
	}
	got := addrs(f.ask(t, "127.0.0.1", "orders.internal.local", dns.TypeA))
	slices.Sort(got)
	if !slices.Equal(got, []string{"10.0.0.1", "10.0.0.2"}) {
		t.Fatalf("healthy answers %v, want 10.0.0.1 and 10.0.0.2", got)
	}
	for i := 1; i <= 2; i++ {
		if err := f.dir.UpdateInstanceCustomHealthStatus(ctx, acctA, f.svcs["orders"].ID, fmt.Sprintf("task%02d", i), discovery.Unhealthy); err != nil {
			t.Fatal(err)
		}
	}
	if got := addrs(f.ask(t, "127.0.0.1", "orders.internal.local", dns.TypeA)); len(got) != 8 {
		t.Fatalf("all unhealthy: %v, want 8 (Route 53 answers as if all were healthy)", got)
	}
}

func TestWeightedAnswersOne(t *testing.T) {
	f := newFixture(t, Config{})
	seen := map[string]bool{}
	for range 30 {
		got := addrs(f.ask(t, "127.0.0.1", "web.internal.local", dns.TypeA))
		if len(got) != 1 {
			t.Fatalf("weighted: %v", got)
		}
		seen[got[0]] = true
	}
	if len(seen) < 2 {
		t.Fatalf("30 weighted answers all chose %v", seen)
	}
}

func TestSRVWithTargets(t *testing.T) {
	f := newFixture(t, Config{})
	m := f.ask(t, "127.0.0.1", "pay.internal.local", dns.TypeSRV)
	if len(m.Answer) != 1 {
		t.Fatalf("SRV answer %v", m.Answer)
	}
	srv, ok := m.Answer[0].(*dns.SRV)
	if !ok || srv.Port != 8080 || srv.Target != "abc123.pay.internal.local." || srv.Priority != 1 || srv.Weight != 1 || srv.Hdr.Ttl != 20 {
		t.Fatalf("SRV %v", m.Answer[0])
	}
	if len(m.Extra) != 1 || m.Extra[0].(*dns.A).A.String() != "10.0.1.1" || m.Extra[0].Header().Name != srv.Target {
		t.Fatalf("additional %v", m.Extra)
	}
	if got := addrs(f.ask(t, "127.0.0.1", srv.Target, dns.TypeA)); !slices.Equal(got, []string{"10.0.1.1"}) {
		t.Fatalf("target A %v", got)
	}
	if got := addrs(f.ask(t, "127.0.0.1", "pay.internal.local", dns.TypeA)); !slices.Equal(got, []string{"10.0.1.1"}) {
		t.Fatalf("service A %v", got)
	}
}

func TestNXDOMAINAndNODATA(t *testing.T) {
	f := newFixture(t, Config{})
	for _, c := range []struct {
		name  string
		qtype uint16
		rcode int
	}{
		{"nope.internal.local", dns.TypeA, dns.RcodeNameError},
		{"empty.internal.local", dns.TypeA, dns.RcodeNameError}, // no instance, no record
		{"x.orders.internal.local", dns.TypeA, dns.RcodeNameError},
		{"orders.internal.local", dns.TypeAAAA, dns.RcodeSuccess}, // NODATA
		{"orders.internal.local", dns.TypeSRV, dns.RcodeSuccess},  // NODATA
		{"internal.local", dns.TypeA, dns.RcodeSuccess},           // the apex: NODATA
	} {
		m := f.ask(t, "127.0.0.1", c.name, c.qtype)
		if m.Rcode != c.rcode || len(m.Answer) != 0 || !m.Authoritative {
			t.Errorf("%s %s: rcode %s, %d answers, aa %v; want %s and none", c.name, dns.TypeToString[c.qtype], dns.RcodeToString[m.Rcode], len(m.Answer), m.Authoritative, dns.RcodeToString[c.rcode])
			continue
		}
		if len(m.Ns) != 1 {
			t.Errorf("%s: authority %v, want the SOA", c.name, m.Ns)
			continue
		}
		if soa, ok := m.Ns[0].(*dns.SOA); !ok || soa.Hdr.Name != "internal.local." || soa.Minttl != discovery.DefaultSOATTL {
			t.Errorf("%s: authority %v", c.name, m.Ns[0])
		}
	}
	m := f.ask(t, "127.0.0.1", "internal.local", dns.TypeSOA)
	if len(m.Answer) != 1 || m.Answer[0].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("SOA: %v", m.Answer)
	}
	if f.up.asked("nope.internal.local.") {
		t.Fatal("a name of the account's own zone was forwarded")
	}
}

func TestAccountsSeeOnlyTheirNamespaces(t *testing.T) {
	f := newFixture(t, Config{})
	// B's own service resolves for B.
	if got := addrs(f.ask(t, "127.0.0.2", "orders.b.local", dns.TypeA)); !slices.Equal(got, []string{"10.9.9.9"}) {
		t.Fatalf("B's orders: %v", got)
	}
	// A's namespace is no zone of B's: forwarded upstream, which does not know it.
	m := f.ask(t, "127.0.0.2", "orders.internal.local", dns.TypeA)
	if len(m.Answer) != 0 || m.Rcode != dns.RcodeNameError || m.Authoritative {
		t.Fatalf("B asking A's name: rcode %s answers %v aa %v", dns.RcodeToString[m.Rcode], m.Answer, m.Authoritative)
	}
	if !f.up.asked("orders.internal.local.") {
		t.Fatal("B's query for A's name was not forwarded upstream")
	}
	// And the other way round.
	m = f.ask(t, "127.0.0.1", "orders.b.local", dns.TypeA)
	if len(m.Answer) != 0 || m.Authoritative {
		t.Fatalf("A asking B's name: %v", m.Answer)
	}
	// An unknown source is refused.
	if m, err := f.try("127.0.0.9", "udp", "orders.internal.local", dns.TypeA, time.Second); err != nil || m.Rcode != dns.RcodeRefused {
		t.Fatalf("unknown source: %v %v", m, err)
	}
}

func TestForwardsOtherNames(t *testing.T) {
	f := newFixture(t, Config{})
	m := f.ask(t, "127.0.0.1", "example.test", dns.TypeA)
	if m.Rcode != dns.RcodeNameError || !f.up.asked("example.test.") {
		t.Fatalf("forwarded answer %v", m)
	}
	// Over TCP too.
	if m, err := f.try("127.0.0.1", "tcp", "orders.internal.local", dns.TypeA, 2*time.Second); err != nil || len(addrs(m)) != 8 {
		t.Fatalf("tcp: %v %v", m, err)
	}
}

type albNames map[string][]netip.Addr

func (a albNames) LookupName(s tenant.Scope, fqdn string) []netip.Addr {
	if s != acctA {
		return nil
	}
	return a[fqdn]
}

func TestExtraNames(t *testing.T) {
	f := newFixture(t, Config{})
	name := "my-alb-123.us-east-1.elb.amazonaws.com."
	f.srv.SetExtraNames(albNames{name: {netip.MustParseAddr("10.0.5.5")}})
	if got := addrs(f.ask(t, "127.0.0.1", "My-ALB-123.us-east-1.elb.amazonaws.com", dns.TypeA)); !slices.Equal(got, []string{"10.0.5.5"}) {
		t.Fatalf("ALB name: %v", got)
	}
	if got := addrs(f.ask(t, "127.0.0.2", name, dns.TypeA)); len(got) != 0 {
		t.Fatalf("another account resolved the ALB name: %v", got)
	}
}

func TestMalformedQueriesLeaveTheServerAnswering(t *testing.T) {
	f := newFixture(t, Config{})
	conn, err := net.Dial("udp", f.srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range [][]byte{{}, {0x12}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, make([]byte, 9000)} {
		_, _ = conn.Write(junk)
	}
	// Two questions: FORMERR.
	q := new(dns.Msg).SetQuestion("orders.internal.local.", dns.TypeA)
	q.Question = append(q.Question, q.Question[0])
	c := &dns.Client{Timeout: 2 * time.Second}
	if m, _, err := c.Exchange(q, f.srv.Addr()); err != nil || m.Rcode != dns.RcodeFormatError {
		t.Fatalf("two questions: %v %v", m, err)
	}
	if got := addrs(f.ask(t, "127.0.0.1", "orders.internal.local", dns.TypeA)); len(got) != 8 {
		t.Fatalf("after junk: %v", got)
	}
}

func TestFloodFromOneSourceDoesNotStarveOthers(t *testing.T) {
	f := newFixture(t, Config{Rate: 20, Burst: 20})
	answered := 0
	for range 60 {
		if _, err := f.try("127.0.0.3", "udp", "orders.internal.local", dns.TypeA, 50*time.Millisecond); err == nil {
			answered++
		}
	}
	if answered >= 50 || answered < 20 {
		t.Fatalf("the flooding source got %d of 60 answers at 20/s with a burst of 20", answered)
	}
	// Another source still gets its answers at once.
	if got := addrs(f.ask(t, "127.0.0.1", "orders.internal.local", dns.TypeA)); len(got) != 8 {
		t.Fatalf("other source: %v", got)
	}
	// Over TCP the flooding source is told REFUSED.
	if m, err := f.try("127.0.0.3", "tcp", "orders.internal.local", dns.TypeA, time.Second); err != nil || m.Rcode != dns.RcodeRefused {
		t.Fatalf("tcp over the limit: %v %v", m, err)
	}
}

func TestAnswersAfterReopen(t *testing.T) {
	f := newFixture(t, Config{})
	// A fresh directory over the same store answers at once after Load.
	d2 := discovery.New(discovery.Config{}, f.st)
	if err := d2.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	z, rel := d2.View(acctA).FindZone("orders.internal.local.")
	if z == nil || rel != "orders" || len(z.Services["orders"].Instances) != 10 {
		t.Fatalf("view after load: %v %q", z, rel)
	}
	if d2.View(acctB) == nil || d2.View(tenant.Scope{Account: "333333333333", Region: "us-east-1"}) != nil {
		t.Fatal("views of the wrong scopes")
	}
}

// writer is a dns.ResponseWriter for the fuzz target.
type writer struct{ msg *dns.Msg }

func (w *writer) LocalAddr() net.Addr         { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (w *writer) RemoteAddr() net.Addr        { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353} }
func (w *writer) WriteMsg(m *dns.Msg) error   { w.msg = m; return nil }
func (w *writer) Write(b []byte) (int, error) { return len(b), nil }
func (w *writer) Close() error                { return nil }
func (w *writer) TsigStatus() error           { return nil }
func (w *writer) TsigTimersOnly(bool)         {}
func (w *writer) Hijack()                     {}

// FuzzServeDNS feeds arbitrary questions about fargo's zones to the
// answering code: it must never panic, and what it answers must pack.
func FuzzServeDNS(f *testing.F) {
	for _, n := range []string{"orders.internal.local.", "abc123.pay.internal.local.", "internal.local.", "x.y.internal.local.", "."} {
		q := new(dns.Msg).SetQuestion(n, dns.TypeA)
		b, _ := q.Pack()
		f.Add(b)
	}
	srv := newFixture(f, Config{Rate: -1}).srv
	srv.cfg.Upstreams = nil // never forward from the fuzzer
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if err := r.Unpack(b); err != nil {
			return
		}
		w := &writer{}
		srv.ServeDNS(w, r)
		if w.msg != nil {
			if _, err := w.msg.Pack(); err != nil {
				t.Fatalf("answer to %v does not pack: %v", r.Question, err)
			}
		}
	})
}
