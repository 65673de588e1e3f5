package agent

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"

	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// Stop reasons fargo uses beyond AWS's own.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonShutdown        = "Task stopped because fargo is shutting down"
	reasonOOM             = "OutOfMemoryError: Container killed due to memory usage"
	defaultStopTimeout    = 30 * time.Second
	maxStopTimeout        = 120 * time.Second
)

// runner owns one task: the only goroutine that acts on it. It is the
// task's state machine (see hooks.go for the steps its hooks take part
// in); what a concern of the task owns lives in its hook.
type runner struct {
	a    *Agent
	ref  node.TaskRef
	task *node.Task
	td   *node.TaskDefinition
	log  *slog.Logger
	dir  string // the task's state directory
	h    hooks

	stopOnce sync.Once
	stopCh   chan struct{} // closed when the control plane wants the task stopped

	started map[string]bool
	exited  map[string]runtime.ExitStatus
	healthy map[string]string
	// pending are state changes not reported yet (the image pull's
	// outcome, containers started or re-adopted). They ride with the
	// next report that takes them (takePending): a wait on a dependency,
	// ACTIVATING, or the failure report.
	pending    node.TaskStateChange
	exits      chan containerExit
	health     chan healthReport
	cancelHook context.CancelFunc // ends what poststartContainer started
	inflight   *asyncReport       // a report sent in the background (reportAsync)

	// mu guards task and td for readers outside the runner goroutine
	// (the metadata endpoint).
	mu sync.Mutex
}

// snapshot returns the task and its definition for other goroutines.
func (r *runner) snapshot() (*node.Task, *node.TaskDefinition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.task, r.td
}

type containerExit struct {
	name   string
	status runtime.ExitStatus
	err    error
}

func newRunner(a *Agent, ref node.TaskRef, t *node.Task) *runner {
	return &runner{
		a: a, ref: ref, task: t,
		log:     a.log.With("cluster", ref.Cluster, "task", ref.ID),
		dir:     filepath.Join(a.cfg.StateDir, "tasks", ref.ID),
		h:       newHooks(),
		stopCh:  make(chan struct{}),
		started: map[string]bool{},
		exits:   make(chan containerExit, 16),
		health:  make(chan healthReport, 16),
		exited:  map[string]runtime.ExitStatus{},
		healthy: map[string]string{},
	}
}

func (r *runner) requestStop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

func (r *runner) stopRequested() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return r.task.DesiredStatus == node.TaskStopped
	}
}

// report sends a state change and keeps the task the control plane stored.
func (r *runner) report(ctx context.Context, ch node.TaskStateChange) {
	r.awaitReport()
	r.keep(r.send(ctx, ch))
}

// send sends a state change and returns the task as stored (nil when the
// report failed).
func (r *runner) send(ctx context.Context, ch node.TaskStateChange) *node.Task {
	t, err := r.a.deps.Control.UpdateTaskState(ctx, r.ref, ch)
	if err != nil {
		r.log.Warn("report task state", "err", err)
		return nil
	}
	return t
}

// keep keeps the task the control plane stored (nil: none).
func (r *runner) keep(t *node.Task) {
	if t == nil {
		return
	}
	r.mu.Lock()
	r.task = t
	r.mu.Unlock()
}

// asyncReport is a report under way in the background.
type asyncReport struct {
	done chan struct{}
	task *node.Task
}

// reportAsync sends a state change in the background (PENDING: a store
// write and its fsync, while the images are taken and the cgroup and
// root filesystems are made). Every later report, and the first
// container's spec, wait for it (awaitReport): the reports stay in order
// and none is lost.
func (r *runner) reportAsync(ctx context.Context, ch node.TaskStateChange) {
	r.awaitReport()
	a := &asyncReport{done: make(chan struct{})}
	r.inflight = a
	go func() {
		defer close(a.done)
		a.task = r.send(ctx, ch)
	}()
}

// awaitReport waits for the report under way, if any, and keeps the task
// it stored.
func (r *runner) awaitReport() {
	a := r.inflight
	if a == nil {
		return
	}
	r.inflight = nil
	<-a.done
	r.keep(a.task)
}

// statusChange is a task status's state change with what the hooks add
// to it.
func (r *runner) statusChange(status string, ch node.TaskStateChange) node.TaskStateChange {
	ch.LastStatus = status
	for _, h := range r.h.list {
		if sr, ok := h.(statusReporter); ok {
			sr.addToReport(r, status, &ch)
		}
	}
	return ch
}

// reportStatus reports a task status with what the hooks add to it.
func (r *runner) reportStatus(ctx context.Context, status string, ch node.TaskStateChange) {
	r.report(ctx, r.statusChange(status, ch))
}

// run drives the task to its desired status. agentDone closes when the
// agent shuts down.
func (r *runner) run(ctx context.Context, agentDone <-chan struct{}) {
	if r.task.DesiredStatus == node.TaskStopped {
		r.requestStop()
	}
	td, err := r.a.deps.Control.TaskDefinitionOf(ctx, r.ref.Scope, r.task)
	if err != nil {
		r.fail(ctx, r.a.failedToStartWith("ResourceInitializationError: ", err))
		return
	}
	r.mu.Lock()
	r.td = td
	r.mu.Unlock()
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		r.fail(ctx, failedToStart("ResourceInitializationError: failed to create the task's directory", err))
		return
	}
	hookCtx, cancel := context.WithCancel(ctx)
	r.cancelHook = cancel
	defer cancel()

	if err := r.start(ctx, hookCtx); err != nil {
		r.fail(ctx, asStopError(err))
		return
	}
	if kept := r.supervise(ctx, agentDone); kept {
		return
	}
	r.stop(ctx)
}

// fail stops a task that could not start, keeping what it learned.
func (r *runner) fail(ctx context.Context, se *StopError) {
	switch {
	case errors.Is(se, errStopRequested):
		r.log.Info("stop requested before the task was running")
	case se.Err != nil:
		r.log.Warn("task failed to start", "reason", se.Reason, "err", se.Err)
	}
	// What was held back (the pull's digests, the containers started)
	// goes with the stop code: it must not be lost.
	ch := r.takePending()
	ch.StopCode, ch.Reason = se.Code, se.Reason
	r.report(ctx, ch)
	r.stop(ctx)
}

// start brings the task from PROVISIONING to RUNNING, or re-adopts what a
// previous agent started: its containers are attached to (state, exit
// waiter, log shipper, health check) before anything else, so that a stop
// asked for meanwhile, or a failure of any step after (network, pull,
// cgroup), stops them as any other (stop signal, stopTimeout, exit codes,
// the last log lines). Attaching needs neither the network nor the
// cgroup: the containers run in theirs already. A failure is a
// *StopError.
func (r *runner) start(ctx, hookCtx context.Context) error {
	existing, err := r.existingContainers(ctx)
	if err != nil {
		return r.a.failedToStartWith("ContainerRuntimeError: ", err)
	}
	r.adopt(ctx, hookCtx, existing)
	if err := r.checkFailedStarts(ctx, existing); err != nil {
		return err
	}
	adopted := len(existing) > 0
	if r.stopRequested() && !adopted {
		return stopRequestedError(errStopRequested)
	}

	// PROVISIONING: the task's resources (its filesystem is made while its
	// network is: both take milliseconds).
	var waits []func() error
	var failed error
	for _, h := range r.h.list {
		if p, ok := h.(provisioner); ok {
			wait, err := p.provision(ctx, r)
			if wait != nil {
				waits = append(waits, wait)
			}
			if err != nil {
				failed = err
				break
			}
		}
	}
	for _, wait := range waits { // every one: none is left running
		if err := wait(); err != nil && failed == nil {
			failed = err
		}
	}
	if failed != nil {
		return failed
	}
	for _, h := range r.h.list {
		if p, ok := h.(provisionedHook); ok {
			if err := p.provisioned(ctx, r); err != nil {
				return err
			}
		}
	}
	r.reportAsync(ctx, r.statusChange(node.TaskPending, node.TaskStateChange{}))

	// PENDING covers the pull and the container starts (AWS); ACTIVATING
	// the steps after them. Its report goes on meanwhile, until the first
	// container's spec (startContainer) or the next report.
	for _, h := range r.h.list {
		if p, ok := h.(prestarter); ok {
			if err := p.prestart(ctx, r); err != nil {
				return err
			}
			if r.stopRequested() && !adopted {
				return stopRequestedError(errStopRequested)
			}
		}
	}
	if r.stopRequested() {
		return stopRequestedError(errStopRequested)
	}
	if err := r.startContainers(ctx, hookCtx); err != nil {
		return err
	}

	// Containers started: ACTIVATING, where a service's task is
	// registered with its load balancers and service registries, then
	// RUNNING.
	r.reportStatus(ctx, node.TaskActivating, r.takePending())
	for _, h := range r.h.list {
		if p, ok := h.(poststarter); ok {
			if err := p.poststart(ctx, r); err != nil {
				return err
			}
		}
	}
	if r.stopRequested() {
		return stopRequestedError(errStopRequested)
	}
	r.report(ctx, node.TaskStateChange{LastStatus: node.TaskRunning, Connectivity: true})
	r.log.Info("task running")
	return nil
}

// supervise waits for container exits, health changes and stop requests.
// It returns true when the agent shut down with KeepTasks (the task keeps
// running for the next agent).
func (r *runner) supervise(ctx context.Context, agentDone <-chan struct{}) bool {
	for {
		if r.allExited() {
			return false
		}
		select {
		case e := <-r.exits:
			r.containerExited(ctx, e)
			if r.essentialExited(e.name) {
				r.report(ctx, node.TaskStateChange{StopCode: node.StopEssentialContainerExited, Reason: reasonEssentialExited})
				return false
			}
		case h := <-r.health:
			r.healthChanged(ctx, h)
		case <-r.stopCh:
			return false
		case <-agentDone:
			if r.a.cfg.KeepTasks {
				r.log.Info("leaving task running for the next agent")
				return true
			}
			r.report(ctx, node.TaskStateChange{StopCode: node.StopTerminationNotice, Reason: reasonShutdown})
			return false
		}
	}
}

func (r *runner) essentialExited(name string) bool {
	cd := r.containerDef(name)
	return cd != nil && cd.IsEssential()
}

func (r *runner) allExited() bool {
	if len(r.started) == 0 {
		return false
	}
	for name := range r.started {
		if _, ok := r.exited[name]; !ok {
			return false
		}
	}
	return true
}

// containerExited records a container's real exit status.
func (r *runner) containerExited(ctx context.Context, e containerExit) {
	if _, done := r.exited[e.name]; done {
		return
	}
	r.exited[e.name] = e.status
	code := e.status.Code
	ch := node.ContainerStateChange{Name: e.name, LastStatus: node.ContainerStopped, ExitCode: &code}
	if e.status.OOMKilled {
		ch.Reason = reasonOOM
	}
	if e.err != nil {
		ch.ExitCode = nil
		ch.Reason = r.a.publicReason("ContainerRuntimeError: ", e.err)
		r.log.Warn("waiting for a container", "container", e.name, "err", e.err)
	}
	r.report(ctx, node.TaskStateChange{Containers: []node.ContainerStateChange{ch}})
	r.log.Info("container exited", "container", e.name, "exit_code", code, "oom", e.status.OOMKilled)
}

// stop takes the task from wherever it is to STOPPED, cleaning everything
// it made.
func (r *runner) stop(ctx context.Context) {
	if r.task.StopCode == "" {
		r.report(ctx, node.TaskStateChange{StopCode: node.StopTaskFailedToStart, Reason: "Task failed to start"})
	}
	r.reportStatus(ctx, node.TaskDeactivating, node.TaskStateChange{})
	for _, h := range r.h.list {
		if s, ok := h.(stopper); ok {
			s.stop(ctx, r)
		}
	}
	r.report(ctx, node.TaskStateChange{LastStatus: node.TaskStopping})
	r.stopContainers(ctx)
	if r.cancelHook != nil {
		r.cancelHook()
	}
	for _, h := range r.h.list {
		if e, ok := h.(exiter); ok {
			e.exited(ctx, r)
		}
	}
	r.report(ctx, node.TaskStateChange{LastStatus: node.TaskDeprovisioning, ExecStopped: time.Now()})
	r.deleteContainers(ctx)
	for i := len(r.h.list) - 1; i >= 0; i-- {
		if c, ok := r.h.list[i].(cleaner); ok && !c.cleanup(ctx, r) {
			break
		}
	}
	r.reportStatus(ctx, node.TaskStopped, node.TaskStateChange{})
	r.log.Info("task stopped", "stop_code", r.task.StopCode, "reason", r.task.StoppedReason)
}

// drainExits records the container exits that come until d has passed or
// ctx ends (a task whose traffic drains before its containers stop).
func (r *runner) drainExits(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-ctx.Done():
			return
		case e := <-r.exits:
			r.containerExited(ctx, e)
		}
	}
}

// stopContainers stops the running containers in reverse dependency
// order, as ECS does: a container is stopped (its stop signal, then
// SIGKILL after its stopTimeout) once every running container that
// dependsOn it has stopped; containers with no such tie stop together.
// It records their exit codes; containers never started are marked
// STOPPED.
func (r *runner) stopContainers(ctx context.Context) {
	defs := r.td.ContainerDefinitions
	stopped := map[string]bool{} // stopped by a wave below
	done := func(name string) bool {
		_, exited := r.exited[name]
		return !r.started[name] || exited || stopped[name]
	}
	for {
		var wave []*node.ContainerDefinition
		for i := range defs {
			if cd := &defs[i]; !done(cd.Name) && !r.hasRunningDependent(cd.Name, done) {
				wave = append(wave, cd)
			}
		}
		if len(wave) == 0 {
			break // dependsOn is acyclic: every round stops at least one
		}
		var wg sync.WaitGroup
		for _, cd := range wave {
			wg.Go(func() {
				timeout := defaultStopTimeout
				if cd.StopTimeout != nil {
					timeout = min(time.Duration(*cd.StopTimeout)*time.Second, maxStopTimeout)
				}
				// Signal 0: the container's own stop signal (its image's
				// STOPSIGNAL, kept by the runtime: a re-adopted container's
				// image may not be at hand).
				stopStart := time.Now()
				if err := r.a.deps.Runtime.Stop(ctx, runtime.ContainerID(r.ref.ID, cd.Name), 0, timeout); err != nil {
					r.log.Warn("stop container", "container", cd.Name, "err", err)
				}
				r.a.observe(StepStop, stopStart)
			})
		}
		wg.Wait()
		for _, cd := range wave {
			stopped[cd.Name] = true
		}
	}
	// Collect the exits the waiters report (each started container has one).
	for !r.allExited() && len(r.started) > 0 {
		select {
		case e := <-r.exits:
			r.containerExited(ctx, e)
		case <-time.After(maxStopTimeout + 10*time.Second):
			r.log.Warn("containers did not report their exit")
			return
		}
	}
	var pending []node.ContainerStateChange
	for _, c := range r.task.Containers {
		if c.LastStatus != node.ContainerStopped {
			pending = append(pending, node.ContainerStateChange{Name: c.Name, LastStatus: node.ContainerStopped})
		}
	}
	if len(pending) > 0 {
		r.report(ctx, node.TaskStateChange{Containers: pending})
	}
}

// hasRunningDependent reports whether a container that dependsOn name is
// not done stopping yet.
func (r *runner) hasRunningDependent(name string, done func(string) bool) bool {
	for i := range r.td.ContainerDefinitions {
		cd := &r.td.ContainerDefinitions[i]
		if done(cd.Name) {
			continue
		}
		for _, dep := range cd.DependsOn {
			if dep.ContainerName == name {
				return true
			}
		}
	}
	return false
}

// deleteContainers deletes the task's containers (their root filesystems
// go with the image hook's cleanup).
func (r *runner) deleteContainers(ctx context.Context) {
	for _, cd := range r.td.ContainerDefinitions {
		if err := r.a.deps.Runtime.Delete(ctx, runtime.ContainerID(r.ref.ID, cd.Name)); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			r.log.Warn("delete container", "container", cd.Name, "err", err)
		}
	}
}

func (r *runner) containerDef(name string) *node.ContainerDefinition {
	for i := range r.td.ContainerDefinitions {
		if r.td.ContainerDefinitions[i].Name == name {
			return &r.td.ContainerDefinitions[i]
		}
	}
	return nil
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0
		}
		n = n*10 + int(c-'0')
	}
	return n
}
