package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// LogsPublisher publishes AWS/Logs IncomingLogEvents and IncomingBytes per
// LogGroupName: the Logs service tells it of every stored batch
// (Observe), and it writes the period's totals once a period (one sample
// per batch: Sum is the events or bytes, SampleCount the batches). The
// counts of the period in progress are in memory only: a crash loses at
// most one period of these (fargo's own, not acknowledged) metrics.
type LogsPublisher struct {
	svc *Service
	mu  sync.Mutex
	acc map[logsKey]*[2]Stats // events, bytes
}

type logsKey struct {
	scope tenant.Scope
	group string
}

// NewLogsPublisher returns a publisher writing into svc.
func NewLogsPublisher(svc *Service) *LogsPublisher {
	return &LogsPublisher{svc: svc, acc: map[logsKey]*[2]Stats{}}
}

// Observe counts one stored batch.
func (p *LogsPublisher) Observe(sc tenant.Scope, group string, events int, bytes int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := logsKey{sc, group}
	a := p.acc[k]
	if a == nil {
		a = &[2]Stats{}
		p.acc[k] = a
	}
	e, b := float64(events), float64(bytes)
	a[0].Merge(Stats{Sum: e, SampleCount: 1, Min: e, Max: e})
	a[1].Merge(Stats{Sum: b, SampleCount: 1, Min: b, Max: b})
}

// Run flushes every period until ctx ends.
func (p *LogsPublisher) Run(ctx context.Context) {
	t := time.NewTicker(p.svc.cfg.Period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := p.Flush(ctx); err != nil && ctx.Err() == nil {
				p.svc.log.Warn("publish AWS/Logs metrics", "err", err)
			}
		}
	}
}

// Flush writes what was counted since the last flush, stamped with the
// start of the period it was counted in.
func (p *LogsPublisher) Flush(ctx context.Context) error {
	p.mu.Lock()
	acc := p.acc
	p.acc = map[logsKey]*[2]Stats{}
	p.mu.Unlock()
	at := p.svc.Now().Add(-p.svc.cfg.Period)
	byScope := map[tenant.Scope][]Datum{}
	for k, a := range acc {
		dims := []Dimension{{Name: "LogGroupName", Value: k.group}}
		byScope[k.scope] = append(byScope[k.scope],
			Datum{Metric: Metric{Namespace: "AWS/Logs", Name: "IncomingLogEvents", Dimensions: dims}, Timestamp: at, Unit: "None", Stats: a[0], HighResolution: p.svc.cfg.Period < time.Minute},
			Datum{Metric: Metric{Namespace: "AWS/Logs", Name: "IncomingBytes", Dimensions: dims}, Timestamp: at, Unit: "Bytes", Stats: a[1], HighResolution: p.svc.cfg.Period < time.Minute})
	}
	for scope, data := range byScope {
		if err := p.svc.PutData(ctx, scope, data); err != nil {
			return err
		}
	}
	return nil
}
