// Command bench measures fargo beside a named peer in the same run and
// prints both figures and their ratio (these machines are noisy, so only
// the ratio of two measurements taken side by side means much).
//
// API benchmark: fargo (dev mode, durable bbolt store) against moto's
// server (python3 -m moto.server, in memory), the same SigV4-signed
// requests from N concurrent clients: DescribeTaskDefinition, ListClusters
// and RegisterTaskDefinition.
//
//	go run ./test/bench [-clients 32] [-duration 5s] [-fargo bin/fargo]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

func main() {
	clients := flag.Int("clients", 32, "concurrent clients")
	duration := flag.Duration("duration", 5*time.Second, "measurement time per operation and target")
	fargoBin := flag.String("fargo", "bin/fargo", "fargo binary")
	flag.Parse()
	if err := run(*fargoBin, *clients, *duration); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(fargoBin string, clients int, duration time.Duration) error {
	ctx := context.Background()
	tmp, err := os.MkdirTemp("", "fargo-bench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fargo, err := startProcess(ctx, "fargo", []string{fargoBin, "server", "--dev", "--write-profile=false", "--data-dir", filepath.Join(tmp, "data")}, "FARGO_LISTEN", "/healthz")
	if err != nil {
		return err
	}
	defer fargo.stop()
	moto, err := startProcess(ctx, "moto", []string{"python3", "-m", "moto.server", "-H", "127.0.0.1", "-p"}, "", "/moto-api/")
	if err != nil {
		return fmt.Errorf("%w (moto's server is the peer: pip install 'moto[server]')", err)
	}
	defer moto.stop()

	fmt.Printf("API benchmark: %d concurrent clients, %s per operation, signed requests, same run\n", clients, duration)
	fmt.Printf("peer: moto %s (in memory); fargo: bbolt store, fsync per write\n\n", motoVersion())
	fmt.Printf("%-26s %-6s %10s %9s %9s   %s\n", "operation", "target", "req/s", "p50", "p99", "fargo/moto")
	for _, op := range apiOps() {
		var res [2]result
		for i, target := range []*process{fargo, moto} {
			if err := op.setup(target.url); err != nil {
				return fmt.Errorf("%s setup on %s: %w", op.name, target.name, err)
			}
			res[i], err = load(target.url, op, clients, duration)
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
	}
	return nil
}

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
	default:
		return fmt.Sprintf("%.2fms", float64(d.Microseconds())/1000)
	}
}
