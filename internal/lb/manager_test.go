package lb

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

var loopback = netip.MustParseAddr("127.0.0.1")

// backend is a target: an httptest server that says who it is and echoes
// what the load balancer added.
type backend struct {
	name   string
	srv    *httptest.Server
	port   int
	health atomic.Int32 // status of /health
	hits   atomic.Int64
}

func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b := &backend{name: name}
	b.health.Store(200)
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/health":
			w.WriteHeader(int(b.health.Load()))
			return
		case "/hang":
			<-r.Context().Done()
			return
		case "/reset":
			c, _, _ := w.(http.Hijacker).Hijack()
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		}
		b.hits.Add(1)
		for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Port", "X-Amzn-Trace-Id"} {
			w.Header().Set("Seen-"+h, strings.Join(r.Header.Values(h), "|"))
		}
		w.Header().Set("Seen-Host", r.Host)
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s", b.name, r.URL.RequestURI(), body)
	}))
	t.Cleanup(b.srv.Close)
	b.port = b.srv.Listener.Addr().(*net.TCPAddr).Port
	return b
}

func (b *backend) target() Target {
	return Target{ID: "127.0.0.1", Addr: loopback, Port: b.port}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func fastHC() HealthCheck {
	return HealthCheck{Enabled: true, Protocol: "HTTP", Path: "/health", Interval: 40 * time.Millisecond,
		Timeout: 300 * time.Millisecond, HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200-299"}
}

func tgOf(arn string, bs ...*backend) TargetGroup {
	tg := TargetGroup{ARN: arn, Protocol: "HTTP", Port: 80, TargetType: "ip", HealthCheck: fastHC()}
	for _, b := range bs {
		tg.Targets = append(tg.Targets, b.target())
	}
	return tg
}

func forwardTo(arns ...string) []Action {
	f := &Forward{}
	for _, a := range arns {
		f.TargetGroups = append(f.TargetGroups, WeightedTargetGroup{ARN: a, Weight: 1})
	}
	return []Action{{Type: "forward", Forward: f}}
}

func oneLB(port int, idle time.Duration, rules []Rule, tgs ...TargetGroup) Config {
	return Config{
		LoadBalancers: []LoadBalancer{{ARN: "lb-1", Addr: loopback, IdleTimeout: idle,
			Listeners: []Listener{{ARN: "listener-1", Port: port, Protocol: "HTTP", Rules: rules}}}},
		TargetGroups: tgs,
	}
}

type healthLog struct {
	mu  sync.Mutex
	all []TargetHealth
}

func (h *healthLog) add(th TargetHealth) { h.mu.Lock(); h.all = append(h.all, th); h.mu.Unlock() }

func (h *healthLog) states(port int) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, th := range h.all {
		if th.Target.Port == port {
			out = append(out, th.State+"/"+th.Reason)
		}
	}
	return out
}

func newManager(t *testing.T, cfg ManagerConfig) *Manager {
	t.Helper()
	m := New(cfg)
	t.Cleanup(func() { m.Close() })
	return m
}

func apply(t *testing.T, m *Manager, cfg Config) {
	t.Helper()
	if err := m.Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// waitHealth waits until every listed target port has the state.
func waitHealth(t *testing.T, m *Manager, tg string, want map[int]string) []TargetHealth {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		hs := m.Health(tg)
		ok := true
		for port, st := range want {
			found := false
			for _, h := range hs {
				if h.Target.Port == port {
					found = true
					ok = ok && h.State == st
				}
			}
			ok = ok && found
		}
		if ok {
			return hs
		}
		if time.Now().After(deadline) {
			t.Fatalf("target group %s: health %+v, want %v", tg, hs, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestForwardBalancesAndSetsHeaders(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	hl := &healthLog{}
	m := newManager(t, ManagerConfig{OnHealth: hl.add})
	port := freePort(t)
	apply(t, m, oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tgOf("tg", a, b)))
	waitHealth(t, m, "tg", map[int]string{a.port: StateHealthy, b.port: StateHealthy})
	if got := hl.states(a.port); len(got) < 2 || got[0] != "initial/Elb.RegistrationInProgress" || got[len(got)-1] != "healthy/" {
		t.Errorf("health changes reported for a: %v", got)
	}

	url := "http://127.0.0.1:" + strconv.Itoa(port)
	seen := map[string]int{}
	for range 20 {
		resp, body := get(t, http.DefaultClient, url+"/x?y=1", "X-Forwarded-For", "203.0.113.9")
		if resp.StatusCode != 200 {
			t.Fatalf("status %d: %s", resp.StatusCode, body)
		}
		seen[strings.Fields(body)[0]]++
		if !strings.HasSuffix(body, " /x?y=1 ") {
			t.Errorf("body %q", body)
		}
		if got := resp.Header.Get("Seen-X-Forwarded-For"); got != "203.0.113.9, 127.0.0.1" {
			t.Errorf("X-Forwarded-For %q", got)
		}
		if got := resp.Header.Get("Seen-X-Forwarded-Proto"); got != "http" {
			t.Errorf("X-Forwarded-Proto %q", got)
		}
		if got := resp.Header.Get("Seen-X-Forwarded-Port"); got != strconv.Itoa(port) {
			t.Errorf("X-Forwarded-Port %q", got)
		}
		if got := resp.Header.Get("Seen-X-Amzn-Trace-Id"); !regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`).MatchString(got) {
			t.Errorf("X-Amzn-Trace-Id %q", got)
		}
		if got := resp.Header.Get("Seen-Host"); got != "127.0.0.1:"+strconv.Itoa(port) {
			t.Errorf("Host %q, want the client's", got)
		}
	}
	if seen["a"] != 10 || seen["b"] != 10 {
		t.Errorf("round robin: %v", seen)
	}
}

func TestHealthChecksFailOpenAndDraining(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	rules := []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}
	apply(t, m, oneLB(port, 0, rules, tgOf("tg", a, b)))
	waitHealth(t, m, "tg", map[int]string{a.port: StateHealthy, b.port: StateHealthy})
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"

	// b fails its checks: unhealthy with AWS's reason, no traffic.
	b.health.Store(500)
	hs := waitHealth(t, m, "tg", map[int]string{b.port: StateUnhealthy})
	for _, h := range hs {
		if h.Target.Port == b.port && (h.Reason != ReasonResponseCodeMismatch || h.Description != "Health checks failed with these codes: [500]") {
			t.Errorf("unhealthy b: %+v", h)
		}
	}
	b.hits.Store(0)
	for range 10 {
		if resp, body := get(t, http.DefaultClient, url); resp.StatusCode != 200 || !strings.HasPrefix(body, "a ") {
			t.Fatalf("with b unhealthy: %d %q", resp.StatusCode, body)
		}
	}

	// Both fail: fail open, both get traffic.
	a.health.Store(503)
	waitHealth(t, m, "tg", map[int]string{a.port: StateUnhealthy, b.port: StateUnhealthy})
	seen := map[string]bool{}
	for range 10 {
		_, body := get(t, http.DefaultClient, url)
		seen[strings.Fields(body)[0]] = true
	}
	if !seen["a"] || !seen["b"] {
		t.Errorf("fail open reached %v", seen)
	}

	// b recovers after HealthyThreshold checks; a is drained: no new
	// request for a, state draining; health of b carried over Apply.
	b.health.Store(200)
	waitHealth(t, m, "tg", map[int]string{b.port: StateHealthy})
	tg := tgOf("tg", a, b)
	tg.Targets[0].Draining = true
	apply(t, m, oneLB(port, 0, rules, tg))
	hs = m.Health("tg")
	if hs[0].State != StateDraining || hs[0].Reason != ReasonDeregistrationInProgress || hs[1].State != StateHealthy {
		t.Fatalf("after drain: %+v", hs)
	}
	a.health.Store(200)
	for range 10 {
		if _, body := get(t, http.DefaultClient, url); !strings.HasPrefix(body, "b ") {
			t.Fatalf("draining target got %q", body)
		}
	}
	// All draining: 503.
	tg.Targets[1].Draining = true
	apply(t, m, oneLB(port, 0, rules, tg))
	if resp, body := get(t, http.DefaultClient, url); resp.StatusCode != 503 || !strings.Contains(body, "<h1>503 Service Temporarily Unavailable</h1>") && !strings.Contains(body, "503") {
		t.Fatalf("all draining: %d %q", resp.StatusCode, body)
	}
}

func TestUnusedAndDisabledHealth(t *testing.T) {
	a := newBackend(t, "a")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	fixed := []Action{{Type: "fixed-response", Fixed: &FixedResponse{StatusCode: 200, Body: "ok"}}}
	tgOff := tgOf("tg-off", a)
	tgOff.HealthCheck.Enabled = false
	apply(t, m, oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: fixed}}, tgOf("tg", a), tgOff))
	if hs := m.Health("tg"); len(hs) != 1 || hs[0].State != StateUnused || hs[0].Reason != ReasonNotInUse {
		t.Fatalf("unused group: %+v", hs)
	}
	// Now used: initial, then healthy. Health checks disabled: unavailable
	// and served.
	apply(t, m, oneLB(port, 0, []Rule{
		{ARN: "r1", Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/off"}}}, Actions: forwardTo("tg-off")},
		{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tgOf("tg", a), tgOff))
	waitHealth(t, m, "tg", map[int]string{a.port: StateHealthy})
	if hs := m.Health("tg-off"); hs[0].State != StateUnavailable || hs[0].Reason != ReasonHealthCheckDisabled {
		t.Fatalf("disabled: %+v", hs)
	}
	if resp, body := get(t, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(port)+"/off"); resp.StatusCode != 200 || !strings.HasPrefix(body, "a ") {
		t.Fatalf("to the group without health checks: %d %q", resp.StatusCode, body)
	}
	if m.Health("nope") != nil {
		t.Error("unknown target group has health")
	}
}

func TestRulesActions(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	rules := []Rule{
		{ARN: "r1", Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/old/*"}}},
			Actions: []Action{{Type: "redirect", Redirect: &Redirect{Path: "/new/#{path}", StatusCode: 301}}}},
		{ARN: "r2", Priority: 2, Conditions: []Condition{{Field: "host-header", Values: []string{"b.example.*"}}}, Actions: forwardTo("tg-b")},
		{ARN: "r3", Priority: 3, Conditions: []Condition{{Field: "http-header", HeaderName: "X-Maint", Values: []string{"on"}}},
			Actions: []Action{{Type: "fixed-response", Fixed: &FixedResponse{StatusCode: 503, ContentType: "application/json", Body: `{"maintenance":true}`}}}},
		{ARN: "r4", Priority: 4, Conditions: []Condition{{Field: "query-string", Query: []KeyValue{{Key: "v", Value: "2"}}}, {Field: "http-request-method", Values: []string{"GET"}}}, Actions: forwardTo("tg-b")},
		{ARN: "r5", Priority: 5, Conditions: []Condition{{Field: "source-ip", Values: []string{"192.0.2.0/24"}}}, Actions: forwardTo("tg-b")},
		{ARN: "default", IsDefault: true, Actions: forwardTo("tg-a")},
	}
	apply(t, m, oneLB(port, 0, rules, tgOf("tg-a", a), tgOf("tg-b", b)))
	waitHealth(t, m, "tg-a", map[int]string{a.port: StateHealthy})
	waitHealth(t, m, "tg-b", map[int]string{b.port: StateHealthy})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	resp, _ := get(t, noRedirect, base+"/old/x/y?q=1")
	if resp.StatusCode != 301 || resp.Header.Get("Location") != base+"/new/old/x/y?q=1" {
		t.Errorf("redirect: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.Host = "b.example.com"
	r2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r2.Body)
	r2.Body.Close()
	if !strings.HasPrefix(string(body), "b ") {
		t.Errorf("host rule: %q", body)
	}
	resp, got := get(t, http.DefaultClient, base+"/", "X-Maint", "ON")
	if resp.StatusCode != 503 || got != `{"maintenance":true}` || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("fixed response: %d %q %q", resp.StatusCode, got, resp.Header.Get("Content-Type"))
	}
	if _, got := get(t, http.DefaultClient, base+"/p?v=2"); !strings.HasPrefix(got, "b ") {
		t.Errorf("query rule: %q", got)
	}
	preq, _ := http.NewRequest("POST", base+"/p?v=2", strings.NewReader("data"))
	presp, err := http.DefaultClient.Do(preq)
	if err != nil {
		t.Fatal(err)
	}
	pbody, _ := io.ReadAll(presp.Body)
	presp.Body.Close()
	if string(pbody) != "a /p?v=2 data" {
		t.Errorf("POST falls to the default rule with its body: %q", pbody)
	}
	if _, got := get(t, http.DefaultClient, base+"/"); !strings.HasPrefix(got, "a ") {
		t.Errorf("default: %q", got)
	}
}

func TestWeightsAndStickiness(t *testing.T) {
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	sticky := tgOf("tg-bc", b, c)
	sticky.Stickiness = time.Hour
	rules := []Rule{{ARN: "default", IsDefault: true, Actions: []Action{{Type: "forward", Forward: &Forward{
		TargetGroups: []WeightedTargetGroup{{ARN: "tg-a", Weight: 0}, {ARN: "tg-bc", Weight: 10}}}}}}}
	apply(t, m, oneLB(port, 0, rules, tgOf("tg-a", a), sticky))
	waitHealth(t, m, "tg-bc", map[int]string{b.port: StateHealthy, c.port: StateHealthy})
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	resp, body := get(t, http.DefaultClient, url)
	first := strings.Fields(body)[0]
	if first == "a" {
		t.Fatal("weight 0 group got a request")
	}
	var cookie string
	for _, sc := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(sc, "AWSALB=") {
			cookie = strings.SplitN(sc, ";", 2)[0]
		}
	}
	if cookie == "" {
		t.Fatalf("no AWSALB cookie: %v", resp.Header.Values("Set-Cookie"))
	}
	for range 10 {
		if _, body := get(t, http.DefaultClient, url, "Cookie", cookie); strings.Fields(body)[0] != first {
			t.Fatalf("sticky session moved from %s: %q", first, body)
		}
	}
	// Weights 1:1 reach both groups.
	rules[0].Actions[0].Forward.TargetGroups[0].Weight = 10
	apply(t, m, oneLB(port, 0, rules, tgOf("tg-a", a), sticky))
	waitHealth(t, m, "tg-a", map[int]string{a.port: StateHealthy})
	seen := map[string]bool{}
	for range 60 {
		_, body := get(t, http.DefaultClient, url)
		seen[strings.Fields(body)[0]] = true
	}
	if !seen["a"] || !(seen["b"] || seen["c"]) {
		t.Errorf("weighted 1:1 reached %v", seen)
	}
}

func TestErrorsFromTargets(t *testing.T) {
	a := newBackend(t, "a")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	dead := freePort(t) // nothing listens there
	tgDead := TargetGroup{ARN: "tg-dead", Protocol: "HTTP", HealthCheck: HealthCheck{Enabled: false},
		Targets: []Target{{ID: "127.0.0.1", Addr: loopback, Port: dead}}}
	tgEmpty := TargetGroup{ARN: "tg-empty", Protocol: "HTTP", HealthCheck: fastHC()}
	rules := []Rule{
		{ARN: "r1", Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/dead"}}}, Actions: forwardTo("tg-dead")},
		{ARN: "r2", Priority: 2, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/empty"}}}, Actions: forwardTo("tg-empty")},
		{ARN: "default", IsDefault: true, Actions: forwardTo("tg")},
	}
	apply(t, m, oneLB(port, 300*time.Millisecond, rules, tgOf("tg", a), tgDead, tgEmpty))
	waitHealth(t, m, "tg", map[int]string{a.port: StateHealthy})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	for _, tc := range []struct {
		path string
		code int
	}{{"/dead", 502}, {"/empty", 503}, {"/reset", 502}, {"/hang", 504}} {
		start := time.Now()
		resp, body := get(t, http.DefaultClient, base+tc.path)
		if resp.StatusCode != tc.code || resp.Header.Get("Server") != "awselb/2.0" ||
			!strings.Contains(body, "<center><h1>"+strconv.Itoa(tc.code)+" ") {
			t.Errorf("%s: %d %q server %q, want %d", tc.path, resp.StatusCode, body, resp.Header.Get("Server"), tc.code)
		}
		if tc.path == "/hang" && time.Since(start) > 2*time.Second {
			t.Errorf("hanging target held the request %v (idle timeout 300ms)", time.Since(start))
		}
	}
}

func TestApplyReconciles(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	m := newManager(t, ManagerConfig{})
	port, port2 := freePort(t), freePort(t)
	cfg := oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg-a")}}, tgOf("tg-a", a), tgOf("tg-b", b))
	apply(t, m, cfg)
	waitHealth(t, m, "tg-a", map[int]string{a.port: StateHealthy})

	// One keep-alive connection across an Apply that changes the rule: the
	// same connection gets the new rule.
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, n, addr string) (net.Conn, error) {
		dials.Add(1)
		return (&net.Dialer{}).DialContext(ctx, n, addr)
	}}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	if _, body := get(t, c, url); !strings.HasPrefix(body, "a ") {
		t.Fatalf("before: %q", body)
	}
	cfg.LoadBalancers[0].Listeners[0].Rules = []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg-b")}}
	apply(t, m, cfg)
	waitHealth(t, m, "tg-b", map[int]string{b.port: StateHealthy})
	if _, body := get(t, c, url); !strings.HasPrefix(body, "b ") {
		t.Fatalf("after: %q", body)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("%d connections, want the same one kept", n)
	}

	// A second listener whose port is taken: the error names it, the first
	// keeps serving. Then the port frees up and the next Apply opens it.
	taken, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port2))
	if err != nil {
		t.Fatal(err)
	}
	cfg.LoadBalancers[0].Listeners = append(cfg.LoadBalancers[0].Listeners, Listener{ARN: "listener-2", Port: port2, Protocol: "HTTP",
		Rules: []Rule{{ARN: "d2", IsDefault: true, Actions: []Action{{Type: "fixed-response", Fixed: &FixedResponse{StatusCode: 200, Body: "two"}}}}}})
	err = m.Apply(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "listener-2") || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("Apply with a taken port: %v", err)
	}
	if _, body := get(t, c, url); !strings.HasPrefix(body, "b ") {
		t.Fatalf("first listener after the failed one: %q", body)
	}
	taken.Close()
	apply(t, m, cfg)
	if _, body := get(t, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(port2)+"/"); body != "two" {
		t.Fatalf("second listener: %q", body)
	}

	// Listener removed: its port is closed; Apply is idempotent.
	cfg.LoadBalancers[0].Listeners = cfg.LoadBalancers[0].Listeners[:1]
	apply(t, m, cfg)
	apply(t, m, cfg)
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port2), time.Second); err == nil {
		conn.Close()
		t.Error("removed listener still accepts")
	}
	// Load balancer removed: nothing listens, target groups unused.
	apply(t, m, Config{TargetGroups: cfg.TargetGroups})
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
		conn.Close()
		t.Error("removed load balancer still accepts")
	}
	if hs := m.Health("tg-b"); hs[0].State != StateUnused {
		t.Errorf("after removal: %+v", hs)
	}
}

func TestHealthCheckPortPathAndTimeout(t *testing.T) {
	a, hcSrv := newBackend(t, "a"), newBackend(t, "hc")
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Second)
	}))
	defer slow.Close()
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	// The check goes to another port (hcSrv's) and path; the traffic to a.
	tg := tgOf("tg", a)
	tg.HealthCheck.Port = hcSrv.port
	tg.HealthCheck.Path = "/status"
	tg.HealthCheck.Matcher = "200,204"
	hcSrv.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/status" || r.Header.Get("User-Agent") != "ELB-HealthChecker/2.0" {
			w.WriteHeader(404)
			return
		}
		w.WriteHeader(int(hcSrv.health.Load()))
	})
	tgSlow := TargetGroup{ARN: "tg-slow", Protocol: "HTTP", HealthCheck: fastHC(),
		Targets: []Target{{ID: "127.0.0.1", Addr: loopback, Port: slow.Listener.Addr().(*net.TCPAddr).Port}}}
	apply(t, m, oneLB(port, 0, []Rule{
		{ARN: "r1", Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/slow"}}}, Actions: forwardTo("tg-slow")},
		{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tg, tgSlow))
	hcSrv.health.Store(204)
	waitHealth(t, m, "tg", map[int]string{a.port: StateHealthy})
	hcSrv.health.Store(202)
	hs := waitHealth(t, m, "tg", map[int]string{a.port: StateUnhealthy})
	if hs[0].Description != "Health checks failed with these codes: [202]" {
		t.Errorf("unhealthy: %+v", hs[0])
	}
	hs = waitHealth(t, m, "tg-slow", map[int]string{tgSlow.Targets[0].Port: StateUnhealthy})
	if hs[0].Reason != ReasonTimeout || hs[0].Description != "Request timed out" {
		t.Errorf("slow target: %+v", hs[0])
	}
}

func TestIdleTargetConnectionsSwept(t *testing.T) {
	defer func(p time.Duration) { poolSweepPeriod = p }(poolSweepPeriod)
	poolSweepPeriod = 50 * time.Millisecond
	a := newBackend(t, "a")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	tg := tgOf("tg", a)
	tg.HealthCheck.Enabled = false
	apply(t, m, oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tg))
	if resp, _ := get(t, http.DefaultClient, "http://127.0.0.1:"+strconv.Itoa(port)+"/"); resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	idle := func() int {
		m.pool.mu.Lock()
		defer m.pool.mu.Unlock()
		n := 0
		for _, l := range m.pool.idle {
			n += len(l)
		}
		return n
	}
	if idle() != 1 {
		t.Fatalf("%d idle target connections, want 1", idle())
	}
	// The target closes its side (it stops, or its keep-alive ends): the
	// pool lets go of the connection without being asked for it.
	a.srv.CloseClientConnections()
	deadline := time.Now().Add(2 * time.Second)
	for idle() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("closed target connection still pooled")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRollingUpdateLosesNothing replays what ECS does to a service's
// targets during a rolling update, under load: the new target is
// registered, becomes healthy, the old one drains, stops, is removed. No
// request may fail.
func TestRollingUpdateLosesNothing(t *testing.T) {
	old, next := newBackend(t, "old"), newBackend(t, "new")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	rules := []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}
	apply(t, m, oneLB(port, 0, rules, tgOf("tg", old)))
	waitHealth(t, m, "tg", map[int]string{old.port: StateHealthy})

	url := "http://127.0.0.1:" + strconv.Itoa(port) + "/"
	stop := make(chan struct{})
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			tr := &http.Transport{}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr, Timeout: 5 * time.Second}
			for {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := c.Get(url)
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		})
	}
	time.Sleep(100 * time.Millisecond)
	both := tgOf("tg", old, next)
	apply(t, m, oneLB(port, 0, rules, both))
	waitHealth(t, m, "tg", map[int]string{next.port: StateHealthy})
	time.Sleep(100 * time.Millisecond)
	both.Targets[0].Draining = true
	apply(t, m, oneLB(port, 0, rules, both))
	time.Sleep(200 * time.Millisecond) // the deregistration delay
	old.srv.Close()                    // the old task stops
	apply(t, m, oneLB(port, 0, rules, tgOf("tg", next)))
	time.Sleep(200 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failed.Load() != 0 || ok.Load() < 20 || next.hits.Load() == 0 {
		t.Fatalf("%d requests failed (first: %v), %d succeeded, %d reached the new target", failed.Load(), firstErr.Load(), ok.Load(), next.hits.Load())
	}
	t.Logf("%d requests, none failed", ok.Load())
}
