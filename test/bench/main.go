// Command bench measures fargo beside a named peer in the same run and
// prints both figures and their ratio (these machines are noisy, so only
// the ratio of two measurements taken side by side means much).
//
// API benchmark: fargo (dev mode, durable bbolt store) against moto's
// server (python3 -m moto.server, in memory), the same SigV4-signed
// requests from N concurrent clients: DescribeTaskDefinition, ListClusters
// and RegisterTaskDefinition. Each client is one keep-alive connection
// replaying requests signed before the clock starts (load.go); server and
// generator run on CPUs of their own (pin.go), and an empty Go handler
// measured the same way (floor.go) shows the latency no server goes below
// on the machine.
//
// Task benchmarks (tasks.go, services.go; root and runc, else skipped):
// real tasks run by fargo's agent. Task start (RunTask to RUNNING and to
// the app answering HTTP) beside raw `runc run -d` of the same binary;
// a service's create and rolling update beside a stated lower bound; and
// fargo's idle CPU with the service steady beside its target (< 2%).
//
// Open files (fds.go, BENCH=fds; also at the end of the task benchmarks):
// fargo's open files and heap under 2,000 idle keep-alive connections to
// the task metadata endpoint (from a task's netns) and to the API, beside
// the same figures without them. No peer: fargo-only figures, with its
// connection limits in force.
//
// Registry benchmark (registry.go): fargo's /v2/ registry beside the CNCF
// distribution registry (Debian docker-registry), and the raw disk.
//
// Load balancer benchmark (lb.go, BENCH=lb): fargo's ALB data plane to two
// backends beside HAProxy (Debian haproxy) and beside one backend hit
// directly.
//
//	go run ./test/bench [-bench all|api|tasks|start|fds|registry|lb] [-clients 32] [-duration 5s] [-fargo bin/fargo]
//	                    [-task-runs 50] [-service-tasks 100] [-idle 20s]
//
// The environment sets the defaults of -bench (BENCH) and -service-tasks
// (BENCH_SERVICE_TASKS); BENCH_BIG_MB is the registry's big layer (1024).
package main

import (
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == floorSubcommand {
		os.Exit(serveFloor())
	}
	if len(os.Args) > 1 && os.Args[1] == lbServerSubcommand {
		os.Exit(serveLB())
	}
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 5*time.Second, "measurement time per operation and target")
	fargoBin := flag.String("fargo", "bin/fargo", "fargo binary (API benchmark; the task benchmarks build their own)")
	which := flag.String("bench", envOr("BENCH", "all"), "benchmarks to run: all, api, tasks, start (task start only), fds (open files under idle connections), registry, lb (load balancer), dns or metrics (env BENCH)")
	var tc taskConfig
	flag.IntVar(&tc.runs, "task-runs", 50, "sequential task starts (fargo and runc each; issue 4: p50 and p99 over 50)")
	defTasks, err := strconv.Atoi(envOr("BENCH_SERVICE_TASKS", "100"))
	if err != nil || defTasks < 1 {
		fmt.Fprintln(os.Stderr, "bench: BENCH_SERVICE_TASKS must be a positive number")
		os.Exit(2)
	}
	flag.IntVar(&tc.serviceTasks, "service-tasks", defTasks, "desired count of the benchmarked service (env BENCH_SERVICE_TASKS)")
	flag.DurationVar(&tc.idle, "idle", 20*time.Second, "idle CPU sample")
	flag.Parse()
	tc.startOnly = *which == "start"
	tc.fdsOnly = *which == "fds"
	api, tasks := *which == "all" || *which == "api", *which == "all" || *which == "tasks" || tc.startOnly || tc.fdsOnly
	reg := *which == "all" || *which == "registry"
	lbBench := *which == "all" || *which == "lb"
	dnsBench := *which == "all" || *which == "dns"
	cw := *which == "all" || *which == "metrics"
	if !api && !tasks && !reg && !lbBench && !dnsBench && !cw || tc.runs < 1 || tc.serviceTasks < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if api {
		if err := run(*fargoBin, *clients, *duration); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if tasks {
		// A Ctrl-C ends the measurement, not the cleanup: the service is
		// deleted and fargo stopped gracefully.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := runTaskBenchmarks(ctx, tc); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			stop()
			os.Exit(1)
		}
	}
	if dnsBench {
		if err := runDNSBenchmark(context.Background(), *duration, *clients); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if cw {
		if err := runMetricsBenchmark(*fargoBin, *clients, *duration); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
	if reg {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		defer stop()
		if err := runRegistryBenchmarks(ctx, *fargoBin, *clients); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			stop()
			os.Exit(1)
		}
	}
	if lbBench {
		if err := runLBBenchmark(*clients, *duration); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(fargoBin string, clients int, duration time.Duration) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "fargo-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	// No agent: the API benchmark runs no task, and an agent with the
	// default network prefix would take the host's fgo-* netns and links
	// (another fargo's, on a shared machine) for its own orphans.
	split := newCPUSplit()
	fargo, err := startProcess(ctx, "fargo", split.serverArgv([]string{fargoBin, "server", "--dev", "--write-profile=false", "--no-agent",
		"--data-dir", filepath.Join(tmp, "data")}), "FARGO_LISTEN", "/healthz")
	if err != nil {
		return err
	}
	defer fargo.stop()
	moto, err := startProcess(ctx, "moto", split.serverArgv([]string{"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p"}), "", "/moto-api/")
	if err != nil {
		return fmt.Errorf("%w (moto's server is the peer: pip install 'moto[server]')", err)
	}
	defer moto.stop()

	fmt.Printf("API benchmark: %d concurrent clients, %s per operation, signed requests, same run\n", clients, duration)
	fmt.Printf("peer: moto %s (in memory); fargo: bbolt store, fsync per write\n", motoVersion())
	fmt.Printf("%s; requests signed before the clock starts; 1s warm-up per operation, not measured\n\n", split.describe())
	fmt.Printf("%-26s %-6s %10s %9s %9s   %s\n", "operation", "target", "req/s", "p50", "p99", "fargo/moto")
	readRatio, writeRatio, readP99 := math.Inf(1), math.Inf(1), time.Duration(0)
	for _, op := range apiOps() {
		var res [2]result
		for i, target := range []*process{fargo, moto} {
			if err := op.setup(target.url); err != nil {
				return fmt.Errorf("%s setup on %s: %w", op.name, target.name, err)
			}
			// A second of the same load first, not measured: connections,
			// caches and the heap settle, as in any server's steady state.
			split.onClientCPUs(func() {
				if _, err = load(target.url, op, clients, time.Second); err == nil {
					res[i], err = load(target.url, op, clients, duration)
				}
			})
			if err != nil {
				return fmt.Errorf("%s on %s: %w", op.name, target.name, err)
			}
		}
		for i, name := range []string{"fargo", "moto"} {
			ratio := ""
			if i == 0 && res[1].rps > 0 {
				ratio = fmt.Sprintf("%.1fx throughput", res[0].rps/res[1].rps)
			}
			fmt.Printf("%-26s %-6s %10.0f %9s %9s   %s\n", op.name, name, res[i].rps, fmtDur(res[i].p50), fmtDur(res[i].p99), ratio)
		}
		if res[0].errors+res[1].errors > 0 {
			fmt.Printf("%-26s errors: fargo %d, moto %d\n", "", res[0].errors, res[1].errors)
		}
		if op.write {
			writeRatio = min(writeRatio, res[0].rps/res[1].rps)
		} else {
			readRatio, readP99 = min(readRatio, res[0].rps/res[1].rps), max(readP99, res[0].p99)
		}
	}
	reqs, err := signedRequests(fargo.url, apiOps()[1])
	if err != nil {
		return err
	}
	floor, _, err := measureFloor(split, reqs, clients, duration, 0)
	if err != nil {
		return fmt.Errorf("floor: %w", err)
	}
	fmt.Printf("%-26s %-6s %10.0f %9s %9s   %s\n", "empty Go handler", "floor", floor.rps, fmtDur(floor.p50), fmtDur(floor.p99),
		"no server answers faster here")
	fmt.Printf("\ntargets: reads >= %.0fx moto: %.0fx, %s; read p99 < %s at %d clients: %s, %s (floor %s); writes >= %.0fx moto: %.0fx, %s\n",
		apiReadTarget, readRatio, regVerdict(readRatio >= apiReadTarget), fmtDur(apiP99Target), clients, fmtDur(readP99),
		regVerdict(readP99 < apiP99Target), fmtDur(floor.p99), apiWriteTarget, writeRatio, regVerdict(writeRatio >= apiWriteTarget))
	return nil
}

// The API benchmark's targets (issue 2), on this 2-core machine.
const (
	apiReadTarget  = 50.0 // reads, x moto's throughput
	apiWriteTarget = 10.0 // durable writes, x moto's
	apiP99Target   = 5 * time.Millisecond
)

func motoVersion() string {
	out, err := exec.Command("python3", "-c", "import moto; print(moto.__version__)").Output()
	if err != nil {
		return "?"
	}
	return string(out[:len(out)-1])
}

func fmtDur(d time.Duration) string {
	switch {
	case d < time.Millisecond:
		return fmt.Sprintf("%dµs", d.Microseconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	default:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	}
}
