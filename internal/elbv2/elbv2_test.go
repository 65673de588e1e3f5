package elbv2

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var scope = tenant.Scope{Account: "123456789012", Region: "eu-west-1"}

// fakeDataPlane records what it is given and answers health set by the
// test; refusePort makes Apply fail for a listener on that port.
type fakeDataPlane struct {
	mu         sync.Mutex
	last       lb.Config
	applies    int
	health     map[string][]lb.TargetHealth
	refusePort int
}

func (f *fakeDataPlane) Apply(_ context.Context, cfg lb.Config) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, b := range cfg.LoadBalancers {
		for _, l := range b.Listeners {
			if f.refusePort != 0 && l.Port == f.refusePort {
				return fmt.Errorf("listen tcp %s:%d: bind: address already in use", b.Addr, l.Port)
			}
		}
	}
	f.last, f.applies = cfg, f.applies+1
	return nil
}

func (f *fakeDataPlane) Health(tg string) []lb.TargetHealth {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.health[tg]
}

func (f *fakeDataPlane) config() lb.Config {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.last
}

// fakeAddresses hands out 10.99.0.N and remembers who holds what.
type fakeAddresses struct {
	mu   sync.Mutex
	next byte
	held map[string]netip.Addr
}

func (f *fakeAddresses) AcquireAddress(_ context.Context, owner string) (netip.Addr, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.held == nil {
		f.held = map[string]netip.Addr{}
	}
	f.next++
	a := netip.AddrFrom4([4]byte{10, 99, 0, f.next})
	f.held[owner] = a
	return a, nil
}

func (f *fakeAddresses) ReleaseAddress(_ context.Context, owner string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.held, owner)
	return nil
}

type fixture struct {
	path  string
	st    store.Store
	sv    *Service
	dp    *fakeDataPlane
	addrs *fakeAddresses
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{path: filepath.Join(t.TempDir(), "fargo.db"), dp: &fakeDataPlane{health: map[string][]lb.TargetHealth{}}, addrs: &fakeAddresses{}}
	f.open(t)
	t.Cleanup(func() { f.close(t) })
	return f
}

func (f *fixture) open(t *testing.T) {
	t.Helper()
	st, err := bolt.Open(f.path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.st = st
	f.sv = New(Config{DataPlane: f.dp, Addresses: f.addrs, ProvisioningTime: time.Millisecond,
		TargetPrefixes: []netip.Prefix{netip.MustParsePrefix("10.218.0.0/16")}}, st)
	if err := f.sv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) close(t *testing.T) {
	t.Helper()
	if f.sv != nil {
		if err := Check(context.Background(), f.st); err != nil {
			t.Errorf("the records disagree:\n%v", err)
		}
		f.sv.Close()
		_ = f.st.Close()
		f.sv = nil
	}
}

// reopen is a restart: a new service over the same file.
func (f *fixture) reopen(t *testing.T) {
	t.Helper()
	f.close(t)
	f.open(t)
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
}

func ptr[T any](v T) *T { return &v }

// basic makes a load balancer, an ip target group and an HTTP listener
// on port 80 forwarding to it.
func (f *fixture) basic(t *testing.T) (*LoadBalancer, *TargetGroup, *Listener) {
	t.Helper()
	ctx := context.Background()
	b, err := f.sv.CreateLoadBalancer(ctx, scope, LoadBalancerSpec{Name: "web", Subnets: []string{"subnet-1", "subnet-2"}})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := f.sv.CreateTargetGroup(ctx, scope, TargetGroupSpec{Name: "web-tg", Protocol: "HTTP", Port: ptr(8080), VpcID: b.VpcID, TargetType: "ip",
		HealthCheck: HealthCheckSpec{Path: ptr("/health")}})
	if err != nil {
		t.Fatal(err)
	}
	l, err := f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTP", Port: 80,
		DefaultActions: []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}})
	if err != nil {
		t.Fatal(err)
	}
	return b, tg, l
}

func TestLoadBalancerNames(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, typ, code string
	}{
		{strings.Repeat("a", 33), "", CodeValidation},
		{"internal-web", "", CodeValidation},
		{"-web", "", CodeValidation},
		{"web-", "", CodeValidation},
		{"web_1", "", CodeValidation},
		{"", "", CodeValidation},
		{"nlb", "network", CodeOperationNotPermitted},
		{"gwlb", "gateway", CodeOperationNotPermitted},
		{"x", "classic", CodeValidation},
	} {
		_, err := f.sv.CreateLoadBalancer(ctx, scope, LoadBalancerSpec{Name: tc.name, Type: tc.typ, Subnets: []string{"subnet-1"}})
		wantCode(t, err, tc.code)
	}
	b, err := f.sv.CreateLoadBalancer(ctx, scope, LoadBalancerSpec{Name: strings.Repeat("a", 32), Subnets: []string{"subnet-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(b.DNSName, strings.Repeat("a", 32)+"-") || !strings.HasSuffix(b.DNSName, ".eu-west-1.elb.amazonaws.com") {
		t.Fatalf("DNS name %s", b.DNSName)
	}
	if b.Addr != f.addrs.held[b.ARN] || !b.Addr.IsValid() {
		t.Fatalf("address %v, allocator holds %v", b.Addr, f.addrs.held)
	}
	if len(f.addrs.held) != 1 {
		t.Fatalf("failed creations must not hold addresses: %v", f.addrs.held)
	}
	if err := f.sv.DeleteLoadBalancer(ctx, scope, b.ARN); err != nil {
		t.Fatal(err)
	}
	if len(f.addrs.held) != 0 {
		t.Fatalf("delete did not give the address back: %v", f.addrs.held)
	}
}

func TestListenersAndPriorities(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, tg, l := f.basic(t)
	_, err := f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTP", Port: 80,
		DefaultActions: []Action{{Type: ActionFixedResponse, FixedResponse: &FixedResponseConfig{StatusCode: "404"}}}})
	wantCode(t, err, CodeDuplicateListener)
	same, err := f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTP", Port: 80,
		DefaultActions: []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}})
	if err != nil || same.ARN != l.ARN {
		t.Fatalf("the same listener again: %v %v, want %s", same, err, l.ARN)
	}
	_, err = f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "TCP", Port: 81})
	wantCode(t, err, CodeIncompatibleProtocols)

	path := []Condition{{Field: FieldPathPattern, Values: []string{"/api/*"}}}
	fwd := []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}
	r10, err := f.sv.CreateRule(ctx, scope, l.ARN, 10, path, fwd, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.sv.CreateRule(ctx, scope, l.ARN, 10, path, fwd, nil)
	wantCode(t, err, CodePriorityInUse)
	_, err = f.sv.CreateRule(ctx, scope, l.ARN, 50001, path, fwd, nil)
	wantCode(t, err, CodeValidation)
	_, err = f.sv.CreateRule(ctx, scope, l.ARN, 11, []Condition{{Field: FieldSourceIP, Values: []string{"not-a-cidr"}}}, fwd, nil)
	wantCode(t, err, CodeValidation)
	r20, err := f.sv.CreateRule(ctx, scope, l.ARN, 20, []Condition{{Field: FieldRequestMethod, Values: []string{"POST"}}},
		[]Action{{Type: ActionRedirect, Redirect: &RedirectConfig{Protocol: "HTTPS", StatusCode: "HTTP_301"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// A swap in one call is fine; moving onto a taken priority is not.
	if _, err := f.sv.SetRulePriorities(ctx, scope, []RulePriority{{r10.ARN, 20}, {r20.ARN, 10}}); err != nil {
		t.Fatal(err)
	}
	_, err = f.sv.SetRulePriorities(ctx, scope, []RulePriority{{r10.ARN, 10}})
	wantCode(t, err, CodePriorityInUse)
	rules, err := f.sv.DescribeRules(ctx, scope, l.ARN, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) != 3 || rules[0].ARN != r20.ARN || rules[1].ARN != r10.ARN || !rules[2].IsDefault {
		t.Fatalf("rules after the swap: %+v", rules)
	}
	wantCode(t, f.sv.DeleteRule(ctx, scope, rules[2].ARN), CodeOperationNotPermitted)

	// The data plane got the rules in evaluation order, default last.
	cfg := f.dp.config()
	if len(cfg.LoadBalancers) != 1 || len(cfg.LoadBalancers[0].Listeners) != 1 {
		t.Fatalf("data plane config %+v", cfg)
	}
	got := cfg.LoadBalancers[0].Listeners[0].Rules
	if len(got) != 3 || got[0].Priority != 10 || got[0].Actions[0].Redirect.StatusCode != 301 || got[1].Priority != 20 || !got[2].IsDefault ||
		got[2].Actions[0].Forward.TargetGroups[0].ARN != tg.ARN {
		t.Fatalf("data plane rules %+v", got)
	}
	if cfg.LoadBalancers[0].Addr != b.Addr || cfg.LoadBalancers[0].IdleTimeout != 60*time.Second {
		t.Fatalf("data plane load balancer %+v", cfg.LoadBalancers[0])
	}
	if len(cfg.TargetGroups) != 1 || cfg.TargetGroups[0].HealthCheck.Path != "/health" || cfg.TargetGroups[0].HealthCheck.Interval != 30*time.Second ||
		cfg.TargetGroups[0].DeregistrationDelay != 300*time.Second {
		t.Fatalf("data plane target groups %+v", cfg.TargetGroups)
	}

	wantCode(t, f.sv.DeleteTargetGroup(ctx, scope, tg.ARN), CodeResourceInUse)
	if err := f.sv.DeleteListener(ctx, scope, l.ARN); err != nil {
		t.Fatal(err)
	}
	if err := f.sv.DeleteTargetGroup(ctx, scope, tg.ARN); err != nil {
		t.Fatalf("a group no listener uses any more: %v", err)
	}
}

// TestListenerPortRefused: when the data plane cannot bind the port, the
// listener is not created (nothing half-created).
func TestListenerPortRefused(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, tg, _ := f.basic(t)
	f.dp.refusePort = 8081
	_, err := f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTP", Port: 8081,
		DefaultActions: []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}})
	wantCode(t, err, CodeInvalidConfigurationRequest)
	ls, err := f.sv.DescribeListeners(ctx, scope, b.ARN, nil)
	if err != nil || len(ls) != 1 {
		t.Fatalf("listeners after a refused one: %v %+v", err, ls)
	}
	if n := len(f.dp.config().LoadBalancers[0].Listeners); n != 1 {
		t.Fatalf("the data plane keeps %d listeners", n)
	}
	// Moving the listener onto the refused port is undone too.
	_, err = f.sv.ModifyListener(ctx, scope, ls[0].ARN, ListenerSpec{Port: 8081})
	wantCode(t, err, CodeInvalidConfigurationRequest)
	ls, _ = f.sv.DescribeListeners(ctx, scope, b.ARN, nil)
	if ls[0].Port != 80 || f.dp.config().LoadBalancers[0].Listeners[0].Port != 80 {
		t.Fatalf("after a refused move: %+v", ls[0])
	}
}

func TestTargetHealthStates(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, tg, _ := f.basic(t)
	if err := f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.2"}, {ID: "10.218.1.3", Port: 9000}}); err != nil {
		t.Fatal(err)
	}
	wantCode(t, f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "192.168.1.1"}}), CodeInvalidTarget)
	wantCode(t, f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "i-123"}}), CodeInvalidTarget)
	f.dp.mu.Lock()
	f.dp.health[tg.ARN] = []lb.TargetHealth{
		{TargetGroupARN: tg.ARN, Target: lb.Target{ID: "10.218.1.2", Port: 8080}, State: lb.StateHealthy},
		{TargetGroupARN: tg.ARN, Target: lb.Target{ID: "10.218.1.3", Port: 9000}, State: lb.StateUnhealthy,
			Reason: lb.ReasonResponseCodeMismatch, Description: "Health checks failed with these codes: [500]"},
	}
	f.dp.mu.Unlock()
	hs, err := f.sv.DescribeTargetHealth(ctx, scope, tg.ARN, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 || hs[0].State != "healthy" || hs[0].Reason != "" || hs[0].HealthCheckPort != "8080" ||
		hs[1].State != "unhealthy" || hs[1].Reason != "Target.ResponseCodeMismatch" {
		t.Fatalf("health %+v", hs)
	}
	// A target the data plane does not know yet is initial.
	if err := f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.4"}}); err != nil {
		t.Fatal(err)
	}
	hs, _ = f.sv.DescribeTargetHealth(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.4"}, {ID: "10.218.1.9"}})
	if hs[0].State != "initial" || hs[0].Reason != "Elb.RegistrationInProgress" || hs[1].State != "unused" || hs[1].Reason != "Target.NotRegistered" {
		t.Fatalf("health %+v", hs)
	}
	cfg := f.dp.config()
	if n := len(cfg.TargetGroups[0].Targets); n != 3 {
		t.Fatalf("data plane targets: %d", n)
	}
}

// TestDrainingSurvivesRestart: a draining target is still draining after
// a restart, and removed once its deadline passes, whether the deadline
// passes while fargo runs or while it is down.
func TestDrainingSurvivesRestart(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, tg, _ := f.basic(t)
	if _, err := f.sv.ModifyTargetGroupAttributes(ctx, scope, tg.ARN, []Attribute{{"deregistration_delay.timeout_seconds", "2"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.2"}, {ID: "10.218.1.3"}}); err != nil {
		t.Fatal(err)
	}
	d, err := f.sv.DeregisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.2"}})
	if err != nil || d != 2*time.Second {
		t.Fatalf("deregister: %v %v", d, err)
	}
	_, err = f.sv.DeregisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.77"}})
	wantCode(t, err, CodeInvalidTarget)
	cfg := f.dp.config()
	var draining int
	for _, tt := range cfg.TargetGroups[0].Targets {
		if tt.Draining {
			draining++
		}
	}
	if draining != 1 {
		t.Fatalf("the data plane sees %d draining targets", draining)
	}

	f.reopen(t) // a restart within the delay
	hs, err := f.sv.DescribeTargetHealth(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.2"}})
	if err != nil || hs[0].State != "draining" || hs[0].Reason != "Target.DeregistrationInProgress" {
		t.Fatalf("after the restart: %+v %v", hs, err)
	}
	waitGone := func(id string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			hs, _ := f.sv.DescribeTargetHealth(ctx, scope, tg.ARN, []Target{{ID: id}})
			if hs[0].Reason == "Target.NotRegistered" {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("%s still registered after its drain", id)
	}
	waitGone("10.218.1.2")

	// The deadline passes while fargo is down: Start removes it.
	if _, err := f.sv.DeregisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.3"}}); err != nil {
		t.Fatal(err)
	}
	f.close(t)
	time.Sleep(2100 * time.Millisecond)
	f.open(t)
	waitGone("10.218.1.3")
}

// TestRestartKeepsEverything: every record comes back after a reopen, and
// Start pushes them to the data plane.
func TestRestartKeepsEverything(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, tg, l := f.basic(t)
	if _, err := f.sv.CreateRule(ctx, scope, l.ARN, 5, []Condition{{Field: FieldHostHeader, Values: []string{"a.example.com"}, Legacy: true}},
		[]Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}, []Tag{{"k", "v"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.2"}}); err != nil {
		t.Fatal(err)
	}
	if err := f.sv.AddTags(ctx, scope, []string{b.ARN, tg.ARN}, []Tag{{"team", "web"}}); err != nil {
		t.Fatal(err)
	}
	f.dp.last = lb.Config{}
	f.reopen(t)
	cfg := f.dp.config()
	if len(cfg.LoadBalancers) != 1 || len(cfg.LoadBalancers[0].Listeners[0].Rules) != 2 || len(cfg.TargetGroups[0].Targets) != 1 {
		t.Fatalf("after the restart the data plane got %+v", cfg)
	}
	lbs, err := f.sv.DescribeLoadBalancers(ctx, scope, []string{b.ARN}, nil)
	if err != nil || lbs[0].State(time.Now()) != StateActive || lbs[0].Addr != b.Addr {
		t.Fatalf("after the restart: %+v %v", lbs, err)
	}
	tags, err := f.sv.DescribeTags(ctx, scope, []string{b.ARN, tg.ARN})
	if err != nil || len(tags) != 2 || tags[1].Tags[0].Key != "team" {
		t.Fatalf("tags %+v %v", tags, err)
	}
}

func TestHTTPSListenerCertificate(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, tg, _ := f.basic(t)
	cert := "arn:aws:acm:eu-west-1:123456789012:certificate/web"
	_, err := f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTPS", Port: 443, Certificates: []string{cert},
		DefaultActions: []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}})
	if err != nil {
		t.Fatal(err)
	}
	var https *lb.Listener
	for i, l := range f.dp.config().LoadBalancers[0].Listeners {
		if l.Port == 443 {
			https = &f.dp.config().LoadBalancers[0].Listeners[i]
		}
	}
	if https == nil || len(https.Certificates) != 1 || https.Certificates[0].Leaf == nil && len(https.Certificates[0].Certificate) == 0 {
		t.Fatalf("HTTPS listener %+v", https)
	}
	_, err = f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTPS", Port: 8443, Certificates: []string{"arn:aws:iam::1:server-certificate/x"},
		DefaultActions: []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}})
	wantCode(t, err, CodeCertificateNotFound)
	_, err = f.sv.CreateListener(ctx, scope, ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTPS", Port: 8443, Certificates: []string{cert}, SslPolicy: "nope",
		DefaultActions: []Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}})
	wantCode(t, err, CodeSSLPolicyNotFound)

	ls, _ := f.sv.DescribeListeners(ctx, scope, b.ARN, nil)
	var httpsARN string
	for _, l := range ls {
		if l.Port == 443 {
			httpsARN = l.ARN
		}
	}
	second := "arn:aws:acm:eu-west-1:123456789012:certificate/api"
	if _, err := f.sv.AddListenerCertificates(ctx, scope, httpsARN, []string{second}); err != nil {
		t.Fatal(err)
	}
	for _, l := range f.dp.config().LoadBalancers[0].Listeners {
		if l.Port == 443 && len(l.Certificates) != 2 {
			t.Fatalf("the data plane has %d certificates for 443", len(l.Certificates))
		}
	}
	wantCode(t, f.sv.RemoveListenerCertificates(ctx, scope, httpsARN, []string{cert}), CodeOperationNotPermitted)
	if err := f.sv.RemoveListenerCertificates(ctx, scope, httpsARN, []string{second}); err != nil {
		t.Fatal(err)
	}
	if sgs, err := f.sv.SetSecurityGroups(ctx, scope, b.ARN, []string{"sg-1", "sg-2"}); err != nil || len(sgs) != 2 {
		t.Fatalf("SetSecurityGroups: %v %v", sgs, err)
	}
	_, err = f.sv.SetIPAddressType(ctx, scope, b.ARN, "dualstack")
	wantCode(t, err, CodeInvalidConfigurationRequest)
}

func TestTargetGroupValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	vpc := defaultVPC(scope)
	for _, tc := range []struct {
		spec TargetGroupSpec
		code string
	}{
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", VpcID: vpc}, CodeValidation},                                // no port
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(0), VpcID: vpc}, CodeValidation},                  // bad port
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80)}, CodeValidation},                             // no VPC
		{TargetGroupSpec{Name: "a", Protocol: "TCP", Port: ptr(80), VpcID: vpc}, CodeInvalidConfigurationRequest}, // NLB protocol
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, TargetType: "lambda"}, CodeInvalidConfigurationRequest},
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, HealthCheck: HealthCheckSpec{Matcher: ptr("200-199")}}, CodeValidation},
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, HealthCheck: HealthCheckSpec{Path: ptr("health")}}, CodeValidation},
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, HealthCheck: HealthCheckSpec{HealthyThreshold: ptr(11)}}, CodeValidation},
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, HealthCheck: HealthCheckSpec{Port: ptr("http")}}, CodeValidation},
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, Tags: []Tag{{"aws:x", "1"}}}, CodeValidation},
		{TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc, Tags: []Tag{{"x", "1"}, {"x", "2"}}}, CodeDuplicateTagKeys},
	} {
		_, err := f.sv.CreateTargetGroup(ctx, scope, tc.spec)
		wantCode(t, err, tc.code)
	}
	tg, err := f.sv.CreateTargetGroup(ctx, scope, TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc})
	if err != nil {
		t.Fatal(err)
	}
	if tg.TargetType != "instance" || tg.HealthCheck != (HealthCheck{Enabled: true, Protocol: "HTTP", Path: "/", Port: "traffic-port", IntervalSeconds: 30,
		TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"}) {
		t.Fatalf("defaults %+v", tg)
	}
	again, err := f.sv.CreateTargetGroup(ctx, scope, TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(80), VpcID: vpc})
	if err != nil || again.ARN != tg.ARN {
		t.Fatalf("create twice with the same settings: %v %v", again, err)
	}
	_, err = f.sv.CreateTargetGroup(ctx, scope, TargetGroupSpec{Name: "a", Protocol: "HTTP", Port: ptr(81), VpcID: vpc})
	wantCode(t, err, CodeDuplicateTargetGroupName)
	// Another scope sees nothing.
	other := tenant.Scope{Account: "210987654321", Region: "eu-west-1"}
	_, err = f.sv.DescribeTargetGroups(ctx, other, "", []string{tg.ARN}, nil)
	wantCode(t, err, CodeTargetGroupNotFound)
}

// TestCheckFindsDanglingRecords: Check reports a listener whose load
// balancer is gone and a registration of a missing group.
func TestCheckFindsDanglingRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, tg, _ := f.basic(t)
	if err := f.sv.RegisterTargets(ctx, scope, tg.ARN, []Target{{ID: "10.218.1.2"}}); err != nil {
		t.Fatal(err)
	}
	if err := Check(ctx, f.st); err != nil {
		t.Fatalf("a consistent store: %v", err)
	}
	if _, err := f.st.Delete(ctx, lbKey(scope, b.Name)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.st.Delete(ctx, tgKey(scope, tg.Name)); err != nil {
		t.Fatal(err)
	}
	err := Check(ctx, f.st)
	if err == nil || !strings.Contains(err.Error(), "its load balancer") || !strings.Contains(err.Error(), "targets/web-tg/10.218.1.2/8080: its target group") {
		t.Fatalf("Check: %v", err)
	}
	// Put them back so that the cleanup's check passes.
	if err := f.st.Close(); err != nil {
		t.Fatal(err)
	}
	f.sv.Close()
	f.sv = nil
}

// TestLookupName: a load balancer's DNSName resolves to its address, in
// its own scope only, whatever the case and the trailing dot.
func TestLookupName(t *testing.T) {
	sv := newFixture(t).sv
	ctx := context.Background()
	lb, err := sv.CreateLoadBalancer(ctx, scope, LoadBalancerSpec{Name: "web", Subnets: []string{"subnet-1"}})
	if err != nil {
		t.Fatal(err)
	}
	if !lb.Addr.IsValid() {
		t.Fatalf("load balancer without an address: %+v", lb)
	}
	for _, name := range []string{lb.DNSName, strings.ToUpper(lb.DNSName) + "."} {
		if got := sv.LookupName(scope, name); len(got) != 1 || got[0] != lb.Addr {
			t.Fatalf("LookupName(%q) = %v, want [%v]", name, got, lb.Addr)
		}
	}
	other := tenant.Scope{Account: "210987654321", Region: scope.Region}
	if got := sv.LookupName(other, lb.DNSName); len(got) != 0 {
		t.Fatalf("another account resolved %s: %v", lb.DNSName, got)
	}
	if got := sv.LookupName(scope, "orders.internal.local"); len(got) != 0 {
		t.Fatalf("a name that is no load balancer's resolved: %v", got)
	}
}
