package agent

import "context"

// The cgroup hook: the task-level cgroup bounds what the task's
// containers use together (its cpu and memory, and pids).
//
//	prestart            the cgroup (PENDING, after the pull)
//	prestartContainer   the containers' cgroup parent
//	cleanup             the cgroup
type cgroupHook struct {
	path string // the containers' cgroup parent
}

func (h *cgroupHook) prestart(_ context.Context, r *runner) error {
	cg, err := r.a.deps.Runtime.CreateTaskCgroupFor(r.ref.ID, atoi(r.task.Cpu), atoi(r.task.Memory))
	if err != nil {
		return failedToStart("ResourceInitializationError: failed to create the task cgroup", err)
	}
	h.path = cg
	return nil
}

func (h *cgroupHook) prestartContainer(_ context.Context, _ *runner, c *specInput) error {
	c.cgroup = h.path
	return nil
}

func (h *cgroupHook) cleanup(_ context.Context, r *runner) bool {
	if err := r.a.deps.Runtime.RemoveTaskCgroupFor(r.ref.ID); err != nil {
		r.log.Warn("remove task cgroup", "err", err)
	}
	return true
}
