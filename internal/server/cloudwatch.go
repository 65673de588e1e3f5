package server

import (
	"context"

	"github.com/fargo-run/fargo/internal/agent"
	cwmetrics "github.com/fargo-run/fargo/internal/metrics"
)

// agentUsage gives the AWS/ECS publisher this host's tasks' counters.
type agentUsage struct{ a *agent.Agent }

func (u agentUsage) Usage(ctx context.Context) []cwmetrics.TaskUsage {
	tasks := u.a.Usage(ctx)
	out := make([]cwmetrics.TaskUsage, len(tasks))
	for i, t := range tasks {
		out[i] = cwmetrics.TaskUsage(t)
	}
	return out
}
