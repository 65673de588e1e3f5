package control

import (
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Validation of RegisterTaskDefinition input, the way ECS does it:
//
//	PrepareTaskDefinition
//	  normalise  cpu/memory strings -> "1024" / "2048"
//	  defaults   essential, networkMode, cpu 0, protocol, hostPort, healthCheck
//	  validate   task, each container, volumes, tags (launch-type independent)
//	  for each requiresCompatibilities: FARGATE / EXTERNAL rules
//	  compute    compatibilities, requiresAttributes
//
// Every failure is an errdefs.ErrInvalidArgument whose message is AWS's
// exact text where it is known; the API maps it to ClientException. Texts
// not seen in a real AWS answer are marked "wording: unverified".

// Limits enforced on task definitions.
const (
	MaxContainersPerTaskDefinition = 10

	minTaskCPU      = 128
	maxTaskCPU      = 196608
	fargateNofile   = 1048576
	defaultInterval = 30
	defaultTimeout  = 5
	defaultRetries  = 3
)

var namePattern = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)

// invalid is errdefs.Invalidf; the short name keeps the rule tables readable.
func invalid(format string, args ...any) error { return errdefs.Invalidf(format, args...) }

// PrepareTaskDefinition normalises td in place, fills the defaults AWS
// fills, validates it against every launch type it requires and computes
// Compatibilities and RequiresAttributes. It does not touch the ARN,
// revision, status or timestamps, which the store assigns.
func PrepareTaskDefinition(td *TaskDefinition) error {
	if td == nil {
		return invalid("Task definition can not be empty.") // wording: unverified
	}
	if err := normalizeTaskSize(td); err != nil {
		return err
	}
	fillDefaults(td)
	if slices.Contains(td.RequiresCompatibilities, CompatibilityFargate) {
		if err := validateFargateTaskLevel(td); err != nil {
			return err
		}
	}
	if err := validateTask(td); err != nil {
		return err
	}
	if err := checkAWSFields(td); err != nil {
		return err
	}
	for _, c := range td.RequiresCompatibilities {
		var err error
		switch c {
		case CompatibilityFargate:
			err = validateFargate(td)
		case CompatibilityExternal:
			err = validateExternal(td)
		}
		if err != nil {
			return err
		}
	}
	td.Compatibilities = computeCompatibilities(td)
	td.RequiresAttributes = computeRequiresAttributes(td)
	return nil
}

// normalizeTaskSize rewrites Cpu and Memory to plain decimal strings.
func normalizeTaskSize(td *TaskDefinition) error {
	if strings.TrimSpace(td.Cpu) != "" {
		n, err := ParseCPU(td.Cpu)
		if err != nil {
			return err
		}
		td.Cpu = strconv.Itoa(n)
	} else {
		td.Cpu = ""
	}
	if strings.TrimSpace(td.Memory) != "" {
		n, err := ParseMemory(td.Memory)
		if err != nil {
			return err
		}
		td.Memory = strconv.Itoa(n)
	} else {
		td.Memory = ""
	}
	return nil
}

// fillDefaults sets what AWS sets on a registered definition, so Describe
// returns the same document AWS would.
func fillDefaults(td *TaskDefinition) {
	if td.NetworkMode == "" {
		// Documented default; whether AWS echoes it when absent is
		// unverified, fargo echoes it so clients never see an empty mode.
		td.NetworkMode = NetworkModeBridge
	}
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if c.Essential == nil {
			t := true
			c.Essential = &t
		}
		for j := range c.PortMappings {
			pm := &c.PortMappings[j]
			if pm.Protocol == "" {
				pm.Protocol = "tcp"
			}
			if pm.HostPort == nil && pm.ContainerPort != nil && pm.ContainerPortRange == "" {
				switch td.NetworkMode {
				case NetworkModeAwsvpc, NetworkModeHost:
					hp := *pm.ContainerPort
					pm.HostPort = &hp
				case NetworkModeBridge:
					zero := 0
					pm.HostPort = &zero
				}
			}
		}
		if hc := c.HealthCheck; hc != nil {
			if hc.Interval == nil {
				hc.Interval = intPtr(defaultInterval)
			}
			if hc.Timeout == nil {
				hc.Timeout = intPtr(defaultTimeout)
			}
			if hc.Retries == nil {
				hc.Retries = intPtr(defaultRetries)
			}
		}
	}
}

func intPtr(v int) *int { return &v }

// validateTask applies the rules that hold whatever the launch type.
func validateTask(td *TaskDefinition) error {
	if td.Family == "" {
		return invalid("Family can not be blank.")
	}
	if !namePattern.MatchString(td.Family) {
		return invalid("Family contains invalid characters.")
	}
	if len(td.ContainerDefinitions) == 0 {
		return invalid("Container list cannot be empty.")
	}
	if len(td.ContainerDefinitions) > MaxContainersPerTaskDefinition {
		return invalid("Too many containers.")
	}
	if !slices.Contains([]string{NetworkModeBridge, NetworkModeHost, NetworkModeAwsvpc, NetworkModeNone}, td.NetworkMode) {
		return invalid("Invalid 'networkMode' setting for task.") // wording: unverified
	}
	if td.PidMode != "" && td.PidMode != "host" && td.PidMode != "task" {
		return invalid("Invalid 'pidMode' setting for task.") // wording: unverified
	}
	if td.IpcMode != "" && td.IpcMode != "host" && td.IpcMode != "task" && td.IpcMode != "none" {
		return invalid("Invalid 'ipcMode' setting for task.") // wording: unverified
	}
	for _, c := range td.RequiresCompatibilities {
		switch c {
		case CompatibilityEC2, CompatibilityFargate, CompatibilityExternal, "MANAGED_INSTANCES":
		default:
			return invalid("Invalid 'requiresCompatibilities' setting for task: %s.", c) // wording: unverified
		}
	}
	if td.Cpu != "" {
		if n, _ := strconv.Atoi(td.Cpu); n < minTaskCPU || n > maxTaskCPU {
			return invalid("Invalid 'cpu' setting for task.")
		}
	}
	if td.Memory != "" {
		if n, _ := strconv.Atoi(td.Memory); n <= 0 {
			return invalid("Invalid 'memory' setting for task.") // wording: unverified
		}
	}
	if es := td.EphemeralStorage; es != nil && (es.SizeInGiB < 21 || es.SizeInGiB > 200) {
		// AWS rejects the default (20) too: a set value must raise it.
		return invalid("The ephemeral storage size must be between 21 and 200 GiB.") // wording: unverified
	}
	volumes, err := validateVolumes(td.Volumes)
	if err != nil {
		return err
	}
	names := make(map[string]*ContainerDefinition, len(td.ContainerDefinitions))
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if c.Name == "" {
			return invalid("Container.name should not be null or empty.")
		}
		if !namePattern.MatchString(c.Name) {
			return invalid("Container.name contains invalid characters.")
		}
		if _, dup := names[c.Name]; dup {
			return invalid("Container names must be unique within a Task Definition.")
		}
		names[c.Name] = c
	}
	essential := false
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if c.IsEssential() {
			essential = true
		}
		if err := validateContainer(td, c, names, volumes); err != nil {
			return err
		}
	}
	if !essential {
		return invalid("Task definition doesn't have any essential container.")
	}
	if err := validateTaskResources(td); err != nil {
		return err
	}
	if pc := td.ProxyConfiguration; pc != nil {
		if _, ok := names[pc.ContainerName]; !ok {
			return invalid("Invalid 'proxyConfiguration' setting for task: container '%s' is not defined.", pc.ContainerName) // wording: unverified
		}
		if td.NetworkMode != NetworkModeAwsvpc {
			return invalid("Proxy configuration is only supported when networkMode=awsvpc.") // wording: unverified
		}
	}
	for _, p := range td.PlacementConstraints {
		if p.Type != "" && p.Type != "memberOf" {
			return invalid("Invalid 'placementConstraints' setting for task.") // wording: unverified
		}
	}
	// Tag limits are ValidateTags' (tags.go), answered as InvalidParameterException.
	return ValidateTags(td.Tags)
}

// validateTaskResources compares the containers' sizes with the task's.
func validateTaskResources(td *TaskDefinition) error {
	taskMem, _ := strconv.Atoi(td.Memory)
	taskCPU, _ := strconv.Atoi(td.Cpu)
	sumCPU, sumRes := 0, 0
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		sumCPU += c.Cpu
		if taskMem == 0 && c.Memory == nil && c.MemoryReservation == nil {
			return invalid("Invalid setting for container '%s'. At least one of 'memory' or 'memoryReservation' must be specified.", c.Name)
		}
		if taskMem > 0 && c.Memory != nil && *c.Memory > taskMem {
			return invalid("The 'memory' setting for container '%s' is greater than for the task.", c.Name)
		}
		if c.MemoryReservation != nil {
			sumRes += *c.MemoryReservation
		}
	}
	if taskCPU > 0 && sumCPU > taskCPU {
		return invalid("The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'.")
	}
	if taskMem > 0 && sumRes > taskMem {
		return invalid("The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'.")
	}
	return nil
}

// validateVolumes checks the task's volumes and returns them by name.
func validateVolumes(vs []Volume) (map[string]*Volume, error) {
	byName := make(map[string]*Volume, len(vs))
	for i := range vs {
		v := &vs[i]
		if v.Name == "" {
			return nil, invalid("Volume.name should not be null or empty.") // wording: unverified
		}
		if !namePattern.MatchString(v.Name) {
			return nil, invalid("Volume.name contains invalid characters.") // wording: unverified
		}
		if _, dup := byName[v.Name]; dup {
			return nil, invalid("Volume names must be unique within a Task Definition.") // wording: unverified
		}
		byName[v.Name] = v
		set := 0
		for _, b := range []bool{v.Host != nil, v.DockerVolumeConfiguration != nil, v.EFSVolumeConfiguration != nil,
			v.FSxWindowsFileServerVolumeConfiguration != nil, v.S3FilesVolumeConfiguration != nil} {
			if b {
				set++
			}
		}
		if set > 1 {
			return nil, invalid("Volume '%s' can only specify one volume configuration.", v.Name) // wording: unverified
		}
		if d := v.DockerVolumeConfiguration; d != nil && d.Scope != "" && d.Scope != "task" && d.Scope != "shared" {
			return nil, invalid("Invalid 'scope' setting for volume '%s'.", v.Name) // wording: unverified
		}
		if e := v.EFSVolumeConfiguration; e != nil {
			if e.FileSystemID == "" {
				return nil, invalid("efsVolumeConfiguration.fileSystemId should not be null or empty.") // wording: unverified
			}
			if e.TransitEncryption != "" && e.TransitEncryption != "ENABLED" && e.TransitEncryption != "DISABLED" {
				return nil, invalid("Invalid 'transitEncryption' setting for volume '%s'.", v.Name) // wording: unverified
			}
		}
		if f := v.FSxWindowsFileServerVolumeConfiguration; f != nil && (f.FileSystemID == "" || f.RootDirectory == "" || f.AuthorizationConfig == nil) {
			return nil, invalid("Invalid 'fsxWindowsFileServerVolumeConfiguration' setting for volume '%s'.", v.Name) // wording: unverified
		}
		if s := v.S3FilesVolumeConfiguration; s != nil && s.FileSystemArn == "" {
			return nil, invalid("s3filesVolumeConfiguration.fileSystemArn should not be null or empty.") // wording: unverified
		}
	}
	return byName, nil
}

// validateContainer applies the per-container rules.
func validateContainer(td *TaskDefinition, c *ContainerDefinition, names map[string]*ContainerDefinition, volumes map[string]*Volume) error {
	if strings.TrimSpace(c.Image) == "" {
		return invalid("Container.image should not be null or empty.") // wording: unverified (reported as "container.image should not be null or empty")
	}
	if c.Cpu < 0 {
		return invalid("Invalid 'cpu' setting for container '%s'.", c.Name) // wording: unverified
	}
	if c.Memory != nil && *c.Memory <= 0 {
		return invalid("Invalid 'memory' setting for container '%s'.", c.Name) // wording: unverified
	}
	if c.MemoryReservation != nil && *c.MemoryReservation <= 0 {
		return invalid("Invalid 'memoryReservation' setting for container '%s'.", c.Name) // wording: unverified
	}
	if c.Memory != nil && c.MemoryReservation != nil && *c.MemoryReservation > *c.Memory {
		// memory == memoryReservation is accepted by AWS.
		return invalid("Invalid setting for container '%s'. 'memory' must be greater than or equal to 'memoryReservation'.", c.Name) // wording: unverified
	}
	if c.RepositoryCredentials != nil && c.RepositoryCredentials.CredentialsParameter == "" {
		return invalid("repositoryCredentials.credentialsParameter should not be null or empty.") // wording: unverified
	}
	if err := validatePorts(td, c); err != nil {
		return err
	}
	if len(c.Links) > 0 && td.NetworkMode != NetworkModeBridge {
		return invalid("Links are not supported when networkMode=%s.", td.NetworkMode) // verified for awsvpc
	}
	if c.Hostname != "" && (td.NetworkMode == NetworkModeAwsvpc || td.NetworkMode == NetworkModeHost) {
		return invalid("hostname is not supported on container when networkMode=%s.", td.NetworkMode) // verified for awsvpc
	}
	if err := validateHealthCheck(c); err != nil {
		return err
	}
	if err := validateDependsOn(c, names); err != nil {
		return err
	}
	if (c.StartTimeout != nil && *c.StartTimeout < 0) || (c.StopTimeout != nil && *c.StopTimeout < 0) {
		return invalid("Invalid timeout setting for container '%s'.", c.Name) // wording: unverified
	}
	for _, s := range c.Secrets {
		if s.Name == "" || s.ValueFrom == "" {
			return invalid("Secret name and valueFrom should not be null or empty.") // wording: unverified
		}
	}
	hasSecrets := len(c.Secrets) > 0 || (c.LogConfiguration != nil && len(c.LogConfiguration.SecretOptions) > 0)
	if hasSecrets && td.ExecutionRoleArn == "" {
		return invalid("When you are specifying container secrets, you must also specify a value for 'executionRoleArn'.")
	}
	for _, f := range c.EnvironmentFiles {
		if f.Type != "s3" || f.Value == "" {
			return invalid("Invalid 'environmentFiles' setting for container '%s'.", c.Name) // wording: unverified
		}
	}
	if err := validateLogConfiguration(c); err != nil {
		return err
	}
	for _, u := range c.Ulimits {
		if !slices.Contains(ulimitNames, u.Name) {
			return invalid("Invalid 'ulimits' setting for container '%s': unknown ulimit '%s'.", c.Name, u.Name) // wording: unverified
		}
		if u.SoftLimit < 0 || u.HardLimit < 0 || u.SoftLimit > u.HardLimit {
			return invalid("Invalid 'ulimits' setting for container '%s': the soft limit of '%s' must not exceed its hard limit.", c.Name, u.Name) // wording: unverified
		}
	}
	if err := validateSystemControls(td, c); err != nil {
		return err
	}
	for _, mp := range c.MountPoints {
		if _, ok := volumes[mp.SourceVolume]; !ok {
			return invalid("Unknown volume '%s'.", mp.SourceVolume)
		}
		if mp.ContainerPath == "" {
			return invalid("mountPoint.containerPath should not be null or empty.") // wording: unverified
		}
	}
	for _, vf := range c.VolumesFrom {
		if _, ok := names[vf.SourceContainer]; !ok || vf.SourceContainer == c.Name {
			return invalid("Unknown container '%s' in 'volumesFrom' of container '%s'.", vf.SourceContainer, c.Name) // wording: unverified
		}
	}
	for _, r := range c.ResourceRequirements {
		switch r.Type {
		case "GPU":
			if n, err := strconv.Atoi(r.Value); err != nil || n < 1 {
				return invalid("Invalid 'resourceRequirements' setting for container '%s'.", c.Name) // wording: unverified
			}
		case "InferenceAccelerator":
		default:
			return invalid("Invalid 'resourceRequirements' setting for container '%s'.", c.Name) // wording: unverified
		}
	}
	if lp := c.LinuxParameters; lp != nil {
		if lp.Swappiness != nil && (*lp.Swappiness < 0 || *lp.Swappiness > 100) {
			return invalid("Invalid 'swappiness' setting for container '%s'.", c.Name) // wording: unverified
		}
		for _, d := range lp.Devices {
			if d.HostPath == "" {
				return invalid("device.hostPath should not be null or empty.") // wording: unverified
			}
		}
		for _, t := range lp.Tmpfs {
			if t.ContainerPath == "" || t.Size <= 0 {
				return invalid("Invalid 'tmpfs' setting for container '%s'.", c.Name) // wording: unverified
			}
		}
	}
	if fc := c.FirelensConfiguration; fc != nil && fc.Type != "fluentd" && fc.Type != "fluentbit" {
		return invalid("Invalid 'firelensConfiguration' setting for container '%s'.", c.Name) // wording: unverified
	}
	if c.VersionConsistency != "" && c.VersionConsistency != "enabled" && c.VersionConsistency != "disabled" {
		return invalid("Invalid 'versionConsistency' setting for container '%s'.", c.Name) // wording: unverified
	}
	return nil
}

var ulimitNames = []string{"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
	"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack"}

// validatePorts checks port mappings against the network mode.
func validatePorts(td *TaskDefinition, c *ContainerDefinition) error {
	if len(c.PortMappings) > 0 && td.NetworkMode == NetworkModeNone {
		return invalid("Port mappings are not supported when networkMode=none.") // wording: unverified
	}
	for _, pm := range c.PortMappings {
		if pm.ContainerPortRange != "" {
			if pm.ContainerPort != nil {
				return invalid("Invalid 'containerPortRange' setting for container '%s'. Specify either 'containerPort' or 'containerPortRange'.", c.Name) // wording: unverified
			}
			if _, _, ok := ParsePortRange(pm.ContainerPortRange); !ok {
				return invalid("Invalid 'containerPortRange' setting for container '%s'.", c.Name) // wording: unverified
			}
			if pm.HostPort != nil {
				return invalid("Invalid 'hostPort' setting for container '%s'. 'hostPort' can't be set with 'containerPortRange'.", c.Name) // wording: unverified
			}
			if td.NetworkMode != NetworkModeAwsvpc && td.NetworkMode != NetworkModeBridge {
				return invalid("Invalid 'containerPortRange' setting for container '%s'. 'containerPortRange' is only supported when networkMode is awsvpc or bridge.", c.Name) // wording: unverified
			}
		} else if pm.ContainerPort == nil || *pm.ContainerPort < 1 || *pm.ContainerPort > 65535 {
			return invalid("Invalid 'containerPort' setting for container '%s'.", c.Name)
		}
		if pm.HostPort != nil && (*pm.HostPort < 0 || *pm.HostPort > 65535) {
			return invalid("Invalid 'hostPort' setting for container '%s'.", c.Name) // wording: unverified
		}
		if pm.Protocol != "tcp" && pm.Protocol != "udp" {
			return invalid("Invalid 'protocol' setting for container '%s'.", c.Name) // wording: unverified
		}
		if pm.AppProtocol != "" && pm.AppProtocol != "http" && pm.AppProtocol != "http2" && pm.AppProtocol != "grpc" {
			return invalid("Invalid 'appProtocol' setting for container '%s'.", c.Name) // wording: unverified
		}
		if pm.ContainerPort != nil && pm.HostPort != nil && *pm.HostPort != *pm.ContainerPort {
			switch td.NetworkMode {
			case NetworkModeAwsvpc:
				return invalid("When networkMode=awsvpc, the host ports and container ports in port mappings must match.")
			case NetworkModeHost:
				return invalid("When networkMode=host, the host ports and container ports in port mappings must match.") // wording: unverified (awsvpc text verified)
			}
		}
	}
	return nil
}

// validateHealthCheck checks command form and the documented ranges.
func validateHealthCheck(c *ContainerDefinition) error {
	hc := c.HealthCheck
	if hc == nil {
		return nil
	}
	if len(hc.Command) == 0 || !slices.Contains([]string{"CMD", "CMD-SHELL", "NONE"}, hc.Command[0]) ||
		(hc.Command[0] != "NONE" && len(hc.Command) < 2) {
		return invalid("Invalid 'healthCheck.command' setting for container '%s'. The command must start with 'CMD' or 'CMD-SHELL'.", c.Name) // wording: unverified
	}
	ranges := []struct {
		name   string
		v      *int
		lo, hi int
	}{
		{"interval", hc.Interval, 5, 300},
		{"timeout", hc.Timeout, 2, 60},
		{"retries", hc.Retries, 1, 10},
		{"startPeriod", hc.StartPeriod, 0, 300},
	}
	for _, r := range ranges {
		if r.v != nil && (*r.v < r.lo || *r.v > r.hi) {
			return invalid("Invalid 'healthCheck.%s' setting for container '%s'. The value must be between %d and %d.", r.name, c.Name, r.lo, r.hi) // wording: unverified
		}
	}
	return nil
}

// validateDependsOn checks container dependencies and rejects cycles.
func validateDependsOn(c *ContainerDefinition, names map[string]*ContainerDefinition) error {
	for _, d := range c.DependsOn {
		target, ok := names[d.ContainerName]
		if !ok || d.ContainerName == c.Name {
			return invalid("Invalid 'dependsOn' setting for container '%s'. Container '%s' is not a valid dependency.", c.Name, d.ContainerName) // wording: unverified
		}
		switch d.Condition {
		case "START":
		case "COMPLETE", "SUCCESS":
			if target.IsEssential() {
				return invalid("A dependency container with SUCCESS or COMPLETE condition cannot be an essential container")
			}
		case "HEALTHY":
			if target.HealthCheck == nil {
				return invalid("Invalid 'dependsOn' setting for container '%s'. Container '%s' must have a health check for condition HEALTHY.", c.Name, d.ContainerName) // wording: unverified
			}
		default:
			return invalid("Invalid 'dependsOn' condition '%s' for container '%s'.", d.Condition, c.Name) // wording: unverified
		}
	}
	if cycle := dependencyCycle(c.Name, names); cycle {
		return invalid("Invalid 'dependsOn' setting for container '%s'. Container dependencies cannot be circular.", c.Name) // wording: unverified
	}
	return nil
}

// dependencyCycle reports whether start can reach itself through dependsOn.
func dependencyCycle(start string, names map[string]*ContainerDefinition) bool {
	seen := map[string]bool{}
	stack := []string{start}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		c := names[n]
		if c == nil {
			continue
		}
		for _, d := range c.DependsOn {
			if d.ContainerName == start {
				return true
			}
			if !seen[d.ContainerName] {
				seen[d.ContainerName] = true
				stack = append(stack, d.ContainerName)
			}
		}
	}
	return false
}

var logDrivers = []string{"json-file", "syslog", "journald", "gelf", "fluentd", "awslogs", "splunk", "awsfirelens"}

// awslogsOptions are the options the awslogs driver accepts (Docker's and
// ECS's own awslogs-stream-prefix).
var awslogsOptions = []string{
	"awslogs-group", "awslogs-region", "awslogs-stream-prefix", "awslogs-create-group",
	"awslogs-datetime-format", "awslogs-multiline-pattern", "mode", "max-buffer-size",
	"awslogs-endpoint", "awslogs-stream", "awslogs-credentials-endpoint", "awslogs-create-stream",
	"awslogs-format", "tag", "awslogs-force-flush-interval-seconds", "awslogs-max-buffered-events",
}

// validateLogConfiguration checks the driver and the awslogs options that
// hold on every launch type.
func validateLogConfiguration(c *ContainerDefinition) error {
	lc := c.LogConfiguration
	if lc == nil {
		return nil
	}
	if !slices.Contains(logDrivers, lc.LogDriver) {
		return invalid("Invalid 'logDriver' setting for container '%s'.", c.Name) // wording: unverified
	}
	if lc.LogDriver != "awslogs" {
		return nil
	}
	var bad []string
	for k := range lc.Options {
		if !slices.Contains(awslogsOptions, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) > 0 {
		slices.Sort(bad)
		return invalid("Log driver awslogs disallows options: %s", strings.Join(bad, ", "))
	}
	for _, k := range []string{"awslogs-group", "awslogs-region"} {
		if lc.Options[k] == "" {
			return invalid("Log driver awslogs requires options: %s", k) // wording: unverified (pattern of the verified "disallows options")
		}
	}
	if lc.Options["awslogs-datetime-format"] != "" && lc.Options["awslogs-multiline-pattern"] != "" {
		return invalid("Log driver awslogs: awslogs-datetime-format and awslogs-multiline-pattern cannot both be specified.") // wording: unverified
	}
	if m := lc.Options["mode"]; m != "" && m != "blocking" && m != "non-blocking" {
		return invalid("Log driver awslogs: invalid mode '%s'.", m) // wording: unverified
	}
	return nil
}
