package main

// Load balancer benchmark (BENCH=lb): requests/s and p50/p99 through
// fargo's ALB data plane (internal/lb, the same lb.Manager fargo runs, in a
// harness process of this binary) to two backends, beside HAProxy
// (Debian's haproxy, its own instance with a generated configuration:
// round robin, keep-alive to the same two backends, X-Forwarded-For and
// -Proto added as the ALB does) and beside hitting one backend directly.
// Backends are the floor server (an empty Go handler). Every server runs
// on the server CPUs, the load generator on its own (pin.go); 32
// keep-alive connections by default, one request in flight each.

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fargo-run/fargo/internal/lb"
)

// lbServerSubcommand makes the bench binary run an lb.Manager: a load
// balancer on FARGO_LISTEN forwarding to the backends given as arguments.
const lbServerSubcommand = "lb-server"

// The load balancer benchmark's targets (issue 10).
const (
	lbRPSTarget      = 1.0 // x HAProxy's requests/s
	lbAddedP99Target = time.Millisecond
)

func serveLB() int {
	ap, err := netip.ParseAddrPort(os.Getenv("FARGO_LISTEN"))
	if err != nil {
		fmt.Fprintln(os.Stderr, "lb-server: FARGO_LISTEN:", err)
		return 2
	}
	tg := lb.TargetGroup{ARN: "tg", Protocol: "HTTP", Port: 80, TargetType: "ip",
		HealthCheck: lb.HealthCheck{Enabled: true, Protocol: "HTTP", Path: "/", Interval: 5 * time.Second,
			Timeout: 2 * time.Second, HealthyThreshold: 2, UnhealthyThreshold: 2, Matcher: "200"}}
	for _, b := range os.Args[2:] {
		bp, err := netip.ParseAddrPort(b)
		if err != nil {
			fmt.Fprintln(os.Stderr, "lb-server: backend:", err)
			return 2
		}
		tg.Targets = append(tg.Targets, lb.Target{ID: bp.Addr().String(), Addr: bp.Addr(), Port: int(bp.Port())})
	}
	cfg := lb.Config{
		LoadBalancers: []lb.LoadBalancer{{ARN: "lb", Addr: ap.Addr(), IdleTimeout: 60 * time.Second,
			Listeners: []lb.Listener{{ARN: "listener", Port: int(ap.Port()), Protocol: "HTTP",
				Rules: []lb.Rule{{ARN: "default", IsDefault: true, Actions: []lb.Action{{Type: "forward",
					Forward: &lb.Forward{TargetGroups: []lb.WeightedTargetGroup{{ARN: "tg", Weight: 1}}}}}}}}}}},
		TargetGroups: []lb.TargetGroup{tg},
	}
	if path := os.Getenv("BENCH_LB_CPUPROFILE"); path != "" {
		if f, err := os.Create(path); err == nil {
			_ = pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	m := lb.New(lb.ManagerConfig{})
	defer m.Close()
	if err := m.Apply(context.Background(), cfg); err != nil {
		fmt.Fprintln(os.Stderr, "lb-server:", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return 0
}

// freeAddr returns a loopback address with a port nothing listens on.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startHAProxy runs haproxy in the foreground with a configuration for
// the two backends.
func startHAProxy(ctx context.Context, split cpuSplit, dir string, backends []string) (*process, error) {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		return nil, fmt.Errorf("haproxy not found (the peer: apt-get install haproxy)")
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	var servers strings.Builder
	for i, b := range backends {
		fmt.Fprintf(&servers, "  server s%d %s\n", i+1, b)
	}
	_, port, _ := net.SplitHostPort(addr)
	conf := fmt.Sprintf(`global
  maxconn 4096
  nbthread %d
defaults
  mode http
  timeout connect 10s
  timeout client 60s
  timeout server 60s
  timeout http-request 20s
  option http-keep-alive
  option forwardfor
  http-reuse always
frontend fe
  bind %s
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Port %s
  default_backend be
backend be
  balance roundrobin
%s`, max(len(split.server), 1), addr, port, servers.String())
	path := filepath.Join(dir, "haproxy.cfg")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		return nil, err
	}
	argv := split.serverArgv([]string{bin, "-db", "-f", path})
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start haproxy: %w", err)
	}
	p := &process{name: "haproxy", url: "http://" + addr, cmd: cmd}
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if resp, err := http.Get(p.url + "/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p, nil
			}
		}
	}
	p.stop()
	return nil, fmt.Errorf("haproxy did not start: %s", logs.String())
}

// processCPU is the user and system CPU time p has used so far (0 for
// nil): the proxy's own cost, which the noise of a shared machine does not
// change much, unlike requests/s.
func processCPU(p *process) time.Duration {
	if p == nil || p.cmd.Process == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name (which may hold spaces): utime and
	// stime are the 12th and 13th.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * time.Second / 100 // USER_HZ
}

func haproxyVersion() string {
	out, err := exec.Command("haproxy", "-v").Output()
	if err != nil {
		return "?"
	}
	first, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimSpace(first)
}

// runLBBenchmark measures direct, fargo's load balancer and HAProxy in one
// run.
func runLBBenchmark(clients int, duration time.Duration) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "fargo-bench-lb")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	self, err := os.Executable()
	if err != nil {
		return err
	}
	split := newCPUSplit()
	var backends []string
	for range 2 {
		p, err := startProcess(ctx, "backend", split.serverArgv([]string{self, floorSubcommand}), "FARGO_LISTEN", "/")
		if err != nil {
			return err
		}
		defer p.stop()
		backends = append(backends, strings.TrimPrefix(p.url, "http://"))
	}
	fargoLB, err := startProcess(ctx, "fargo-lb", split.serverArgv(append([]string{self, lbServerSubcommand}, backends...)), "FARGO_LISTEN", "/")
	if err != nil {
		return err
	}
	defer fargoLB.stop()
	hap, err := startHAProxy(ctx, split, tmp, backends)
	if err != nil {
		return err
	}
	defer hap.stop()

	fmt.Printf("Load balancer benchmark: %d keep-alive connections, %s per target, GET / of %d bytes from an empty Go handler\n",
		clients, duration, len(floorBody))
	fmt.Printf("fargo: lb.Manager (internal/lb), health checks on; peer: %s, round robin, keep-alive (http-reuse always), forwardfor\n", haproxyVersion())
	fmt.Printf("%s; 1s warm-up per target, not measured\n\n", split.describe())
	fmt.Printf("%-22s %10s %9s %9s %10s   %s\n", "target", "req/s", "p50", "p99", "proxy CPU", "")
	targets := []struct {
		name, host string
		proxy      *process
	}{
		{"direct (one backend)", backends[0], nil},
		{"fargo lb (2 backends)", strings.TrimPrefix(fargoLB.url, "http://"), fargoLB},
		{"haproxy (2 backends)", strings.TrimPrefix(hap.url, "http://"), hap},
	}
	res := make([]result, len(targets))
	cpuPerReq := make([]time.Duration, len(targets))
	for i, tg := range targets {
		req, _ := http.NewRequest(http.MethodGet, "http://"+tg.host+"/", nil)
		raw, err := wireBytes(req)
		if err != nil {
			return err
		}
		ok := func(status int, body []byte) error {
			if status != http.StatusOK || len(body) != len(floorBody) {
				return fmt.Errorf("status %d, %d bytes", status, len(body))
			}
			return nil
		}
		var cpu0, cpu1 time.Duration
		split.onClientCPUs(func() {
			if _, err = rawLoad(tg.host, [][]byte{raw}, clients, time.Second, ok); err == nil {
				cpu0 = processCPU(tg.proxy)
				res[i], err = rawLoad(tg.host, [][]byte{raw}, clients, duration, ok)
				cpu1 = processCPU(tg.proxy)
			}
		})
		if n := res[i].rps * duration.Seconds(); n > 0 {
			cpuPerReq[i] = time.Duration(float64(cpu1-cpu0) / n)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tg.name, err)
		}
	}
	for i, tg := range targets {
		note := ""
		switch i {
		case 1:
			note = fmt.Sprintf("%.2fx haproxy req/s, p99 +%s over direct, %.2fx haproxy's CPU per request",
				res[1].rps/res[2].rps, fmtDur(res[1].p99-res[0].p99), float64(cpuPerReq[1])/float64(max(cpuPerReq[2], 1)))
		case 2:
			note = fmt.Sprintf("p99 +%s over direct", fmtDur(res[2].p99-res[0].p99))
		}
		cpu := "-"
		if tg.proxy != nil {
			cpu = fmtDur(cpuPerReq[i]) + "/req"
		}
		fmt.Printf("%-22s %10.0f %9s %9s %10s   %s\n", tg.name, res[i].rps, fmtDur(res[i].p50), fmtDur(res[i].p99), cpu, note)
		if res[i].errors > 0 {
			fmt.Printf("%-22s errors: %d\n", "", res[i].errors)
		}
	}
	ratio, added := res[1].rps/res[2].rps, res[1].p99-res[0].p99
	fmt.Printf("\ntargets: >= %.1fx haproxy's req/s: %.2fx, %s; p99 added over direct < %s at %d connections: %s, %s\n",
		lbRPSTarget, ratio, regVerdict(ratio >= lbRPSTarget), fmtDur(lbAddedP99Target), clients, fmtDur(added),
		regVerdict(added < lbAddedP99Target))
	return nil
}
