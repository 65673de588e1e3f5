package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// metadataID is the container's id in ECS_CONTAINER_METADATA_URI_V4, in
// Fargate's form <32 hex>-<10 digits>.
func metadataID(taskID, container string) string {
	return fmt.Sprintf("%s-%010d", taskID, crc32.ChecksumIEEE([]byte(container)))
}

// metadataIndex finds the runner behind a metadata request.
type metadataIndex struct {
	mu   sync.RWMutex
	byID map[string]*runner // task id
	byIP map[string]*runner
}

func newMetadataIndex() *metadataIndex {
	return &metadataIndex{byID: map[string]*runner{}, byIP: map[string]*runner{}}
}

func (m *metadataIndex) add(r *runner, ip string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.byID[r.ref.ID] = r
	m.byIP[ip] = r
}

func (m *metadataIndex) remove(r *runner) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.byID, r.ref.ID)
	for ip, x := range m.byIP {
		if x == r {
			delete(m.byIP, ip)
		}
	}
}

// MetadataHandler serves the task metadata endpoint v4 (at
// 169.254.170.2 inside each task's network namespace). A task only sees
// its own metadata: the request must come from the task's own address.
func (a *Agent) MetadataHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		parts := strings.Split(strings.Trim(req.URL.Path, "/"), "/")
		if len(parts) < 2 || (parts[0] != "v4" && parts[0] != "v3") {
			http.NotFound(w, req)
			return
		}
		taskID, _, _ := strings.Cut(parts[1], "-")
		a.meta.mu.RLock()
		r := a.meta.byID[taskID]
		a.meta.mu.RUnlock()
		host, _, _ := net.SplitHostPort(req.RemoteAddr)
		if r == nil || r.h.network.att == nil || host != r.h.network.att.IP.String() {
			http.Error(w, "no task metadata for this address", http.StatusNotFound)
			return
		}
		task, td := r.snapshot()
		var container string
		for _, c := range task.Containers {
			if metadataID(task.ID, c.Name) == parts[1] {
				container = c.Name
			}
		}
		if container == "" {
			http.NotFound(w, req)
			return
		}
		var body any
		ctx := req.Context()
		switch rest := strings.Join(parts[2:], "/"); rest {
		case "":
			body = r.containerMetadata(ctx, task, td, container)
		case "task":
			body = r.taskMetadata(ctx, task, td, false)
		case "taskWithTags":
			body = r.taskMetadata(ctx, task, td, true)
		case "stats":
			body = r.containerStats(ctx, container)
		case "task/stats":
			stats := map[string]any{}
			for _, c := range task.Containers {
				stats[runtime.ContainerID(task.ID, c.Name)] = r.containerStats(ctx, c.Name)
			}
			body = stats
		default:
			http.NotFound(w, req)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(body)
	})
}

type mdLimits struct {
	CPU    float64 `json:"CPU"`
	Memory int     `json:"Memory,omitempty"`
}

type mdNetwork struct {
	NetworkMode              string   `json:"NetworkMode"`
	IPv4Addresses            []string `json:"IPv4Addresses"`
	AttachmentIndex          int      `json:"AttachmentIndex"`
	MACAddress               string   `json:"MACAddress"`
	IPv4SubnetCIDRBlock      string   `json:"IPv4SubnetCIDRBlock"`
	PrivateDNSName           string   `json:"PrivateDNSName"`
	SubnetGatewayIpv4Address string   `json:"SubnetGatewayIpv4Address"`
}

// mdPort is a container port as the endpoint shows it: under awsvpc and
// host the host port is the container port; under bridge it is the
// published one.
type mdPort struct {
	ContainerPort int    `json:"ContainerPort"`
	Protocol      string `json:"Protocol"`
	HostPort      int    `json:"HostPort,omitempty"`
	HostIP        string `json:"HostIp,omitempty"`
}

type mdContainer struct {
	DockerID      string            `json:"DockerId"`
	Name          string            `json:"Name"`
	DockerName    string            `json:"DockerName"`
	Image         string            `json:"Image"`
	ImageID       string            `json:"ImageID"`
	Ports         []mdPort          `json:"Ports,omitempty"`
	Labels        map[string]string `json:"Labels"`
	DesiredStatus string            `json:"DesiredStatus"`
	KnownStatus   string            `json:"KnownStatus"`
	ExitCode      *int              `json:"ExitCode,omitempty"`
	Limits        mdLimits          `json:"Limits"`
	CreatedAt     *time.Time        `json:"CreatedAt,omitempty"`
	StartedAt     *time.Time        `json:"StartedAt,omitempty"`
	FinishedAt    *time.Time        `json:"FinishedAt,omitempty"`
	Type          string            `json:"Type"`
	ContainerARN  string            `json:"ContainerARN"`
	LogDriver     string            `json:"LogDriver,omitempty"`
	LogOptions    map[string]string `json:"LogOptions,omitempty"`
	Networks      []mdNetwork       `json:"Networks,omitempty"`
	Health        *healthDetail     `json:"Health,omitempty"`
	// RestartCount is always 0: fargo does not restart containers in
	// place.
	RestartCount int `json:"RestartCount"`
}

type mdTask struct {
	Cluster                 string              `json:"Cluster"`
	TaskARN                 string              `json:"TaskARN"`
	Family                  string              `json:"Family"`
	Revision                string              `json:"Revision"`
	ServiceName             string              `json:"ServiceName,omitempty"`
	DesiredStatus           string              `json:"DesiredStatus"`
	KnownStatus             string              `json:"KnownStatus"`
	Limits                  mdLimits            `json:"Limits"`
	PullStartedAt           *time.Time          `json:"PullStartedAt,omitempty"`
	PullStoppedAt           *time.Time          `json:"PullStoppedAt,omitempty"`
	ExecutionStoppedAt      *time.Time          `json:"ExecutionStoppedAt,omitempty"`
	AvailabilityZone        string              `json:"AvailabilityZone"`
	LaunchType              string              `json:"LaunchType"`
	EphemeralStorageMetrics *mdEphemeralStorage `json:"EphemeralStorageMetrics,omitempty"`
	Containers              []mdContainer       `json:"Containers"`
	ClockDrift              map[string]any      `json:"ClockDrift"`
	TaskTags                map[string]string   `json:"TaskTags,omitempty"`
	Errors                  []mdError           `json:"Errors,omitempty"`
}

// mdEphemeralStorage is a Fargate task's ephemeral storage in MiB: what
// its containers wrote and what the task reserved.
type mdEphemeralStorage struct {
	Utilized int64 `json:"Utilized"`
	Reserved int64 `json:"Reserved"`
}

// mdError is an error the endpoint met building its answer (the ECS
// agent reports failed tag lookups so); fargo's lookups are local and
// have none yet.
type mdError struct {
	ErrorField   string `json:"ErrorField,omitempty"`
	ErrorCode    string `json:"ErrorCode,omitempty"`
	ErrorMessage string `json:"ErrorMessage,omitempty"`
	StatusCode   int    `json:"StatusCode,omitempty"`
	ResourceARN  string `json:"ResourceARN,omitempty"`
}

// diskUsage is an Images that can tell how much a container has written
// to its root filesystem (its overlay upper dir), in bytes. Optional.
type diskUsage interface {
	DiskUsage(ctx context.Context, containerID string) (int64, error)
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func (r *runner) containerMetadata(ctx context.Context, task *node.Task, td *node.TaskDefinition, name string) mdContainer {
	c := task.Container(name)
	var cd *node.ContainerDefinition
	for i := range td.ContainerDefinitions {
		if td.ContainerDefinitions[i].Name == name {
			cd = &td.ContainerDefinitions[i]
		}
	}
	id := runtime.ContainerID(task.ID, name)
	md := mdContainer{
		DockerID: id, Name: name, DockerName: "ecs-" + td.Family + "-" + strconv.Itoa(td.Revision) + "-" + name,
		Image: c.Image, ImageID: c.ImageDigest, DesiredStatus: task.DesiredStatus, KnownStatus: c.LastStatus,
		ExitCode: c.ExitCode, Type: "NORMAL", ContainerARN: c.ARN,
		// The task's containers carry the sizes RunTask's overrides set.
		Limits: mdLimits{CPU: float64(atoi(c.Cpu)), Memory: atoi(c.Memory)},
		Labels: map[string]string{
			"com.amazonaws.ecs.cluster": task.ClusterARN, "com.amazonaws.ecs.container-name": name,
			"com.amazonaws.ecs.task-arn": task.ARN, "com.amazonaws.ecs.task-definition-family": td.Family,
			"com.amazonaws.ecs.task-definition-version": strconv.Itoa(td.Revision),
		},
	}
	// The runtime's own record of when the container's process started
	// and ended.
	if st, err := containerState(ctx, r.a.deps.Runtime, id); err == nil && st.Exists {
		md.CreatedAt, md.StartedAt = timePtr(st.CreatedAt), timePtr(st.StartedAt)
		if st.Exit != nil {
			md.FinishedAt = timePtr(st.Exit.FinishedAt)
		}
	}
	if cd != nil {
		md.Ports = r.metadataPorts(td.NetworkMode, cd, c)
		if lc := cd.LogConfiguration; lc != nil {
			md.LogDriver = lc.LogDriver
			md.LogOptions = map[string]string{}
			for k, v := range lc.Options {
				md.LogOptions[k] = v
			}
			if lc.LogDriver == "awslogs" {
				_, _, stream := r.awslogsTarget(cd)
				md.LogOptions["awslogs-stream"] = stream
			}
		}
	}
	if c.HealthStatus != "" {
		md.Health = &healthDetail{Status: c.HealthStatus}
		if d, ok := r.healthOf(name); ok {
			d.Status = c.HealthStatus
			md.Health = &d
		}
	}
	if att := r.h.network.att; att != nil {
		md.Networks = []mdNetwork{{NetworkMode: td.NetworkMode, IPv4Addresses: []string{att.IP.String()}, MACAddress: att.MAC,
			IPv4SubnetCIDRBlock: att.Prefix.String(), PrivateDNSName: att.PrivateDNSName,
			SubnetGatewayIpv4Address: att.Gateway.String() + "/" + strconv.Itoa(att.Prefix.Bits())}}
	}
	return md
}

// metadataPorts lists a container's ports: its port mappings under awsvpc
// and host (the host port is the container port), its published bindings
// under bridge. Port ranges are left out, as the ECS agent does.
func (r *runner) metadataPorts(mode string, cd *node.ContainerDefinition, c *node.Container) []mdPort {
	var out []mdPort
	if mode == node.NetworkModeBridge {
		for _, b := range c.NetworkBindings {
			if b.ContainerPortRange == "" && b.ContainerPort > 0 {
				out = append(out, mdPort{ContainerPort: b.ContainerPort, Protocol: b.Protocol, HostPort: b.HostPort, HostIP: b.BindIP})
			}
		}
		return out
	}
	for _, pm := range cd.PortMappings {
		if pm.ContainerPort == nil || *pm.ContainerPort <= 0 {
			continue
		}
		p := mdPort{ContainerPort: *pm.ContainerPort, Protocol: pm.Protocol}
		if p.Protocol == "" {
			p.Protocol = "tcp"
		}
		if mode == node.NetworkModeAwsvpc || mode == node.NetworkModeHost {
			p.HostPort = p.ContainerPort
		}
		out = append(out, p)
	}
	return out
}

func (r *runner) taskMetadata(ctx context.Context, task *node.Task, td *node.TaskDefinition, tags bool) mdTask {
	md := mdTask{
		Cluster: task.ClusterARN, TaskARN: task.ARN, Family: td.Family, Revision: strconv.Itoa(td.Revision),
		DesiredStatus: task.DesiredStatus, KnownStatus: task.LastStatus,
		Limits:        mdLimits{CPU: float64(atoi(task.Cpu)) / 1024, Memory: atoi(task.Memory)},
		PullStartedAt: timePtr(task.PullStartedAt), PullStoppedAt: timePtr(task.PullStoppedAt),
		ExecutionStoppedAt: timePtr(task.ExecutionStoppedAt),
		AvailabilityZone:   task.AvailabilityZone, LaunchType: task.LaunchType,
		ClockDrift: map[string]any{"ClockErrorBound": 0.5, "ReferenceTimestamp": time.Now().UTC().Format(time.RFC3339), "ClockSynchronizationStatus": "SYNCHRONIZED"},
	}
	if strings.HasPrefix(task.Group, "service:") {
		md.ServiceName = strings.TrimPrefix(task.Group, "service:")
	}
	for _, c := range task.Containers {
		md.Containers = append(md.Containers, r.containerMetadata(ctx, task, td, c.Name))
	}
	md.EphemeralStorageMetrics = r.ephemeralStorage(ctx, task)
	if task.EphemeralStorageGiB > 0 && !r.h.storage.bounded.Load() {
		md.Errors = append(md.Errors, mdError{ErrorField: "EphemeralStorageMetrics", ErrorCode: "EphemeralStorageNotEnforced",
			ErrorMessage: "this host does not bound the task's ephemeral storage: the task writes to the host's disk"})
	}
	if tags {
		md.TaskTags = map[string]string{}
		for _, t := range task.Tags {
			md.TaskTags[t.Key] = t.Value
		}
	}
	return md
}

// ephemeralUsageTTL is how long a measurement of what a task's containers
// wrote is reused: measuring walks their overlay upper dirs in fargo's
// own process, and any task may ask for its metadata as often as it likes.
const ephemeralUsageTTL = 10 * time.Second

// ephemeralUsage is a task's last measurement of its containers' writes.
// Its lock is held while measuring, so concurrent requests wait for the
// one walk and share it.
type ephemeralUsage struct {
	mu   sync.Mutex
	at   time.Time // zero: never measured
	used int64     // bytes
	ok   bool      // false: the image store could not tell
}

// ephemeralStorage is a Fargate task's reserved ephemeral storage and what
// it holds: its filesystem's use when the task has one (one statfs), else
// what its containers wrote to their root filesystems, when the image
// store can tell (nil otherwise), measured at most once per
// ephemeralUsageTTL.
func (r *runner) ephemeralStorage(ctx context.Context, task *node.Task) *mdEphemeralStorage {
	if task.EphemeralStorageGiB <= 0 {
		return nil
	}
	reserved := int64(task.EphemeralStorageGiB) << 10
	if r.h.storage.bounded.Load() {
		used, _, err := r.a.deps.Storage.Usage(r.dir)
		if err != nil {
			r.log.Warn("ephemeral storage use", "err", err)
			return nil
		}
		return &mdEphemeralStorage{Utilized: used >> 20, Reserved: reserved}
	}
	du, ok := r.a.deps.Images.(diskUsage)
	if !ok {
		return nil
	}
	c := &r.h.metadata.ephemeral
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) >= ephemeralUsageTTL {
		c.used, c.ok = 0, true
		for _, ct := range task.Containers {
			n, err := du.DiskUsage(ctx, runtime.ContainerID(task.ID, ct.Name))
			if err != nil {
				c.ok = false
				break
			}
			c.used += n
		}
		c.at = time.Now()
	}
	if !c.ok {
		return nil
	}
	return &mdEphemeralStorage{Utilized: c.used >> 20, Reserved: reserved}
}
