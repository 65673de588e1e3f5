package control

import (
	"time"

	"github.com/fargo-run/fargo/internal/node"
)

// applyChange merges a state change into the task at time now and reports whether
// anything changed.
func applyChange(t *Task, ch TaskStateChange, now time.Time) bool {
	changed := false
	set := func(dst *string, v string) {
		if v != "" && *dst != v {
			*dst, changed = v, true
		}
	}
	stamp := func(dst *time.Time, v time.Time) {
		if !v.IsZero() && dst.IsZero() {
			*dst, changed = v, true
		}
	}
	if ch.LastStatus != "" && TaskStatusIndex(ch.LastStatus) > TaskStatusIndex(t.LastStatus) {
		t.LastStatus, changed = ch.LastStatus, true
		switch ch.LastStatus {
		case TaskRunning:
			stamp(&t.StartedAt, now)
		case TaskDeactivating, TaskStopping:
			stamp(&t.StoppingAt, now)
		case TaskStopped:
			stamp(&t.StoppingAt, now)
			stamp(&t.ExecutionStoppedAt, now)
			stamp(&t.StoppedAt, now)
			t.DesiredStatus = TaskStopped
		}
	}
	if ch.StopCode != "" && t.StopCode == "" {
		t.StopCode, changed = ch.StopCode, true
	}
	if ch.Reason != "" && t.StoppedReason == "" {
		t.StoppedReason, changed = ch.Reason, true
	}
	set(&t.HealthStatus, ch.HealthStatus)
	if ch.Connectivity && t.Connectivity == "" {
		t.Connectivity, changed = "CONNECTED", true
		stamp(&t.ConnectivityAt, now)
	}
	stamp(&t.PullStartedAt, ch.PullStarted)
	stamp(&t.PullStoppedAt, ch.PullStopped)
	stamp(&t.ExecutionStoppedAt, ch.ExecStopped)
	if ch.Attachment != nil {
		t.Attachments, changed = []TaskAttachment{*ch.Attachment}, true
	}
	for _, cc := range ch.Containers {
		c := t.Container(cc.Name)
		if c == nil {
			continue
		}
		if cc.LastStatus != "" && containerRank(cc.LastStatus) > containerRank(c.LastStatus) {
			c.LastStatus, changed = cc.LastStatus, true
		}
		set(&c.RuntimeID, cc.RuntimeID)
		set(&c.ImageDigest, cc.ImageDigest)
		set(&c.HealthStatus, cc.HealthStatus)
		if cc.ExitCode != nil && c.ExitCode == nil {
			v := *cc.ExitCode
			c.ExitCode, changed = &v, true
		}
		if cc.Reason != "" && c.Reason == "" {
			c.Reason, changed = cc.Reason, true
		}
		if cc.NetworkBindings != nil {
			c.NetworkBindings, changed = cc.NetworkBindings, true
		}
		if cc.NetworkInterfaces != nil {
			c.NetworkInterfaces, changed = cc.NetworkInterfaces, true
		}
	}
	if changed {
		t.Version++
	}
	return changed
}

func containerRank(s string) int { return node.ContainerStatusIndex(s) }
