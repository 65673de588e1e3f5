package agent

import (
	"path/filepath"
	"regexp"
	"strings"
)

// Reasons a tenant sees (a task's stoppedReason, a container's reason)
// never name the host's files: fargo's data directory, its runc and
// container state, mount points, netns files, cgroups. An error that
// names one is reported with fargo's own text; the error itself always
// goes to fargo's log (runner.fail logs it with the reason).

// hostPath matches an absolute path under a directory that holds host
// state (/run, /sys, /proc, /var, /tmp) at the start of a word or quoted.
var hostPath = regexp.MustCompile(`(?:^|[\s"'(=:,\[])/(?:run|sys|proc|var|tmp)(?:/|\b)`)

// publicReason is prefix followed by err's message when that names
// nothing of the host, by fallback (fargo's own text) otherwise; a prefix
// ending in ": " with no fallback loses its colon.
func (a *Agent) publicReason(prefix, fallback string, err error) string {
	msg := err.Error()
	dataDir := filepath.Dir(filepath.Clean(a.cfg.StateDir))
	if hostPath.MatchString(msg) || (dataDir != "/" && dataDir != "." && strings.Contains(msg, dataDir)) {
		return strings.TrimSuffix(prefix+fallback, ": ")
	}
	return prefix + msg
}
