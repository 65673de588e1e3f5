package agent

import (
	"context"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// Health statuses.
const (
	healthHealthy   = "HEALTHY"
	healthUnhealthy = "UNHEALTHY"
	healthUnknown   = "UNKNOWN"
)

type healthReport struct {
	name   string
	status string
}

// healthDetail is a container's last health check as the metadata
// endpoint shows it (the ECS agent's HealthStatus): its status, since
// when, and the last check's exit code and output.
type healthDetail struct {
	Status   string     `json:"status"`
	Since    *time.Time `json:"statusSince,omitempty"`
	ExitCode *int       `json:"exitCode,omitempty"`
	Output   string     `json:"output,omitempty"`
}

// maxHealthOutput is how much of a check's output is kept (Docker keeps
// 4 KiB).
const maxHealthOutput = 4096

// recordHealth keeps a check's result for the metadata endpoint.
func (r *runner) recordHealth(name, status string, code int, out []byte, changed bool) {
	r.h.health.record(name, status, code, out, changed)
}

// healthOf returns a container's last health check, if one ran.
func (r *runner) healthOf(name string) (healthDetail, bool) { return r.h.health.detail(name) }

func (h *healthHook) record(name, status string, code int, out []byte, changed bool) {
	if len(out) > maxHealthOutput {
		out = out[:maxHealthOutput]
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.details == nil {
		h.details = map[string]healthDetail{}
	}
	d := h.details[name]
	if changed || d.Since == nil {
		now := time.Now().UTC()
		d.Since = &now
	}
	d.Status, d.ExitCode, d.Output = status, &code, string(out)
	h.details[name] = d
}

func (h *healthHook) detail(name string) (healthDetail, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	d, ok := h.details[name]
	return d, ok
}

// checkHealth runs a container's health check (CMD or CMD-SHELL) inside
// it, as Docker does: every interval, each try bounded by timeout; retries
// consecutive failures make it UNHEALTHY; failures during startPeriod do
// not count, and the first success ends the start period.
func (r *runner) checkHealth(ctx context.Context, cd *node.ContainerDefinition) {
	hc := cd.HealthCheck
	interval := seconds(hc.Interval, 30)
	timeout := seconds(hc.Timeout, 5)
	retries := 3
	if hc.Retries != nil {
		retries = *hc.Retries
	}
	startPeriod := seconds(hc.StartPeriod, 0)
	var args []string
	switch {
	case len(hc.Command) > 1 && hc.Command[0] == "CMD":
		args = hc.Command[1:]
	case len(hc.Command) > 1 && hc.Command[0] == "CMD-SHELL":
		args = []string{"/bin/sh", "-c", hc.Command[1]}
	default:
		return
	}
	id := runtime.ContainerID(r.ref.ID, cd.Name)
	started := time.Now()
	inStart := true
	failures := 0
	status := healthUnknown
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		code, out, err := r.a.deps.Runtime.Exec(ctx, id, args, timeout)
		if errdefs.IsTransient(err) {
			// The check could not run (fargo out of file descriptors,
			// say): that is no failed check (issue 17).
			r.log.Warn("health check could not run; not counted", "container", cd.Name, "err", err)
			continue
		}
		ok := err == nil && code == 0
		if err != nil && len(out) == 0 {
			out = []byte(err.Error())
		}
		next := status
		switch {
		case ok:
			inStart, failures, next = false, 0, healthHealthy
		case inStart && time.Since(started) < startPeriod:
			r.recordHealth(cd.Name, status, code, out, false)
			continue
		default:
			failures++
			if failures >= retries {
				next = healthUnhealthy
			}
		}
		r.recordHealth(cd.Name, next, code, out, next != status)
		if next != status {
			status = next
			select {
			case r.health <- healthReport{name: cd.Name, status: status}:
			case <-ctx.Done():
				return
			}
		}
	}
}

func seconds(p *int, def int) time.Duration {
	if p != nil && *p > 0 {
		return time.Duration(*p) * time.Second
	}
	return time.Duration(def) * time.Second
}

// healthChanged reports a container's health and the task's: UNHEALTHY if
// any essential container with a health check is, HEALTHY if all are,
// UNKNOWN otherwise.
func (r *runner) healthChanged(ctx context.Context, h healthReport) {
	r.healthy[h.name] = h.status
	task := healthHealthy
	checked := false
	for _, cd := range r.td.ContainerDefinitions {
		if !cd.IsEssential() || cd.HealthCheck == nil {
			continue
		}
		checked = true
		switch r.healthy[cd.Name] {
		case healthUnhealthy:
			task = healthUnhealthy
		case healthHealthy:
		default:
			if task != healthUnhealthy {
				task = healthUnknown
			}
		}
	}
	if !checked {
		task = healthUnknown
	}
	r.report(ctx, node.TaskStateChange{HealthStatus: task,
		Containers: []node.ContainerStateChange{{Name: h.name, HealthStatus: h.status}}})
}
