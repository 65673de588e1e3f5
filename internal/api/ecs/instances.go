package ecs

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/version"
)

func (a *Adapter) listContainerInstances(ctx context.Context, req *api.Request, in *w.ListContainerInstancesRequest) (*w.ListContainerInstancesResponse, error) {
	if in.Filter != nil {
		return nil, control.InvalidParameterf("Cluster query language filters are not supported by fargo.")
	}
	arns, next, err := a.ctl.ListContainerInstances(ctx, req.Scope, wire.ToString(in.Cluster), wire.ToString(in.Status),
		page(in.MaxResults, in.NextToken, 100, 100))
	if err != nil {
		return nil, err
	}
	return &w.ListContainerInstancesResponse{ContainerInstanceArns: arns, NextToken: optStr(next)}, nil
}

func (a *Adapter) describeContainerInstances(ctx context.Context, req *api.Request, in *w.DescribeContainerInstancesRequest) (*w.DescribeContainerInstancesResponse, error) {
	cis, failures, err := a.ctl.DescribeContainerInstances(ctx, req.Scope, wire.ToString(in.Cluster), in.ContainerInstances)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeContainerInstancesResponse{ContainerInstances: []w.ContainerInstance{}, Failures: failuresToWire(failures)}
	for _, ci := range cis {
		out.ContainerInstances = append(out.ContainerInstances, w.ContainerInstance{
			ContainerInstanceArn: wire.String(ci.ARN),
			Ec2InstanceId:        wire.String(ci.Node),
			Status:               wire.String("ACTIVE"),
			AgentConnected:       wire.Bool(true),
			RegisteredAt:         wire.NewTimestamp(ci.RegisteredAt),
			RegisteredResources:  resources(ci.RegisteredCPU, ci.RegisteredMemory),
			RemainingResources:   resources(ci.RemainingCPU, ci.RemainingMemory),
			RunningTasksCount:    wire.Int32(int32(ci.RunningTasks)),
			PendingTasksCount:    wire.Int32(int32(ci.PendingTasks)),
			Version:              wire.Int64(1),
			VersionInfo:          &w.VersionInfo{AgentVersion: wire.String("fargo " + version.Version)},
			Attributes:           []w.Attribute{{Name: wire.String("ecs.os-type"), Value: wire.String("linux")}},
		})
	}
	return out, nil
}

// resources are a container instance's CPU and MEMORY resources.
func resources(cpu, mem int) []w.Resource {
	return []w.Resource{
		{Name: wire.String("CPU"), Type: wire.String("INTEGER"), IntegerValue: wire.Int32(int32(cpu))},
		{Name: wire.String("MEMORY"), Type: wire.String("INTEGER"), IntegerValue: wire.Int32(int32(mem))},
	}
}
