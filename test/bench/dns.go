package main

// The DNS benchmark (BENCH=dns, issue 12): dnsperf (Debian) against
// fargo's DNS server answering a Cloud Map service of 8 instances
// (MULTIVALUE A records, from the same code path tasks use: the directory's
// view and the miekg/dns server), beside NSD serving the same zone from a
// zone file, in the same run. Both listen on loopback; dnsperf sends the
// same query (orders.bench.local A) for the same time. Queries/s is
// dnsperf's; p50/p99 come from its per-query latencies (-v).

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/discovery/dnsserver"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var dnsBenchScope = tenant.Scope{Account: "000000000000", Region: "us-east-1"}

type anySource struct{}

func (anySource) ScopeOf(netip.Addr) (tenant.Scope, error) { return dnsBenchScope, nil }

type dnsResult struct {
	qps      float64
	p50, p99 time.Duration
	lost     string
}

func runDNSBenchmark(ctx context.Context, duration time.Duration, clients int) error {
	for _, bin := range []string{"dnsperf", "nsd"} {
		if _, err := exec.LookPath(bin); err != nil {
			return fmt.Errorf("%s is missing (apt-get install dnsperf nsd)", bin)
		}
	}
	tmp, err := os.MkdirTemp("", "fargo-dnsbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// fargo's side: a namespace, a service, 8 instances, in the store.
	st, err := bolt.Open(filepath.Join(tmp, "fargo.db"), bolt.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	dir := discovery.New(discovery.Config{}, st)
	op, err := dir.CreateNamespace(ctx, dnsBenchScope, discovery.NamespaceInput{Name: "bench.local", Type: discovery.TypeDNSPrivate, Vpc: "vpc-1"})
	if err != nil {
		return err
	}
	o, err := dir.GetOperation(ctx, dnsBenchScope, op)
	if err != nil {
		return err
	}
	svc, err := dir.CreateService(ctx, dnsBenchScope, discovery.ServiceInput{Name: "orders", NamespaceID: o.Targets["NAMESPACE"],
		DNS: &discovery.DNSConfig{RoutingPolicy: discovery.Multivalue, Records: []discovery.DNSRecord{{Type: "A", TTL: 60}}}})
	if err != nil {
		return err
	}
	var zone strings.Builder
	zone.WriteString("$ORIGIN bench.local.\n$TTL 60\n@ IN SOA ns1.bench.local. hostmaster.bench.local. 1 7200 900 1209600 15\n@ IN NS ns1.bench.local.\nns1 IN A 127.0.0.1\n")
	for i := 1; i <= 8; i++ {
		ip := fmt.Sprintf("10.0.0.%d", i)
		if _, err := dir.RegisterInstance(ctx, dnsBenchScope, svc.ID, fmt.Sprintf("task%d", i), map[string]string{"AWS_INSTANCE_IPV4": ip}, ""); err != nil {
			return err
		}
		fmt.Fprintf(&zone, "orders IN A %s\n", ip)
	}
	srv := dnsserver.New(dnsserver.Config{Addr: "127.0.0.1:0", Rate: -1, Upstreams: []string{}}, dir, anySource{})
	if err := srv.Start(); err != nil {
		return err
	}
	defer srv.Close()

	// NSD with the same zone.
	nsdPort, err := freeUDPPort()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "bench.local.zone"), []byte(zone.String()), 0o644); err != nil {
		return err
	}
	conf := fmt.Sprintf(`server:
  ip-address: 127.0.0.1@%d
  server-count: 2
  rrl-ratelimit: 0
  username: ""
  chroot: ""
  zonesdir: "%s"
  database: ""
  pidfile: "%s/nsd.pid"
  xfrdfile: "%s/xfrd.state"
  zonelistfile: "%s/zone.list"
  logfile: "%s/nsd.log"
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: bench.local
  zonefile: bench.local.zone
`, nsdPort, tmp, tmp, tmp, tmp, tmp)
	if err := os.WriteFile(filepath.Join(tmp, "nsd.conf"), []byte(conf), 0o644); err != nil {
		return err
	}
	nsd := exec.CommandContext(ctx, "nsd", "-d", "-c", filepath.Join(tmp, "nsd.conf"))
	nsd.Stdout, nsd.Stderr = os.Stderr, os.Stderr
	if err := nsd.Start(); err != nil {
		return err
	}
	defer func() { _ = nsd.Process.Kill(); _ = nsd.Wait() }()
	time.Sleep(time.Second)

	queries := filepath.Join(tmp, "queries")
	if err := os.WriteFile(queries, []byte("orders.bench.local A\n"), 0o644); err != nil {
		return err
	}
	fmt.Printf("DNS benchmark: dnsperf, %d clients, %s per server, orders.bench.local A (8 A records, MULTIVALUE), UDP over loopback, same run\n", clients, duration)
	fmt.Printf("peer: %s (server-count 2, response rate limiting off); fargo: its DNS server in-process (GOMAXPROCS %s)\n\n", nsdVersion(), envOr("GOMAXPROCS", "all CPUs"))
	fmt.Printf("%-8s %10s %9s %9s  %s\n", "server", "queries/s", "p50", "p99", "lost")
	var res [2]dnsResult
	for i, target := range []string{srv.Addr(), fmt.Sprintf("127.0.0.1:%d", nsdPort)} {
		r, err := dnsperf(ctx, target, queries, duration, clients)
		if err != nil {
			return err
		}
		res[i] = r
		fmt.Printf("%-8s %10.0f %9s %9s  %s\n", []string{"fargo", "nsd"}[i], r.qps, r.p50.Round(time.Microsecond), r.p99.Round(time.Microsecond), r.lost)
	}
	ratio := res[0].qps / res[1].qps
	verdict := "meets"
	if ratio < 0.5 {
		verdict = "MISSES"
	}
	fmt.Printf("\nfargo/nsd throughput %.2fx (target >= 0.5x: %s)\n", ratio, verdict)
	return nil
}

var (
	qpsRE  = regexp.MustCompile(`Queries per second:\s+([0-9.]+)`)
	lostRE = regexp.MustCompile(`Queries lost:\s+(.*)`)
	// -v prints one line per answer: "> NOERROR orders.bench.local A 0.000123".
	latRE = regexp.MustCompile(`^> \S+ \S+ \S+ ([0-9.]+)$`)
)

func dnsperf(ctx context.Context, target, queries string, d time.Duration, clients int) (dnsResult, error) {
	host, port, _ := net.SplitHostPort(target)
	cmd := exec.CommandContext(ctx, "dnsperf", "-s", host, "-p", port, "-d", queries, "-l", strconv.Itoa(int(d.Seconds())),
		"-c", strconv.Itoa(clients), "-T", "2", "-q", "500", "-v")
	out, err := cmd.StdoutPipe()
	if err != nil {
		return dnsResult{}, err
	}
	if err := cmd.Start(); err != nil {
		return dnsResult{}, err
	}
	var r dnsResult
	var lats []time.Duration
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if m := latRE.FindStringSubmatch(line); m != nil {
			s, _ := strconv.ParseFloat(m[1], 64)
			lats = append(lats, time.Duration(s*float64(time.Second)))
		} else if m := qpsRE.FindStringSubmatch(line); m != nil {
			r.qps, _ = strconv.ParseFloat(m[1], 64)
		} else if m := lostRE.FindStringSubmatch(line); m != nil {
			r.lost = strings.TrimSpace(m[1])
		}
	}
	if err := cmd.Wait(); err != nil {
		return r, fmt.Errorf("dnsperf against %s: %w", target, err)
	}
	if len(lats) == 0 || r.qps == 0 {
		return r, fmt.Errorf("dnsperf against %s: no answers", target)
	}
	slices.Sort(lats)
	r.p50, r.p99 = lats[len(lats)/2], lats[len(lats)*99/100]
	return r, nil
}

func freeUDPPort() (int, error) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer pc.Close()
	return pc.LocalAddr().(*net.UDPAddr).Port, nil
}

func nsdVersion() string {
	out, _ := exec.Command("nsd", "-v").CombinedOutput()
	if l, _, _ := strings.Cut(string(out), "\n"); l != "" {
		return strings.TrimSpace(l)
	}
	return "NSD"
}
