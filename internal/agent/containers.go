package agent

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fargo-run/fargo/internal/control"
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
func (r *runner) startContainers(ctx, hookCtx context.Context) (string, string, error) {
	pending := make([]*control.ContainerDefinition, 0, len(r.td.ContainerDefinitions))
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
				return control.StopTaskFailedToStart, reason, fmt.Errorf("%s", reason)
			}
			if !ready {
				continue
			}
			if code, reason, err := r.startContainer(ctx, hookCtx, cd); err != nil {
				return code, reason, err
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
			return control.StopUserInitiated, "", fmt.Errorf("stopped while starting")
		case <-timeout.C:
			reason := fmt.Sprintf("ContainerRuntimeTimeoutError: Could not transition to started; timed out waiting for the dependencies of container %s", pending[0].Name)
			return control.StopTaskFailedToStart, reason, fmt.Errorf("%s", reason)
		}
		timeout.Stop()
	}
	return "", "", nil
}

// startTimeout is how long to wait for dependencies: the largest
// startTimeout of the waiting containers, 3 minutes by default.
func (r *runner) startTimeout(pending []*control.ContainerDefinition) time.Duration {
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
func (r *runner) dependenciesMet(cd *control.ContainerDefinition) (bool, string) {
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

// startContainer starts one container: its log stream, root filesystem,
// volumes, spec, then runc.
func (r *runner) startContainer(ctx, hookCtx context.Context, cd *control.ContainerDefinition) (string, string, error) {
	id := containerID(r.ref.ID, cd.Name)
	failed := func(code, reason string, err error) (string, string, error) {
		r.report(ctx, control.TaskStateChange{Containers: []control.ContainerStateChange{{Name: cd.Name, Reason: reason}}})
		return code, reason, err
	}
	if cd.LogConfiguration != nil && cd.LogConfiguration.LogDriver == "awslogs" {
		if err := r.prepareAwslogs(ctx, cd); err != nil {
			return failed(control.StopTaskFailedToStart, r.a.publicReason("CannotStartContainerError: failed to initialize logging driver: ", err), err)
		}
	}
	img := r.images[cd.Name]
	rootfs, err := r.a.deps.Images.Mount(ctx, img, id, r.scratchDir(cd.Name))
	if err != nil {
		return control.StopTaskFailedToStart, "ResourceInitializationError: failed to mount the container's filesystem", err
	}
	vols, err := r.containerMounts(cd)
	if err == nil {
		err = r.seedVolumes(vols, img.Config, rootfs)
	}
	if err != nil {
		return failed(control.StopTaskFailedToStart, r.a.publicReason("ResourceInitializationError: failed to prepare the container's volumes: ", err), err)
	}
	mounts := make([]Mount, len(vols))
	for i, v := range vols {
		mounts[i] = v.Mount
	}
	r.awaitReport() // the container starts with the task as stored
	spec, err := buildSpec(specInput{scope: r.ref.Scope, task: r.task, td: r.td, cd: cd, image: img.Config,
		rootfs: rootfs, att: r.att, cgroup: r.cgroup, metadata: r.metadataURI(cd.Name), hostsDir: r.hostsDir(), mounts: mounts})
	if err != nil {
		return failed(control.StopTaskFailedToStart, r.a.publicReason("CannotStartContainerError: ", err), err)
	}
	startStart := time.Now()
	err = r.a.deps.Runtime.Start(ctx, spec)
	r.a.observe(StepStart, startStart)
	if err != nil {
		return failed(control.StopTaskFailedToStart, r.a.publicReason("CannotStartContainerError: ", err), err)
	}
	r.attach(ctx, hookCtx, cd, true)
	return "", "", nil
}

// attach follows a started container: its RUNNING state (reported with
// the next state change, the task's RUNNING or before waiting on a
// dependency: one store transaction less per container), a waiter for its
// exit, its log shipper and, while it runs, its health check.
func (r *runner) attach(ctx, hookCtx context.Context, cd *control.ContainerDefinition, running bool) {
	id := containerID(r.ref.ID, cd.Name)
	r.started[cd.Name] = true
	r.deferred = append(r.deferred, control.ContainerStateChange{Name: cd.Name, LastStatus: control.ContainerRunning, RuntimeID: id})
	go func() {
		status, err := retryTransient(ctx, r.log, "wait "+cd.Name, func() (ExitStatus, error) {
			return r.a.deps.Runtime.Wait(ctx, id)
		})
		r.exits <- containerExit{name: cd.Name, status: status, err: err}
	}()
	if cd.LogConfiguration != nil && cd.LogConfiguration.LogDriver == "awslogs" {
		r.startShipper(hookCtx, cd)
	}
	if cd.HealthCheck != nil && running {
		go r.checkHealth(hookCtx, cd)
	}
}

func (r *runner) hostsDir() string {
	if r.att == nil {
		return ""
	}
	return r.dir
}

// metadataURI is ECS_CONTAINER_METADATA_URI_V4 for a container.
func (r *runner) metadataURI(name string) string {
	if r.a.cfg.MetadataEndpoint == "" || r.att == nil {
		return ""
	}
	return r.a.cfg.MetadataEndpoint + "/" + metadataID(r.ref.ID, name)
}

// flushDeferred reports what start held back: the pull's outcome and the
// container state changes of startContainer and adopt. It runs before
// any wait on a dependency, which may be long: an agent killed then keeps
// the recorded digests (its successor pulls by them, not by tag).
func (r *runner) flushDeferred(ctx context.Context) {
	if r.pulled != nil || len(r.deferred) > 0 {
		r.report(ctx, r.takePending())
	}
}

// takePending returns what start held back (the pull's outcome, then the
// container changes) as one state change, and forgets it: each is
// reported once.
func (r *runner) takePending() control.TaskStateChange {
	var ch control.TaskStateChange
	if r.pulled != nil {
		ch = *r.pulled
		r.pulled = nil
	}
	ch.Containers = append(slices.Clip(ch.Containers), r.deferred...)
	r.deferred = nil
	return ch
}
