package ecs

import (
	"maps"
	"slices"
	"time"

	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
)

// Conversions between the ECS wire shapes of task definitions and the
// control domain types. Every member of RegisterTaskDefinition's input is
// carried, so DescribeTaskDefinition echoes what was registered. Empty
// strings and empty lists go out as absent members.

// taskDefinitionFromWire converts a RegisterTaskDefinition request.
func taskDefinitionFromWire(in *w.RegisterTaskDefinitionRequest) *control.TaskDefinition {
	if in == nil {
		return &control.TaskDefinition{}
	}
	td := &control.TaskDefinition{
		Family:                  wire.ToString(in.Family),
		TaskRoleArn:             wire.ToString(in.TaskRoleArn),
		ExecutionRoleArn:        wire.ToString(in.ExecutionRoleArn),
		NetworkMode:             wire.ToString(in.NetworkMode),
		RequiresCompatibilities: slices.Clone(in.RequiresCompatibilities),
		Cpu:                     wire.ToString(in.Cpu),
		Memory:                  wire.ToString(in.Memory),
		PidMode:                 wire.ToString(in.PidMode),
		IpcMode:                 wire.ToString(in.IpcMode),
		EnableFaultInjection:    cloneBool(in.EnableFaultInjection),
		Tags:                    tagsFromWire(in.Tags),
	}
	for i := range in.ContainerDefinitions {
		td.ContainerDefinitions = append(td.ContainerDefinitions, containerFromWire(&in.ContainerDefinitions[i]))
	}
	for i := range in.Volumes {
		td.Volumes = append(td.Volumes, volumeFromWire(&in.Volumes[i]))
	}
	for _, p := range in.PlacementConstraints {
		td.PlacementConstraints = append(td.PlacementConstraints, control.PlacementConstraint{
			Type: wire.ToString(p.Type), Expression: wire.ToString(p.Expression),
		})
	}
	if p := in.ProxyConfiguration; p != nil {
		td.ProxyConfiguration = &control.ProxyConfiguration{
			Type: wire.ToString(p.Type), ContainerName: wire.ToString(p.ContainerName), Properties: kvFromWire(p.Properties),
		}
	}
	for _, a := range in.InferenceAccelerators {
		td.InferenceAccelerators = append(td.InferenceAccelerators, control.InferenceAccelerator{
			DeviceName: wire.ToString(a.DeviceName), DeviceType: wire.ToString(a.DeviceType),
		})
	}
	if e := in.EphemeralStorage; e != nil {
		td.EphemeralStorage = &control.EphemeralStorage{SizeInGiB: int(wire.ToInt32(e.SizeInGiB))}
	}
	if r := in.RuntimePlatform; r != nil {
		td.RuntimePlatform = &control.RuntimePlatform{
			CPUArchitecture: wire.ToString(r.CpuArchitecture), OperatingSystemFamily: wire.ToString(r.OperatingSystemFamily),
		}
	}
	return td
}

// taskDefinitionToWire converts a stored task definition (tags excluded:
// they travel beside it).
func taskDefinitionToWire(td *control.TaskDefinition) *w.TaskDefinition {
	if td == nil {
		return nil
	}
	out := &w.TaskDefinition{
		TaskDefinitionArn:       optStr(td.TaskDefinitionArn),
		Family:                  optStr(td.Family),
		TaskRoleArn:             optStr(td.TaskRoleArn),
		ExecutionRoleArn:        optStr(td.ExecutionRoleArn),
		NetworkMode:             optStr(td.NetworkMode),
		Status:                  optStr(td.Status),
		RequiresCompatibilities: nonEmpty(td.RequiresCompatibilities),
		Compatibilities:         nonEmpty(td.Compatibilities),
		Cpu:                     optStr(td.Cpu),
		Memory:                  optStr(td.Memory),
		PidMode:                 optStr(td.PidMode),
		IpcMode:                 optStr(td.IpcMode),
		EnableFaultInjection:    cloneBool(td.EnableFaultInjection),
		RegisteredBy:            optStr(td.RegisteredBy),
		RegisteredAt:            optTime(td.RegisteredAt),
	}
	if td.Revision != 0 {
		out.Revision = wire.Int32(int32(td.Revision))
	}
	if td.DeregisteredAt != nil {
		out.DeregisteredAt = optTime(*td.DeregisteredAt)
	}
	if td.DeleteRequestedAt != nil {
		out.DeleteRequestedAt = optTime(*td.DeleteRequestedAt)
	}
	for i := range td.ContainerDefinitions {
		out.ContainerDefinitions = append(out.ContainerDefinitions, containerToWire(&td.ContainerDefinitions[i]))
	}
	for i := range td.Volumes {
		out.Volumes = append(out.Volumes, volumeToWire(&td.Volumes[i]))
	}
	for _, p := range td.PlacementConstraints {
		out.PlacementConstraints = append(out.PlacementConstraints, w.TaskDefinitionPlacementConstraint{
			Type: optStr(p.Type), Expression: optStr(p.Expression),
		})
	}
	for _, a := range td.RequiresAttributes {
		out.RequiresAttributes = append(out.RequiresAttributes, w.Attribute{
			Name: optStr(a.Name), Value: optStr(a.Value), TargetType: optStr(a.TargetType), TargetId: optStr(a.TargetID),
		})
	}
	if p := td.ProxyConfiguration; p != nil {
		out.ProxyConfiguration = &w.ProxyConfiguration{
			Type: optStr(p.Type), ContainerName: optStr(p.ContainerName), Properties: kvToWire(p.Properties),
		}
	}
	for _, a := range td.InferenceAccelerators {
		out.InferenceAccelerators = append(out.InferenceAccelerators, w.InferenceAccelerator{
			DeviceName: optStr(a.DeviceName), DeviceType: optStr(a.DeviceType),
		})
	}
	if e := td.EphemeralStorage; e != nil {
		out.EphemeralStorage = &w.EphemeralStorage{SizeInGiB: wire.Int32(int32(e.SizeInGiB))}
	}
	if r := td.RuntimePlatform; r != nil {
		out.RuntimePlatform = &w.RuntimePlatform{
			CpuArchitecture: optStr(r.CPUArchitecture), OperatingSystemFamily: optStr(r.OperatingSystemFamily),
		}
	}
	return out
}

func containerFromWire(c *w.ContainerDefinition) control.ContainerDefinition {
	out := control.ContainerDefinition{
		Name:                   wire.ToString(c.Name),
		Image:                  wire.ToString(c.Image),
		Cpu:                    int(wire.ToInt32(c.Cpu)),
		Memory:                 intFromWire(c.Memory),
		MemoryReservation:      intFromWire(c.MemoryReservation),
		Links:                  slices.Clone(c.Links),
		Essential:              cloneBool(c.Essential),
		EntryPoint:             slices.Clone(c.EntryPoint),
		Command:                slices.Clone(c.Command),
		Environment:            kvFromWire(c.Environment),
		StartTimeout:           intFromWire(c.StartTimeout),
		StopTimeout:            intFromWire(c.StopTimeout),
		VersionConsistency:     wire.ToString(c.VersionConsistency),
		Hostname:               wire.ToString(c.Hostname),
		User:                   wire.ToString(c.User),
		WorkingDirectory:       wire.ToString(c.WorkingDirectory),
		DisableNetworking:      cloneBool(c.DisableNetworking),
		Privileged:             cloneBool(c.Privileged),
		ReadonlyRootFilesystem: cloneBool(c.ReadonlyRootFilesystem),
		DNSServers:             slices.Clone(c.DnsServers),
		DNSSearchDomains:       slices.Clone(c.DnsSearchDomains),
		DockerSecurityOptions:  slices.Clone(c.DockerSecurityOptions),
		Interactive:            cloneBool(c.Interactive),
		PseudoTerminal:         cloneBool(c.PseudoTerminal),
		DockerLabels:           maps.Clone(c.DockerLabels),
		Secrets:                secretsFromWire(c.Secrets),
		CredentialSpecs:        slices.Clone(c.CredentialSpecs),
	}
	if r := c.RepositoryCredentials; r != nil {
		out.RepositoryCredentials = &control.RepositoryCredentials{CredentialsParameter: wire.ToString(r.CredentialsParameter)}
	}
	for _, p := range c.PortMappings {
		out.PortMappings = append(out.PortMappings, control.PortMapping{
			ContainerPort:      intFromWire(p.ContainerPort),
			HostPort:           intFromWire(p.HostPort),
			Protocol:           wire.ToString(p.Protocol),
			Name:               wire.ToString(p.Name),
			AppProtocol:        wire.ToString(p.AppProtocol),
			ContainerPortRange: wire.ToString(p.ContainerPortRange),
		})
	}
	if r := c.RestartPolicy; r != nil {
		rp := &control.ContainerRestartPolicy{Enabled: cloneBool(r.Enabled), RestartAttemptPeriod: intFromWire(r.RestartAttemptPeriod)}
		for _, code := range r.IgnoredExitCodes {
			rp.IgnoredExitCodes = append(rp.IgnoredExitCodes, int(code))
		}
		out.RestartPolicy = rp
	}
	for _, f := range c.EnvironmentFiles {
		out.EnvironmentFiles = append(out.EnvironmentFiles, control.EnvironmentFile{Value: wire.ToString(f.Value), Type: wire.ToString(f.Type)})
	}
	for _, m := range c.MountPoints {
		out.MountPoints = append(out.MountPoints, control.MountPoint{
			SourceVolume: wire.ToString(m.SourceVolume), ContainerPath: wire.ToString(m.ContainerPath), ReadOnly: cloneBool(m.ReadOnly),
		})
	}
	for _, v := range c.VolumesFrom {
		out.VolumesFrom = append(out.VolumesFrom, control.VolumeFrom{SourceContainer: wire.ToString(v.SourceContainer), ReadOnly: cloneBool(v.ReadOnly)})
	}
	if lp := c.LinuxParameters; lp != nil {
		l := &control.LinuxParameters{
			InitProcessEnabled: cloneBool(lp.InitProcessEnabled),
			SharedMemorySize:   intFromWire(lp.SharedMemorySize),
			MaxSwap:            intFromWire(lp.MaxSwap),
			Swappiness:         intFromWire(lp.Swappiness),
		}
		if k := lp.Capabilities; k != nil {
			l.Capabilities = &control.KernelCapabilities{Add: slices.Clone(k.Add), Drop: slices.Clone(k.Drop)}
		}
		for _, d := range lp.Devices {
			l.Devices = append(l.Devices, control.Device{
				HostPath: wire.ToString(d.HostPath), ContainerPath: wire.ToString(d.ContainerPath), Permissions: slices.Clone(d.Permissions),
			})
		}
		for _, t := range lp.Tmpfs {
			l.Tmpfs = append(l.Tmpfs, control.Tmpfs{
				ContainerPath: wire.ToString(t.ContainerPath), Size: int(wire.ToInt32(t.Size)), MountOptions: slices.Clone(t.MountOptions),
			})
		}
		out.LinuxParameters = l
	}
	for _, d := range c.DependsOn {
		out.DependsOn = append(out.DependsOn, control.ContainerDependency{ContainerName: wire.ToString(d.ContainerName), Condition: wire.ToString(d.Condition)})
	}
	for _, h := range c.ExtraHosts {
		out.ExtraHosts = append(out.ExtraHosts, control.HostEntry{Hostname: wire.ToString(h.Hostname), IPAddress: wire.ToString(h.IpAddress)})
	}
	for _, u := range c.Ulimits {
		out.Ulimits = append(out.Ulimits, control.Ulimit{
			Name: wire.ToString(u.Name), SoftLimit: int(wire.ToInt32(u.SoftLimit)), HardLimit: int(wire.ToInt32(u.HardLimit)),
		})
	}
	if l := c.LogConfiguration; l != nil {
		out.LogConfiguration = &control.LogConfiguration{
			LogDriver: wire.ToString(l.LogDriver), Options: maps.Clone(l.Options), SecretOptions: secretsFromWire(l.SecretOptions),
		}
	}
	if h := c.HealthCheck; h != nil {
		out.HealthCheck = &control.HealthCheck{
			Command:     slices.Clone(h.Command),
			Interval:    intFromWire(h.Interval),
			Timeout:     intFromWire(h.Timeout),
			Retries:     intFromWire(h.Retries),
			StartPeriod: intFromWire(h.StartPeriod),
		}
	}
	for _, s := range c.SystemControls {
		out.SystemControls = append(out.SystemControls, control.SystemControl{Namespace: wire.ToString(s.Namespace), Value: wire.ToString(s.Value)})
	}
	for _, r := range c.ResourceRequirements {
		out.ResourceRequirements = append(out.ResourceRequirements, control.ResourceRequirement{Value: wire.ToString(r.Value), Type: wire.ToString(r.Type)})
	}
	if f := c.FirelensConfiguration; f != nil {
		out.FirelensConfiguration = &control.FirelensConfiguration{Type: wire.ToString(f.Type), Options: maps.Clone(f.Options)}
	}
	return out
}

func containerToWire(c *control.ContainerDefinition) w.ContainerDefinition {
	out := w.ContainerDefinition{
		Name:  optStr(c.Name),
		Image: optStr(c.Image),
		// cpu is a plain Integer in the model: AWS always answers it.
		Cpu:                    wire.Int32(int32(c.Cpu)),
		Memory:                 intToWire(c.Memory),
		MemoryReservation:      intToWire(c.MemoryReservation),
		Links:                  nonEmpty(c.Links),
		Essential:              cloneBool(c.Essential),
		EntryPoint:             nonEmpty(c.EntryPoint),
		Command:                nonEmpty(c.Command),
		Environment:            kvToWire(c.Environment),
		StartTimeout:           intToWire(c.StartTimeout),
		StopTimeout:            intToWire(c.StopTimeout),
		VersionConsistency:     optStr(c.VersionConsistency),
		Hostname:               optStr(c.Hostname),
		User:                   optStr(c.User),
		WorkingDirectory:       optStr(c.WorkingDirectory),
		DisableNetworking:      cloneBool(c.DisableNetworking),
		Privileged:             cloneBool(c.Privileged),
		ReadonlyRootFilesystem: cloneBool(c.ReadonlyRootFilesystem),
		DnsServers:             nonEmpty(c.DNSServers),
		DnsSearchDomains:       nonEmpty(c.DNSSearchDomains),
		DockerSecurityOptions:  nonEmpty(c.DockerSecurityOptions),
		Interactive:            cloneBool(c.Interactive),
		PseudoTerminal:         cloneBool(c.PseudoTerminal),
		Secrets:                secretsToWire(c.Secrets),
		CredentialSpecs:        nonEmpty(c.CredentialSpecs),
	}
	if len(c.DockerLabels) > 0 {
		out.DockerLabels = maps.Clone(c.DockerLabels)
	}
	if r := c.RepositoryCredentials; r != nil {
		out.RepositoryCredentials = &w.RepositoryCredentials{CredentialsParameter: optStr(r.CredentialsParameter)}
	}
	for _, p := range c.PortMappings {
		out.PortMappings = append(out.PortMappings, w.PortMapping{
			ContainerPort:      intToWire(p.ContainerPort),
			HostPort:           intToWire(p.HostPort),
			Protocol:           optStr(p.Protocol),
			Name:               optStr(p.Name),
			AppProtocol:        optStr(p.AppProtocol),
			ContainerPortRange: optStr(p.ContainerPortRange),
		})
	}
	if r := c.RestartPolicy; r != nil {
		rp := &w.ContainerRestartPolicy{Enabled: cloneBool(r.Enabled), RestartAttemptPeriod: intToWire(r.RestartAttemptPeriod)}
		for _, code := range r.IgnoredExitCodes {
			rp.IgnoredExitCodes = append(rp.IgnoredExitCodes, int32(code))
		}
		out.RestartPolicy = rp
	}
	for _, f := range c.EnvironmentFiles {
		out.EnvironmentFiles = append(out.EnvironmentFiles, w.EnvironmentFile{Value: optStr(f.Value), Type: optStr(f.Type)})
	}
	for _, m := range c.MountPoints {
		out.MountPoints = append(out.MountPoints, w.MountPoint{
			SourceVolume: optStr(m.SourceVolume), ContainerPath: optStr(m.ContainerPath), ReadOnly: cloneBool(m.ReadOnly),
		})
	}
	for _, v := range c.VolumesFrom {
		out.VolumesFrom = append(out.VolumesFrom, w.VolumeFrom{SourceContainer: optStr(v.SourceContainer), ReadOnly: cloneBool(v.ReadOnly)})
	}
	if lp := c.LinuxParameters; lp != nil {
		l := &w.LinuxParameters{
			InitProcessEnabled: cloneBool(lp.InitProcessEnabled),
			SharedMemorySize:   intToWire(lp.SharedMemorySize),
			MaxSwap:            intToWire(lp.MaxSwap),
			Swappiness:         intToWire(lp.Swappiness),
		}
		if k := lp.Capabilities; k != nil {
			l.Capabilities = &w.KernelCapabilities{Add: nonEmpty(k.Add), Drop: nonEmpty(k.Drop)}
		}
		for _, d := range lp.Devices {
			l.Devices = append(l.Devices, w.Device{
				HostPath: optStr(d.HostPath), ContainerPath: optStr(d.ContainerPath), Permissions: nonEmpty(d.Permissions),
			})
		}
		for _, t := range lp.Tmpfs {
			l.Tmpfs = append(l.Tmpfs, w.Tmpfs{
				ContainerPath: optStr(t.ContainerPath), Size: wire.Int32(int32(t.Size)), MountOptions: nonEmpty(t.MountOptions),
			})
		}
		out.LinuxParameters = l
	}
	for _, d := range c.DependsOn {
		out.DependsOn = append(out.DependsOn, w.ContainerDependency{ContainerName: optStr(d.ContainerName), Condition: optStr(d.Condition)})
	}
	for _, h := range c.ExtraHosts {
		out.ExtraHosts = append(out.ExtraHosts, w.HostEntry{Hostname: optStr(h.Hostname), IpAddress: optStr(h.IPAddress)})
	}
	for _, u := range c.Ulimits {
		out.Ulimits = append(out.Ulimits, w.Ulimit{
			Name: optStr(u.Name), SoftLimit: wire.Int32(int32(u.SoftLimit)), HardLimit: wire.Int32(int32(u.HardLimit)),
		})
	}
	if l := c.LogConfiguration; l != nil {
		lc := &w.LogConfiguration{LogDriver: optStr(l.LogDriver), SecretOptions: secretsToWire(l.SecretOptions)}
		if len(l.Options) > 0 {
			lc.Options = maps.Clone(l.Options)
		}
		out.LogConfiguration = lc
	}
	if h := c.HealthCheck; h != nil {
		out.HealthCheck = &w.HealthCheck{
			Command:     nonEmpty(h.Command),
			Interval:    intToWire(h.Interval),
			Timeout:     intToWire(h.Timeout),
			Retries:     intToWire(h.Retries),
			StartPeriod: intToWire(h.StartPeriod),
		}
	}
	for _, s := range c.SystemControls {
		out.SystemControls = append(out.SystemControls, w.SystemControl{Namespace: optStr(s.Namespace), Value: optStr(s.Value)})
	}
	for _, r := range c.ResourceRequirements {
		out.ResourceRequirements = append(out.ResourceRequirements, w.ResourceRequirement{Value: optStr(r.Value), Type: optStr(r.Type)})
	}
	if f := c.FirelensConfiguration; f != nil {
		fc := &w.FirelensConfiguration{Type: optStr(f.Type)}
		if len(f.Options) > 0 {
			fc.Options = maps.Clone(f.Options)
		}
		out.FirelensConfiguration = fc
	}
	return out
}

func volumeFromWire(v *w.Volume) control.Volume {
	out := control.Volume{Name: wire.ToString(v.Name), ConfiguredAtLaunch: cloneBool(v.ConfiguredAtLaunch)}
	if h := v.Host; h != nil {
		out.Host = &control.HostVolumeProperties{SourcePath: wire.ToString(h.SourcePath)}
	}
	if d := v.DockerVolumeConfiguration; d != nil {
		out.DockerVolumeConfiguration = &control.DockerVolumeConfiguration{
			Scope: wire.ToString(d.Scope), Autoprovision: cloneBool(d.Autoprovision), Driver: wire.ToString(d.Driver),
			DriverOpts: maps.Clone(d.DriverOpts), Labels: maps.Clone(d.Labels),
		}
	}
	if e := v.EfsVolumeConfiguration; e != nil {
		c := &control.EFSVolumeConfiguration{
			FileSystemID: wire.ToString(e.FileSystemId), RootDirectory: wire.ToString(e.RootDirectory),
			TransitEncryption: wire.ToString(e.TransitEncryption), TransitEncryptionPort: intFromWire(e.TransitEncryptionPort),
		}
		if a := e.AuthorizationConfig; a != nil {
			c.AuthorizationConfig = &control.EFSAuthorizationConfig{AccessPointID: wire.ToString(a.AccessPointId), IAM: wire.ToString(a.Iam)}
		}
		out.EFSVolumeConfiguration = c
	}
	if f := v.FsxWindowsFileServerVolumeConfiguration; f != nil {
		c := &control.FSxWindowsFileServerVolumeConfiguration{FileSystemID: wire.ToString(f.FileSystemId), RootDirectory: wire.ToString(f.RootDirectory)}
		if a := f.AuthorizationConfig; a != nil {
			c.AuthorizationConfig = &control.FSxWindowsFileServerAuthorizationConfig{
				CredentialsParameter: wire.ToString(a.CredentialsParameter), Domain: wire.ToString(a.Domain),
			}
		}
		out.FSxWindowsFileServerVolumeConfiguration = c
	}
	if s := v.S3filesVolumeConfiguration; s != nil {
		out.S3FilesVolumeConfiguration = &control.S3FilesVolumeConfiguration{
			FileSystemArn: wire.ToString(s.FileSystemArn), AccessPointArn: wire.ToString(s.AccessPointArn),
			RootDirectory: wire.ToString(s.RootDirectory), TransitEncryptionPort: intFromWire(s.TransitEncryptionPort),
		}
	}
	return out
}

func volumeToWire(v *control.Volume) w.Volume {
	out := w.Volume{Name: optStr(v.Name), ConfiguredAtLaunch: cloneBool(v.ConfiguredAtLaunch)}
	if h := v.Host; h != nil {
		out.Host = &w.HostVolumeProperties{SourcePath: optStr(h.SourcePath)}
	}
	if d := v.DockerVolumeConfiguration; d != nil {
		dc := &w.DockerVolumeConfiguration{Scope: optStr(d.Scope), Autoprovision: cloneBool(d.Autoprovision), Driver: optStr(d.Driver)}
		if len(d.DriverOpts) > 0 {
			dc.DriverOpts = maps.Clone(d.DriverOpts)
		}
		if len(d.Labels) > 0 {
			dc.Labels = maps.Clone(d.Labels)
		}
		out.DockerVolumeConfiguration = dc
	}
	if e := v.EFSVolumeConfiguration; e != nil {
		c := &w.EFSVolumeConfiguration{
			FileSystemId: optStr(e.FileSystemID), RootDirectory: optStr(e.RootDirectory),
			TransitEncryption: optStr(e.TransitEncryption), TransitEncryptionPort: intToWire(e.TransitEncryptionPort),
		}
		if a := e.AuthorizationConfig; a != nil {
			c.AuthorizationConfig = &w.EFSAuthorizationConfig{AccessPointId: optStr(a.AccessPointID), Iam: optStr(a.IAM)}
		}
		out.EfsVolumeConfiguration = c
	}
	if f := v.FSxWindowsFileServerVolumeConfiguration; f != nil {
		c := &w.FSxWindowsFileServerVolumeConfiguration{FileSystemId: optStr(f.FileSystemID), RootDirectory: optStr(f.RootDirectory)}
		if a := f.AuthorizationConfig; a != nil {
			c.AuthorizationConfig = &w.FSxWindowsFileServerAuthorizationConfig{
				CredentialsParameter: optStr(a.CredentialsParameter), Domain: optStr(a.Domain),
			}
		}
		out.FsxWindowsFileServerVolumeConfiguration = c
	}
	if s := v.S3FilesVolumeConfiguration; s != nil {
		out.S3filesVolumeConfiguration = &w.S3FilesVolumeConfiguration{
			FileSystemArn: optStr(s.FileSystemArn), AccessPointArn: optStr(s.AccessPointArn),
			RootDirectory: optStr(s.RootDirectory), TransitEncryptionPort: intToWire(s.TransitEncryptionPort),
		}
	}
	return out
}

// tagsFromWire converts request tags.
func tagsFromWire(in []w.Tag) []control.Tag {
	if len(in) == 0 {
		return nil
	}
	out := make([]control.Tag, 0, len(in))
	for _, t := range in {
		out = append(out, control.Tag{Key: wire.ToString(t.Key), Value: wire.ToString(t.Value)})
	}
	return out
}

// tagsToWire converts tags for a response; an empty list stays a list, as
// AWS answers "tags": [].
func tagsToWire(in []control.Tag) []w.Tag {
	out := make([]w.Tag, 0, len(in))
	for _, t := range in {
		out = append(out, w.Tag{Key: wire.String(t.Key), Value: wire.String(t.Value)})
	}
	return out
}

func kvFromWire(in []w.KeyValuePair) []control.KeyValuePair {
	var out []control.KeyValuePair
	for _, kv := range in {
		out = append(out, control.KeyValuePair{Name: wire.ToString(kv.Name), Value: wire.ToString(kv.Value)})
	}
	return out
}

func kvToWire(in []control.KeyValuePair) []w.KeyValuePair {
	var out []w.KeyValuePair
	for _, kv := range in {
		out = append(out, w.KeyValuePair{Name: optStr(kv.Name), Value: optStr(kv.Value)})
	}
	return out
}

func secretsFromWire(in []w.Secret) []control.Secret {
	var out []control.Secret
	for _, s := range in {
		out = append(out, control.Secret{Name: wire.ToString(s.Name), ValueFrom: wire.ToString(s.ValueFrom)})
	}
	return out
}

func secretsToWire(in []control.Secret) []w.Secret {
	var out []w.Secret
	for _, s := range in {
		out = append(out, w.Secret{Name: optStr(s.Name), ValueFrom: optStr(s.ValueFrom)})
	}
	return out
}

// optStr is a member that is absent when empty.
func optStr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nonEmpty copies a list, leaving an empty one absent.
func nonEmpty(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	return slices.Clone(in)
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func intFromWire(p *int32) *int {
	if p == nil {
		return nil
	}
	v := int(*p)
	return &v
}

func intToWire(p *int) *int32 {
	if p == nil {
		return nil
	}
	v := int32(*p)
	return &v
}

// optTime is a timestamp member, absent for the zero time.
func optTime(t time.Time) *wire.Timestamp {
	return wire.NewTimestamp(t)
}
