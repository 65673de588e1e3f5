package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/control"
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
		id := containerID(r.ref.ID, cd.Name)
		state := func() (ContainerState, error) {
			return retryTransient(ctx, r.log, "state "+cd.Name, func() (ContainerState, error) {
				return r.a.deps.Runtime.State(ctx, id)
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

// recordedDigest is the image digest the task's record holds for a
// container, "" before its first pull.
func (r *runner) recordedDigest(name string) string {
	if c := r.task.Container(name); c != nil {
		return c.ImageDigest
	}
	return ""
}

// pullImages makes every container's image available and returns the
// state change that reports the pull (digests not recorded yet). It
// pulls nothing for containers that exist already, nor, when the task is
// to stop, for those that do not.
func (r *runner) pullImages(ctx context.Context, existing map[string]ContainerState) (control.TaskStateChange, string, string, error) {
	pullStart := time.Now()
	var digests []control.ContainerStateChange
	for i := range r.td.ContainerDefinitions {
		cd := &r.td.ContainerDefinitions[i]
		recorded := r.recordedDigest(cd.Name)
		if _, ok := existing[cd.Name]; !ok && r.stopRequested() {
			continue // it will not start: the re-adopted rest is being stopped
		}
		if _, ok := existing[cd.Name]; ok && recorded != "" {
			r.images[cd.Name] = &Image{Ref: cd.Image, Digest: recorded}
			continue
		}
		ref := cd.Image
		if recorded != "" {
			ref = pinDigest(cd.Image, recorded)
		}
		img, err := r.pullImage(ctx, ref)
		if _, ok := existing[cd.Name]; ok && err != nil {
			// Its digest was never recorded, and the image is gone: the
			// container runs all the same.
			r.log.Warn("image of a re-adopted container", "container", cd.Name, "err", err)
			r.images[cd.Name] = &Image{Ref: cd.Image}
			continue
		}
		if err != nil {
			reason := r.a.publicReason(fmt.Sprintf("CannotPullContainerError: pull image manifest has been retried 1 time(s): failed to resolve ref %s: ", ref), err)
			r.report(ctx, control.TaskStateChange{PullStarted: pullStart, PullStopped: time.Now(),
				Containers: []control.ContainerStateChange{{Name: cd.Name, Reason: reason}}})
			return control.TaskStateChange{}, control.StopTaskFailedToStart, reason, err
		}
		r.images[cd.Name] = img
		if recorded == "" {
			digests = append(digests, control.ContainerStateChange{Name: cd.Name, ImageDigest: img.Digest})
		}
	}
	return control.TaskStateChange{PullStarted: pullStart, PullStopped: time.Now(), Containers: digests}, "", "", nil
}

// pinDigest turns an image reference into one by digest: its tag (or
// digest) replaced by digest.
func pinDigest(ref, digest string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i] // a tag, not a registry's port
	}
	return ref + "@" + digest
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
func (r *runner) checkFailedStarts(ctx context.Context, existing map[string]ContainerState) (string, string, error) {
	for _, cd := range r.td.ContainerDefinitions {
		if st, ok := existing[cd.Name]; ok && failedStart(st) {
			reason := "CannotStartContainerError: " + st.Exit.Error
			r.report(ctx, control.TaskStateChange{Containers: []control.ContainerStateChange{{Name: cd.Name, Reason: reason}}})
			return control.StopTaskFailedToStart, reason, errors.New(reason)
		}
	}
	return "", "", nil
}
