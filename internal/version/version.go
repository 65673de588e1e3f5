// Package version reports fargo's version, set at build time with
// -ldflags "-X github.com/fargo-run/fargo/internal/version.Version=...".
package version

import "runtime/debug"

// Version is the release version; "dev" for local builds.
var Version = "dev"

// String returns the version and, when known, the VCS revision.
func String() string {
	s := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, kv := range bi.Settings {
			if kv.Key == "vcs.revision" && len(kv.Value) >= 12 {
				s += " (" + kv.Value[:12] + ")"
			}
		}
	}
	return s
}
