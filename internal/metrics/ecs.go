package metrics

import (
	"context"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// TaskUsage is one running task's counters (see agent.TaskUsage).
type TaskUsage struct {
	TaskARN     string
	Cluster     string
	Group       string
	CPUUnits    int
	MemoryMiB   int
	CPUNanos    uint64
	MemoryBytes uint64
	Read        time.Time
}

// UsageSource reads the running tasks' counters (the agent).
type UsageSource interface {
	Usage(ctx context.Context) []TaskUsage
}

// ECSPublisher publishes AWS/ECS CPUUtilization and MemoryUtilization
// once a period, per ClusterName and per ClusterName+ServiceName, as ECS
// computes them: a task's CPU time over the period divided by its CPU
// reservation, and its memory in use divided by its memory reservation,
// in percent; one sample per task, so Average is the tasks' mean and
// Maximum the busiest task.
type ECSPublisher struct {
	svc  *Service
	src  UsageSource
	prev map[string]TaskUsage // by task ARN: the previous reading
}

// NewECSPublisher returns a publisher over src.
func NewECSPublisher(svc *Service, src UsageSource) *ECSPublisher {
	return &ECSPublisher{svc: svc, src: src, prev: map[string]TaskUsage{}}
}

// Run publishes every period until ctx ends.
func (p *ECSPublisher) Run(ctx context.Context) {
	t := time.NewTicker(p.svc.cfg.Period)
	defer t.Stop()
	p.Publish(ctx) // the first reading: the baseline of CPU time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.Publish(ctx); err != nil && ctx.Err() == nil {
				p.svc.log.Warn("publish AWS/ECS metrics", "err", err)
			}
		}
	}
}

type ecsKey struct {
	scope            tenant.Scope
	cluster, service string
}

// Publish reads the tasks once and writes the utilization since the
// previous reading.
func (p *ECSPublisher) Publish(ctx context.Context) error {
	usage := p.src.Usage(ctx)
	cpu := map[ecsKey]*Stats{}
	mem := map[ecsKey]*Stats{}
	var at time.Time
	next := make(map[string]TaskUsage, len(usage))
	add := func(m map[ecsKey]*Stats, k ecsKey, v float64) {
		s := m[k]
		if s == nil {
			s = &Stats{}
			m[k] = s
		}
		s.Merge(Stats{Sum: v, SampleCount: 1, Min: v, Max: v})
	}
	for _, u := range usage {
		next[u.TaskARN] = u
		scope, ok := scopeOfARN(u.TaskARN)
		if !ok {
			continue
		}
		keys := []ecsKey{{scope: scope, cluster: u.Cluster}}
		if svcName, ok := strings.CutPrefix(u.Group, "service:"); ok {
			keys = append(keys, ecsKey{scope: scope, cluster: u.Cluster, service: svcName})
		}
		prev, seen := p.prev[u.TaskARN]
		if seen && u.CPUUnits > 0 && u.Read.After(prev.Read) && u.CPUNanos >= prev.CPUNanos {
			used := float64(u.CPUNanos-prev.CPUNanos) / float64(u.Read.Sub(prev.Read).Nanoseconds())
			pct := used / (float64(u.CPUUnits) / 1024) * 100
			for _, k := range keys {
				add(cpu, k, pct)
			}
			if at.IsZero() || prev.Read.Before(at) {
				at = prev.Read
			}
		}
		if u.MemoryMiB > 0 {
			pct := float64(u.MemoryBytes) / (float64(u.MemoryMiB) * (1 << 20)) * 100
			for _, k := range keys {
				add(mem, k, pct)
			}
		}
	}
	p.prev = next
	if at.IsZero() {
		at = p.svc.Now().Add(-p.svc.cfg.Period)
	}
	byScope := map[tenant.Scope][]Datum{}
	for name, m := range map[string]map[ecsKey]*Stats{"CPUUtilization": cpu, "MemoryUtilization": mem} {
		for k, s := range m {
			dims := []Dimension{{Name: "ClusterName", Value: k.cluster}}
			if k.service != "" {
				dims = append(dims, Dimension{Name: "ServiceName", Value: k.service})
			}
			byScope[k.scope] = append(byScope[k.scope], Datum{
				Metric: Metric{Namespace: "AWS/ECS", Name: name, Dimensions: dims}, Timestamp: at.UTC(),
				Unit: "Percent", Stats: *s, HighResolution: p.svc.cfg.Period < time.Minute,
			})
		}
	}
	for scope, data := range byScope {
		if err := p.svc.PutData(ctx, scope, data); err != nil {
			return err
		}
	}
	return nil
}

// scopeOfARN reads the region and account of an ARN.
func scopeOfARN(arn string) (tenant.Scope, bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[3] == "" || parts[4] == "" {
		return tenant.Scope{}, false
	}
	return tenant.Scope{Region: parts[3], Account: parts[4]}, true
}
