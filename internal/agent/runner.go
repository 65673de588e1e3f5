package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// Stop reasons fargo uses beyond AWS's own.
const (
	reasonEssentialExited = "Essential container in task exited"
	reasonShutdown        = "Task stopped because fargo is shutting down"
	reasonOOM             = "OutOfMemoryError: Container killed due to memory usage"
	defaultStopTimeout    = 30 * time.Second
	maxStopTimeout        = 120 * time.Second
)

// runner owns one task: the only goroutine that acts on it.
type runner struct {
	a    *Agent
	ref  control.TaskRef
	task *control.Task
	td   *control.TaskDefinition
	log  *slog.Logger

	stopOnce sync.Once
	stopCh   chan struct{} // closed when the control plane wants the task stopped

	att     *Attachment
	images  map[string]*Image // by container name
	started map[string]bool
	// deferred are container changes not reported yet (startContainer);
	// pulled is the image pull's outcome (its times, the digests to
	// record) not reported yet. Both ride with the next report that
	// takes them (takePending): a wait on a dependency, ACTIVATING, or
	// the failure report.
	deferred   []control.ContainerStateChange
	pulled     *control.TaskStateChange
	exits      chan containerExit
	health     chan healthReport
	exited     map[string]ExitStatus
	healthy    map[string]string
	cgroup     string
	shippers   []*logShipper
	dir        string
	cancelHook context.CancelFunc // ends health checks and log shippers
	prefetch   *prefetch          // image pulls started early (overlap.go)
	inflight   *asyncReport       // a report sent in the background (overlap.go)

	// mu guards task and td for readers outside the runner goroutine
	// (the metadata endpoint).
	mu            sync.Mutex
	healthMu      sync.Mutex
	healthDetails map[string]healthDetail // guarded by healthMu
	statsMu       sync.Mutex
	prevStats     map[string]*dockerStats
	ephemeral     ephemeralUsage // the metadata endpoint's measurement
	// bounded: the task's directory is a filesystem of the task's
	// ephemeral storage size (see storage.go).
	bounded atomic.Bool
}

// snapshot returns the task and its definition for other goroutines.
func (r *runner) snapshot() (*control.Task, *control.TaskDefinition) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.task, r.td
}

type containerExit struct {
	name   string
	status ExitStatus
	err    error
}

func newRunner(a *Agent, ref control.TaskRef, t *control.Task) *runner {
	return &runner{
		a: a, ref: ref, task: t,
		log:     a.log.With("cluster", ref.Cluster, "task", ref.ID),
		stopCh:  make(chan struct{}),
		images:  map[string]*Image{},
		started: map[string]bool{},
		exits:   make(chan containerExit, 16),
		health:  make(chan healthReport, 16),
		exited:  map[string]ExitStatus{},
		healthy: map[string]string{},
		dir:     filepath.Join(a.cfg.StateDir, "tasks", ref.ID),
	}
}

func (r *runner) requestStop() { r.stopOnce.Do(func() { close(r.stopCh) }) }

func (r *runner) stopRequested() bool {
	select {
	case <-r.stopCh:
		return true
	default:
		return r.task.DesiredStatus == control.TaskStopped
	}
}

// report sends a state change and keeps the task the control plane stored.
func (r *runner) report(ctx context.Context, ch control.TaskStateChange) {
	r.awaitReport()
	if t := r.send(ctx, ch); t != nil {
		r.mu.Lock()
		r.task = t
		r.mu.Unlock()
	}
}

// send sends a state change and returns the task as stored (nil when the
// report failed).
func (r *runner) send(ctx context.Context, ch control.TaskStateChange) *control.Task {
	t, err := r.a.deps.Control.UpdateTaskState(ctx, r.ref, ch)
	if err != nil {
		r.log.Warn("report task state", "err", err)
		return nil
	}
	return t
}

// run drives the task to its desired status. agentDone closes when the
// agent shuts down.
func (r *runner) run(ctx context.Context, agentDone <-chan struct{}) {
	if r.task.DesiredStatus == control.TaskStopped {
		r.requestStop()
	}
	td, err := r.a.deps.Control.TaskDefinitionOf(ctx, r.ref.Scope, r.task)
	if err != nil {
		r.fail(ctx, control.StopTaskFailedToStart, r.a.publicReason("ResourceInitializationError: ", err), err)
		return
	}
	r.mu.Lock()
	r.td = td
	r.mu.Unlock()
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		r.fail(ctx, control.StopTaskFailedToStart, "ResourceInitializationError: failed to create the task's directory", err)
		return
	}
	hookCtx, cancel := context.WithCancel(ctx)
	r.cancelHook = cancel
	defer cancel()

	code, reason, err := r.start(ctx, hookCtx)
	if err != nil {
		r.fail(ctx, code, reason, err)
		return
	}
	if kept := r.supervise(ctx, agentDone); kept {
		return
	}
	r.stop(ctx)
}

// errStopRequested ends a start that a stop request overtook.
var errStopRequested = errors.New("stop requested before the task was running")

// fail stops a task that could not start, keeping what it learned.
func (r *runner) fail(ctx context.Context, code, reason string, err error) {
	switch {
	case errors.Is(err, errStopRequested):
		r.log.Info("stop requested before the task was running")
	case err != nil:
		r.log.Warn("task failed to start", "reason", reason, "err", err)
	}
	// What was held back (the pull's digests, the containers started)
	// goes with the stop code: it must not be lost.
	ch := r.takePending()
	ch.StopCode, ch.Reason = code, reason
	r.report(ctx, ch)
	r.stop(ctx)
}

// start brings the task from PROVISIONING to RUNNING, or re-adopts what a
// previous agent started: its containers are attached to (state, exit
// waiter, log shipper, health check) before anything else, so that a stop
// asked for meanwhile, or a failure of any step after (network, pull,
// cgroup), stops them as any other (stop signal, stopTimeout, exit codes,
// the last log lines). Attaching needs neither the network nor the
// cgroup: the containers run in theirs already. It returns a stop code
// and reason on failure.
func (r *runner) start(ctx, hookCtx context.Context) (string, string, error) {
	existing, err := r.existingContainers(ctx)
	if err != nil {
		return control.StopTaskFailedToStart, r.a.publicReason("ContainerRuntimeError: ", err), err
	}
	r.adopt(ctx, hookCtx, existing)
	// The task's filesystem is made while its network is (both take
	// milliseconds); nothing is written to the task's directory before.
	storage := r.attachStorage(ctx)
	defer storage.wait()
	if code, reason, err := r.checkFailedStarts(ctx, existing); err != nil {
		return code, reason, err
	}
	if r.stopRequested() && len(existing) == 0 {
		return control.StopUserInitiated, "", errStopRequested
	}
	if err := r.checkVolumes(); err != nil {
		return control.StopTaskFailedToStart, r.a.publicReason("ResourceInitializationError: ", err), err
	}
	r.prefetchImages(ctx, existing)
	defer r.endPrefetch()
	var bindings []control.ContainerStateChange
	var att *Attachment
	if hasOwnNetNS(r.td.NetworkMode) {
		netStart := time.Now()
		var err error
		att, err = r.a.deps.Network.Setup(ctx, r.ref.ID, r.ref.Scope)
		r.a.observe(StepNetwork, netStart)
		if err != nil {
			return control.StopTaskFailedToStart, r.a.publicReason("ResourceInitializationError: failed to configure the task's network: ", err), err
		}
		r.att = att
		r.a.meta.add(r, att.IP)
	}
	if err := storage.wait(); err != nil {
		return control.StopTaskFailedToStart, "ResourceInitializationError: failed to set up the task's ephemeral storage", err
	}
	if att != nil {
		if err := writeEtcFiles(r.dir, att); err != nil {
			return control.StopTaskFailedToStart, "ResourceInitializationError: failed to write the task's /etc/hosts and /etc/hostname", err
		}
		if r.td.NetworkMode == control.NetworkModeBridge {
			b, err := r.publishPorts(ctx)
			if err != nil {
				return control.StopTaskFailedToStart, r.a.publicReason("ResourceInitializationError: failed to publish the task's ports: ", err), err
			}
			bindings = b
		}
	}
	r.reportAsync(ctx, control.TaskStateChange{LastStatus: control.TaskPending, Attachment: r.attachment("ATTACHED"),
		Containers: append(r.networkInterfaces(), bindings...)})

	// The task stays PENDING while its containers start (AWS: PENDING
	// covers the pull and the container starts; ACTIVATING the steps
	// after them). The pull's outcome rides with the next report (a wait
	// on a dependency, ACTIVATING, or the failure report: see
	// takePending), to save a store write on the way to RUNNING; its
	// times are its own.
	pullStart := time.Now()
	pulled, code, reason, err := r.pullImages(ctx, existing)
	r.a.observe(StepPull, pullStart)
	if err != nil {
		return code, reason, err
	}
	r.pulled = &pulled
	if r.stopRequested() && len(existing) == 0 {
		return control.StopUserInitiated, "", errStopRequested
	}

	cpu, mem := atoi(r.task.Cpu), atoi(r.task.Memory)
	cg, err := r.a.deps.Runtime.CreateTaskCgroup(r.ref.ID, cpu, mem)
	if err != nil {
		return control.StopTaskFailedToStart, "ResourceInitializationError: failed to create the task cgroup", err
	}
	r.cgroup = cg

	if r.stopRequested() {
		return control.StopUserInitiated, "", errStopRequested
	}
	if code, reason, err := r.startContainers(ctx, hookCtx); err != nil {
		return code, reason, err
	}
	// Containers started: ACTIVATING, where a service's task is
	// registered with its load balancers and service registries, then
	// RUNNING.
	activating := r.takePending()
	activating.LastStatus = control.TaskActivating
	r.report(ctx, activating)
	if err := r.a.deps.Control.ActivateTask(ctx, r.ref); err != nil {
		return control.StopTaskFailedToStart, r.a.publicReason("ResourceInitializationError: failed to register the task: ", err), err
	}
	if r.stopRequested() {
		return control.StopUserInitiated, "", errStopRequested
	}
	r.report(ctx, control.TaskStateChange{LastStatus: control.TaskRunning, Connectivity: true})
	r.log.Info("task running")
	return "", "", nil
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
				r.report(ctx, control.TaskStateChange{StopCode: control.StopEssentialContainerExited, Reason: reasonEssentialExited})
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
			r.report(ctx, control.TaskStateChange{StopCode: control.StopTerminationNotice, Reason: reasonShutdown})
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
	ch := control.ContainerStateChange{Name: e.name, LastStatus: control.ContainerStopped, ExitCode: &code}
	if e.status.OOMKilled {
		ch.Reason = reasonOOM
	}
	if e.err != nil {
		ch.ExitCode = nil
		ch.Reason = r.a.publicReason("ContainerRuntimeError: ", e.err)
		r.log.Warn("waiting for a container", "container", e.name, "err", e.err)
	}
	r.report(ctx, control.TaskStateChange{Containers: []control.ContainerStateChange{ch}})
	r.log.Info("container exited", "container", e.name, "exit_code", code, "oom", e.status.OOMKilled)
}

// stop takes the task from wherever it is to STOPPED, cleaning everything
// it made.
func (r *runner) stop(ctx context.Context) {
	if r.task.StopCode == "" {
		r.report(ctx, control.TaskStateChange{StopCode: control.StopTaskFailedToStart, Reason: "Task failed to start"})
	}
	r.a.meta.remove(r)
	r.report(ctx, control.TaskStateChange{LastStatus: control.TaskDeactivating})
	r.deactivate(ctx)
	r.report(ctx, control.TaskStateChange{LastStatus: control.TaskStopping})
	r.stopContainers(ctx)
	if r.cancelHook != nil {
		r.cancelHook()
	}
	r.flushLogs(ctx)
	r.report(ctx, control.TaskStateChange{LastStatus: control.TaskDeprovisioning, ExecStopped: time.Now()})
	r.cleanup(ctx)
	r.report(ctx, control.TaskStateChange{LastStatus: control.TaskStopped, Attachment: r.attachment("DELETED")})
	r.log.Info("task stopped", "stop_code", r.task.StopCode, "reason", r.task.StoppedReason)
}

// deactivate deregisters the task from its service's load balancers and
// service registries and waits while its traffic drains (the target
// group's deregistration delay), before any container gets its stop
// signal. Containers that exit meanwhile are recorded as they exit.
func (r *runner) deactivate(ctx context.Context) {
	drain, err := r.a.deps.Control.DeactivateTask(ctx, r.ref)
	if err != nil {
		r.log.Warn("deregister task", "err", err)
	}
	if drain <= 0 {
		return
	}
	r.log.Info("draining", "for", drain)
	t := time.NewTimer(drain)
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
		var wave []*control.ContainerDefinition
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
				if err := r.a.deps.Runtime.Stop(ctx, containerID(r.ref.ID, cd.Name), 0, timeout); err != nil {
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
	var pending []control.ContainerStateChange
	for _, c := range r.task.Containers {
		if c.LastStatus != control.ContainerStopped {
			pending = append(pending, control.ContainerStateChange{Name: c.Name, LastStatus: control.ContainerStopped})
		}
	}
	if len(pending) > 0 {
		r.report(ctx, control.TaskStateChange{Containers: pending})
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

// cleanup deletes the containers, mounts, cgroup, network and files.
func (r *runner) cleanup(ctx context.Context) {
	for _, cd := range r.td.ContainerDefinitions {
		id := containerID(r.ref.ID, cd.Name)
		if err := r.a.deps.Runtime.Delete(ctx, id); err != nil {
			r.log.Warn("delete container", "container", cd.Name, "err", err)
		}
		if err := r.a.deps.Images.Unmount(ctx, id); err != nil {
			r.log.Warn("unmount rootfs", "container", cd.Name, "err", err)
		}
	}
	if err := r.a.deps.Runtime.RemoveTaskCgroup(r.ref.ID); err != nil {
		r.log.Warn("remove task cgroup", "err", err)
	}
	if hasOwnNetNS(r.td.NetworkMode) {
		if err := r.a.deps.Network.Teardown(ctx, r.ref.ID); err != nil {
			r.log.Warn("network teardown", "err", err)
		}
	}
	if st := r.a.deps.Storage; st != nil {
		if err := st.Detach(ctx, r.ref.ID, r.dir); err != nil {
			r.log.Warn("remove the task's ephemeral storage", "err", err)
			return // never remove through a mount
		}
	}
	if err := os.RemoveAll(r.dir); err != nil {
		r.log.Warn("remove task dir", "err", err)
	}
}

func (r *runner) containerDef(name string) *control.ContainerDefinition {
	for i := range r.td.ContainerDefinitions {
		if r.td.ContainerDefinitions[i].Name == name {
			return &r.td.ContainerDefinitions[i]
		}
	}
	return nil
}

// attachment is the task's ENI attachment as DescribeTasks shows it.
func (r *runner) attachment(status string) *control.TaskAttachment {
	if r.att == nil || len(r.task.Attachments) == 0 {
		return nil
	}
	at := r.task.Attachments[0]
	at.Status = status
	at.Details = []control.KeyValue{
		{Name: "subnetId", Value: detail(at.Details, "subnetId", r.att.SubnetID)},
		{Name: "networkInterfaceId", Value: r.att.ENIID},
		{Name: "macAddress", Value: r.att.MAC},
		{Name: "privateDnsName", Value: r.att.DNSName},
		{Name: "privateIPv4Address", Value: r.att.IP},
	}
	return &at
}

func detail(kvs []control.KeyValue, name, def string) string {
	for _, kv := range kvs {
		if kv.Name == name && kv.Value != "" {
			return kv.Value
		}
	}
	return def
}

// networkInterfaces gives each container the task's ENI address.
func (r *runner) networkInterfaces() []control.ContainerStateChange {
	if r.att == nil || len(r.task.Attachments) == 0 {
		return nil
	}
	var out []control.ContainerStateChange
	for _, c := range r.task.Containers {
		out = append(out, control.ContainerStateChange{Name: c.Name, NetworkInterfaces: []control.NetworkInterface{
			{AttachmentID: r.task.Attachments[0].ID, PrivateIPv4Address: r.att.IP}}})
	}
	return out
}

// writeEtcFiles writes the task's /etc/hosts and /etc/hostname.
func writeEtcFiles(dir string, att *Attachment) error {
	host := "ip-" + strings.ReplaceAll(att.IP, ".", "-")
	hosts := fmt.Sprintf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n%s\t%s %s\n", att.IP, att.DNSName, host)
	if err := os.WriteFile(filepath.Join(dir, "hosts"), []byte(hosts), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "hostname"), []byte(host+"\n"), 0o644)
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

// hasOwnNetNS reports whether a network mode gives the task a network
// namespace of its own: awsvpc (with an ENI) and bridge (with published
// ports). host shares the host's; none has only loopback.
func hasOwnNetNS(mode string) bool {
	return mode == control.NetworkModeAwsvpc || mode == control.NetworkModeBridge
}

// publishPorts publishes the bridge-mode task's port mappings on the host
// (hostPort 0 or absent: an ephemeral port; a containerPortRange: a run of
// ephemeral ports) and returns each container's networkBindings.
func (r *runner) publishPorts(ctx context.Context) ([]control.ContainerStateChange, error) {
	var out []control.ContainerStateChange
	for _, cd := range r.td.ContainerDefinitions {
		if len(cd.PortMappings) == 0 {
			continue
		}
		want := make([]control.NetworkBinding, 0, len(cd.PortMappings))
		for _, pm := range cd.PortMappings {
			b := control.NetworkBinding{ContainerPort: derefInt(pm.ContainerPort), HostPort: derefInt(pm.HostPort), Protocol: pm.Protocol,
				ContainerPortRange: pm.ContainerPortRange}
			if b.Protocol == "" {
				b.Protocol = "tcp"
			}
			want = append(want, b)
		}
		got, err := r.a.deps.Network.PublishPorts(ctx, r.ref.ID, want)
		if err != nil {
			return nil, err
		}
		out = append(out, control.ContainerStateChange{Name: cd.Name, NetworkBindings: got})
	}
	return out, nil
}

func derefInt(p *int) int {
	if p == nil {
		return 0
	}
	return *p
}
