package agent

import (
	"context"
	"errors"

	"github.com/fargo-run/fargo/internal/node"
)

// A task's life is a state machine (runner.go) that calls an ordered list
// of hooks at each of its steps. A hook is one concern of a task (its
// network, its images, its cgroup, ...), in a file of its own, holding
// the state it owns; it implements the steps it takes part in, and no
// hook calls another's steps. The steps, in the order the machine takes
// them:
//
//	PROVISIONING   provision           task-level resources, in list order; a
//	                                   hook may go on working meanwhile (its
//	                                   wait is awaited once all provisioned,
//	                                   or, like the image pulls, by its own
//	                                   later step)
//	               provisioned         what needs them all (files on the
//	                                   task's filesystem, published ports)
//	PENDING        prestart            before any container starts (pull, cgroup);
//	                                   the PENDING report goes on meanwhile,
//	                                   until the first container's spec
//	               prestartContainer   each container, before runtime.Start:
//	                                   what it needs made, its part of the spec
//	               poststartContainer  each container started or re-adopted
//	ACTIVATING     poststart           the task's containers all started
//	RUNNING
//	DEACTIVATING   stop                in list order, before any container
//	                                   gets its stop signal
//	STOPPING       exited              the containers have all exited
//	DEPROVISIONING cleanup             in reverse list order (what a later hook
//	                                   made may lie on an earlier one's)
//	STOPPED
//
// Hooks add their part to the report of each status the machine moves to
// (addToReport: PENDING, ACTIVATING, DEACTIVATING, STOPPED). A start step
// fails with a *StopError (the task's stop code and reason); the machine
// then stops the task as any other: every hook's stop, exited and cleanup
// run, whatever it made.
//
// Adding a hook is a file with its type and steps, and one line in
// newHooks.

// provisioner takes part in PROVISIONING. wait, when not nil, is what
// the hook goes on doing meanwhile: the machine awaits it (in list order,
// failed or not) once every hook has provisioned.
type provisioner interface {
	provision(ctx context.Context, r *runner) (wait func() error, err error)
}

// provisionedHook takes part in PROVISIONING once every hook provisioned.
type provisionedHook interface {
	provisioned(ctx context.Context, r *runner) error
}

// prestarter takes part in PENDING, before any container starts.
type prestarter interface {
	prestart(ctx context.Context, r *runner) error
}

// containerPrestarter prepares one container's start: what it needs made
// (its log stream, root filesystem, volumes) and its part of the spec.
type containerPrestarter interface {
	prestartContainer(ctx context.Context, r *runner, c *specInput) error
}

// containerPoststarter follows a container started, or re-adopted from an
// earlier agent (running: its process runs). ctx ends when the task's
// containers have stopped.
type containerPoststarter interface {
	poststartContainer(ctx context.Context, r *runner, cd *node.ContainerDefinition, running bool)
}

// poststarter takes part in ACTIVATING: the task's containers started.
type poststarter interface {
	poststart(ctx context.Context, r *runner) error
}

// stopper takes part in DEACTIVATING, before any container is stopped.
type stopper interface {
	stop(ctx context.Context, r *runner)
}

// exiter is told that the task's containers have all exited.
type exiter interface {
	exited(ctx context.Context, r *runner)
}

// cleaner removes what the hook made, in DEPROVISIONING. It returns false
// when the cleanup must go no further (a mount that would not go).
type cleaner interface {
	cleanup(ctx context.Context, r *runner) bool
}

// statusReporter adds the hook's part to the report of a task status
// (PENDING, ACTIVATING, DEACTIVATING, STOPPED).
type statusReporter interface {
	addToReport(r *runner, status string, ch *node.TaskStateChange)
}

// hooks are a task's hooks: by name for the few that others read
// (network's attachment, storage's bound), and in their order.
type hooks struct {
	storage  *storageHook
	network  *networkHook
	cgroup   *cgroupHook
	metadata *metadataHook
	health   *healthHook
	list     []any
}

// newHooks returns a task's hooks in their order.
func newHooks() hooks {
	h := hooks{storage: &storageHook{}, network: &networkHook{}, cgroup: &cgroupHook{}, metadata: &metadataHook{},
		health: &healthHook{}}
	h.list = []any{
		h.storage,           // the task's filesystem: everything below may write to it
		&logsHook{},         // awslogs streams and shippers
		&imageHook{},        // pulls, root filesystems
		&volumesHook{},      // volumes, on the task's filesystem
		h.network,           // namespace, /etc files, published ports
		h.metadata,          // the metadata endpoint
		h.cgroup,            // the task's cgroup
		h.health,            // health checks
		&registrationHook{}, // load balancers and service registries
	}
	return h
}

// StopError is why a task stops before it ran: its stop code, the
// stoppedReason its account sees, and the error behind it (for fargo's
// log). Reported on Container too when that is set.
type StopError struct {
	Code, Reason string
	Container    string
	Err          error
}

func (e *StopError) Error() string {
	switch {
	case e.Err == nil:
		return e.Reason
	case e.Reason == "":
		return e.Err.Error()
	}
	return e.Reason + ": " + e.Err.Error()
}

func (e *StopError) Unwrap() error { return e.Err }

// failedToStart is a TaskFailedToStart stop with a fixed reason.
func failedToStart(reason string, err error) *StopError {
	return &StopError{Code: node.StopTaskFailedToStart, Reason: reason, Err: err}
}

// failedToStartWith is a TaskFailedToStart stop whose reason is prefix
// and the error's message, host paths hidden (publicReason).
func (a *Agent) failedToStartWith(prefix string, err error) *StopError {
	return failedToStart(a.publicReason(prefix, err), err)
}

// errStopRequested ends a start that a stop request overtook.
var errStopRequested = errors.New("stop requested before the task was running")

// stopRequestedError is the stop of a task asked to stop while starting.
func stopRequestedError(err error) *StopError {
	return &StopError{Code: node.StopUserInitiated, Err: err}
}

// asStopError is err as a StopError (a task that failed to start unless
// it says otherwise).
func asStopError(err error) *StopError {
	var se *StopError
	if errors.As(err, &se) {
		return se
	}
	return failedToStart("Task failed to start", err)
}
