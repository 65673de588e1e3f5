package agent

import (
	"context"

	"github.com/fargo-run/fargo/internal/runtime"
)

// The volumes hook: the task's data volumes as bind mounts (volumes.go).
//
//	provision            the task's volumes are ones fargo can provide
//	                     (before anything of the task is made)
//	prestartContainer    the container's mounts (task-scoped directories
//	                     made, and filled from the image while empty)
type volumesHook struct{}

func (volumesHook) provision(_ context.Context, r *runner) (func() error, error) {
	if err := r.checkVolumes(); err != nil {
		return nil, r.a.failedToStartWith("ResourceInitializationError: ", err)
	}
	return nil, nil
}

func (volumesHook) prestartContainer(_ context.Context, r *runner, c *specInput) error {
	vols, err := r.containerMounts(c.cd)
	if err == nil {
		err = r.seedVolumes(vols, c.image, c.rootfs)
	}
	if err != nil {
		return containerError(c.cd, r.a.failedToStartWith("ResourceInitializationError: failed to prepare the container's volumes: ", err))
	}
	c.mounts = make([]runtime.Mount, len(vols))
	for i, v := range vols {
		c.mounts[i] = v.Mount
	}
	return nil
}
