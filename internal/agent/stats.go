package agent

import (
	"net/http"
	"time"
)

// dockerStats is the Docker ContainerStats JSON the metadata endpoint's
// /stats answers with, filled from the container's cgroup.
type dockerStats struct {
	Read        time.Time         `json:"read"`
	PreRead     time.Time         `json:"preread"`
	Name        string            `json:"name"`
	ID          string            `json:"id"`
	NumProcs    int               `json:"num_procs"`
	PidsStats   map[string]uint64 `json:"pids_stats"`
	CPUStats    dockerCPU         `json:"cpu_stats"`
	PreCPUStats dockerCPU         `json:"precpu_stats"`
	MemoryStats dockerMemory      `json:"memory_stats"`
	BlkioStats  map[string]any    `json:"blkio_stats"`
	Networks    map[string]any    `json:"networks,omitempty"`
}

type dockerCPU struct {
	CPUUsage struct {
		TotalUsage  uint64   `json:"total_usage"`
		PercpuUsage []uint64 `json:"percpu_usage,omitempty"`
	} `json:"cpu_usage"`
	SystemCPUUsage uint64 `json:"system_cpu_usage"`
	OnlineCPUs     int    `json:"online_cpus"`
}

type dockerMemory struct {
	Usage    uint64            `json:"usage"`
	MaxUsage uint64            `json:"max_usage"`
	Limit    uint64            `json:"limit"`
	Stats    map[string]uint64 `json:"stats"`
}

// containerStats reads a container's cgroup statistics; precpu_stats is
// the previous read, as Docker reports it.
func (r *runner) containerStats(req *http.Request, name string) *dockerStats {
	id := containerID(r.ref.ID, name)
	st, err := r.a.deps.Runtime.Stats(req.Context(), id)
	if err != nil {
		return nil
	}
	out := &dockerStats{Read: st.Read, Name: name, ID: id, PidsStats: map[string]uint64{"current": st.PIDs},
		BlkioStats: map[string]any{}}
	out.CPUStats.CPUUsage.TotalUsage = st.CPUTotalNanos
	out.CPUStats.CPUUsage.PercpuUsage = st.CPUPerCPUNanos
	out.CPUStats.SystemCPUUsage = st.SystemCPUNanos
	out.CPUStats.OnlineCPUs = st.OnlineCPUs
	out.MemoryStats = dockerMemory{Usage: st.MemoryUsage, MaxUsage: st.MemoryMaxUsage, Limit: st.MemoryLimit, Stats: st.MemoryStats}
	r.statsMu.Lock()
	if prev, ok := r.prevStats[name]; ok {
		out.PreRead = prev.Read
		out.PreCPUStats = prev.CPUStats
	}
	if r.prevStats == nil {
		r.prevStats = map[string]*dockerStats{}
	}
	r.prevStats[name] = out
	r.statsMu.Unlock()
	return out
}
