package runtime

import (
	"context"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// A task's containers are named and grouped on the host by the task:
//
//	container id   <task id>-<container name>      (ContainerID)
//	cgroup         /fargo/<task id>/<container id> (TaskCgroup, then the
//	               container's own cgroup under CgroupParent)
//
// The task's cgroup bounds what all its containers use together (cpu,
// memory, pids); fargo's own (/fargo) bounds all tasks' pids.

// ContainerID is the runtime id of a task's container.
func ContainerID(taskID, name string) string { return taskID + "-" + name }

// ContainerTask is the task id of a container id made by ContainerID.
func ContainerTask(id string) (taskID string, ok bool) {
	taskID, _, ok = strings.Cut(id, "-")
	return taskID, ok && taskID != ""
}

// TaskCgroup is the cgroup of a task's containers, under fargo's own.
func TaskCgroup(taskID string) string { return "/fargo/" + taskID }

// TaskPidsMax is every task's pids.max: the processes and threads of all
// its containers together. Fargate documents no such limit (its tasks are
// micro-VMs of their own); 4096 is many times what a service needs (a
// JVM with a few hundred threads) and stops a fork bomb long before the
// host's PID space (32768 by default) runs out.
const TaskPidsMax = 4096

// fargoPidsMax is the limit of fargo's parent cgroup, shared by all tasks:
// half the host's PIDs (kernel.pid_max, bounded by kernel.threads-max), so
// that many tasks at their own limit still leave the host room.
func fargoPidsMax() int64 {
	n := int64(32768)
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		if b, err := os.ReadFile(f); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 {
				n = min(n, v)
			}
		}
	}
	return max(n/2, TaskPidsMax)
}

// CreateTaskCgroupFor makes the cgroup of a task (cpu units, MiB, and
// TaskPidsMax), under fargo's own, and returns its path: its containers'
// CgroupParent.
func (r *Runtime) CreateTaskCgroupFor(taskID string, cpu, memoryMiB int) (string, error) {
	p := TaskCgroup(taskID)
	if err := r.CreateTaskCgroup(path.Dir(p), TaskResources{PidsMax: fargoPidsMax()}); err != nil {
		return "", err
	}
	return p, r.CreateTaskCgroup(p, TaskResources{CPUUnits: cpu, MemoryBytes: int64(memoryMiB) << 20, PidsMax: TaskPidsMax})
}

// RemoveTaskCgroupFor removes the cgroup CreateTaskCgroupFor made.
func (r *Runtime) RemoveTaskCgroupFor(taskID string) error {
	return r.RemoveTaskCgroup(TaskCgroup(taskID))
}

// BlkioEntry is one line of a blkio statistic: a device, an operation
// (Read, Write, Sync, Async, Discard, Total) and a count; its JSON is
// Docker's.
type BlkioEntry struct {
	Major uint64 `json:"major"`
	Minor uint64 `json:"minor"`
	Op    string `json:"op"`
	Value uint64 `json:"value"`
}

// BlkioStats are a container's block I/O counters: bytes and operations,
// each device and operation a line.
type BlkioStats struct {
	ServiceBytes []BlkioEntry
	Serviced     []BlkioEntry
}

// BlkioStats reads the block I/O counters of a task's container (an id
// made by ContainerID) from its cgroup: blkio.throttle's recursive files
// on cgroup v1, io.stat on v2 (read and write, named as Docker names them
// there).
func (r *Runtime) BlkioStats(ctx context.Context, id string) (BlkioStats, error) {
	taskID, ok := ContainerTask(id)
	if !ok || strings.ContainsAny(id, "/") {
		return BlkioStats{}, errdefs.Invalidf("invalid container id %q", id)
	}
	cg := TaskCgroup(taskID) + "/" + id
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		b, err := os.ReadFile(filepath.Join(cgroupRoot, cg, "io.stat"))
		if err != nil {
			return BlkioStats{}, err
		}
		return parseIOStat(string(b)), nil
	}
	dir := filepath.Join(cgroupRoot, "blkio", cg)
	bytes, err := os.ReadFile(filepath.Join(dir, "blkio.throttle.io_service_bytes_recursive"))
	if err != nil {
		return BlkioStats{}, err
	}
	ops, err := os.ReadFile(filepath.Join(dir, "blkio.throttle.io_serviced_recursive"))
	if err != nil {
		return BlkioStats{}, err
	}
	return BlkioStats{ServiceBytes: parseBlkio(string(bytes)), Serviced: parseBlkio(string(ops))}, nil
}

// parseBlkio reads a cgroup v1 blkio statistic: "major:minor Op value"
// lines and a closing "Total value" line, which Docker leaves out too.
func parseBlkio(s string) []BlkioEntry {
	out := []BlkioEntry{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		v, err := strconv.ParseUint(f[2], 10, 64)
		if !ok || err != nil {
			continue
		}
		out = append(out, BlkioEntry{Major: maj, Minor: min, Op: f[1], Value: v})
	}
	return out
}

// parseIOStat reads cgroup v2's io.stat ("major:minor rbytes=N wbytes=N
// rios=N wios=N ...") into Docker's v2 shape: bytes and operations, each
// with ops "read" and "write".
func parseIOStat(s string) BlkioStats {
	out := BlkioStats{ServiceBytes: []BlkioEntry{}, Serviced: []BlkioEntry{}}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := BlkioEntry{Major: maj, Minor: min, Value: n}
			switch k {
			case "rbytes":
				e.Op = "read"
				out.ServiceBytes = append(out.ServiceBytes, e)
			case "wbytes":
				e.Op = "write"
				out.ServiceBytes = append(out.ServiceBytes, e)
			case "rios":
				e.Op = "read"
				out.Serviced = append(out.Serviced, e)
			case "wios":
				e.Op = "write"
				out.Serviced = append(out.Serviced, e)
			}
		}
	}
	return out
}

func parseDevice(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}
