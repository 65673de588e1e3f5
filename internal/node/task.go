package node

import (
	"slices"
	"time"
)

// Task lifecycle statuses, in the order a task moves through them. A task's
// lastStatus only ever moves forward in this list.
//
//	PROVISIONING -> PENDING -> ACTIVATING -> RUNNING -> DEACTIVATING
//	     -> STOPPING -> DEPROVISIONING -> STOPPED
//
// desiredStatus is only ever RUNNING or STOPPED.
const (
	TaskProvisioning   = "PROVISIONING"
	TaskPending        = "PENDING"
	TaskActivating     = "ACTIVATING"
	TaskRunning        = "RUNNING"
	TaskDeactivating   = "DEACTIVATING"
	TaskStopping       = "STOPPING"
	TaskDeprovisioning = "DEPROVISIONING"
	TaskStopped        = "STOPPED"
)

var taskOrder = []string{TaskProvisioning, TaskPending, TaskActivating, TaskRunning, TaskDeactivating, TaskStopping, TaskDeprovisioning, TaskStopped}

// TaskStatusIndex orders task statuses (-1 for unknown ones).
func TaskStatusIndex(s string) int { return slices.Index(taskOrder, s) }

// TaskStatuses lists the task statuses in their order.
func TaskStatuses() []string { return slices.Clone(taskOrder) }

// ContainerStatusIndex orders container statuses (-1 for unknown ones).
func ContainerStatusIndex(s string) int {
	return slices.Index([]string{ContainerPending, ContainerRunning, ContainerStopped}, s)
}

// Stop codes.
const (
	StopTaskFailedToStart         = "TaskFailedToStart"
	StopEssentialContainerExited  = "EssentialContainerExited"
	StopUserInitiated             = "UserInitiated"
	StopServiceSchedulerInitiated = "ServiceSchedulerInitiated"
	StopTerminationNotice         = "TerminationNotice"
)

// Container statuses.
const (
	ContainerPending = "PENDING"
	ContainerRunning = "RUNNING"
	ContainerStopped = "STOPPED"
)

// Launch types.
const (
	LaunchTypeFargate = "FARGATE"
	LaunchTypeEC2     = "EC2"
)

// Task is one ECS task: what was asked for, where it runs, and what it is
// doing, as the agent reported it.
type Task struct {
	ID                string `json:"id"`
	ARN               string `json:"arn"`
	Cluster           string `json:"cluster"`
	ClusterARN        string `json:"clusterArn"`
	TaskDefinitionARN string `json:"taskDefinitionArn"`
	Family            string `json:"family"`
	Revision          int    `json:"revision"`

	LaunchType string `json:"launchType"`
	// ContainerInstanceARN is the node as a container instance of the
	// cluster (EC2 launch type).
	ContainerInstanceARN string `json:"containerInstanceArn,omitempty"`
	CapacityProvider     string `json:"capacityProvider,omitempty"`
	PlatformVersion      string `json:"platformVersion,omitempty"`
	PlatformFamily       string `json:"platformFamily,omitempty"`
	// Cpu and Memory are the task size (task definition or overrides).
	Cpu    string `json:"cpu,omitempty"`
	Memory string `json:"memory,omitempty"`

	Group                string                `json:"group,omitempty"`
	StartedBy            string                `json:"startedBy,omitempty"`
	Overrides            *TaskOverride         `json:"overrides,omitempty"`
	NetworkConfiguration *NetworkConfiguration `json:"networkConfiguration,omitempty"`
	EnableExecuteCommand bool                  `json:"enableExecuteCommand,omitempty"`
	Tags                 []Tag                 `json:"tags,omitempty"`
	ClientToken          string                `json:"clientToken,omitempty"`
	AvailabilityZone     string                `json:"availabilityZone,omitempty"`
	EphemeralStorageGiB  int                   `json:"ephemeralStorageGiB,omitempty"`

	// Node is the agent the task is placed on.
	Node string `json:"node"`

	DesiredStatus string `json:"desiredStatus"`
	LastStatus    string `json:"lastStatus"`
	HealthStatus  string `json:"healthStatus,omitempty"`
	Connectivity  string `json:"connectivity,omitempty"`
	// Version goes up by one on every change.
	Version int64 `json:"version"`

	CreatedAt          time.Time `json:"createdAt"`
	PullStartedAt      time.Time `json:"pullStartedAt,omitzero"`
	PullStoppedAt      time.Time `json:"pullStoppedAt,omitzero"`
	StartedAt          time.Time `json:"startedAt,omitzero"`
	ConnectivityAt     time.Time `json:"connectivityAt,omitzero"`
	StoppingAt         time.Time `json:"stoppingAt,omitzero"`
	ExecutionStoppedAt time.Time `json:"executionStoppedAt,omitzero"`
	StoppedAt          time.Time `json:"stoppedAt,omitzero"`

	StopCode      string `json:"stopCode,omitempty"`
	StoppedReason string `json:"stoppedReason,omitempty"`

	Containers  []Container      `json:"containers"`
	Attachments []TaskAttachment `json:"attachments,omitempty"`
}

// Container is one container of a task.
type Container struct {
	ARN               string             `json:"arn"`
	Name              string             `json:"name"`
	Image             string             `json:"image"`
	ImageDigest       string             `json:"imageDigest,omitempty"`
	RuntimeID         string             `json:"runtimeId,omitempty"`
	LastStatus        string             `json:"lastStatus"`
	ExitCode          *int               `json:"exitCode,omitempty"`
	Reason            string             `json:"reason,omitempty"`
	HealthStatus      string             `json:"healthStatus,omitempty"`
	Essential         bool               `json:"essential"`
	Cpu               string             `json:"cpu,omitempty"`
	Memory            string             `json:"memory,omitempty"`
	MemoryReservation string             `json:"memoryReservation,omitempty"`
	NetworkBindings   []NetworkBinding   `json:"networkBindings,omitempty"`
	NetworkInterfaces []NetworkInterface `json:"networkInterfaces,omitempty"`
}

// NetworkBinding is a published port, or a published containerPortRange:
// then ContainerPortRange and HostPortRange ("lo-hi", as many host ports
// as container ports, consecutive) stand for ContainerPort and HostPort.
type NetworkBinding struct {
	BindIP             string `json:"bindIP"`
	ContainerPort      int    `json:"containerPort"`
	HostPort           int    `json:"hostPort"`
	Protocol           string `json:"protocol"`
	ContainerPortRange string `json:"containerPortRange,omitempty"`
	HostPortRange      string `json:"hostPortRange,omitempty"`
}

// NetworkInterface is a container's view of its task's ENI.
type NetworkInterface struct {
	AttachmentID       string `json:"attachmentId"`
	PrivateIPv4Address string `json:"privateIpv4Address"`
}

// TaskAttachment is an ENI attachment of an awsvpc task.
type TaskAttachment struct {
	ID      string     `json:"id"`
	Type    string     `json:"type"`
	Status  string     `json:"status"`
	Details []KeyValue `json:"details,omitempty"`
}

// TaskOverride changes a task definition for one task.
type TaskOverride struct {
	ContainerOverrides []ContainerOverride `json:"containerOverrides,omitempty"`
	Cpu                string              `json:"cpu,omitempty"`
	Memory             string              `json:"memory,omitempty"`
	TaskRoleArn        string              `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn   string              `json:"executionRoleArn,omitempty"`
	EphemeralStorage   *EphemeralStorage   `json:"ephemeralStorage,omitempty"`
}

// ContainerOverride changes one container for one task.
type ContainerOverride struct {
	Name              string         `json:"name"`
	Command           []string       `json:"command,omitempty"`
	Environment       []KeyValuePair `json:"environment,omitempty"`
	Cpu               *int           `json:"cpu,omitempty"`
	Memory            *int           `json:"memory,omitempty"`
	MemoryReservation *int           `json:"memoryReservation,omitempty"`
}

// NetworkConfiguration is the awsvpc configuration a task was run with.
type NetworkConfiguration struct {
	Subnets        []string `json:"subnets"`
	SecurityGroups []string `json:"securityGroups,omitempty"`
	AssignPublicIP string   `json:"assignPublicIp,omitempty"`
}

// Active reports whether the task still holds resources (not yet STOPPED).
func (t *Task) Active() bool { return t.LastStatus != TaskStopped }

// Container returns the named container.
func (t *Task) Container(name string) *Container {
	for i := range t.Containers {
		if t.Containers[i].Name == name {
			return &t.Containers[i]
		}
	}
	return nil
}

// TaskStateChange is what an agent reports about a task it runs. Zero
// fields change nothing; a status never moves backwards.
type TaskStateChange struct {
	LastStatus   string
	Reason       string // a stoppedReason (only set if none yet)
	StopCode     string
	HealthStatus string
	Connectivity bool
	PullStarted  time.Time
	PullStopped  time.Time
	ExecStopped  time.Time
	Containers   []ContainerStateChange
	Attachment   *TaskAttachment
}

// ContainerStateChange is what an agent reports about one container.
type ContainerStateChange struct {
	Name              string
	LastStatus        string
	RuntimeID         string
	ImageDigest       string
	ExitCode          *int
	Reason            string
	HealthStatus      string
	NetworkBindings   []NetworkBinding
	NetworkInterfaces []NetworkInterface
}
