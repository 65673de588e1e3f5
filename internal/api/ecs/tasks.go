package ecs

import (
	"context"
	"slices"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
)

func (a *Adapter) runTask(ctx context.Context, req *api.Request, in *w.RunTaskRequest) (*w.RunTaskResponse, error) {
	if in.TaskDefinition == nil {
		return nil, control.InvalidParameterf("taskDefinition is required.")
	}
	if err := checkOverridesSize(in.Overrides); err != nil {
		return nil, err
	}
	run := control.RunTaskInput{
		Cluster:              wire.ToString(in.Cluster),
		TaskDefinition:       wire.ToString(in.TaskDefinition),
		Count:                int(wire.ToInt32(in.Count)),
		LaunchType:           wire.ToString(in.LaunchType),
		NetworkConfiguration: networkConfigFromWire(in.NetworkConfiguration),
		Overrides:            overridesFromWire(in.Overrides),
		PlatformVersion:      wire.ToString(in.PlatformVersion),
		Group:                wire.ToString(in.Group),
		StartedBy:            wire.ToString(in.StartedBy),
		Tags:                 tagsFromWire(in.Tags),
		EnableExecuteCommand: wire.ToBool(in.EnableExecuteCommand),
		ClientToken:          wire.ToString(in.ClientToken),
	}
	if in.Count != nil && *in.Count == 0 {
		run.Count = -1
	}
	if len(in.CapacityProviderStrategy) > 0 {
		run.CapacityProvider = wire.ToString(in.CapacityProviderStrategy[0].CapacityProvider)
	}
	res, err := a.ctl.RunTask(ctx, req.Scope, run)
	if err != nil {
		return nil, err
	}
	return &w.RunTaskResponse{Tasks: tasksToWire(res.Tasks), Failures: failuresToWire(res.Failures)}, nil
}

func (a *Adapter) startTask(ctx context.Context, req *api.Request, in *w.StartTaskRequest) (*w.StartTaskResponse, error) {
	if in.TaskDefinition == nil {
		return nil, control.InvalidParameterf("taskDefinition is required.")
	}
	if err := checkOverridesSize(in.Overrides); err != nil {
		return nil, err
	}
	res, err := a.ctl.StartTask(ctx, req.Scope, control.StartTaskInput{
		RunTaskInput: control.RunTaskInput{
			Cluster:              wire.ToString(in.Cluster),
			TaskDefinition:       wire.ToString(in.TaskDefinition),
			NetworkConfiguration: networkConfigFromWire(in.NetworkConfiguration),
			Overrides:            overridesFromWire(in.Overrides),
			Group:                wire.ToString(in.Group),
			StartedBy:            wire.ToString(in.StartedBy),
			Tags:                 tagsFromWire(in.Tags),
			EnableExecuteCommand: wire.ToBool(in.EnableExecuteCommand),
		},
		ContainerInstances: in.ContainerInstances,
	})
	if err != nil {
		return nil, err
	}
	return &w.StartTaskResponse{Tasks: tasksToWire(res.Tasks), Failures: failuresToWire(res.Failures)}, nil
}

func tasksToWire(ts []*control.Task) []w.Task {
	out := make([]w.Task, 0, len(ts))
	for _, t := range ts {
		out = append(out, *taskToWire(t, true))
	}
	return out
}

func (a *Adapter) stopTask(ctx context.Context, req *api.Request, in *w.StopTaskRequest) (*w.StopTaskResponse, error) {
	t, err := a.ctl.StopTask(ctx, req.Scope, wire.ToString(in.Cluster), wire.ToString(in.Task), wire.ToString(in.Reason))
	if err != nil {
		return nil, err
	}
	return &w.StopTaskResponse{Task: taskToWire(t, false)}, nil
}

func (a *Adapter) describeTasks(ctx context.Context, req *api.Request, in *w.DescribeTasksRequest) (*w.DescribeTasksResponse, error) {
	tasks, failures, err := a.ctl.DescribeTasks(ctx, req.Scope, wire.ToString(in.Cluster), in.Tasks)
	if err != nil {
		return nil, err
	}
	tags := slices.Contains(in.Include, w.TaskFieldTags)
	out := &w.DescribeTasksResponse{Tasks: []w.Task{}, Failures: failuresToWire(failures)}
	for _, t := range tasks {
		out.Tasks = append(out.Tasks, *taskToWire(t, tags))
	}
	return out, nil
}

func (a *Adapter) listTasks(ctx context.Context, req *api.Request, in *w.ListTasksRequest) (*w.ListTasksResponse, error) {
	arns, next, err := a.ctl.ListTasks(ctx, req.Scope, wire.ToString(in.Cluster), control.ListTasksFilter{
		Family: wire.ToString(in.Family), StartedBy: wire.ToString(in.StartedBy), ServiceName: wire.ToString(in.ServiceName),
		DesiredStatus: wire.ToString(in.DesiredStatus), LaunchType: wire.ToString(in.LaunchType),
		ContainerInstance: wire.ToString(in.ContainerInstance),
	}, page(in.MaxResults, in.NextToken, 100, 100))
	if err != nil {
		return nil, err
	}
	if arns == nil {
		arns = []string{}
	}
	return &w.ListTasksResponse{TaskArns: arns, NextToken: optStr(next)}, nil
}

func networkConfigFromWire(in *w.NetworkConfiguration) *control.NetworkConfiguration {
	if in == nil || in.AwsvpcConfiguration == nil {
		return nil
	}
	v := in.AwsvpcConfiguration
	return &control.NetworkConfiguration{Subnets: v.Subnets, SecurityGroups: v.SecurityGroups, AssignPublicIP: wire.ToString(v.AssignPublicIp)}
}

func overridesFromWire(in *w.TaskOverride) *control.TaskOverride {
	if in == nil {
		return nil
	}
	out := &control.TaskOverride{Cpu: wire.ToString(in.Cpu), Memory: wire.ToString(in.Memory),
		TaskRoleArn: wire.ToString(in.TaskRoleArn), ExecutionRoleArn: wire.ToString(in.ExecutionRoleArn)}
	if in.EphemeralStorage != nil {
		out.EphemeralStorage = &control.EphemeralStorage{SizeInGiB: int(wire.ToInt32(in.EphemeralStorage.SizeInGiB))}
	}
	for _, co := range in.ContainerOverrides {
		out.ContainerOverrides = append(out.ContainerOverrides, control.ContainerOverride{
			Name: wire.ToString(co.Name), Command: co.Command, Environment: kvFromWire(co.Environment),
			Cpu: intFromWire(co.Cpu), Memory: intFromWire(co.Memory), MemoryReservation: intFromWire(co.MemoryReservation),
		})
	}
	return out
}

func overridesToWire(in *control.TaskOverride) *w.TaskOverride {
	out := &w.TaskOverride{ContainerOverrides: []w.ContainerOverride{}}
	if in == nil {
		return out
	}
	out.Cpu, out.Memory = optStr(in.Cpu), optStr(in.Memory)
	out.TaskRoleArn, out.ExecutionRoleArn = optStr(in.TaskRoleArn), optStr(in.ExecutionRoleArn)
	for _, co := range in.ContainerOverrides {
		out.ContainerOverrides = append(out.ContainerOverrides, w.ContainerOverride{
			Name: wire.String(co.Name), Command: co.Command, Environment: kvToWire(co.Environment),
			Cpu: intToWire(co.Cpu), Memory: intToWire(co.Memory), MemoryReservation: intToWire(co.MemoryReservation),
		})
	}
	return out
}

func taskToWire(t *control.Task, withTags bool) *w.Task {
	out := &w.Task{
		TaskArn: wire.String(t.ARN), ClusterArn: wire.String(t.ClusterARN), TaskDefinitionArn: wire.String(t.TaskDefinitionARN),
		ContainerInstanceArn: optStr(t.ContainerInstanceARN),
		LaunchType:           optStr(t.LaunchType), CapacityProviderName: optStr(t.CapacityProvider),
		PlatformVersion: optStr(t.PlatformVersion), PlatformFamily: optStr(t.PlatformFamily),
		Cpu: optStr(t.Cpu), Memory: optStr(t.Memory), Group: optStr(t.Group), StartedBy: optStr(t.StartedBy),
		AvailabilityZone: optStr(t.AvailabilityZone), EnableExecuteCommand: wire.Bool(t.EnableExecuteCommand),
		DesiredStatus: wire.String(t.DesiredStatus), LastStatus: wire.String(t.LastStatus), HealthStatus: optStr(t.HealthStatus),
		Connectivity: optStr(t.Connectivity), Version: wire.Int64(t.Version),
		CreatedAt: wire.NewTimestamp(t.CreatedAt), PullStartedAt: wire.NewTimestamp(t.PullStartedAt), PullStoppedAt: wire.NewTimestamp(t.PullStoppedAt),
		StartedAt: wire.NewTimestamp(t.StartedAt), ConnectivityAt: wire.NewTimestamp(t.ConnectivityAt), StoppingAt: wire.NewTimestamp(t.StoppingAt),
		ExecutionStoppedAt: wire.NewTimestamp(t.ExecutionStoppedAt), StoppedAt: wire.NewTimestamp(t.StoppedAt),
		StopCode: optStr(t.StopCode), StoppedReason: optStr(t.StoppedReason),
		Overrides:   overridesToWire(t.Overrides),
		Containers:  []w.Container{},
		Attachments: []w.Attachment{},
		Tags:        []w.Tag{},
	}
	if t.EphemeralStorageGiB > 0 {
		out.EphemeralStorage = &w.EphemeralStorage{SizeInGiB: wire.Int32(int32(t.EphemeralStorageGiB))}
	}
	if withTags {
		out.Tags = tagsToWire(t.Tags)
	}
	for _, at := range t.Attachments {
		wa := w.Attachment{Id: wire.String(at.ID), Type: wire.String(at.Type), Status: wire.String(at.Status), Details: []w.KeyValuePair{}}
		for _, d := range at.Details {
			wa.Details = append(wa.Details, w.KeyValuePair{Name: wire.String(d.Name), Value: wire.String(d.Value)})
		}
		out.Attachments = append(out.Attachments, wa)
	}
	for _, c := range t.Containers {
		wc := w.Container{
			ContainerArn: wire.String(c.ARN), TaskArn: wire.String(t.ARN), Name: wire.String(c.Name), Image: wire.String(c.Image),
			ImageDigest: optStr(c.ImageDigest), RuntimeId: optStr(c.RuntimeID), LastStatus: wire.String(c.LastStatus),
			Reason: optStr(c.Reason), HealthStatus: optStr(c.HealthStatus), Cpu: optStr(c.Cpu),
			Memory: optStr(c.Memory), MemoryReservation: optStr(c.MemoryReservation),
			NetworkBindings: []w.NetworkBinding{}, NetworkInterfaces: []w.NetworkInterface{},
		}
		if c.ExitCode != nil {
			wc.ExitCode = wire.Int32(int32(*c.ExitCode))
		}
		for _, b := range c.NetworkBindings {
			wb := w.NetworkBinding{BindIP: wire.String(b.BindIP), Protocol: wire.String(b.Protocol)}
			if b.ContainerPortRange != "" {
				wb.ContainerPortRange, wb.HostPortRange = wire.String(b.ContainerPortRange), wire.String(b.HostPortRange)
			} else {
				wb.ContainerPort, wb.HostPort = wire.Int32(int32(b.ContainerPort)), wire.Int32(int32(b.HostPort))
			}
			wc.NetworkBindings = append(wc.NetworkBindings, wb)
		}
		for _, ni := range c.NetworkInterfaces {
			wc.NetworkInterfaces = append(wc.NetworkInterfaces, w.NetworkInterface{AttachmentId: wire.String(ni.AttachmentID),
				PrivateIpv4Address: wire.String(ni.PrivateIPv4Address)})
		}
		out.Containers = append(out.Containers, wc)
	}
	return out
}
