package ecs

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"

	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
)

// richRequest sets every member of RegisterTaskDefinitionRequest, nested
// ones included, to a value that is not the zero value.
func richRequest() *w.RegisterTaskDefinitionRequest {
	s, i, b := wire.String, wire.Int32, wire.Bool
	return &w.RegisterTaskDefinitionRequest{
		Family:                  s("web"),
		TaskRoleArn:             s("arn:aws:iam::123456789012:role/task"),
		ExecutionRoleArn:        s("arn:aws:iam::123456789012:role/exec"),
		NetworkMode:             s("awsvpc"),
		RequiresCompatibilities: []string{"EC2", "FARGATE"},
		Cpu:                     s("1 vCPU"),
		Memory:                  s("2 GB"),
		PidMode:                 s("task"),
		IpcMode:                 s("none"),
		EnableFaultInjection:    b(true),
		Tags:                    []w.Tag{{Key: s("team"), Value: s("core")}},
		PlacementConstraints:    []w.TaskDefinitionPlacementConstraint{{Type: s("memberOf"), Expression: s("attribute:ecs.os-type == linux")}},
		ProxyConfiguration: &w.ProxyConfiguration{
			Type: s("APPMESH"), ContainerName: s("envoy"),
			Properties: []w.KeyValuePair{{Name: s("AppPorts"), Value: s("80")}},
		},
		InferenceAccelerators: []w.InferenceAccelerator{{DeviceName: s("dev0"), DeviceType: s("eia2.medium")}},
		EphemeralStorage:      &w.EphemeralStorage{SizeInGiB: i(30)},
		RuntimePlatform:       &w.RuntimePlatform{CpuArchitecture: s("ARM64"), OperatingSystemFamily: s("LINUX")},
		Volumes: []w.Volume{
			{Name: s("host"), Host: &w.HostVolumeProperties{SourcePath: s("/srv")}, ConfiguredAtLaunch: b(false)},
			{Name: s("docker"), DockerVolumeConfiguration: &w.DockerVolumeConfiguration{
				Scope: s("shared"), Autoprovision: b(true), Driver: s("local"),
				DriverOpts: map[string]string{"type": "tmpfs"}, Labels: map[string]string{"a": "b"},
			}},
			{Name: s("efs"), EfsVolumeConfiguration: &w.EFSVolumeConfiguration{
				FileSystemId: s("fs-1"), RootDirectory: s("/"), TransitEncryption: s("ENABLED"), TransitEncryptionPort: i(2049),
				AuthorizationConfig: &w.EFSAuthorizationConfig{AccessPointId: s("fsap-1"), Iam: s("ENABLED")},
			}},
			{Name: s("fsx"), FsxWindowsFileServerVolumeConfiguration: &w.FSxWindowsFileServerVolumeConfiguration{
				FileSystemId: s("fs-2"), RootDirectory: s(`\share`),
				AuthorizationConfig: &w.FSxWindowsFileServerAuthorizationConfig{CredentialsParameter: s("arn:cred"), Domain: s("corp")},
			}},
			{Name: s("s3"), S3filesVolumeConfiguration: &w.S3FilesVolumeConfiguration{
				FileSystemArn: s("arn:fs"), AccessPointArn: s("arn:ap"), RootDirectory: s("/r"), TransitEncryptionPort: i(2999),
			}},
		},
		ContainerDefinitions: []w.ContainerDefinition{{
			Name:                  s("web"),
			Image:                 s("123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1"),
			RepositoryCredentials: &w.RepositoryCredentials{CredentialsParameter: s("arn:secret")},
			Cpu:                   i(512),
			Memory:                i(1024),
			MemoryReservation:     i(512),
			Links:                 []string{"db"},
			PortMappings: []w.PortMapping{
				{ContainerPort: i(80), HostPort: i(80), Protocol: s("tcp"), Name: s("http"), AppProtocol: s("http")},
				{ContainerPortRange: s("9000-9010"), Protocol: s("udp")},
			},
			Essential:        b(true),
			RestartPolicy:    &w.ContainerRestartPolicy{Enabled: b(true), IgnoredExitCodes: []int32{0, 143}, RestartAttemptPeriod: i(60)},
			EntryPoint:       []string{"/bin/sh", "-c"},
			Command:          []string{"serve"},
			Environment:      []w.KeyValuePair{{Name: s("A"), Value: s("1")}},
			EnvironmentFiles: []w.EnvironmentFile{{Value: s("arn:aws:s3:::b/env"), Type: s("s3")}},
			MountPoints:      []w.MountPoint{{SourceVolume: s("efs"), ContainerPath: s("/data"), ReadOnly: b(false)}},
			VolumesFrom:      []w.VolumeFrom{{SourceContainer: s("db"), ReadOnly: b(true)}},
			LinuxParameters: &w.LinuxParameters{
				Capabilities:       &w.KernelCapabilities{Add: []string{"SYS_PTRACE"}, Drop: []string{"NET_RAW"}},
				Devices:            []w.Device{{HostPath: s("/dev/fuse"), ContainerPath: s("/dev/fuse"), Permissions: []string{"read", "write"}}},
				InitProcessEnabled: b(true),
				SharedMemorySize:   i(64),
				Tmpfs:              []w.Tmpfs{{ContainerPath: s("/tmp"), Size: i(32), MountOptions: []string{"noexec"}}},
				MaxSwap:            i(0),
				Swappiness:         i(10),
			},
			Secrets:                []w.Secret{{Name: s("PW"), ValueFrom: s("arn:aws:ssm:us-east-1:123456789012:parameter/pw")}},
			DependsOn:              []w.ContainerDependency{{ContainerName: s("db"), Condition: s("HEALTHY")}},
			StartTimeout:           i(30),
			StopTimeout:            i(60),
			VersionConsistency:     s("disabled"),
			Hostname:               s("web"),
			User:                   s("1000:1000"),
			WorkingDirectory:       s("/app"),
			DisableNetworking:      b(false),
			Privileged:             b(false),
			ReadonlyRootFilesystem: b(true),
			DnsServers:             []string{"10.0.0.2"},
			DnsSearchDomains:       []string{"corp"},
			ExtraHosts:             []w.HostEntry{{Hostname: s("db.local"), IpAddress: s("10.0.0.3")}},
			DockerSecurityOptions:  []string{"no-new-privileges"},
			Interactive:            b(false),
			PseudoTerminal:         b(false),
			DockerLabels:           map[string]string{"com.example": "1"},
			Ulimits:                []w.Ulimit{{Name: s("nofile"), SoftLimit: i(1024), HardLimit: i(4096)}},
			LogConfiguration: &w.LogConfiguration{
				LogDriver:     s("awslogs"),
				Options:       map[string]string{"awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"},
				SecretOptions: []w.Secret{{Name: s("token"), ValueFrom: s("arn:secret:token")}},
			},
			HealthCheck: &w.HealthCheck{
				Command: []string{"CMD-SHELL", "curl -f localhost"}, Interval: i(10), Timeout: i(3), Retries: i(2), StartPeriod: i(5),
			},
			SystemControls:        []w.SystemControl{{Namespace: s("net.core.somaxconn"), Value: s("1024")}},
			ResourceRequirements:  []w.ResourceRequirement{{Value: s("1"), Type: s("GPU")}},
			FirelensConfiguration: &w.FirelensConfiguration{Type: s("fluentbit"), Options: map[string]string{"enable-ecs-log-metadata": "true"}},
			CredentialSpecs:       []string{"credentialspec:arn"},
		}, {
			Name: s("db"), Image: s("postgres"), Cpu: i(0), Essential: b(false),
		}},
	}
}

// asMap is v as a generic JSON document.
func asMap(t *testing.T, v any) map[string]any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTaskDefinitionWireRoundTrip: request -> domain -> TaskDefinition
// carries every registered member unchanged.
func TestTaskDefinitionWireRoundTrip(t *testing.T) {
	in := richRequest()
	td := taskDefinitionFromWire(in)
	out := taskDefinitionToWire(td)

	want := asMap(t, in)
	delete(want, "tags") // tags travel beside the task definition
	got := asMap(t, out)
	if !reflect.DeepEqual(got, want) {
		gb, _ := json.MarshalIndent(got, "", " ")
		wb, _ := json.MarshalIndent(want, "", " ")
		t.Errorf("round trip differs\n got: %s\nwant: %s", gb, wb)
	}
	if got := tagsToWire(td.Tags); !reflect.DeepEqual(got, in.Tags) {
		t.Errorf("tags = %v, want %v", got, in.Tags)
	}
}

// TestTaskDefinitionToWireComputed checks the fields ECS computes.
func TestTaskDefinitionToWireComputed(t *testing.T) {
	reg := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	dereg := reg.Add(time.Hour)
	td := &control.TaskDefinition{
		TaskDefinitionArn:    "arn:aws:ecs:us-east-1:123456789012:task-definition/web:3",
		Family:               "web",
		Revision:             3,
		Status:               control.TaskDefinitionInactive,
		Compatibilities:      []string{"EC2", "FARGATE"},
		RequiresAttributes:   []control.Attribute{{Name: "ecs.capability.task-eni"}},
		RegisteredAt:         reg,
		RegisteredBy:         "arn:aws:iam::123456789012:root",
		DeregisteredAt:       &dereg,
		ContainerDefinitions: []control.ContainerDefinition{{Name: "web", Image: "nginx"}},
	}
	out := taskDefinitionToWire(td)
	if wire.ToInt32(out.Revision) != 3 || wire.ToString(out.Status) != "INACTIVE" ||
		wire.ToString(out.TaskDefinitionArn) != td.TaskDefinitionArn || wire.ToString(out.RegisteredBy) != td.RegisteredBy {
		t.Errorf("computed fields = %+v", out)
	}
	if out.RegisteredAt == nil || out.DeregisteredAt == nil || out.DeleteRequestedAt != nil {
		t.Errorf("timestamps: registered %v deregistered %v deleteRequested %v", out.RegisteredAt, out.DeregisteredAt, out.DeleteRequestedAt)
	}
	if len(out.RequiresAttributes) != 1 || wire.ToString(out.RequiresAttributes[0].Name) != "ecs.capability.task-eni" {
		t.Errorf("requiresAttributes = %+v", out.RequiresAttributes)
	}
	if c := out.ContainerDefinitions[0]; c.Cpu == nil || *c.Cpu != 0 {
		t.Errorf("container cpu = %v, want 0 always present", c.Cpu)
	}
	if tagsToWire(nil) == nil {
		t.Error("tagsToWire(nil) = nil, want []")
	}
}

// TestTaskDefinitionWirePrepared: a registered definition (normalised and
// defaulted) goes out with the normalised values.
func TestTaskDefinitionWirePrepared(t *testing.T) {
	in := richRequest()
	// Keep it valid for Fargate: drop what Fargate refuses.
	c := &in.ContainerDefinitions[0]
	c.Links, c.Hostname, c.DnsServers, c.DnsSearchDomains, c.ExtraHosts, c.DockerSecurityOptions = nil, nil, nil, nil, nil, nil
	c.ResourceRequirements, c.FirelensConfiguration = nil, nil
	c.LinuxParameters.Devices, c.LinuxParameters.Tmpfs, c.LinuxParameters.SharedMemorySize = nil, nil, nil
	c.LinuxParameters.MaxSwap, c.LinuxParameters.Swappiness = nil, nil
	c.DependsOn = nil
	in.IpcMode, in.PlacementConstraints, in.InferenceAccelerators, in.ProxyConfiguration = nil, nil, nil, nil
	in.Volumes = in.Volumes[2:3] // efs only
	td := taskDefinitionFromWire(in)
	if err := control.PrepareTaskDefinition(td); err != nil {
		t.Fatal(err)
	}
	out := taskDefinitionToWire(td)
	if wire.ToString(out.Cpu) != "1024" || wire.ToString(out.Memory) != "2048" {
		t.Errorf("cpu/memory = %q/%q", wire.ToString(out.Cpu), wire.ToString(out.Memory))
	}
	if len(out.Compatibilities) != 2 || out.Compatibilities[1] != "FARGATE" {
		t.Errorf("compatibilities = %v", out.Compatibilities)
	}
	db := out.ContainerDefinitions[1]
	if db.Essential == nil || *db.Essential {
		t.Errorf("db essential = %v", db.Essential)
	}
}
