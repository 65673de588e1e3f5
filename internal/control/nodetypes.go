package control

import "github.com/fargo-run/fargo/internal/node"

// The control plane's task, task definition and node types are the node
// protocol's (internal/node): the agent reads and reports them with no
// conversion in between.
type (
	Task                                    = node.Task
	Container                               = node.Container
	NetworkBinding                          = node.NetworkBinding
	NetworkInterface                        = node.NetworkInterface
	TaskAttachment                          = node.TaskAttachment
	TaskOverride                            = node.TaskOverride
	ContainerOverride                       = node.ContainerOverride
	NetworkConfiguration                    = node.NetworkConfiguration
	TaskStateChange                         = node.TaskStateChange
	ContainerStateChange                    = node.ContainerStateChange
	TaskDefinition                          = node.TaskDefinition
	ContainerDefinition                     = node.ContainerDefinition
	RepositoryCredentials                   = node.RepositoryCredentials
	PortMapping                             = node.PortMapping
	ContainerRestartPolicy                  = node.ContainerRestartPolicy
	KeyValuePair                            = node.KeyValuePair
	EnvironmentFile                         = node.EnvironmentFile
	MountPoint                              = node.MountPoint
	VolumeFrom                              = node.VolumeFrom
	LinuxParameters                         = node.LinuxParameters
	KernelCapabilities                      = node.KernelCapabilities
	Device                                  = node.Device
	Tmpfs                                   = node.Tmpfs
	Secret                                  = node.Secret
	ContainerDependency                     = node.ContainerDependency
	HostEntry                               = node.HostEntry
	Ulimit                                  = node.Ulimit
	LogConfiguration                        = node.LogConfiguration
	HealthCheck                             = node.HealthCheck
	SystemControl                           = node.SystemControl
	ResourceRequirement                     = node.ResourceRequirement
	FirelensConfiguration                   = node.FirelensConfiguration
	Volume                                  = node.Volume
	HostVolumeProperties                    = node.HostVolumeProperties
	DockerVolumeConfiguration               = node.DockerVolumeConfiguration
	EFSVolumeConfiguration                  = node.EFSVolumeConfiguration
	EFSAuthorizationConfig                  = node.EFSAuthorizationConfig
	FSxWindowsFileServerVolumeConfiguration = node.FSxWindowsFileServerVolumeConfiguration
	FSxWindowsFileServerAuthorizationConfig = node.FSxWindowsFileServerAuthorizationConfig
	S3FilesVolumeConfiguration              = node.S3FilesVolumeConfiguration
	PlacementConstraint                     = node.PlacementConstraint
	ProxyConfiguration                      = node.ProxyConfiguration
	InferenceAccelerator                    = node.InferenceAccelerator
	EphemeralStorage                        = node.EphemeralStorage
	RuntimePlatform                         = node.RuntimePlatform
	Attribute                               = node.Attribute
	Tag                                     = node.Tag
	Node                                    = node.Node
	TaskRef                                 = node.TaskRef
	KeyValue                                = node.KeyValue
)

// Statuses, stop codes, network modes and compatibilities (node's).
const (
	TaskProvisioning               = node.TaskProvisioning
	TaskPending                    = node.TaskPending
	TaskActivating                 = node.TaskActivating
	TaskRunning                    = node.TaskRunning
	TaskDeactivating               = node.TaskDeactivating
	TaskStopping                   = node.TaskStopping
	TaskDeprovisioning             = node.TaskDeprovisioning
	TaskStopped                    = node.TaskStopped
	StopTaskFailedToStart          = node.StopTaskFailedToStart
	StopEssentialContainerExited   = node.StopEssentialContainerExited
	StopUserInitiated              = node.StopUserInitiated
	StopServiceSchedulerInitiated  = node.StopServiceSchedulerInitiated
	StopTerminationNotice          = node.StopTerminationNotice
	ContainerPending               = node.ContainerPending
	ContainerRunning               = node.ContainerRunning
	ContainerStopped               = node.ContainerStopped
	LaunchTypeFargate              = node.LaunchTypeFargate
	LaunchTypeEC2                  = node.LaunchTypeEC2
	TaskDefinitionActive           = node.TaskDefinitionActive
	TaskDefinitionInactive         = node.TaskDefinitionInactive
	TaskDefinitionDeleteInProgress = node.TaskDefinitionDeleteInProgress
	NetworkModeBridge              = node.NetworkModeBridge
	NetworkModeHost                = node.NetworkModeHost
	NetworkModeAwsvpc              = node.NetworkModeAwsvpc
	NetworkModeNone                = node.NetworkModeNone
	CompatibilityEC2               = node.CompatibilityEC2
	CompatibilityFargate           = node.CompatibilityFargate
	CompatibilityExternal          = node.CompatibilityExternal
)

// TaskStatusIndex orders task statuses (-1 for unknown ones).
func TaskStatusIndex(s string) int { return node.TaskStatusIndex(s) }

// ParsePortRange parses "8000-8010" (lo < hi, both in 1-65535).
func ParsePortRange(s string) (lo, hi int, ok bool) { return node.ParsePortRange(s) }

// Control is the node protocol's control plane, in-process.
var _ node.ControlPlane = (*Control)(nil)
