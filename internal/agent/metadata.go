package agent

import (
	"encoding/json"
	"fmt"
	"hash/crc32"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/control"
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
		if r == nil || r.att == nil || host != r.att.IP {
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
		switch rest := strings.Join(parts[2:], "/"); rest {
		case "":
			body = r.containerMetadata(task, td, container)
		case "task":
			body = r.taskMetadata(task, td, false)
		case "taskWithTags":
			body = r.taskMetadata(task, td, true)
		case "stats":
			body = r.containerStats(req, container)
		case "task/stats":
			stats := map[string]any{}
			for _, c := range task.Containers {
				stats[containerID(task.ID, c.Name)] = r.containerStats(req, c.Name)
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

type mdContainer struct {
	DockerID      string            `json:"DockerId"`
	Name          string            `json:"Name"`
	DockerName    string            `json:"DockerName"`
	Image         string            `json:"Image"`
	ImageID       string            `json:"ImageID"`
	Labels        map[string]string `json:"Labels"`
	DesiredStatus string            `json:"DesiredStatus"`
	KnownStatus   string            `json:"KnownStatus"`
	ExitCode      *int              `json:"ExitCode,omitempty"`
	Limits        mdLimits          `json:"Limits"`
	Type          string            `json:"Type"`
	ContainerARN  string            `json:"ContainerARN"`
	LogDriver     string            `json:"LogDriver,omitempty"`
	LogOptions    map[string]string `json:"LogOptions,omitempty"`
	Networks      []mdNetwork       `json:"Networks,omitempty"`
	Health        *mdHealth         `json:"Health,omitempty"`
	StartedAt     *time.Time        `json:"StartedAt,omitempty"`
}

type mdHealth struct {
	Status string `json:"status"`
}

type mdTask struct {
	Cluster          string            `json:"Cluster"`
	TaskARN          string            `json:"TaskARN"`
	Family           string            `json:"Family"`
	Revision         string            `json:"Revision"`
	ServiceName      string            `json:"ServiceName,omitempty"`
	DesiredStatus    string            `json:"DesiredStatus"`
	KnownStatus      string            `json:"KnownStatus"`
	Limits           mdLimits          `json:"Limits"`
	PullStartedAt    *time.Time        `json:"PullStartedAt,omitempty"`
	PullStoppedAt    *time.Time        `json:"PullStoppedAt,omitempty"`
	AvailabilityZone string            `json:"AvailabilityZone"`
	LaunchType       string            `json:"LaunchType"`
	Containers       []mdContainer     `json:"Containers"`
	ClockDrift       map[string]any    `json:"ClockDrift"`
	TaskTags         map[string]string `json:"TaskTags,omitempty"`
	Errors           []any             `json:"Errors,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (r *runner) containerMetadata(task *control.Task, td *control.TaskDefinition, name string) mdContainer {
	c := task.Container(name)
	var cd *control.ContainerDefinition
	for i := range td.ContainerDefinitions {
		if td.ContainerDefinitions[i].Name == name {
			cd = &td.ContainerDefinitions[i]
		}
	}
	id := containerID(task.ID, name)
	md := mdContainer{
		DockerID: id, Name: name, DockerName: "ecs-" + td.Family + "-" + strconv.Itoa(td.Revision) + "-" + name,
		Image: c.Image, ImageID: c.ImageDigest, DesiredStatus: task.DesiredStatus, KnownStatus: c.LastStatus,
		ExitCode: c.ExitCode, Type: "NORMAL", ContainerARN: c.ARN, StartedAt: timePtr(task.StartedAt),
		Labels: map[string]string{
			"com.amazonaws.ecs.cluster": task.ClusterARN, "com.amazonaws.ecs.container-name": name,
			"com.amazonaws.ecs.task-arn": task.ARN, "com.amazonaws.ecs.task-definition-family": td.Family,
			"com.amazonaws.ecs.task-definition-version": strconv.Itoa(td.Revision),
		},
	}
	if cd != nil {
		md.Limits = mdLimits{CPU: float64(cd.Cpu)}
		if cd.Memory != nil {
			md.Limits.Memory = *cd.Memory
		}
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
		md.Health = &mdHealth{Status: c.HealthStatus}
	}
	if att := r.att; att != nil {
		md.Networks = []mdNetwork{{NetworkMode: r.td.NetworkMode, IPv4Addresses: []string{att.IP}, MACAddress: att.MAC,
			IPv4SubnetCIDRBlock: att.SubnetCIDR, PrivateDNSName: att.DNSName, SubnetGatewayIpv4Address: att.Gateway + "/" + strconv.Itoa(att.PrefixLen)}}
	}
	return md
}

func (r *runner) taskMetadata(task *control.Task, td *control.TaskDefinition, tags bool) mdTask {
	md := mdTask{
		Cluster: task.ClusterARN, TaskARN: task.ARN, Family: td.Family, Revision: strconv.Itoa(td.Revision),
		DesiredStatus: task.DesiredStatus, KnownStatus: task.LastStatus,
		Limits:        mdLimits{CPU: float64(atoi(task.Cpu)) / 1024, Memory: atoi(task.Memory)},
		PullStartedAt: timePtr(task.PullStartedAt), PullStoppedAt: timePtr(task.PullStoppedAt),
		AvailabilityZone: task.AvailabilityZone, LaunchType: task.LaunchType,
		ClockDrift: map[string]any{"ClockErrorBound": 0.5, "ReferenceTimestamp": time.Now().UTC().Format(time.RFC3339), "ClockSynchronizationStatus": "SYNCHRONIZED"},
	}
	if strings.HasPrefix(task.Group, "service:") {
		md.ServiceName = strings.TrimPrefix(task.Group, "service:")
	}
	for _, c := range task.Containers {
		md.Containers = append(md.Containers, r.containerMetadata(task, td, c.Name))
	}
	if tags {
		md.TaskTags = map[string]string{}
		for _, t := range task.Tags {
			md.TaskTags[t.Key] = t.Value
		}
	}
	return md
}
