package control

import (
	"cmp"
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/scheduler"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

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
	// HostPorts are the host ports the task binds ("tcp/8080"); records
	// written before fargo tracked them have none.
	HostPorts []string `json:"hostPorts,omitempty"`
}

// nodeUse is what a node's active tasks hold.
type nodeUse struct {
	CPU, Memory int
	Ports       map[string]bool
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
func nodeUsage(tx store.ReadTx) ([]Node, map[string]nodeUse, error) {
	kvs, err := tx.List(nodesPrefix)
	if err != nil {
		return nil, nil, err
	}
	var nodes []Node
	used := map[string]nodeUse{}
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
		u := nodeUse{Ports: map[string]bool{}}
		for _, tk := range tks {
			nt, err := decode[nodeTask](tk)
			if err != nil {
				return nil, nil, err
			}
			u.CPU += nt.CPU
			u.Memory += nt.Memory
			for _, p := range nt.HostPorts {
				u.Ports[p] = true
			}
		}
		used[n.ID] = u
	}
	return nodes, used, nil
}

// schedulerNodes is the scheduler's snapshot of the nodes and what their
// tasks hold.
func schedulerNodes(tx store.ReadTx) ([]scheduler.Node, error) {
	nodes, used, err := nodeUsage(tx)
	if err != nil {
		return nil, err
	}
	snap := make([]scheduler.Node, 0, len(nodes))
	for _, n := range nodes {
		u := used[n.ID]
		snap = append(snap, scheduler.Node{ID: n.ID, Ready: true, CPU: n.CPU, Memory: n.Memory,
			MaxTaskCPU: n.MaxTaskCPU, MaxTaskMemory: n.MaxTaskMemory, UsedCPU: u.CPU, UsedMemory: u.Memory, UsedPorts: u.Ports})
	}
	return snap, nil
}

// useNode counts a task placed on node in snap.
func useNode(snap []scheduler.Node, node string, req scheduler.Request) {
	for i := range snap {
		if snap[i].ID == node {
			snap[i].Use(scheduler.Request{CPU: req.CPU, Memory: req.Memory, Ports: req.Ports})
		}
	}
}

// putNodeTask indexes a new task under its node, with what it holds.
func putNodeTask(tx store.Tx, s tenant.Scope, t *Task, req scheduler.Request) error {
	return put(tx, nodeTaskKey(t.Node, s, t.Cluster, t.ID), &nodeTask{
		Account: s.Account, Region: s.Region, Cluster: t.Cluster, ID: t.ID,
		CPU: req.CPU, Memory: req.Memory, DesiredStatus: TaskRunning, HostPorts: req.Ports})
}

// taskHostPorts are the host ports a task of td binds on its node: under
// host every mapping's port, under bridge the fixed host ports (0 and
// ranges take ephemeral ports, found when the task starts). awsvpc tasks
// have their own network namespace and bind none.
func taskHostPorts(td *TaskDefinition) []string {
	if td.NetworkMode != NetworkModeBridge && td.NetworkMode != NetworkModeHost {
		return nil
	}
	var ports []string
	for _, cd := range td.ContainerDefinitions {
		for _, pm := range cd.PortMappings {
			port := 0
			switch {
			case pm.HostPort != nil && *pm.HostPort > 0:
				port = *pm.HostPort
			case td.NetworkMode == NetworkModeHost && pm.ContainerPort != nil:
				port = *pm.ContainerPort
			}
			if port > 0 {
				ports = append(ports, cmp.Or(pm.Protocol, "tcp")+"/"+strconv.Itoa(port))
			}
		}
	}
	return ports
}

// parseNodeTaskKey is the inverse of nodeTaskKey's tail.
func parseNodeTaskKey(node, key string) (TaskRef, bool) {
	parts := strings.Split(strings.TrimPrefix(key, nodeTasksPrefix(node)), "/")
	if len(parts) != 4 {
		return TaskRef{}, false
	}
	return TaskRef{Scope: tenant.Scope{Account: parts[0], Region: parts[1]}, Cluster: parts[2], ID: parts[3]}, true
}
