package agent

import (
	"context"

	"github.com/fargo-run/fargo/internal/node"
)

// The logs hook: the awslogs log driver (logship.go) of the containers
// that use it.
//
//	prestartContainer    the log group (awslogs-create-group) and stream,
//	                     as the driver makes them before the container starts
//	poststartContainer   a shipper follows the container's output, from its
//	                     saved offset (a re-adopted container's too)
//	exited               what is left is shipped once the containers stopped
type logsHook struct {
	shippers []*logShipper
}

func awslogs(cd *node.ContainerDefinition) bool {
	return cd.LogConfiguration != nil && cd.LogConfiguration.LogDriver == "awslogs"
}

func (h *logsHook) prestartContainer(ctx context.Context, r *runner, c *specInput) error {
	if !awslogs(c.cd) {
		return nil
	}
	if err := r.prepareAwslogs(ctx, c.cd); err != nil {
		return containerError(c.cd, r.a.failedToStartWith("CannotStartContainerError: failed to initialize logging driver: ", err))
	}
	return nil
}

func (h *logsHook) poststartContainer(ctx context.Context, r *runner, cd *node.ContainerDefinition, _ bool) {
	if awslogs(cd) {
		h.shippers = append(h.shippers, r.startShipper(ctx, cd))
	}
}

func (h *logsHook) exited(ctx context.Context, _ *runner) {
	for _, s := range h.shippers {
		<-s.done
		s.ship(ctx)
	}
}
