package node

import "time"

// Task definition statuses.
const (
	TaskDefinitionActive           = "ACTIVE"
	TaskDefinitionInactive         = "INACTIVE"
	TaskDefinitionDeleteInProgress = "DELETE_IN_PROGRESS"
)

// Network modes.
const (
	NetworkModeBridge = "bridge"
	NetworkModeHost   = "host"
	NetworkModeAwsvpc = "awsvpc"
	NetworkModeNone   = "none"
)

// Compatibilities (launch types a task definition can run on).
const (
	CompatibilityEC2      = "EC2"
	CompatibilityFargate  = "FARGATE"
	CompatibilityExternal = "EXTERNAL"
)

// TaskDefinition is one revision of an ECS task definition family: every
// field RegisterTaskDefinition accepts, kept exactly as registered (after
// PrepareTaskDefinition has normalised cpu/memory and filled the defaults
// AWS fills), plus the fields ECS computes.
//
// It is stored as JSON; the wire form lives in internal/api/ecs.
type TaskDefinition struct {
	// TaskDefinitionArn is arn:aws:ecs:R:A:task-definition/FAMILY:REVISION.
	TaskDefinitionArn string `json:"taskDefinitionArn,omitempty"`
	// Family names the revisions; [A-Za-z0-9_-]{1,255}.
	Family string `json:"family"`
	// Revision is 1 for the first revision of a family; it never reuses a
	// number, even after revisions are deleted.
	Revision int `json:"revision,omitempty"`
	// Status is ACTIVE, INACTIVE or DELETE_IN_PROGRESS.
	Status string `json:"status,omitempty"`

	ContainerDefinitions []ContainerDefinition `json:"containerDefinitions"`

	TaskRoleArn      string `json:"taskRoleArn,omitempty"`
	ExecutionRoleArn string `json:"executionRoleArn,omitempty"`
	// NetworkMode is bridge, host, awsvpc or none; PrepareTaskDefinition
	// fills bridge when absent.
	NetworkMode string `json:"networkMode,omitempty"`

	Volumes              []Volume              `json:"volumes,omitempty"`
	PlacementConstraints []PlacementConstraint `json:"placementConstraints,omitempty"`

	// RequiresCompatibilities is what the user asked to be validated for.
	RequiresCompatibilities []string `json:"requiresCompatibilities,omitempty"`
	// Compatibilities is computed: every launch type the definition can run on.
	Compatibilities []string `json:"compatibilities,omitempty"`
	// RequiresAttributes is computed: the container-instance attributes a
	// host needs to run the definition (EC2/EXTERNAL placement).
	RequiresAttributes []Attribute `json:"requiresAttributes,omitempty"`

	// Cpu is the task size in CPU units as a decimal string ("1024"),
	// normalised from forms such as "1 vCPU". Empty when not given.
	Cpu string `json:"cpu,omitempty"`
	// Memory is the task size in MiB as a decimal string ("2048"),
	// normalised from forms such as "2 GB". Empty when not given.
	Memory string `json:"memory,omitempty"`

	PidMode string `json:"pidMode,omitempty"` // host | task
	IpcMode string `json:"ipcMode,omitempty"` // host | task | none

	ProxyConfiguration    *ProxyConfiguration    `json:"proxyConfiguration,omitempty"`
	InferenceAccelerators []InferenceAccelerator `json:"inferenceAccelerators,omitempty"`
	EphemeralStorage      *EphemeralStorage      `json:"ephemeralStorage,omitempty"`
	RuntimePlatform       *RuntimePlatform       `json:"runtimePlatform,omitempty"`
	EnableFaultInjection  *bool                  `json:"enableFaultInjection,omitempty"`

	// Tags are the definition's tags (returned by Register, and by Describe
	// with include=TAGS).
	Tags []Tag `json:"tags,omitempty"`

	RegisteredAt      time.Time  `json:"registeredAt,omitzero"`
	RegisteredBy      string     `json:"registeredBy,omitempty"`
	DeregisteredAt    *time.Time `json:"deregisteredAt,omitempty"`
	DeleteRequestedAt *time.Time `json:"deleteRequestedAt,omitempty"`
}

// ContainerDefinition describes one container of a task. Pointer fields are
// the ones where "not given" must be told apart from the zero value, either
// because a rule depends on it or because Describe must echo exactly what
// was registered (AWS echoes an explicit false).
type ContainerDefinition struct {
	Name  string `json:"name"`
	Image string `json:"image"`

	RepositoryCredentials *RepositoryCredentials `json:"repositoryCredentials,omitempty"`

	// Cpu is in CPU units. AWS models it as a plain integer and echoes 0
	// when it was not given, so it is not a pointer.
	Cpu int `json:"cpu"`
	// Memory is the hard limit in MiB.
	Memory *int `json:"memory,omitempty"`
	// MemoryReservation is the soft limit in MiB.
	MemoryReservation *int `json:"memoryReservation,omitempty"`

	Links        []string      `json:"links,omitempty"`
	PortMappings []PortMapping `json:"portMappings,omitempty"`
	// Essential defaults to true (PrepareTaskDefinition fills it).
	Essential *bool `json:"essential,omitempty"`

	RestartPolicy *ContainerRestartPolicy `json:"restartPolicy,omitempty"`

	EntryPoint       []string          `json:"entryPoint,omitempty"`
	Command          []string          `json:"command,omitempty"`
	Environment      []KeyValuePair    `json:"environment,omitempty"`
	EnvironmentFiles []EnvironmentFile `json:"environmentFiles,omitempty"`
	MountPoints      []MountPoint      `json:"mountPoints,omitempty"`
	VolumesFrom      []VolumeFrom      `json:"volumesFrom,omitempty"`

	LinuxParameters *LinuxParameters      `json:"linuxParameters,omitempty"`
	Secrets         []Secret              `json:"secrets,omitempty"`
	DependsOn       []ContainerDependency `json:"dependsOn,omitempty"`

	// StartTimeout and StopTimeout are in seconds.
	StartTimeout *int `json:"startTimeout,omitempty"`
	StopTimeout  *int `json:"stopTimeout,omitempty"`

	VersionConsistency string `json:"versionConsistency,omitempty"` // enabled | disabled

	Hostname               string            `json:"hostname,omitempty"`
	User                   string            `json:"user,omitempty"`
	WorkingDirectory       string            `json:"workingDirectory,omitempty"`
	DisableNetworking      *bool             `json:"disableNetworking,omitempty"`
	Privileged             *bool             `json:"privileged,omitempty"`
	ReadonlyRootFilesystem *bool             `json:"readonlyRootFilesystem,omitempty"`
	DNSServers             []string          `json:"dnsServers,omitempty"`
	DNSSearchDomains       []string          `json:"dnsSearchDomains,omitempty"`
	ExtraHosts             []HostEntry       `json:"extraHosts,omitempty"`
	DockerSecurityOptions  []string          `json:"dockerSecurityOptions,omitempty"`
	Interactive            *bool             `json:"interactive,omitempty"`
	PseudoTerminal         *bool             `json:"pseudoTerminal,omitempty"`
	DockerLabels           map[string]string `json:"dockerLabels,omitempty"`
	Ulimits                []Ulimit          `json:"ulimits,omitempty"`

	LogConfiguration      *LogConfiguration      `json:"logConfiguration,omitempty"`
	HealthCheck           *HealthCheck           `json:"healthCheck,omitempty"`
	SystemControls        []SystemControl        `json:"systemControls,omitempty"`
	ResourceRequirements  []ResourceRequirement  `json:"resourceRequirements,omitempty"`
	FirelensConfiguration *FirelensConfiguration `json:"firelensConfiguration,omitempty"`
	CredentialSpecs       []string               `json:"credentialSpecs,omitempty"`
}

// IsEssential reports whether the container is essential (absent means true).
func (c *ContainerDefinition) IsEssential() bool { return c.Essential == nil || *c.Essential }

// RepositoryCredentials names the Secrets Manager secret holding private
// registry credentials.
type RepositoryCredentials struct {
	CredentialsParameter string `json:"credentialsParameter"`
}

// PortMapping maps a container port (or range) to the host.
type PortMapping struct {
	// ContainerPort is absent when ContainerPortRange is used.
	ContainerPort *int `json:"containerPort,omitempty"`
	// HostPort: absent and 0 differ only in the request; under awsvpc and
	// host PrepareTaskDefinition fills it with ContainerPort, under bridge
	// 0 means a dynamic port.
	HostPort           *int   `json:"hostPort,omitempty"`
	Protocol           string `json:"protocol,omitempty"` // tcp (default) | udp
	Name               string `json:"name,omitempty"`
	AppProtocol        string `json:"appProtocol,omitempty"` // http | http2 | grpc
	ContainerPortRange string `json:"containerPortRange,omitempty"`
}

// ContainerRestartPolicy restarts a container in place when it exits.
type ContainerRestartPolicy struct {
	Enabled              *bool `json:"enabled,omitempty"`
	IgnoredExitCodes     []int `json:"ignoredExitCodes,omitempty"`
	RestartAttemptPeriod *int  `json:"restartAttemptPeriod,omitempty"`
}

// KeyValuePair is an environment variable or a proxy property.
type KeyValuePair struct {
	Name  string `json:"name,omitempty"`
	Value string `json:"value,omitempty"`
}

// EnvironmentFile is an S3 object of KEY=VALUE lines.
type EnvironmentFile struct {
	Value string `json:"value"`
	Type  string `json:"type"` // s3
}

// MountPoint mounts a task volume into the container.
type MountPoint struct {
	SourceVolume  string `json:"sourceVolume,omitempty"`
	ContainerPath string `json:"containerPath,omitempty"`
	ReadOnly      *bool  `json:"readOnly,omitempty"`
}

// VolumeFrom mounts every volume of another container of the task.
type VolumeFrom struct {
	SourceContainer string `json:"sourceContainer,omitempty"`
	ReadOnly        *bool  `json:"readOnly,omitempty"`
}

// LinuxParameters are Linux-specific container options.
type LinuxParameters struct {
	Capabilities       *KernelCapabilities `json:"capabilities,omitempty"`
	Devices            []Device            `json:"devices,omitempty"`
	InitProcessEnabled *bool               `json:"initProcessEnabled,omitempty"`
	SharedMemorySize   *int                `json:"sharedMemorySize,omitempty"` // MiB
	Tmpfs              []Tmpfs             `json:"tmpfs,omitempty"`
	MaxSwap            *int                `json:"maxSwap,omitempty"`    // MiB
	Swappiness         *int                `json:"swappiness,omitempty"` // 0-100
}

// KernelCapabilities adds and drops Linux capabilities.
type KernelCapabilities struct {
	Add  []string `json:"add,omitempty"`
	Drop []string `json:"drop,omitempty"`
}

// Device exposes a host device to the container.
type Device struct {
	HostPath      string   `json:"hostPath"`
	ContainerPath string   `json:"containerPath,omitempty"`
	Permissions   []string `json:"permissions,omitempty"` // read | write | mknod
}

// Tmpfs is a tmpfs mount.
type Tmpfs struct {
	ContainerPath string   `json:"containerPath"`
	Size          int      `json:"size"` // MiB
	MountOptions  []string `json:"mountOptions,omitempty"`
}

// Secret injects a Secrets Manager secret or SSM parameter.
type Secret struct {
	Name      string `json:"name"`
	ValueFrom string `json:"valueFrom"`
}

// ContainerDependency orders container start-up.
type ContainerDependency struct {
	ContainerName string `json:"containerName"`
	Condition     string `json:"condition"` // START | COMPLETE | SUCCESS | HEALTHY
}

// HostEntry is an /etc/hosts line.
type HostEntry struct {
	Hostname  string `json:"hostname"`
	IPAddress string `json:"ipAddress"`
}

// Ulimit is one resource limit.
type Ulimit struct {
	Name      string `json:"name"`
	SoftLimit int    `json:"softLimit"`
	HardLimit int    `json:"hardLimit"`
}

// LogConfiguration selects and configures the container's log driver.
type LogConfiguration struct {
	LogDriver     string            `json:"logDriver"`
	Options       map[string]string `json:"options,omitempty"`
	SecretOptions []Secret          `json:"secretOptions,omitempty"`
}

// HealthCheck is a container health check. Interval, Timeout and Retries
// are filled with AWS's defaults (30, 5, 3) by PrepareTaskDefinition;
// StartPeriod stays absent when not given.
type HealthCheck struct {
	Command     []string `json:"command"`
	Interval    *int     `json:"interval,omitempty"`
	Timeout     *int     `json:"timeout,omitempty"`
	Retries     *int     `json:"retries,omitempty"`
	StartPeriod *int     `json:"startPeriod,omitempty"`
}

// SystemControl is one namespaced kernel parameter (sysctl).
type SystemControl struct {
	Namespace string `json:"namespace,omitempty"`
	Value     string `json:"value,omitempty"`
}

// ResourceRequirement asks for GPUs or an inference accelerator.
type ResourceRequirement struct {
	Value string `json:"value"`
	Type  string `json:"type"` // GPU | InferenceAccelerator
}

// FirelensConfiguration configures a FireLens log router container.
type FirelensConfiguration struct {
	Type    string            `json:"type"` // fluentd | fluentbit
	Options map[string]string `json:"options,omitempty"`
}

// Volume is a task-level data volume; at most one of the configurations is set.
type Volume struct {
	Name                                    string                                   `json:"name,omitempty"`
	Host                                    *HostVolumeProperties                    `json:"host,omitempty"`
	DockerVolumeConfiguration               *DockerVolumeConfiguration               `json:"dockerVolumeConfiguration,omitempty"`
	EFSVolumeConfiguration                  *EFSVolumeConfiguration                  `json:"efsVolumeConfiguration,omitempty"`
	FSxWindowsFileServerVolumeConfiguration *FSxWindowsFileServerVolumeConfiguration `json:"fsxWindowsFileServerVolumeConfiguration,omitempty"`
	S3FilesVolumeConfiguration              *S3FilesVolumeConfiguration              `json:"s3filesVolumeConfiguration,omitempty"`
	ConfiguredAtLaunch                      *bool                                    `json:"configuredAtLaunch,omitempty"`
}

// HostVolumeProperties is a bind mount; an empty SourcePath asks for a
// task-scoped scratch directory.
type HostVolumeProperties struct {
	SourcePath string `json:"sourcePath,omitempty"`
}

// DockerVolumeConfiguration is a Docker-managed volume (not on Fargate).
type DockerVolumeConfiguration struct {
	Scope         string            `json:"scope,omitempty"` // task | shared
	Autoprovision *bool             `json:"autoprovision,omitempty"`
	Driver        string            `json:"driver,omitempty"`
	DriverOpts    map[string]string `json:"driverOpts,omitempty"`
	Labels        map[string]string `json:"labels,omitempty"`
}

// EFSVolumeConfiguration mounts an EFS file system.
type EFSVolumeConfiguration struct {
	FileSystemID          string                  `json:"fileSystemId"`
	RootDirectory         string                  `json:"rootDirectory,omitempty"`
	TransitEncryption     string                  `json:"transitEncryption,omitempty"` // ENABLED | DISABLED
	TransitEncryptionPort *int                    `json:"transitEncryptionPort,omitempty"`
	AuthorizationConfig   *EFSAuthorizationConfig `json:"authorizationConfig,omitempty"`
}

// EFSAuthorizationConfig selects an access point and IAM authorisation.
type EFSAuthorizationConfig struct {
	AccessPointID string `json:"accessPointId,omitempty"`
	IAM           string `json:"iam,omitempty"` // ENABLED | DISABLED
}

// FSxWindowsFileServerVolumeConfiguration mounts an FSx for Windows share.
type FSxWindowsFileServerVolumeConfiguration struct {
	FileSystemID        string                                   `json:"fileSystemId"`
	RootDirectory       string                                   `json:"rootDirectory"`
	AuthorizationConfig *FSxWindowsFileServerAuthorizationConfig `json:"authorizationConfig,omitempty"`
}

// FSxWindowsFileServerAuthorizationConfig holds the share's credentials.
type FSxWindowsFileServerAuthorizationConfig struct {
	CredentialsParameter string `json:"credentialsParameter"`
	Domain               string `json:"domain"`
}

// S3FilesVolumeConfiguration mounts an S3 Files file system.
type S3FilesVolumeConfiguration struct {
	FileSystemArn         string `json:"fileSystemArn"`
	AccessPointArn        string `json:"accessPointArn,omitempty"`
	RootDirectory         string `json:"rootDirectory,omitempty"`
	TransitEncryptionPort *int   `json:"transitEncryptionPort,omitempty"`
}

// PlacementConstraint is a task-definition placement constraint (memberOf).
type PlacementConstraint struct {
	Type       string `json:"type,omitempty"`
	Expression string `json:"expression,omitempty"`
}

// ProxyConfiguration configures an App Mesh proxy.
type ProxyConfiguration struct {
	Type          string         `json:"type,omitempty"` // APPMESH
	ContainerName string         `json:"containerName"`
	Properties    []KeyValuePair `json:"properties,omitempty"`
}

// InferenceAccelerator is an Elastic Inference accelerator.
type InferenceAccelerator struct {
	DeviceName string `json:"deviceName"`
	DeviceType string `json:"deviceType"`
}

// EphemeralStorage is the Fargate task's scratch space in GiB (21-200).
type EphemeralStorage struct {
	SizeInGiB int `json:"sizeInGiB"`
}

// RuntimePlatform names the OS family and CPU architecture.
type RuntimePlatform struct {
	CPUArchitecture       string `json:"cpuArchitecture,omitempty"`       // X86_64 | ARM64
	OperatingSystemFamily string `json:"operatingSystemFamily,omitempty"` // LINUX | WINDOWS_SERVER_...
}

// Attribute is a container-instance attribute a task definition requires.
type Attribute struct {
	Name       string `json:"name"`
	Value      string `json:"value,omitempty"`
	TargetType string `json:"targetType,omitempty"`
	TargetID   string `json:"targetId,omitempty"`
}

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}
