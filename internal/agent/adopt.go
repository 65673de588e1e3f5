package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// Re-adoption: a runner may find its task half done by an earlier agent
// (fargo was killed, or restarted with --keep-tasks). What the runtime
// still has of the task's containers is the truth:
//
//	container exists   attach: state, exit waiter, log shipper from its
//	                   saved offset, health check; no pull (its root
//	                   filesystem is mounted on layers already on disk),
//	                   and its recorded imageDigest never changes
//	container missing  pulled by the recorded digest when there is one
//	                   (the tag may have moved or gone), else by its
//	                   reference; then started as on a first run
//
// A stop asked for while no agent ran is then an ordinary stop of the
// attached containers.

// startSettleTimeout bounds the wait for a start an earlier agent left in
// progress (its monitor runs runc: a second, normally).
const startSettleTimeout = 30 * time.Second

// existingContainers returns the state of the task's containers the
// runtime has, by name. A container still starting is waited for: it is
// adopted once it runs (or has exited), never reported RUNNING before.
func (r *runner) existingContainers(ctx context.Context) (map[string]ContainerState, error) {
	out := map[string]ContainerState{}
	for _, cd := range r.td.ContainerDefinitions {
		id := runtime.ContainerID(r.ref.ID, cd.Name)
		state := func() (ContainerState, error) {
			return retryTransient(ctx, r.log, "state "+cd.Name, func() (ContainerState, error) {
				return containerState(ctx, r.a.deps.Runtime, id)
			})
		}
		deadline := time.Now().Add(startSettleTimeout)
		st, err := state()
		for err == nil && st.Starting {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("container %s is still starting after %s", cd.Name, startSettleTimeout)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
			st, err = state()
		}
		if err != nil {
			return nil, err
		}
		if st.Exists {
			out[cd.Name] = st
		}
	}
	return out, nil
}

// adopt attaches to the containers an earlier agent started, in
// definition order; their RUNNING state is reported with the next state
// change, an exit that happened meanwhile by their waiters.
func (r *runner) adopt(ctx, hookCtx context.Context, existing map[string]ContainerState) {
	for i := range r.td.ContainerDefinitions {
		cd := &r.td.ContainerDefinitions[i]
		st, ok := existing[cd.Name]
		if !ok || failedStart(st) {
			continue
		}
		r.log.Info("re-adopting container", "container", cd.Name, "running", st.Running)
		r.attach(ctx, hookCtx, cd, st.Running)
	}
}

// failedStart reports whether a container's start failed (while no agent
// ran: its monitor could not run it). It never ran: the task failed to
// start.
func failedStart(st ContainerState) bool {
	return st.Exit != nil && st.Exit.Error != "" && st.StartedAt.IsZero()
}

// checkFailedStarts returns the failure of the first container whose start
// failed while no agent ran, with the runtime's reason.
func (r *runner) checkFailedStarts(ctx context.Context, existing map[string]ContainerState) error {
	for _, cd := range r.td.ContainerDefinitions {
		if st, ok := existing[cd.Name]; ok && failedStart(st) {
			reason := "CannotStartContainerError: " + st.Exit.Error
			r.report(ctx, node.TaskStateChange{Containers: []node.ContainerStateChange{{Name: cd.Name, Reason: reason}}})
			return failedToStart(reason, errors.New(reason))
		}
	}
	return nil
}
