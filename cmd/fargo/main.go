// Command fargo is the AWS container stack in one binary: see README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/fargo-run/fargo/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx)
	stop()
	os.Exit(code)
}
