// Package scheduler places tasks on nodes. Placement is a pure function, as
// in Nomad: a snapshot of the nodes goes in, a plan comes out, and the
// control plane applies the plan in the same store transaction it read the
// snapshot from, so two plans can never both spend the same capacity.
//
//	nodes ──► filters (ready, fits) ──► rank (most room left) ──► plan
//
// Filters and rankers compose: each filter explains why it rejected a node,
// and the reason of the last filter to empty the list becomes the task's
// placement failure (RESOURCE:CPU, RESOURCE:MEMORY, RESOURCE:PORTS, AGENT),
// as ECS reports.
package scheduler

import (
	"cmp"
	"slices"
)

// Node is one host's capacity and what is already placed on it.
type Node struct {
	ID string
	// Ready is false when the node's agent is not connected.
	Ready bool
	// CPU is the capacity in CPU units (1024 per vCPU); Memory in MiB.
	CPU, Memory int
	// MaxTaskCPU and MaxTaskMemory bound one task (the physical host):
	// capacity may be overcommitted, one task's size may not.
	MaxTaskCPU, MaxTaskMemory int
	// UsedCPU and UsedMemory are the reservations of its active tasks.
	UsedCPU, UsedMemory int
	// UsedPorts are the host ports its active tasks hold ("tcp/8080").
	// Place never writes to the map it is given.
	UsedPorts map[string]bool
}

// Request asks for Count tasks of one size. Ports are the fixed host
// ports each task binds (bridge and host network modes), so two tasks
// that need one port never share a node.
type Request struct {
	Count       int
	CPU, Memory int
	Ports       []string
}

// Placement failure reasons, as ECS words them.
const (
	ReasonCPU    = "RESOURCE:CPU"
	ReasonMemory = "RESOURCE:MEMORY"
	ReasonPorts  = "RESOURCE:PORTS"
	ReasonAgent  = "AGENT"
)

// Plan is where each task goes: Nodes[i] for placed task i, and one reason
// per task that could not be placed.
type Plan struct {
	Nodes    []string
	Failures []string
}

// filter keeps the nodes a task fits on, or says why none is left.
type filter struct {
	reason string
	keep   func(n *Node, r Request) bool
}

var filters = []filter{
	{ReasonAgent, func(n *Node, _ Request) bool { return n.Ready }},
	{ReasonCPU, func(n *Node, r Request) bool { return r.CPU <= n.MaxTaskCPU && n.UsedCPU+r.CPU <= n.CPU }},
	{ReasonMemory, func(n *Node, r Request) bool {
		return r.Memory <= n.MaxTaskMemory && n.UsedMemory+r.Memory <= n.Memory
	}},
	{ReasonPorts, func(n *Node, r Request) bool {
		return !slices.ContainsFunc(r.Ports, func(p string) bool { return n.UsedPorts[p] })
	}},
}

// Place plans req over nodes. It does not modify nodes.
func Place(nodes []Node, req Request) Plan {
	snap := slices.Clone(nodes)
	var plan Plan
	for range req.Count {
		cands := make([]*Node, 0, len(snap))
		for i := range snap {
			cands = append(cands, &snap[i])
		}
		reason := ReasonAgent
		for _, f := range filters {
			cands = slices.DeleteFunc(cands, func(n *Node) bool { return !f.keep(n, req) })
			if len(cands) == 0 {
				reason = f.reason
				break
			}
		}
		if len(cands) == 0 {
			plan.Failures = append(plan.Failures, reason)
			continue
		}
		// Spread: the node with the most memory left, then CPU, then ID.
		best := slices.MinFunc(cands, func(a, b *Node) int {
			return cmp.Or(
				cmp.Compare(b.Memory-b.UsedMemory, a.Memory-a.UsedMemory),
				cmp.Compare(b.CPU-b.UsedCPU, a.CPU-a.UsedCPU),
				cmp.Compare(a.ID, b.ID))
		})
		best.Use(req)
		plan.Nodes = append(plan.Nodes, best.ID)
	}
	return plan
}

// Use counts one task of req as placed on n. The ports map is copied
// before it grows, so snapshots that share it stay as they were.
func (n *Node) Use(req Request) {
	n.UsedCPU += req.CPU
	n.UsedMemory += req.Memory
	if len(req.Ports) == 0 {
		return
	}
	ports := make(map[string]bool, len(n.UsedPorts)+len(req.Ports))
	for p := range n.UsedPorts {
		ports[p] = true
	}
	for _, p := range req.Ports {
		ports[p] = true
	}
	n.UsedPorts = ports
}
