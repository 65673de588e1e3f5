package control

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/store"
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

// nodeTask is the index entry of an active task on a node: what the agent
// watches, and what the scheduler counts as used.
type nodeTask struct {
	Account       string `json:"account"`
	Region        string `json:"region"`
	Cluster       string `json:"cluster"`
	ID            string `json:"id"`
	CPU           int    `json:"cpu"`
	Memory        int    `json:"memory"`
	DesiredStatus string `json:"desiredStatus"`
}

// TaskRef names a task anywhere in the control plane.
type TaskRef struct {
	Scope   tenant.Scope
	Cluster string
	ID      string
}

const nodesPrefix = "nodes/"

func nodeKey(id string) string { return nodesPrefix + id }

func nodeTasksPrefix(node string) string { return "nodetasks/" + node + "/" }

func nodeTaskKey(node string, s tenant.Scope, cluster, id string) string {
	return nodeTasksPrefix(node) + s.Account + "/" + s.Region + "/" + cluster + "/" + id
}

// RegisterNode records a node and its capacity.
func (c *Control) RegisterNode(ctx context.Context, n Node) error {
	n.RegisteredAt = c.now().UTC()
	_, err := c.st.Update(ctx, func(tx store.Tx) error { return put(tx, nodeKey(n.ID), &n) })
	return err
}

// NodeTasks returns the tasks placed on a node that are not STOPPED yet.
func (c *Control) NodeTasks(ctx context.Context, node string) ([]*Task, []TaskRef, error) {
	var tasks []*Task
	var refs []TaskRef
	err := c.st.View(ctx, func(tx store.ReadTx) error {
		kvs, err := tx.List(nodeTasksPrefix(node))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			nt, err := decode[nodeTask](kv)
			if err != nil {
				return err
			}
			ref := TaskRef{Scope: tenant.Scope{Account: nt.Account, Region: nt.Region}, Cluster: nt.Cluster, ID: nt.ID}
			t, err := get[Task](tx, taskKey(ref.Scope, ref.Cluster, ref.ID))
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			tasks = append(tasks, t)
			refs = append(refs, ref)
		}
		return nil
	})
	return tasks, refs, err
}

// WatchNode signals (without blocking) whenever a node's task set or a
// desired status changes, until ctx ends. Agents reconcile on each signal.
func (c *Control) WatchNode(ctx context.Context, node string) (<-chan struct{}, error) {
	rev, err := c.st.Revision(ctx)
	if err != nil {
		return nil, err
	}
	events, err := c.st.Watch(ctx, nodeTasksPrefix(node), rev)
	if err != nil {
		return nil, err
	}
	out := make(chan struct{}, 1)
	go func() {
		defer close(out)
		for range events {
			select {
			case out <- struct{}{}:
			default:
			}
		}
	}()
	return out, nil
}

// nodeUsage returns every node with the reservations of its active tasks.
func nodeUsage(tx store.ReadTx) ([]Node, map[string][2]int, error) {
	kvs, err := tx.List(nodesPrefix)
	if err != nil {
		return nil, nil, err
	}
	var nodes []Node
	used := map[string][2]int{}
	for _, kv := range kvs {
		n, err := decode[Node](kv)
		if err != nil {
			return nil, nil, err
		}
		nodes = append(nodes, *n)
		tks, err := tx.List(nodeTasksPrefix(n.ID))
		if err != nil {
			return nil, nil, err
		}
		var u [2]int
		for _, tk := range tks {
			nt, err := decode[nodeTask](tk)
			if err != nil {
				return nil, nil, err
			}
			u[0] += nt.CPU
			u[1] += nt.Memory
		}
		used[n.ID] = u
	}
	return nodes, used, nil
}

// parseNodeTaskKey is the inverse of nodeTaskKey's tail.
func parseNodeTaskKey(node, key string) (TaskRef, bool) {
	parts := strings.Split(strings.TrimPrefix(key, nodeTasksPrefix(node)), "/")
	if len(parts) != 4 {
		return TaskRef{}, false
	}
	return TaskRef{Scope: tenant.Scope{Account: parts[0], Region: parts[1]}, Cluster: parts[2], ID: parts[3]}, true
}
