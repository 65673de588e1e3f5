// Package node is the node protocol: what the control plane and the agent
// of a host exchange. The control plane places tasks on nodes (a Task and
// its TaskDefinition, with their ContainerDefinitions); the agent reports
// what it did with them (TaskStateChange, ContainerStateChange) and asks
// for the few things only the control plane can do (ControlPlane). The
// package holds data and the one interface only: it imports no store, no
// wire types and not the control plane, so that an agent on another host
// can speak it over a network just as the in-process agent calls
// internal/control directly (control's types are these, by alias: no
// conversion on the way).
package node

import (
	"context"
	"time"

	"github.com/fargo-run/fargo/internal/tenant"
)

// Node is a host that runs tasks (its agent registers it).
type Node struct {
	ID string `json:"id"`
	// CPU (units) and Memory (MiB) are what the scheduler may place,
	// overcommit included; MaxTaskCPU and MaxTaskMemory bound one task.
	CPU           int       `json:"cpu"`
	Memory        int       `json:"memory"`
	MaxTaskCPU    int       `json:"maxTaskCpu"`
	MaxTaskMemory int       `json:"maxTaskMemory"`
	RegisteredAt  time.Time `json:"registeredAt"`
}

// TaskRef names a task anywhere in the control plane.
type TaskRef struct {
	Scope   tenant.Scope
	Cluster string
	ID      string
}

// KeyValue is a name/value pair.
type KeyValue struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ControlPlane is the control plane as a node's agent sees it. In-process
// it is *control.Control itself; an agent on another host would get a
// client with the same methods.
type ControlPlane interface {
	// RegisterNode records the node and its capacity.
	RegisterNode(ctx context.Context, n Node) error
	// NodeTasks returns the tasks placed on the node that are not
	// STOPPED yet, with their references.
	NodeTasks(ctx context.Context, node string) ([]*Task, []TaskRef, error)
	// WatchNode signals whenever the node's task set or a desired status
	// changes, until ctx ends.
	WatchNode(ctx context.Context, node string) (<-chan struct{}, error)
	// UpdateTaskState applies a state report and answers the task as
	// stored.
	UpdateTaskState(ctx context.Context, ref TaskRef, ch TaskStateChange) (*Task, error)
	// TaskDefinitionOf returns the task definition a task runs, with the
	// task's overrides applied.
	TaskDefinitionOf(ctx context.Context, s tenant.Scope, t *Task) (*TaskDefinition, error)
	// ActivateTask registers a service task with its load balancers and
	// service registries (ACTIVATING); DeactivateTask deregisters it
	// (DEACTIVATING) and answers how long its traffic drains.
	ActivateTask(ctx context.Context, ref TaskRef) error
	DeactivateTask(ctx context.Context, ref TaskRef) (time.Duration, error)
}
