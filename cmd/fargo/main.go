// Command fargo is the AWS container stack in one binary: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fargo-run/fargo/internal/cli"
	"github.com/fargo-run/fargo/internal/runtime"
)

func main() {
	// The container monitor re-executes this binary: it must not set up
	// signal handling or anything else first (see internal/runtime).
	if len(os.Args) > 1 && os.Args[1] == runtime.MonitorSubcommand {
		os.Exit(runtime.MonitorMain(os.Args[2:]))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx)
	stop()
	os.Exit(code)
}
