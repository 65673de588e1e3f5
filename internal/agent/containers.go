package agent

import (
	"context"
	"fmt"
	"time"

	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// Dependency conditions.
const (
	condStart    = "START"
	condComplete = "COMPLETE"
	condSuccess  = "SUCCESS"
	condHealthy  = "HEALTHY"
)

// startContainers starts the task's containers in dependsOn order (the
// task definition was validated to be acyclic); those a previous agent
// started are attached already (adopt). Each started container gets a
// waiter, and, as configured, a log shipper and a health checker.
func (r *runner) startContainers(ctx, hookCtx context.Context) error {
	pending := make([]*node.ContainerDefinition, 0, len(r.td.ContainerDefinitions))
	for i := range r.td.ContainerDefinitions {
		if cd := &r.td.ContainerDefinitions[i]; !r.started[cd.Name] {
			pending = append(pending, cd)
		}
	}
	for len(pending) > 0 {
		progressed := false
		for i := 0; i < len(pending); i++ {
			cd := pending[i]
			ready, failed := r.dependenciesMet(cd)
			if failed != "" {
				reason := fmt.Sprintf("DependencyError: container %s dependency %s", cd.Name, failed)
				return failedToStart(reason, fmt.Errorf("%s", reason))
			}
			if !ready {
				continue
			}
			if err := r.startContainer(ctx, hookCtx, cd); err != nil {
				return err
			}
			pending = append(pending[:i], pending[i+1:]...)
			i--
			progressed = true
		}
		if len(pending) == 0 {
			break
		}
		if progressed {
			continue
		}
		// Wait for a dependency to change: an exit, a health report, or a
		// stop. What has started is reported first.
		r.flushDeferred(ctx)
		timeout := time.NewTimer(r.startTimeout(pending))
		select {
		case e := <-r.exits:
			r.containerExited(ctx, e)
		case h := <-r.health:
			r.healthChanged(ctx, h)
		case <-r.stopCh:
			timeout.Stop()
			return stopRequestedError(fmt.Errorf("stopped while starting"))
		case <-timeout.C:
			reason := fmt.Sprintf("ContainerRuntimeTimeoutError: Could not transition to started; timed out waiting for the dependencies of container %s", pending[0].Name)
			return failedToStart(reason, fmt.Errorf("%s", reason))
		}
		timeout.Stop()
	}
	return nil
}

// startTimeout is how long to wait for dependencies: the largest
// startTimeout of the waiting containers, 3 minutes by default.
func (r *runner) startTimeout(pending []*node.ContainerDefinition) time.Duration {
	d := 3 * time.Minute
	for _, cd := range pending {
		if cd.StartTimeout != nil {
			d = max(d, time.Duration(*cd.StartTimeout)*time.Second)
		}
	}
	return d
}

// dependenciesMet reports whether a container may start, or why it never
// will.
func (r *runner) dependenciesMet(cd *node.ContainerDefinition) (bool, string) {
	for _, dep := range cd.DependsOn {
		started := r.started[dep.ContainerName]
		exit, exited := r.exited[dep.ContainerName]
		switch dep.Condition {
		case condStart:
			if !started {
				return false, ""
			}
		case condComplete:
			if !exited {
				return false, ""
			}
		case condSuccess:
			if !exited {
				return false, ""
			}
			if exit.Code != 0 {
				return false, fmt.Sprintf("%s exited with code %d (condition SUCCESS)", dep.ContainerName, exit.Code)
			}
		case condHealthy:
			switch r.healthy[dep.ContainerName] {
			case healthHealthy:
			case healthUnhealthy:
				return false, fmt.Sprintf("%s is UNHEALTHY (condition HEALTHY)", dep.ContainerName)
			default:
				if exited {
					return false, fmt.Sprintf("%s exited before it was HEALTHY", dep.ContainerName)
				}
				return false, ""
			}
		}
	}
	return true, ""
}

// startContainer starts one container: what the hooks prepare (its log
// stream, root filesystem, volumes) and its spec, then runc. A failure the
// container's own (not the host's) is reported on the container too.
func (r *runner) startContainer(ctx, hookCtx context.Context, cd *node.ContainerDefinition) error {
	in := specInput{scope: r.ref.Scope, task: r.task, td: r.td, cd: cd}
	for _, h := range r.h.list {
		if p, ok := h.(containerPrestarter); ok {
			if err := p.prestartContainer(ctx, r, &in); err != nil {
				return r.containerFailed(ctx, cd, asStopError(err))
			}
		}
	}
	r.awaitReport() // the container starts with the task as stored (PENDING)
	in.task = r.task
	spec, err := buildSpec(in)
	if err != nil {
		return r.containerFailed(ctx, cd, containerError(cd, r.a.failedToStartWith("CannotStartContainerError: ", err)))
	}
	start := time.Now()
	err = r.a.deps.Runtime.Start(ctx, spec)
	r.a.observe(StepStart, start)
	if err != nil {
		return r.containerFailed(ctx, cd, containerError(cd, r.a.failedToStartWith("CannotStartContainerError: ", err)))
	}
	r.attach(ctx, hookCtx, cd, true)
	return nil
}

// containerFailed reports a failed start's reason on the container, when
// it is the container's (StopError.Container), and returns the failure.
func (r *runner) containerFailed(ctx context.Context, cd *node.ContainerDefinition, se *StopError) error {
	if se.Container != "" {
		r.report(ctx, node.TaskStateChange{Containers: []node.ContainerStateChange{{Name: cd.Name, Reason: se.Reason}}})
	}
	return se
}

// containerError is a failed start reported on the container as well.
func containerError(cd *node.ContainerDefinition, se *StopError) *StopError {
	se.Container = cd.Name
	return se
}

// attach follows a started container: its RUNNING state (reported with
// the next state change, the task's RUNNING or before waiting on a
// dependency: one store transaction less per container), a waiter for its
// exit, and what the hooks follow (its log shipper and, while it runs, its
// health check).
func (r *runner) attach(ctx, hookCtx context.Context, cd *node.ContainerDefinition, running bool) {
	id := runtime.ContainerID(r.ref.ID, cd.Name)
	r.started[cd.Name] = true
	r.pending.Containers = append(r.pending.Containers, node.ContainerStateChange{Name: cd.Name, LastStatus: node.ContainerRunning, RuntimeID: id})
	go func() {
		status, err := retryTransient(ctx, r.log, "wait "+cd.Name, func() (runtime.ExitStatus, error) {
			return r.a.deps.Runtime.Wait(ctx, id)
		})
		r.exits <- containerExit{name: cd.Name, status: status, err: err}
	}()
	for _, h := range r.h.list {
		if p, ok := h.(containerPoststarter); ok {
			p.poststartContainer(hookCtx, r, cd, running)
		}
	}
}

// flushDeferred reports what start held back: the pull's outcome and the
// container state changes of startContainer and adopt. It runs before
// any wait on a dependency, which may be long: an agent killed then keeps
// the recorded digests (its successor pulls by them, not by tag).
func (r *runner) flushDeferred(ctx context.Context) {
	if !r.pending.PullStarted.IsZero() || len(r.pending.Containers) > 0 {
		r.report(ctx, r.takePending())
	}
}

// hold keeps a state change for the next report (takePending).
func (r *runner) hold(ch node.TaskStateChange) {
	if r.pending.PullStarted.IsZero() {
		r.pending.PullStarted, r.pending.PullStopped = ch.PullStarted, ch.PullStopped
	}
	r.pending.Containers = append(r.pending.Containers, ch.Containers...)
}

// takePending returns what start held back (the pull's outcome, the
// container changes) as one state change, and forgets it: each is
// reported once.
func (r *runner) takePending() node.TaskStateChange {
	ch := r.pending
	r.pending = node.TaskStateChange{}
	return ch
}
