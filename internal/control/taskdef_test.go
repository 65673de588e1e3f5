package control

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
)

func ptr[T any](v T) *T { return &v }

// fargateDef is a valid Fargate definition that the rule tests break one
// field at a time.
func fargateDef() *TaskDefinition {
	return &TaskDefinition{
		Family:                  "web",
		NetworkMode:             "awsvpc",
		RequiresCompatibilities: []string{"FARGATE"},
		Cpu:                     "256",
		Memory:                  "512",
		ExecutionRoleArn:        "arn:aws:iam::123456789012:role/exec",
		ContainerDefinitions: []ContainerDefinition{{
			Name:         "web",
			Image:        "nginx:latest",
			PortMappings: []PortMapping{{ContainerPort: ptr(80)}},
			LogConfiguration: &LogConfiguration{LogDriver: "awslogs", Options: map[string]string{
				"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs",
			}},
		}},
	}
}

// ec2Def is a valid bridge-mode EC2 definition.
func ec2Def() *TaskDefinition {
	return &TaskDefinition{
		Family: "app",
		ContainerDefinitions: []ContainerDefinition{
			{Name: "app", Image: "app:1", Memory: ptr(256), PortMappings: []PortMapping{{ContainerPort: ptr(8080)}}},
			{Name: "side", Image: "side:1", MemoryReservation: ptr(64), Essential: ptr(false)},
		},
	}
}

func TestParseCPU(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"1024", 1024, true},
		{" 256 ", 256, true},
		{"1 vCPU", 1024, true},
		{"1vcpu", 1024, true},
		{"0.25 vCPU", 256, true},
		{".5 vcpu", 512, true},
		{"2 VCPU", 2048, true},
		{"16 vCPUs", 16384, true},
		{"0.125 vCPU", 128, true},
		{"0.001 vCPU", 0, false}, // not a whole number of units
		{"abc", 0, false},
		{"-1", 0, false},
		{"1 GB", 0, false},
		{"", 0, false},
	} {
		got, err := ParseCPU(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseCPU(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && (!errors.Is(err, errdefs.ErrInvalidArgument) || errdefs.Message(err) != "Invalid 'cpu' setting for task.") {
			t.Errorf("ParseCPU(%q) error = %v", tc.in, err)
		}
	}
}

func TestParseMemory(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{
		{"512", 512, true},
		{"2GB", 2048, true},
		{"2 GB", 2048, true},
		{"2 gb", 2048, true},
		{"0.5GB", 512, true},
		{"1.5 GiB", 1536, true},
		{"512 MiB", 512, true},
		{"512MB", 512, true},
		{"0.3 GB", 0, false}, // 307.2 MiB
		{"2 TB", 0, false},
		{"lots", 0, false},
	} {
		got, err := ParseMemory(tc.in)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d ok=%v", tc.in, got, err, tc.want, tc.ok)
		}
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("ParseMemory(%q) error class = %v", tc.in, err)
		}
	}
}

func TestFargateMemoryValid(t *testing.T) {
	valid := [][2]int{
		{256, 512}, {256, 1024}, {256, 2048},
		{512, 1024}, {512, 4096}, {1024, 2048}, {1024, 8192},
		{2048, 4096}, {2048, 16384}, {4096, 8192}, {4096, 30720},
		{8192, 16384}, {8192, 20480}, {8192, 61440},
		{16384, 32768}, {16384, 40960}, {16384, 122880},
	}
	invalid := [][2]int{
		{256, 256}, {256, 1536}, {256, 3072}, {512, 512}, {512, 1536}, {512, 5120},
		{1024, 1024}, {1024, 9216}, {2048, 3072}, {4096, 31744}, {8192, 17408},
		{8192, 65536}, {16384, 36864}, {128, 512}, {3000, 4096},
	}
	for _, v := range valid {
		if !FargateMemoryValid(v[0], v[1]) {
			t.Errorf("FargateMemoryValid(%d, %d) = false", v[0], v[1])
		}
	}
	for _, v := range invalid {
		if FargateMemoryValid(v[0], v[1]) {
			t.Errorf("FargateMemoryValid(%d, %d) = true", v[0], v[1])
		}
	}
}

func TestPrepareNormalisesAndFillsDefaults(t *testing.T) {
	td := fargateDef()
	td.Cpu = "0.5 vCPU"
	td.Memory = "1 GB"
	td.ContainerDefinitions[0].HealthCheck = &HealthCheck{Command: []string{"CMD-SHELL", "true"}}
	if err := PrepareTaskDefinition(td); err != nil {
		t.Fatal(err)
	}
	if td.Cpu != "512" || td.Memory != "1024" {
		t.Errorf("cpu/memory = %q/%q, want 512/1024", td.Cpu, td.Memory)
	}
	c := td.ContainerDefinitions[0]
	if c.Essential == nil || !*c.Essential {
		t.Errorf("essential = %v, want true", c.Essential)
	}
	pm := c.PortMappings[0]
	if pm.Protocol != "tcp" || pm.HostPort == nil || *pm.HostPort != 80 {
		t.Errorf("port mapping = %+v, want tcp with hostPort 80", pm)
	}
	hc := c.HealthCheck
	if *hc.Interval != 30 || *hc.Timeout != 5 || *hc.Retries != 3 || hc.StartPeriod != nil {
		t.Errorf("health check defaults = %+v", hc)
	}

	td = ec2Def()
	if err := PrepareTaskDefinition(td); err != nil {
		t.Fatal(err)
	}
	if td.NetworkMode != "bridge" {
		t.Errorf("networkMode = %q, want bridge", td.NetworkMode)
	}
	if hp := td.ContainerDefinitions[0].PortMappings[0].HostPort; hp == nil || *hp != 0 {
		t.Errorf("bridge hostPort = %v, want 0 (dynamic)", hp)
	}
	if e := td.ContainerDefinitions[1].Essential; e == nil || *e {
		t.Errorf("explicit essential=false changed to %v", e)
	}
}

func TestPrepareCompatibilities(t *testing.T) {
	for _, tc := range []struct {
		name string
		td   func() *TaskDefinition
		want []string
	}{
		{"fargate", fargateDef, []string{"EC2", "FARGATE"}},
		{"awsvpc without requiring fargate", func() *TaskDefinition {
			td := fargateDef()
			td.RequiresCompatibilities = []string{"EC2"}
			return td
		}, []string{"EC2", "FARGATE"}},
		{"awsvpc without task size", func() *TaskDefinition {
			td := fargateDef()
			td.RequiresCompatibilities = nil
			td.Cpu, td.Memory = "", ""
			td.ContainerDefinitions[0].Memory = ptr(128)
			return td
		}, []string{"EC2"}},
		{"bridge", ec2Def, []string{"EXTERNAL", "EC2"}},
		{"external required", func() *TaskDefinition {
			td := ec2Def()
			td.RequiresCompatibilities = []string{"EXTERNAL"}
			return td
		}, []string{"EXTERNAL", "EC2"}},
		{"bridge with efs", func() *TaskDefinition {
			td := ec2Def()
			td.Volumes = []Volume{{Name: "data", EFSVolumeConfiguration: &EFSVolumeConfiguration{FileSystemID: "fs-1"}}}
			return td
		}, []string{"EC2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := tc.td()
			if err := PrepareTaskDefinition(td); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(td.Compatibilities, tc.want) {
				t.Errorf("compatibilities = %v, want %v", td.Compatibilities, tc.want)
			}
		})
	}
}

func TestPrepareRequiresAttributes(t *testing.T) {
	td := fargateDef()
	td.TaskRoleArn = "arn:aws:iam::123456789012:role/task"
	td.ContainerDefinitions[0].Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"
	td.ContainerDefinitions[0].HealthCheck = &HealthCheck{Command: []string{"CMD", "true"}}
	td.ContainerDefinitions = append(td.ContainerDefinitions, ContainerDefinition{
		Name: "init", Image: "busybox", Essential: ptr(false),
	})
	td.ContainerDefinitions[0].DependsOn = []ContainerDependency{{ContainerName: "init", Condition: "SUCCESS"}}
	if err := PrepareTaskDefinition(td); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range td.RequiresAttributes {
		got = append(got, a.Name)
	}
	want := []string{
		"com.amazonaws.ecs.capability.logging-driver.awslogs",
		"ecs.capability.execution-role-awslogs",
		"com.amazonaws.ecs.capability.ecr-auth",
		"com.amazonaws.ecs.capability.docker-remote-api.1.19",
		"com.amazonaws.ecs.capability.docker-remote-api.1.21",
		"com.amazonaws.ecs.capability.task-iam-role",
		"ecs.capability.execution-role-ecr-pull",
		"com.amazonaws.ecs.capability.docker-remote-api.1.18",
		"ecs.capability.task-eni",
		"ecs.capability.container-health-check",
		"ecs.capability.container-ordering",
	}
	if !slices.Equal(got, want) {
		t.Errorf("requiresAttributes =\n %v\nwant\n %v", got, want)
	}
}

// TestPrepareRules checks every rule and its message. mutate breaks a valid
// definition (fargate or ec2) in one way.
func TestPrepareRules(t *testing.T) {
	type rule struct {
		name   string
		base   func() *TaskDefinition
		mutate func(td *TaskDefinition)
		msg    string
	}
	f, e := fargateDef, ec2Def
	c0 := func(td *TaskDefinition) *ContainerDefinition { return &td.ContainerDefinitions[0] }
	rules := []rule{
		// names and counts
		{"family blank", e, func(td *TaskDefinition) { td.Family = "" }, "Family can not be blank."},
		{"family chars", e, func(td *TaskDefinition) { td.Family = "my.family" }, "Family contains invalid characters."},
		{"family too long", e, func(td *TaskDefinition) { td.Family = string(make([]byte, 256)) }, "Family contains invalid characters."},
		{"no containers", e, func(td *TaskDefinition) { td.ContainerDefinitions = nil }, "Container list cannot be empty."},
		{"too many containers", e, func(td *TaskDefinition) {
			for i := range 9 {
				td.ContainerDefinitions = append(td.ContainerDefinitions, ContainerDefinition{Name: "c" + string(rune('a'+i)), Image: "x", Memory: ptr(8)})
			}
		}, "Too many containers."},
		{"container name empty", e, func(td *TaskDefinition) { c0(td).Name = "" }, "Container.name should not be null or empty."},
		{"container name chars", e, func(td *TaskDefinition) { c0(td).Name = "my app" }, "Container.name contains invalid characters."},
		{"duplicate container", e, func(td *TaskDefinition) { td.ContainerDefinitions[1].Name = "app" }, "Container names must be unique within a Task Definition."},
		{"image empty", e, func(td *TaskDefinition) { c0(td).Image = " " }, "Container.image should not be null or empty."},
		{"no essential", e, func(td *TaskDefinition) { c0(td).Essential = ptr(false) }, "Task definition doesn't have any essential container."},
		{"bad network mode", e, func(td *TaskDefinition) { td.NetworkMode = "nat" }, "Invalid 'networkMode' setting for task."},
		{"bad compat", e, func(td *TaskDefinition) { td.RequiresCompatibilities = []string{"LAMBDA"} }, "Invalid 'requiresCompatibilities' setting for task: LAMBDA."},
		{"bad pid mode", e, func(td *TaskDefinition) { td.PidMode = "container" }, "Invalid 'pidMode' setting for task."},
		{"bad ipc mode", e, func(td *TaskDefinition) { td.IpcMode = "shareable" }, "Invalid 'ipcMode' setting for task."},

		// sizes
		{"cpu unparsable", e, func(td *TaskDefinition) { td.Cpu = "fast" }, "Invalid 'cpu' setting for task."},
		{"cpu too small", e, func(td *TaskDefinition) { td.Cpu = "64" }, "Invalid 'cpu' setting for task."},
		{"cpu too big", e, func(td *TaskDefinition) { td.Cpu = "200000" }, "Invalid 'cpu' setting for task."},
		{"memory unparsable", e, func(td *TaskDefinition) { td.Memory = "big" }, "Invalid 'memory' setting for task."},
		{"no memory anywhere", e, func(td *TaskDefinition) { c0(td).Memory = nil }, "Invalid setting for container 'app'. At least one of 'memory' or 'memoryReservation' must be specified."},
		{"memory below reservation", e, func(td *TaskDefinition) { c0(td).MemoryReservation = ptr(512) }, "Invalid setting for container 'app'. 'memory' must be greater than or equal to 'memoryReservation'."},
		{"memory zero", e, func(td *TaskDefinition) { c0(td).Memory = ptr(0) }, "Invalid 'memory' setting for container 'app'."},
		{"container memory above task", e, func(td *TaskDefinition) { td.Memory = "128" }, "The 'memory' setting for container 'app' is greater than for the task."},
		{"reservations above task", e, func(td *TaskDefinition) {
			td.Memory = "300"
			td.ContainerDefinitions[1].MemoryReservation = ptr(301)
		}, "The sum of all container 'memoryReservation' values cannot be greater than the value of the task 'memory'."},
		{"cpu sum above task", e, func(td *TaskDefinition) {
			td.Cpu = "256"
			c0(td).Cpu = 200
			td.ContainerDefinitions[1].Cpu = 100
		}, "The sum of all container 'cpu' values cannot be greater than the value of the task 'cpu'."},
		{"container cpu negative", e, func(td *TaskDefinition) { c0(td).Cpu = -1 }, "Invalid 'cpu' setting for container 'app'."},

		// networking
		{"awsvpc port mismatch", f, func(td *TaskDefinition) { c0(td).PortMappings[0].HostPort = ptr(8080) }, "When networkMode=awsvpc, the host ports and container ports in port mappings must match."},
		{"host port mismatch", e, func(td *TaskDefinition) {
			td.NetworkMode = "host"
			c0(td).PortMappings[0].HostPort = ptr(1)
		}, "When networkMode=host, the host ports and container ports in port mappings must match."},
		{"none with ports", e, func(td *TaskDefinition) { td.NetworkMode = "none" }, "Port mappings are not supported when networkMode=none."},
		{"container port missing", e, func(td *TaskDefinition) { c0(td).PortMappings[0].ContainerPort = nil }, "Invalid 'containerPort' setting for container 'app'."},
		{"container port range", e, func(td *TaskDefinition) { c0(td).PortMappings[0].ContainerPort = ptr(70000) }, "Invalid 'containerPort' setting for container 'app'."},
		{"host port range", e, func(td *TaskDefinition) { c0(td).PortMappings[0].HostPort = ptr(-1) }, "Invalid 'hostPort' setting for container 'app'."},
		{"protocol", e, func(td *TaskDefinition) { c0(td).PortMappings[0].Protocol = "sctp" }, "Invalid 'protocol' setting for container 'app'."},
		{"port range syntax", f, func(td *TaskDefinition) {
			c0(td).PortMappings[0] = PortMapping{ContainerPortRange: "9000-8000"}
		}, "Invalid 'containerPortRange' setting for container 'web'."},
		{"port range host", e, func(td *TaskDefinition) {
			td.NetworkMode = "host"
			c0(td).PortMappings[0] = PortMapping{ContainerPortRange: "8000-8010", Protocol: "tcp"}
		}, "Invalid 'containerPortRange' setting for container 'app'. 'containerPortRange' is only supported when networkMode is awsvpc or bridge."},
		{"links awsvpc", f, func(td *TaskDefinition) { c0(td).Links = []string{"db"} }, "Links are not supported when networkMode=awsvpc."},
		{"links host", e, func(td *TaskDefinition) {
			td.NetworkMode = "host"
			c0(td).PortMappings = nil
			c0(td).Links = []string{"side"}
		}, "Links are not supported when networkMode=host."},
		{"hostname awsvpc", f, func(td *TaskDefinition) { c0(td).Hostname = "web" }, "hostname is not supported on container when networkMode=awsvpc."},

		// health checks
		{"health command", e, func(td *TaskDefinition) { c0(td).HealthCheck = &HealthCheck{Command: []string{"curl"}} }, "Invalid 'healthCheck.command' setting for container 'app'. The command must start with 'CMD' or 'CMD-SHELL'."},
		{"health interval", e, func(td *TaskDefinition) {
			c0(td).HealthCheck = &HealthCheck{Command: []string{"CMD", "true"}, Interval: ptr(4)}
		}, "Invalid 'healthCheck.interval' setting for container 'app'. The value must be between 5 and 300."},
		{"health timeout", e, func(td *TaskDefinition) {
			c0(td).HealthCheck = &HealthCheck{Command: []string{"CMD", "true"}, Timeout: ptr(61)}
		}, "Invalid 'healthCheck.timeout' setting for container 'app'. The value must be between 2 and 60."},
		{"health retries", e, func(td *TaskDefinition) {
			c0(td).HealthCheck = &HealthCheck{Command: []string{"CMD", "true"}, Retries: ptr(11)}
		}, "Invalid 'healthCheck.retries' setting for container 'app'. The value must be between 1 and 10."},
		{"health start period", e, func(td *TaskDefinition) {
			c0(td).HealthCheck = &HealthCheck{Command: []string{"CMD", "true"}, StartPeriod: ptr(301)}
		}, "Invalid 'healthCheck.startPeriod' setting for container 'app'. The value must be between 0 and 300."},

		// dependsOn
		{"depends unknown", e, func(td *TaskDefinition) {
			c0(td).DependsOn = []ContainerDependency{{ContainerName: "db", Condition: "START"}}
		}, "Invalid 'dependsOn' setting for container 'app'. Container 'db' is not a valid dependency."},
		{"depends success essential", e, func(td *TaskDefinition) {
			td.ContainerDefinitions[1].Essential = nil
			c0(td).DependsOn = []ContainerDependency{{ContainerName: "side", Condition: "SUCCESS"}}
		}, "A dependency container with SUCCESS or COMPLETE condition cannot be an essential container"},
		{"depends healthy without check", e, func(td *TaskDefinition) {
			c0(td).DependsOn = []ContainerDependency{{ContainerName: "side", Condition: "HEALTHY"}}
		}, "Invalid 'dependsOn' setting for container 'app'. Container 'side' must have a health check for condition HEALTHY."},
		{"depends bad condition", e, func(td *TaskDefinition) {
			c0(td).DependsOn = []ContainerDependency{{ContainerName: "side", Condition: "READY"}}
		}, "Invalid 'dependsOn' condition 'READY' for container 'app'."},
		{"depends cycle", e, func(td *TaskDefinition) {
			c0(td).DependsOn = []ContainerDependency{{ContainerName: "side", Condition: "START"}}
			td.ContainerDefinitions[1].DependsOn = []ContainerDependency{{ContainerName: "app", Condition: "START"}}
		}, "Invalid 'dependsOn' setting for container 'app'. Container dependencies cannot be circular."},

		// secrets, logs, limits
		{"secrets need execution role", e, func(td *TaskDefinition) {
			c0(td).Secrets = []Secret{{Name: "PW", ValueFrom: "arn:aws:ssm:us-east-1:123456789012:parameter/pw"}}
		}, "When you are specifying container secrets, you must also specify a value for 'executionRoleArn'."},
		{"log driver", e, func(td *TaskDefinition) { c0(td).LogConfiguration = &LogConfiguration{LogDriver: "loki"} }, "Invalid 'logDriver' setting for container 'app'."},
		{"awslogs disallowed option", e, func(td *TaskDefinition) {
			c0(td).LogConfiguration = &LogConfiguration{LogDriver: "awslogs", Options: map[string]string{"awslogs-group": "g", "awslogs-region": "r", "log_key": "log"}}
		}, "Log driver awslogs disallows options: log_key"},
		{"awslogs group required", e, func(td *TaskDefinition) {
			c0(td).LogConfiguration = &LogConfiguration{LogDriver: "awslogs", Options: map[string]string{"awslogs-region": "r"}}
		}, "Log driver awslogs requires options: awslogs-group"},
		{"ulimit name", e, func(td *TaskDefinition) { c0(td).Ulimits = []Ulimit{{Name: "files", SoftLimit: 1, HardLimit: 1}} }, "Invalid 'ulimits' setting for container 'app': unknown ulimit 'files'."},
		{"ulimit soft above hard", e, func(td *TaskDefinition) { c0(td).Ulimits = []Ulimit{{Name: "nofile", SoftLimit: 2, HardLimit: 1}} }, "Invalid 'ulimits' setting for container 'app': the soft limit of 'nofile' must not exceed its hard limit."},
		{"ephemeral storage", f, func(td *TaskDefinition) { td.EphemeralStorage = &EphemeralStorage{SizeInGiB: 20} }, "The ephemeral storage size must be between 21 and 200 GiB."},

		// volumes
		{"unknown volume", e, func(td *TaskDefinition) {
			c0(td).MountPoints = []MountPoint{{SourceVolume: "data", ContainerPath: "/data"}}
		}, "Unknown volume 'data'."},
		{"volume name chars", e, func(td *TaskDefinition) { td.Volumes = []Volume{{Name: "da ta"}} }, "Volume.name contains invalid characters."},
		{"volume duplicate", e, func(td *TaskDefinition) { td.Volumes = []Volume{{Name: "a"}, {Name: "a"}} }, "Volume names must be unique within a Task Definition."},
		{"volumesFrom unknown", e, func(td *TaskDefinition) { c0(td).VolumesFrom = []VolumeFrom{{SourceContainer: "db"}} }, "Unknown container 'db' in 'volumesFrom' of container 'app'."},

		// tags (ValidateTags, tags.go)
		{"tag aws prefix", e, func(td *TaskDefinition) { td.Tags = []Tag{{Key: "AWS:x", Value: "v"}} }, "Tag keys cannot start with the reserved prefix 'aws:'."},

		// Fargate
		{"fargate network mode", f, func(td *TaskDefinition) { td.NetworkMode = "" }, "Fargate only supports network mode \u2018awsvpc\u2019."},
		{"fargate cpu", f, func(td *TaskDefinition) { td.Cpu = "" }, "Fargate requires that 'cpu' be defined at the task level."},
		{"fargate memory", f, func(td *TaskDefinition) { td.Memory = "" }, "Fargate requires that 'memory' be defined at the task level."},
		{"fargate size", f, func(td *TaskDefinition) { td.Cpu = "512"; td.Memory = "512" }, "No Fargate configuration exists for given values: 512 CPU, 512 memory. See the Amazon ECS documentation for the valid values."},
		{"fargate ipc", f, func(td *TaskDefinition) { td.IpcMode = "task" }, "Tasks using the Fargate launch type do not support ipcMode."},
		{"fargate pid", f, func(td *TaskDefinition) { td.PidMode = "host" }, "Tasks using the Fargate launch type do not support pidMode 'host'. The supported value for pidMode is 'task'."},
		{"fargate privileged", f, func(td *TaskDefinition) { c0(td).Privileged = ptr(true) }, "Tasks using the Fargate launch type do not support privileged."},
		{"fargate dns", f, func(td *TaskDefinition) { c0(td).DNSServers = []string{"1.1.1.1"} }, "Tasks using the Fargate launch type do not support dnsServers."},
		{"fargate gpu", f, func(td *TaskDefinition) {
			c0(td).ResourceRequirements = []ResourceRequirement{{Type: "GPU", Value: "1"}}
		}, "Tasks using the Fargate launch type do not support GPU resource requirements."},
		{"fargate capabilities", f, func(td *TaskDefinition) {
			c0(td).LinuxParameters = &LinuxParameters{Capabilities: &KernelCapabilities{Add: []string{"NET_ADMIN"}}}
		}, "Tasks using the Fargate launch type do not support capabilities other than SYS_PTRACE."},
		{"fargate tmpfs", f, func(td *TaskDefinition) {
			c0(td).LinuxParameters = &LinuxParameters{Tmpfs: []Tmpfs{{ContainerPath: "/t", Size: 1}}}
		}, "Tasks using the Fargate launch type do not support tmpfs."},
		{"fargate docker volume", f, func(td *TaskDefinition) {
			td.Volumes = []Volume{{Name: "v", DockerVolumeConfiguration: &DockerVolumeConfiguration{Scope: "task"}}}
		}, "Tasks using the Fargate launch type do not support dockerVolumeConfiguration."},
		{"fargate stream prefix", f, func(td *TaskDefinition) {
			delete(c0(td).LogConfiguration.Options, "awslogs-stream-prefix")
		}, "Fargate requires log configuration options to include awslogs-stream-prefix to support log driver awslogs."},
		{"fargate awslogs role", f, func(td *TaskDefinition) { td.ExecutionRoleArn = "" }, "Fargate requires task definition to have execution role ARN to support log driver awslogs."},
		{"fargate log driver", f, func(td *TaskDefinition) { c0(td).LogConfiguration = &LogConfiguration{LogDriver: "json-file"} }, "Fargate does not support log driver json-file."},
		{"fargate ecr role", f, func(td *TaskDefinition) {
			td.ExecutionRoleArn = ""
			c0(td).LogConfiguration = nil
			c0(td).Image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"
		}, "Fargate requires task definition to have execution role ARN to support ECR images."},
		{"fargate stop timeout", f, func(td *TaskDefinition) { c0(td).StopTimeout = ptr(121) }, "Invalid 'stopTimeout' setting for container 'web'. Fargate supports values between 2 and 120 seconds."},
		{"fargate start timeout", f, func(td *TaskDefinition) { c0(td).StartTimeout = ptr(1) }, "Invalid 'startTimeout' setting for container 'web'. Fargate supports values between 2 and 120 seconds."},
		{"fargate nofile", f, func(td *TaskDefinition) {
			c0(td).Ulimits = []Ulimit{{Name: "nofile", SoftLimit: 1024, HardLimit: 2000000}}
		}, "Invalid 'ulimits' setting for container 'web'. Fargate supports a maximum 'nofile' limit of 1048576."},

		// systemControls: namespaced kernel parameters only, as ECS lists them
		{"sysctl not namespaced", e, func(td *TaskDefinition) {
			c0(td).SystemControls = []SystemControl{{Namespace: "kernel.panic", Value: "1"}}
		}, "Invalid 'systemControls' setting for container 'app': 'kernel.panic' is not a namespaced kernel parameter (kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*, net.*)."},
		{"sysctl vm", f, func(td *TaskDefinition) {
			c0(td).SystemControls = []SystemControl{{Namespace: "vm.overcommit_memory", Value: "1"}}
		}, "Invalid 'systemControls' setting for container 'web': 'vm.overcommit_memory' is not a namespaced kernel parameter (kernel.msgmax, kernel.msgmnb, kernel.msgmni, kernel.sem, kernel.shmall, kernel.shmmax, kernel.shmmni, kernel.shm_rmid_forced, fs.mqueue.*, net.*)."},
		{"sysctl no namespace", e, func(td *TaskDefinition) {
			c0(td).SystemControls = []SystemControl{{Value: "1"}}
		}, "Invalid 'systemControls' setting for container 'app': namespace and value are required."},
		{"sysctl net in host mode", e, func(td *TaskDefinition) {
			td.NetworkMode = "host"
			td.ContainerDefinitions[0].PortMappings = nil
			c0(td).SystemControls = []SystemControl{{Namespace: "net.ipv4.tcp_keepalive_time", Value: "600"}}
		}, "Invalid 'systemControls' setting for container 'app': network namespace systemControls are not supported when networkMode=host."},
		{"sysctl ipc in ipc host mode", e, func(td *TaskDefinition) {
			td.IpcMode = "host"
			c0(td).SystemControls = []SystemControl{{Namespace: "kernel.shmmax", Value: "1000000"}}
		}, "Invalid 'systemControls' setting for container 'app': IPC namespace systemControls are not supported when ipcMode=host."},

		// EXTERNAL
		{"external awsvpc", f, func(td *TaskDefinition) { td.RequiresCompatibilities = []string{"EXTERNAL"} }, "Tasks using the External launch type do not support network mode \u2018awsvpc\u2019."},
	}
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			td := r.base()
			if err := PrepareTaskDefinition(td); err != nil {
				t.Fatalf("base definition invalid: %v", err)
			}
			td = r.base()
			r.mutate(td)
			err := PrepareTaskDefinition(td)
			if err == nil {
				t.Fatalf("PrepareTaskDefinition succeeded, want %q", r.msg)
			}
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("error %v is not ErrInvalidArgument", err)
			}
			if got := errdefs.Message(err); got != r.msg {
				t.Errorf("message\n got %q\nwant %q", got, r.msg)
			}
		})
	}
}

// TestPrepareAccepts checks definitions AWS accepts that naive rules reject.
func TestPrepareAccepts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		base   func() *TaskDefinition
		mutate func(td *TaskDefinition)
	}{
		{"memory equals reservation", ec2Def, func(td *TaskDefinition) { td.ContainerDefinitions[0].MemoryReservation = ptr(256) }},
		{"task memory covers containers", ec2Def, func(td *TaskDefinition) {
			td.Memory = "1 GB"
			td.ContainerDefinitions[1].MemoryReservation = nil
		}},
		{"fargate sys_ptrace", fargateDef, func(td *TaskDefinition) {
			td.ContainerDefinitions[0].LinuxParameters = &LinuxParameters{Capabilities: &KernelCapabilities{Add: []string{"SYS_PTRACE"}}, InitProcessEnabled: ptr(true)}
		}},
		{"fargate pid task", fargateDef, func(td *TaskDefinition) { td.PidMode = "task" }},
		{"fargate sysctls", fargateDef, func(td *TaskDefinition) {
			td.ContainerDefinitions[0].SystemControls = []SystemControl{{Namespace: "net.ipv4.tcp_keepalive_time", Value: "600"},
				{Namespace: "kernel.shmmax", Value: "1000000"}, {Namespace: "fs.mqueue.msg_max", Value: "20"}, {Namespace: "kernel.sem", Value: "250 32000 32 128"}}
		}},
		{"fargate nofile max", fargateDef, func(td *TaskDefinition) {
			td.ContainerDefinitions[0].Ulimits = []Ulimit{{Name: "nofile", SoftLimit: 1048576, HardLimit: 1048576}}
		}},
		{"fargate ephemeral", fargateDef, func(td *TaskDefinition) { td.EphemeralStorage = &EphemeralStorage{SizeInGiB: 200} }},
		{"fargate firelens", fargateDef, func(td *TaskDefinition) {
			td.ContainerDefinitions[0].LogConfiguration = &LogConfiguration{LogDriver: "awsfirelens"}
		}},
		{"port range awsvpc", fargateDef, func(td *TaskDefinition) {
			td.ContainerDefinitions[0].PortMappings = []PortMapping{{ContainerPortRange: "8000-8010"}}
		}},
		{"port range bridge", ec2Def, func(td *TaskDefinition) {
			td.ContainerDefinitions[0].PortMappings = []PortMapping{{ContainerPortRange: "8000-8010"}}
		}},
		{"bridge links", ec2Def, func(td *TaskDefinition) { td.ContainerDefinitions[0].Links = []string{"side:s"} }},
		{"healthy dependency", ec2Def, func(td *TaskDefinition) {
			td.ContainerDefinitions[1].HealthCheck = &HealthCheck{Command: []string{"CMD-SHELL", "true"}}
			td.ContainerDefinitions[0].DependsOn = []ContainerDependency{{ContainerName: "side", Condition: "HEALTHY"}}
		}},
		{"mount and volumesFrom", ec2Def, func(td *TaskDefinition) {
			td.Volumes = []Volume{{Name: "data", Host: &HostVolumeProperties{}}}
			td.ContainerDefinitions[1].MountPoints = []MountPoint{{SourceVolume: "data", ContainerPath: "/d"}}
			td.ContainerDefinitions[0].VolumesFrom = []VolumeFrom{{SourceContainer: "side"}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := tc.base()
			tc.mutate(td)
			if err := PrepareTaskDefinition(td); err != nil {
				t.Fatalf("PrepareTaskDefinition: %v", err)
			}
		})
	}
}

// TestTaskDefinitionJSON checks the stored form survives a round trip.
func TestTaskDefinitionJSON(t *testing.T) {
	td := fargateDef()
	if err := PrepareTaskDefinition(td); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(td)
	if err != nil {
		t.Fatal(err)
	}
	var back TaskDefinition
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(&back)
	if string(b) != string(b2) {
		t.Errorf("JSON round trip differs:\n%s\n%s", b, b2)
	}
}

func FuzzPrepareTaskDefinition(f *testing.F) {
	for _, td := range []*TaskDefinition{fargateDef(), ec2Def()} {
		b, _ := json.Marshal(td)
		f.Add(b)
	}
	f.Add([]byte(`{"family":"x","containerDefinitions":[{"name":"a","image":"i","memory":1,"dependsOn":[{"containerName":"a","condition":"HEALTHY"}]}]}`))
	f.Add([]byte(`{"family":"x","cpu":"0.0000000001 vCPU","memory":"99999999999 GB","containerDefinitions":[{}]}`))
	f.Add([]byte(`{"family":"x","networkMode":"awsvpc","requiresCompatibilities":["FARGATE","EXTERNAL"],"containerDefinitions":[{"name":"a","image":"i","portMappings":[{"containerPortRange":"1-"}],"healthCheck":{"command":[]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var td TaskDefinition
		if json.Unmarshal(data, &td) != nil {
			return
		}
		err := PrepareTaskDefinition(&td)
		if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Fatalf("error outside ErrInvalidArgument: %v", err)
		}
		if err == nil {
			// A prepared definition stays valid when prepared again.
			if err := PrepareTaskDefinition(&td); err != nil {
				t.Fatalf("second Prepare failed: %v", err)
			}
		}
	})
}
