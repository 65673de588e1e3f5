package agent

import (
	"path/filepath"
	"regexp"
	"strings"
)

// Reasons a tenant sees (a task's stoppedReason, a container's reason)
// never name the host's files: fargo's data directory (its runc and
// container state, image layers, volumes, mount points), netns files,
// cgroups. publicReason keeps an error's message, useful to the tenant
// ("executable file not found", "not a directory"), with each such path
// replaced by "<host path>"; failures that are the host's alone are
// reported with fargo's own fixed text. The error itself always goes to
// fargo's log (runner.fail logs it with the reason).

// hostPath matches an absolute path under a directory that holds host
// state: /run, /sys, /proc, /var, /tmp (up to a space, quote or colon).
var hostPath = regexp.MustCompile(`(^|[\s"'(=,\[])/(?:run|sys|proc|var|tmp)(?:/[^\s"':,)\]]*)?`)

// publicReason is prefix followed by err's message with host paths
// replaced.
func (a *Agent) publicReason(prefix string, err error) string {
	msg := err.Error()
	dataDir := filepath.Dir(filepath.Clean(a.cfg.StateDir))
	if dataDir != "/" && dataDir != "." {
		msg = regexp.MustCompile(regexp.QuoteMeta(dataDir)+`[^\s"':,)\]]*`).ReplaceAllString(msg, "<host path>")
	}
	msg = hostPath.ReplaceAllString(msg, "${1}<host path>")
	return prefix + strings.TrimSpace(msg)
}
