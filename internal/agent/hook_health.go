package agent

import (
	"context"
	"sync"

	"github.com/fargo-run/fargo/internal/node"
)

// The health hook: the containers' health checks (health.go), run inside
// them while they run; their changes come to the runner as health
// reports (the task's health, dependsOn HEALTHY).
//
//	poststartContainer   a container with a healthCheck that runs is checked
//	                     until its task's containers stop
type healthHook struct {
	mu      sync.Mutex
	details map[string]healthDetail // the last check of each container, for the metadata endpoint
}

func (h *healthHook) poststartContainer(ctx context.Context, r *runner, cd *node.ContainerDefinition, running bool) {
	if cd.HealthCheck != nil && running {
		go r.checkHealth(ctx, cd)
	}
}
