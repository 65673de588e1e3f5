// Package agent runs the tasks the control plane places on this host. It
// is the composition root of a node: one goroutine (a runner) owns each
// task and moves it from its known status towards its desired status, as
// a state machine whose steps call an ordered list of hooks (hooks.go):
// storage, logs, image, volumes, network, metadata, cgroup, health and
// registration, each in a file of its own.
//
//	control plane ──WatchNode──► reconcile ──► runner (one per task)
//	      ▲                                      │ provision   storage, volumes, network, metadata
//	      │                                      │ PENDING     prestart: image pull, cgroup
//	      │                                      │ containers  dependsOn order; prestartContainer, runtime.Start,
//	      │                                      │             poststartContainer (logs, health)
//	      │                                      │ ACTIVATING  poststart: registration
//	      └──── UpdateTaskState ◄────────────────┤ RUNNING     wait / health / exits
//	                                             │ DEACTIVATING stop: metadata, registration (drain)
//	                                             │ STOPPING    runtime.Stop (dependents first); exited: logs
//	                                             └ DEPROVISIONING cleanup, last hook first → STOPPED
//
// The agent talks to the control plane only through node.ControlPlane
// (the node protocol, internal/node), so the same code can run in-process
// or on another host; it imports neither the control plane nor a store.
// State it must remember lives in the control plane's store (the task
// records) and in the runtime's monitor files, so a restarted agent
// re-adopts running containers and learns the real exit codes of those
// that ended meanwhile.
package agent

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/node"
)

// Config configures an agent.
type Config struct {
	// Node is this host's id in the control plane.
	Node string
	// StateDir holds per-task files (generated /etc files, log offsets).
	StateDir string
	// CPU (units) and Memory (MiB) are the capacity offered to the
	// scheduler; MaxTaskCPU and MaxTaskMemory bound one task.
	CPU, Memory, MaxTaskCPU, MaxTaskMemory int
	// KeepTasks leaves tasks running when the agent stops (live restore).
	KeepTasks bool
	// MetadataEndpoint is the base of ECS_CONTAINER_METADATA_URI_V4
	// ("http://169.254.170.2/v4"), "" when the endpoint is not served.
	MetadataEndpoint string
	// Nameservers are the resolvers of tasks with a network of their own
	// (fargo's DNS server), written to their /etc/resolv.conf; none keeps
	// the image's own.
	Nameservers []string
	// Resync is how often the agent reconciles without a signal.
	Resync time.Duration
	Logger *slog.Logger
	// ObserveStep receives how long each step of a task's life took
	// (one of Steps), for metrics; nil: none.
	ObserveStep func(step string, d time.Duration)
}

// The steps ObserveStep measures: a task's image pulls, its network
// set-up, and each container's start and stop.
const (
	StepPull    = "pull"
	StepNetwork = "network"
	StepStart   = "start"
	StepStop    = "stop"
)

// Steps lists the steps ObserveStep measures.
var Steps = []string{StepPull, StepNetwork, StepStart, StepStop}

// observe reports a step that began at start.
func (a *Agent) observe(step string, start time.Time) {
	if a.cfg.ObserveStep != nil {
		a.cfg.ObserveStep(step, time.Since(start))
	}
}

// Deps are the agent's collaborators.
type Deps struct {
	Control ControlPlane
	Images  Images
	Network Network
	Runtime Runtime
	Logs    LogSink
	Sweeper Sweeper // nil: no sweep
	Storage Storage // nil: tasks' ephemeral storage is not bounded
}

// Agent runs a node's tasks.
type Agent struct {
	cfg  Config
	deps Deps
	log  *slog.Logger

	mu      sync.Mutex
	runners map[string]*runner // by task id
	wg      sync.WaitGroup
	meta    *metadataIndex
}

// New returns an agent.
func New(cfg Config, deps Deps) (*Agent, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Resync == 0 {
		cfg.Resync = 5 * time.Second
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "tasks"), 0o700); err != nil {
		return nil, err
	}
	return &Agent{cfg: cfg, deps: deps, log: cfg.Logger, runners: map[string]*runner{}, meta: newMetadataIndex()}, nil
}

// Run registers the node and runs its tasks until ctx ends. Then it stops
// every task (unless KeepTasks) and returns once the runners are done.
func (a *Agent) Run(ctx context.Context) error {
	if err := a.deps.Control.RegisterNode(ctx, node.Node{ID: a.cfg.Node, CPU: a.cfg.CPU, Memory: a.cfg.Memory,
		MaxTaskCPU: a.cfg.MaxTaskCPU, MaxTaskMemory: a.cfg.MaxTaskMemory}); err != nil {
		return err
	}
	signals, err := a.deps.Control.WatchNode(ctx, a.cfg.Node)
	if err != nil {
		return err
	}
	tick := time.NewTicker(a.cfg.Resync)
	defer tick.Stop()
	// Sweep only once this agent knows its tasks: a failed first listing
	// would make every task look unowned.
	// The containers go first: their writable layers may be on a task's
	// filesystem, which the task directory's sweep unmounts.
	if a.reconcile(ctx) {
		if a.deps.Sweeper != nil {
			if err := a.deps.Sweeper.Sweep(ctx, Keep{Task: a.owns, Container: a.ownsContainer}); err != nil {
				a.log.Warn("sweeping what earlier agents left", "err", err)
			}
		}
		a.sweepTaskDirs(ctx)
	}
	for {
		select {
		case <-ctx.Done():
			a.shutdown()
			return nil
		case _, ok := <-signals:
			if !ok {
				if ctx.Err() == nil {
					// The watch ended (e.g. a slow watcher was dropped): watch again.
					if signals, err = a.deps.Control.WatchNode(ctx, a.cfg.Node); err != nil {
						a.log.Warn("watch node", "err", err)
						signals = nil
					}
				}
				continue
			}
		case <-tick.C:
		}
		a.reconcile(ctx)
	}
}

// reconcile starts a runner for each task without one and tells every
// runner the latest desired status. It reports whether it could list the
// node's tasks.
func (a *Agent) reconcile(ctx context.Context) bool {
	tasks, refs, err := a.deps.Control.NodeTasks(ctx, a.cfg.Node)
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("list node tasks", "err", err)
		}
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for i, t := range tasks {
		r, ok := a.runners[t.ID]
		if !ok {
			r = newRunner(a, refs[i], t)
			a.runners[t.ID] = r
			a.wg.Add(1)
			go func() {
				defer a.wg.Done()
				r.run(context.WithoutCancel(ctx), ctx.Done())
				a.mu.Lock()
				delete(a.runners, t.ID)
				a.mu.Unlock()
			}()
			continue
		}
		if t.DesiredStatus == node.TaskStopped {
			r.requestStop()
		}
	}
	return true
}

// owns reports whether a runner of this agent owns the task: a runner is
// registered before it creates anything, and leaves once all is removed.
func (a *Agent) owns(taskID string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.runners[taskID]
	return ok
}

// ownsContainer is owns for a container id (<task id>-<name>).
func (a *Agent) ownsContainer(id string) bool {
	taskID, _, ok := strings.Cut(id, "-")
	return ok && a.owns(taskID)
}

// sweepTaskDirs removes the state directories (generated /etc files, log
// offsets, task-scoped volumes, ephemeral storage) of tasks no runner
// owns: left by a crash in the middle of a cleanup, or by a store that
// lost the task.
func (a *Agent) sweepTaskDirs(ctx context.Context) {
	dir := filepath.Join(a.cfg.StateDir, "tasks")
	ents, err := os.ReadDir(dir)
	if err != nil {
		a.log.Warn("sweeping task directories", "err", err)
		return
	}
	unowned := map[string]bool{}
	for _, e := range ents {
		if e.IsDir() && !a.owns(e.Name()) {
			unowned[e.Name()] = true
		}
	}
	if a.deps.Storage != nil {
		ids, err := a.deps.Storage.Tasks()
		if err != nil {
			a.log.Warn("sweeping task filesystems", "err", err)
		}
		for _, id := range ids {
			if !a.owns(id) {
				unowned[id] = true
			}
		}
	}
	for id := range unowned {
		a.log.Warn("removing the directory of a task no runner owns", "task", id)
		if a.deps.Storage != nil {
			if err := a.deps.Storage.Detach(ctx, id, filepath.Join(dir, id)); err != nil {
				a.log.Warn("sweeping task filesystems", "task", id, "err", err)
				continue // never remove through a mount
			}
		}
		if err := os.RemoveAll(filepath.Join(dir, id)); err != nil {
			a.log.Warn("sweeping task directories", "task", id, "err", err)
		}
	}
}

// shutdown waits for the runners: each either stops its task or, with
// KeepTasks, leaves it running for the next agent to adopt.
func (a *Agent) shutdown() {
	a.wg.Wait()
}
