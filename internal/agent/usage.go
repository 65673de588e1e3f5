package agent

import (
	"context"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// TaskUsage is what one running task uses, read from its containers'
// cgroups, beside what it reserved: what CloudWatch's AWS/ECS
// CPUUtilization and MemoryUtilization are computed from (used over
// reserved).
type TaskUsage struct {
	TaskARN string
	// Cluster is the cluster's name; Group is the task's group
	// ("service:NAME" for a service's tasks, "family:NAME" otherwise).
	Cluster string
	Group   string
	// CPUUnits and MemoryMiB are the task's reservation: its task size,
	// else the sum of its containers' (1024 units = 1 vCPU).
	CPUUnits  int
	MemoryMiB int
	// CPUNanos is the CPU time the task's containers have used since they
	// started (cumulative); MemoryBytes is their memory in use now, page
	// cache that can be dropped (inactive file pages) left out, as ECS
	// and docker stats count it.
	CPUNanos    uint64
	MemoryBytes uint64
	// Read is when the counters were read.
	Read time.Time
}

// Usage reads the usage of every RUNNING task of this agent. A container
// whose cgroup cannot be read (it is starting or gone) is left out.
func (a *Agent) Usage(ctx context.Context) []TaskUsage {
	a.mu.Lock()
	runners := make([]*runner, 0, len(a.runners))
	for _, r := range a.runners {
		runners = append(runners, r)
	}
	a.mu.Unlock()
	var out []TaskUsage
	for _, r := range runners {
		task, td := r.snapshot()
		if task == nil || td == nil || task.LastStatus != control.TaskRunning {
			continue
		}
		u := TaskUsage{TaskARN: task.ARN, Cluster: task.Cluster, Group: task.Group, Read: time.Now()}
		u.CPUUnits, _ = control.ParseCPU(task.Cpu)
		u.MemoryMiB, _ = control.ParseMemory(task.Memory)
		sumCPU, sumMem := 0, 0
		read := false
		for _, c := range td.ContainerDefinitions {
			sumCPU += c.Cpu
			switch {
			case c.Memory != nil:
				sumMem += *c.Memory
			case c.MemoryReservation != nil:
				sumMem += *c.MemoryReservation
			}
			st, err := a.deps.Runtime.Stats(ctx, containerID(r.ref.ID, c.Name))
			if err != nil {
				continue
			}
			read = true
			u.CPUNanos += st.CPUTotalNanos
			mem := st.MemoryUsage
			for _, k := range []string{"inactive_file", "total_inactive_file"} {
				if v, ok := st.MemoryStats[k]; ok && v <= mem {
					mem -= v
					break
				}
			}
			u.MemoryBytes += mem
		}
		if !read {
			continue
		}
		if u.CPUUnits == 0 {
			u.CPUUnits = sumCPU
		}
		if u.MemoryMiB == 0 {
			u.MemoryMiB = sumMem
		}
		out = append(out, u)
	}
	return out
}
