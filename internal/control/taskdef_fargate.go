package control

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Task size parsing, the Fargate and EXTERNAL rules, and the computed
// compatibilities and requiresAttributes of a task definition.

var (
	cpuPattern    = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?|\.\d+)\s*vcpus?$`)
	memoryPattern = regexp.MustCompile(`^(?i)(\d+(?:\.\d+)?|\.\d+)\s*(gb|gib|mb|mib)$`)
	ecrImage      = regexp.MustCompile(`^\d{12}\.dkr\.ecr(-fips)?\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/`)
)

// ParseCPU parses a task cpu value: CPU units ("1024") or vCPUs ("1 vCPU",
// "0.25 vcpu", "2vCPU"); 1 vCPU = 1024 units. The result must be a whole
// number of units.
func ParseCPU(s string) (int, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil && n >= 0 {
		return n, nil
	}
	if m := cpuPattern.FindStringSubmatch(t); m != nil {
		if n, ok := scale(m[1], 1024); ok {
			return n, nil
		}
	}
	return 0, invalid("Invalid 'cpu' setting for task.")
}

// ParseMemory parses a task memory value: MiB ("512"), or with a unit
// ("2GB", "2 GB", "0.5 GiB", "512 MiB", "512MB"); GB and GiB both mean
// 1024 MiB, as ECS treats them. The result must be a whole number of MiB.
func ParseMemory(s string) (int, error) {
	t := strings.TrimSpace(s)
	if n, err := strconv.Atoi(t); err == nil && n >= 0 {
		return n, nil
	}
	if m := memoryPattern.FindStringSubmatch(t); m != nil {
		factor := 1
		if u := strings.ToLower(m[2]); u == "gb" || u == "gib" {
			factor = 1024
		}
		if n, ok := scale(m[1], factor); ok {
			return n, nil
		}
	}
	return 0, invalid("Invalid 'memory' setting for task.") // wording: unverified (the cpu text is AWS's)
}

// scale multiplies the decimal number num by factor exactly, failing when
// the result is not a whole number or is absurdly large.
func scale(num string, factor int) (int, bool) {
	whole, frac, _ := strings.Cut(num, ".")
	if len(whole) > 9 || len(frac) > 9 {
		return 0, false
	}
	w := 0
	if whole != "" {
		w, _ = strconv.Atoi(whole)
	}
	n := w * factor
	if frac != "" {
		f, _ := strconv.Atoi(frac)
		den := 1
		for range len(frac) {
			den *= 10
		}
		if f*factor%den != 0 {
			return 0, false
		}
		n += f * factor / den
	}
	return n, true
}

// FargateMemoryValid reports whether cpu units and memory MiB form a
// Fargate task size (Linux, platform version 1.4.0).
func FargateMemoryValid(cpu, memory int) bool {
	inRange := func(lo, hi, step int) bool {
		return memory >= lo && memory <= hi && (memory-lo)%step == 0
	}
	switch cpu {
	case 256:
		return memory == 512 || memory == 1024 || memory == 2048
	case 512:
		return inRange(1024, 4096, 1024)
	case 1024:
		return inRange(2048, 8192, 1024)
	case 2048:
		return inRange(4096, 16384, 1024)
	case 4096:
		return inRange(8192, 30720, 1024)
	case 8192:
		return inRange(16384, 61440, 4096)
	case 16384:
		return inRange(32768, 122880, 8192)
	}
	return false
}

// fargateForbidden lists, for a container, the parameters Fargate refuses.
func fargateForbidden(c *ContainerDefinition) string {
	switch {
	case c.Privileged != nil && *c.Privileged:
		return "privileged"
	case len(c.Links) > 0:
		return "links"
	case len(c.DNSServers) > 0:
		return "dnsServers"
	case len(c.DNSSearchDomains) > 0:
		return "dnsSearchDomains"
	case len(c.ExtraHosts) > 0:
		return "extraHosts"
	case len(c.DockerSecurityOptions) > 0:
		return "dockerSecurityOptions"
	case c.DisableNetworking != nil && *c.DisableNetworking:
		return "disableNetworking"
	case slices.ContainsFunc(c.ResourceRequirements, func(r ResourceRequirement) bool { return r.Type == "GPU" }):
		return "GPU resource requirements"
	}
	if lp := c.LinuxParameters; lp != nil {
		switch {
		case len(lp.Devices) > 0:
			return "devices"
		case lp.SharedMemorySize != nil:
			return "sharedMemorySize"
		case len(lp.Tmpfs) > 0:
			return "tmpfs"
		case lp.MaxSwap != nil:
			return "maxSwap"
		case lp.Swappiness != nil:
			return "swappiness"
		}
		if lp.Capabilities != nil {
			for _, a := range lp.Capabilities.Add {
				if strings.TrimPrefix(strings.ToUpper(a), "CAP_") != "SYS_PTRACE" {
					return "capabilities other than SYS_PTRACE"
				}
			}
		}
	}
	return ""
}

// validateFargateTaskLevel applies the Fargate rules on the task's network
// mode and size; PrepareTaskDefinition runs them before the container rules,
// so a Fargate definition without task memory hears about that first.
func validateFargateTaskLevel(td *TaskDefinition) error {
	if td.NetworkMode != NetworkModeAwsvpc {
		return invalid("Fargate only supports network mode \u2018awsvpc\u2019.")
	}
	if td.Cpu == "" {
		return invalid("Fargate requires that 'cpu' be defined at the task level.")
	}
	if td.Memory == "" {
		return invalid("Fargate requires that 'memory' be defined at the task level.")
	}
	cpu, _ := strconv.Atoi(td.Cpu)
	mem, _ := strconv.Atoi(td.Memory)
	if !FargateMemoryValid(cpu, mem) {
		return invalid("No Fargate configuration exists for given values: %d CPU, %d memory. See the Amazon ECS documentation for the valid values.", cpu, mem)
	}
	return nil
}

// validateFargate applies the Fargate rules (aws-api.md §2.7, §2.8).
func validateFargate(td *TaskDefinition) error {
	if err := validateFargateTaskLevel(td); err != nil {
		return err
	}
	if td.IpcMode != "" {
		return invalid("Tasks using the Fargate launch type do not support ipcMode.")
	}
	if td.PidMode != "" && td.PidMode != "task" {
		// Text as moto returns it; believed to be AWS's.
		return invalid("Tasks using the Fargate launch type do not support pidMode '%s'. The supported value for pidMode is 'task'.", td.PidMode)
	}
	if len(td.PlacementConstraints) > 0 {
		return invalid("Tasks using the Fargate launch type do not support placementConstraints.") // wording: unverified
	}
	if len(td.InferenceAccelerators) > 0 {
		return invalid("Tasks using the Fargate launch type do not support inferenceAccelerators.") // wording: unverified
	}
	for _, v := range td.Volumes {
		if v.DockerVolumeConfiguration != nil {
			return invalid("Tasks using the Fargate launch type do not support dockerVolumeConfiguration.") // wording: unverified
		}
		if v.Host != nil && v.Host.SourcePath != "" {
			return invalid("Tasks using the Fargate launch type do not support host.sourcePath.") // wording: unverified
		}
	}
	for i := range td.ContainerDefinitions {
		c := &td.ContainerDefinitions[i]
		if p := fargateForbidden(c); p != "" {
			return invalid("Tasks using the Fargate launch type do not support %s.", p) // wording: verified for ipcMode and GPU; unverified for the rest
		}
		if lc := c.LogConfiguration; lc != nil {
			switch lc.LogDriver {
			case "awslogs":
				if lc.Options["awslogs-stream-prefix"] == "" {
					return invalid("Fargate requires log configuration options to include awslogs-stream-prefix to support log driver awslogs.")
				}
				if td.ExecutionRoleArn == "" {
					return invalid("Fargate requires task definition to have execution role ARN to support log driver awslogs.")
				}
			case "splunk", "awsfirelens":
			default:
				return invalid("Fargate does not support log driver %s.", lc.LogDriver) // wording: unverified
			}
		}
		if ecrImage.MatchString(c.Image) && td.ExecutionRoleArn == "" {
			return invalid("Fargate requires task definition to have execution role ARN to support ECR images.")
		}
		for name, v := range map[string]*int{"startTimeout": c.StartTimeout, "stopTimeout": c.StopTimeout} {
			if v != nil && (*v < 2 || *v > 120) {
				return invalid("Invalid '%s' setting for container '%s'. Fargate supports values between 2 and 120 seconds.", name, c.Name) // wording: unverified
			}
		}
		for _, u := range c.Ulimits {
			if u.Name == "nofile" && (u.HardLimit > fargateNofile || u.SoftLimit > fargateNofile) {
				return invalid("Invalid 'ulimits' setting for container '%s'. Fargate supports a maximum 'nofile' limit of %d.", c.Name, fargateNofile) // wording: unverified
			}
		}
	}
	return nil
}

// validateExternal applies the EXTERNAL (ECS Anywhere) rules: no awsvpc,
// no Fargate-only or AWS-storage volumes.
func validateExternal(td *TaskDefinition) error {
	if td.NetworkMode == NetworkModeAwsvpc {
		return invalid("Tasks using the External launch type do not support network mode \u2018awsvpc\u2019.") // wording: unverified
	}
	for _, v := range td.Volumes {
		if v.EFSVolumeConfiguration != nil || v.FSxWindowsFileServerVolumeConfiguration != nil || v.S3FilesVolumeConfiguration != nil {
			return invalid("Tasks using the External launch type do not support EFS, FSx or S3 Files volumes.") // wording: unverified
		}
	}
	if len(td.InferenceAccelerators) > 0 {
		return invalid("Tasks using the External launch type do not support inferenceAccelerators.") // wording: unverified
	}
	return nil
}

// computeCompatibilities lists every launch type the (valid) definition can
// run on. EC2 always; FARGATE when the Fargate rules pass even if FARGATE
// was not asked for; EXTERNAL when the EXTERNAL rules pass. The order is
// the one AWS answers with: ["EXTERNAL","EC2"] and ["EC2","FARGATE"].
func computeCompatibilities(td *TaskDefinition) []string {
	var out []string
	if validateExternal(td) == nil {
		out = append(out, CompatibilityExternal)
	}
	out = append(out, CompatibilityEC2)
	if validateFargate(td) == nil {
		out = append(out, CompatibilityFargate)
	}
	return out
}

// Container-instance attribute names.
const (
	attrPrefix    = "com.amazonaws.ecs.capability."
	attrRemoteAPI = attrPrefix + "docker-remote-api."
)

// computeRequiresAttributes lists the container-instance attributes the
// definition needs, in the order AWS tends to list them. The mapping is
// reconstructed from real DescribeTaskDefinition answers (awslogs, ECR,
// task and execution roles, awsvpc, ipc/pid modes) and the parameter docs;
// the docker-remote-api versions of rarer parameters are best effort.
func computeRequiresAttributes(td *TaskDefinition) []Attribute {
	var names []string
	add := func(n string) {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	cs := td.ContainerDefinitions
	any := func(f func(c *ContainerDefinition) bool) bool {
		for i := range cs {
			if f(&cs[i]) {
				return true
			}
		}
		return false
	}
	for i := range cs {
		if lc := cs[i].LogConfiguration; lc != nil {
			add(attrPrefix + "logging-driver." + lc.LogDriver)
		}
	}
	awslogs := any(func(c *ContainerDefinition) bool {
		return c.LogConfiguration != nil && c.LogConfiguration.LogDriver == "awslogs"
	})
	ecr := any(func(c *ContainerDefinition) bool { return ecrImage.MatchString(c.Image) })
	if awslogs && td.ExecutionRoleArn != "" {
		add("ecs.capability.execution-role-awslogs")
	}
	if ecr {
		add(attrPrefix + "ecr-auth")
	}
	if awslogs {
		add(attrRemoteAPI + "1.19")
	}
	for i := range cs {
		if fc := cs[i].FirelensConfiguration; fc != nil {
			add("ecs.capability.firelens." + fc.Type)
		}
	}
	if any(func(c *ContainerDefinition) bool {
		return (c.ReadonlyRootFilesystem != nil && *c.ReadonlyRootFilesystem) || len(c.DockerSecurityOptions) > 0
	}) {
		add(attrRemoteAPI + "1.17")
	}
	if td.TaskRoleArn != "" {
		add(attrRemoteAPI + "1.21")
		add(attrPrefix + "task-iam-role")
	}
	if ecr && td.ExecutionRoleArn != "" {
		add("ecs.capability.execution-role-ecr-pull")
	}
	if any(func(c *ContainerDefinition) bool {
		return c.LogConfiguration != nil || len(c.Ulimits) > 0 || len(c.DockerLabels) > 0
	}) {
		add(attrRemoteAPI + "1.18")
	}
	if td.NetworkMode == NetworkModeAwsvpc {
		add("ecs.capability.task-eni")
	}
	if any(func(c *ContainerDefinition) bool { return c.HealthCheck != nil }) {
		add("ecs.capability.container-health-check")
	}
	if any(func(c *ContainerDefinition) bool {
		return len(c.DependsOn) > 0 || c.StartTimeout != nil || c.StopTimeout != nil
	}) {
		add("ecs.capability.container-ordering")
	}
	if any(func(c *ContainerDefinition) bool {
		return c.LinuxParameters != nil && c.LinuxParameters.InitProcessEnabled != nil && *c.LinuxParameters.InitProcessEnabled
	}) {
		add(attrRemoteAPI + "1.25")
	}
	if td.IpcMode != "" || td.PidMode != "" {
		add("ecs.capability.pid-ipc-namespace-sharing")
	}
	for i := range cs {
		for _, s := range cs[i].Secrets {
			if strings.Contains(s.ValueFrom, ":secretsmanager:") {
				add("ecs.capability.secrets.asm.environment-variables")
			} else {
				add("ecs.capability.secrets.ssm.environment-variables")
			}
		}
		if cs[i].RepositoryCredentials != nil {
			add(attrPrefix + "private-registry-authentication.secretsmanager")
		}
		if len(cs[i].EnvironmentFiles) > 0 {
			add("ecs.capability.env-files.s3")
		}
	}
	for _, v := range td.Volumes {
		if v.EFSVolumeConfiguration != nil {
			add("ecs.capability.efs")
		}
	}
	if len(names) == 0 {
		return nil
	}
	out := make([]Attribute, len(names))
	for i, n := range names {
		out[i] = Attribute{Name: n}
	}
	return out
}
