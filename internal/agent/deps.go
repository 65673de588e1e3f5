package agent

import (
	"context"
	"errors"
	"syscall"
	"time"

	"github.com/fargo-run/fargo/internal/ephemeral"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ControlPlane is the node protocol as the agent sees it
// (node.ControlPlane): in-process it is *control.Control itself.
type ControlPlane = node.ControlPlane

// ErrImageNotFound and ErrImageAuth classify pull failures (both become
// CannotPullContainerError stop reasons).
var (
	ErrImageNotFound = errors.New("image not found")
	ErrImageAuth     = errors.New("image pull not authorized")
)

// Images pulls and mounts images.
type Images interface {
	Pull(ctx context.Context, s tenant.Scope, ref string) (*image.Image, error)
	// MountScratch mounts the container's root filesystem, with its
	// writable layer in scratch ("" for the image store's own directory).
	MountScratch(ctx context.Context, img *image.Image, containerID, scratch string) (rootfs string, err error)
	// Unmount unmounts it and removes its writable layer (scratch too).
	Unmount(ctx context.Context, containerID string) error
}

// Storage bounds each task's ephemeral storage: Attach gives the task's
// state directory a filesystem of size bytes, and the task's volumes,
// generated files and its containers' writable layers are all kept there.
// Attach of an attached task (an agent adopting it) keeps its data;
// Detach of what is not attached does nothing.
type Storage interface {
	Attach(ctx context.Context, taskID, dir string, size int64) error
	Detach(ctx context.Context, taskID, dir string) error
	// Usage is what the task's filesystem holds and its size, in bytes.
	Usage(dir string) (used, size int64, err error)
	// Tasks lists the tasks that have a filesystem (for the sweep).
	Tasks() ([]string, error)
}

// ErrNotEnforced is an Attach failure after which the task runs without
// a bound on its storage: its directory holds files already (it predates
// enforcement). It is the ephemeral package's, whose Manager is a Storage.
var ErrNotEnforced = ephemeral.ErrNotEmpty

// Network gives tasks their network namespace and IP (*network.Manager).
type Network interface {
	Setup(ctx context.Context, req network.Request) (*network.Attachment, error)
	// PublishPorts publishes a set-up task's container ports on the host
	// (bridge network mode), one binding per port; publishing what is
	// already published answers the existing bindings.
	PublishPorts(ctx context.Context, taskID string, ports []network.PortMapping) ([]network.Binding, error)
	Teardown(ctx context.Context, taskID string) error
}

// ContainerState is what the runtime knows of a container. A container
// whose start a crash cut off before it ran does not exist (the agent
// starts it again; the runtime redoes the start). Running means a live
// process; Starting, that a start is still in progress (a monitor an
// earlier fargo left is starting it): it will be running or exited soon.
type ContainerState struct {
	Running   bool
	Starting  bool
	Exists    bool
	CreatedAt time.Time
	StartedAt time.Time
	Exit      *runtime.ExitStatus
}

// Runtime runs containers (runc under a monitor that outlives fargo):
// *runtime.Runtime.
type Runtime interface {
	// CreateTaskCgroupFor makes the task-level cgroup (cpu units, MiB)
	// and returns the parent path for its containers.
	CreateTaskCgroupFor(taskID string, cpu, memoryMiB int) (string, error)
	RemoveTaskCgroupFor(taskID string) error
	Start(ctx context.Context, spec runtime.ContainerSpec) error
	// Stop sends sig (0: the container's own stop signal, from its image's
	// STOPSIGNAL, else SIGTERM), waits up to timeout, then SIGKILLs.
	Stop(ctx context.Context, id string, sig syscall.Signal, timeout time.Duration) error
	Wait(ctx context.Context, id string) (runtime.ExitStatus, error)
	// State is what the runtime knows of a container (an errdefs not
	// found error when it has none).
	State(ctx context.Context, id string) (runtime.State, error)
	Delete(ctx context.Context, id string) error
	Exec(ctx context.Context, id string, args []string, timeout time.Duration) (int, []byte, error)
	// LogPath is the file of the container's output records.
	LogPath(id string) string
	Stats(ctx context.Context, id string) (runtime.Stats, error)
}

// containerState is the runtime's state of a container as the agent uses
// it: a container the runtime has no record of, or whose start a crash
// cut off, does not exist (the runtime's Start redoes such a start).
func containerState(ctx context.Context, rt Runtime, id string) (ContainerState, error) {
	st, err := rt.State(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) || err == nil && st.Status == runtime.StatusNotStarted {
		return ContainerState{}, nil
	}
	if err != nil {
		return ContainerState{}, err
	}
	cs := ContainerState{Exists: true, Running: st.Status == runtime.StatusRunning, Starting: st.Status == runtime.StatusCreated,
		CreatedAt: st.CreatedAt, StartedAt: st.StartedAt}
	if st.Status == runtime.StatusStopped {
		cs.Exit = &runtime.ExitStatus{Code: st.ExitCode, OOMKilled: st.OOMKilled, FinishedAt: st.FinishedAt, Error: st.Error}
	}
	return cs, nil
}

// LogSink receives container output (the awslogs driver's destination).
type LogSink interface {
	EnsureGroup(ctx context.Context, s tenant.Scope, group string) error
	EnsureStream(ctx context.Context, s tenant.Scope, group, stream string) error
	Put(ctx context.Context, s tenant.Scope, group, stream string, events []LogEvent) error
}

// LogEvent is one line of output.
type LogEvent struct {
	Timestamp time.Time
	Message   string
}

// Sweeper removes what earlier agents left on the host of tasks no runner
// owns: containers, root filesystems, task networks and cgroups (after a
// crash in the middle of a cleanup, or a store that lost the task). The
// agent calls it once, after its first reconcile. Optional.
type Sweeper interface {
	Sweep(ctx context.Context, keep Keep) error
}

// Keep says which of the host's task resources the agent owns.
type Keep struct {
	Task      func(taskID string) bool
	Container func(containerID string) bool
}
