package agent

import (
	"context"
	"time"

	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
)

// dockerStats is the Docker ContainerStats JSON the metadata endpoint's
// /stats answers with, filled from the container's cgroup and its task's
// network namespace.
type dockerStats struct {
	Read        time.Time                     `json:"read"`
	PreRead     time.Time                     `json:"preread"`
	Name        string                        `json:"name"`
	ID          string                        `json:"id"`
	NumProcs    int                           `json:"num_procs"`
	PidsStats   map[string]uint64             `json:"pids_stats"`
	CPUStats    dockerCPU                     `json:"cpu_stats"`
	PreCPUStats dockerCPU                     `json:"precpu_stats"`
	MemoryStats dockerMemory                  `json:"memory_stats"`
	BlkioStats  dockerBlkio                   `json:"blkio_stats"`
	Networks    map[string]network.LinkCounts `json:"networks,omitempty"`
	// NetworkRateStats is the ECS agent's addition: bytes a second since
	// the previous read.
	NetworkRateStats *networkRate `json:"network_rate_stats,omitempty"`
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

// dockerBlkio is Docker's blkio_stats: every list present, the ones the
// cgroup answers filled.
type dockerBlkio struct {
	IOServiceBytesRecursive []runtime.BlkioEntry `json:"io_service_bytes_recursive"`
	IOServicedRecursive     []runtime.BlkioEntry `json:"io_serviced_recursive"`
	IOQueueRecursive        []runtime.BlkioEntry `json:"io_queue_recursive"`
	IOServiceTimeRecursive  []runtime.BlkioEntry `json:"io_service_time_recursive"`
	IOWaitTimeRecursive     []runtime.BlkioEntry `json:"io_wait_time_recursive"`
	IOMergedRecursive       []runtime.BlkioEntry `json:"io_merged_recursive"`
	IOTimeRecursive         []runtime.BlkioEntry `json:"io_time_recursive"`
	SectorsRecursive        []runtime.BlkioEntry `json:"sectors_recursive"`
}

// blkioReader is a Runtime that reads a container's block I/O counters
// from its cgroup. Optional.
type blkioReader interface {
	BlkioStats(ctx context.Context, id string) (runtime.BlkioStats, error)
}

// linkStatsReader is a Network that reads the interface counters inside a
// network namespace (loopback left out). Optional.
type linkStatsReader interface {
	LinkStats(ctx context.Context, netnsPath string) (map[string]network.LinkCounts, error)
}

type networkRate struct {
	RxBytesPerSec float64 `json:"rx_bytes_per_sec"`
	TxBytesPerSec float64 `json:"tx_bytes_per_sec"`
}

// containerStats reads a container's cgroup statistics, and its task's
// interface counters; precpu_stats is the previous read, as Docker
// reports it.
func (r *runner) containerStats(ctx context.Context, name string) *dockerStats {
	id := runtime.ContainerID(r.ref.ID, name)
	st, err := r.a.deps.Runtime.Stats(ctx, id)
	if err != nil {
		return nil
	}
	out := &dockerStats{Read: st.Read, Name: name, ID: id, PidsStats: map[string]uint64{"current": st.PIDs}}
	out.CPUStats.CPUUsage.TotalUsage = st.CPUTotalNanos
	out.CPUStats.CPUUsage.PercpuUsage = st.CPUPerCPUNanos
	out.CPUStats.SystemCPUUsage = st.SystemCPUNanos
	out.CPUStats.OnlineCPUs = st.OnlineCPUs
	out.MemoryStats = dockerMemory{Usage: st.MemoryUsage, MaxUsage: st.MemoryMaxUsage, Limit: st.MemoryLimit, Stats: st.MemoryStats}
	out.BlkioStats = r.blkio(ctx, id)
	out.Networks = r.networkCounts(ctx)

	r.h.metadata.statsMu.Lock()
	if prev, ok := r.h.metadata.prevStats[name]; ok {
		out.PreRead = prev.Read
		out.PreCPUStats = prev.CPUStats
		out.NetworkRateStats = rate(prev, out)
	}
	if r.h.metadata.prevStats == nil {
		r.h.metadata.prevStats = map[string]*dockerStats{}
	}
	r.h.metadata.prevStats[name] = out
	r.h.metadata.statsMu.Unlock()
	return out
}

func (r *runner) blkio(ctx context.Context, id string) dockerBlkio {
	empty := []runtime.BlkioEntry{}
	b := dockerBlkio{IOServiceBytesRecursive: empty, IOServicedRecursive: empty, IOQueueRecursive: empty,
		IOServiceTimeRecursive: empty, IOWaitTimeRecursive: empty, IOMergedRecursive: empty, IOTimeRecursive: empty, SectorsRecursive: empty}
	br, ok := r.a.deps.Runtime.(blkioReader)
	if !ok {
		return b
	}
	st, err := br.BlkioStats(ctx, id)
	if err != nil {
		return b
	}
	if st.ServiceBytes != nil {
		b.IOServiceBytesRecursive = st.ServiceBytes
	}
	if st.Serviced != nil {
		b.IOServicedRecursive = st.Serviced
	}
	return b
}

// networkCounts reads the counters of the task's own network namespace
// (awsvpc, bridge); nil for host and none modes, whose containers have
// no interfaces of their own, as Docker shows them.
func (r *runner) networkCounts(ctx context.Context) map[string]network.LinkCounts {
	nr, ok := r.a.deps.Network.(linkStatsReader)
	att := r.h.network.att
	if !ok || att == nil || att.NetNSPath == "" {
		return nil
	}
	counts, err := nr.LinkStats(ctx, att.NetNSPath)
	if err != nil || len(counts) == 0 {
		return nil
	}
	return counts
}

// rate is the network throughput between two reads, nil when either has
// no network counters or no time passed.
func rate(prev, cur *dockerStats) *networkRate {
	secs := cur.Read.Sub(prev.Read).Seconds()
	if secs <= 0 || prev.Networks == nil || cur.Networks == nil {
		return nil
	}
	var rx, tx float64
	for name, c := range cur.Networks {
		p, ok := prev.Networks[name]
		if !ok || c.RxBytes < p.RxBytes || c.TxBytes < p.TxBytes {
			continue
		}
		rx += float64(c.RxBytes - p.RxBytes)
		tx += float64(c.TxBytes - p.TxBytes)
	}
	return &networkRate{RxBytesPerSec: rx / secs, TxBytesPerSec: tx / secs}
}
