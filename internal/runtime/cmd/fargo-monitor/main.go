// Command fargo-monitor is the container monitor of package runtime as a
// binary of its own: the same MonitorMain as `fargo runtime-monitor`, but
// without the package initialisation of all of fargo, so that each
// running container costs about 0.8 MiB of private memory instead of
// 2.5 MiB (see the package runtime documentation). Point
// runtime.Config.MonitorCommand at it:
//
//	MonitorCommand: []string{"/usr/lib/fargo/fargo-monitor"}
package main

import (
	"os"

	"github.com/fargo-run/fargo/internal/runtime"
)

func main() {
	os.Exit(runtime.MonitorMain(os.Args[1:]))
}
