package ecs

import (
	"context"
	"slices"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
)

func (a *Adapter) createCluster(ctx context.Context, req *api.Request, in *w.CreateClusterRequest) (*w.CreateClusterResponse, error) {
	spec := control.ClusterSpec{
		Name:                            wire.ToString(in.ClusterName),
		Tags:                            tagsFromWire(in.Tags),
		Settings:                        settingsFromWire(in.Settings),
		Configuration:                   clusterConfigFromWire(in.Configuration),
		CapacityProviders:               in.CapacityProviders,
		DefaultCapacityProviderStrategy: strategyFromWire(in.DefaultCapacityProviderStrategy),
	}
	if in.ServiceConnectDefaults != nil {
		spec.ServiceConnectNamespace = wire.ToString(in.ServiceConnectDefaults.Namespace)
	}
	cl, err := a.ctl.CreateCluster(ctx, req.Scope, spec)
	if err != nil {
		return nil, err
	}
	return &w.CreateClusterResponse{Cluster: a.clusterToWire(ctx, req, cl, allIncludes)}, nil
}

// includes says which optional parts of a cluster DescribeClusters returns.
type includes struct{ tags, settings, statistics, configurations, attachments bool }

// allIncludes is what the mutating operations return: the whole cluster.
var allIncludes = includes{tags: true, settings: true, configurations: true}

func parseIncludes(in []string) includes {
	return includes{
		tags:           slices.Contains(in, w.ClusterFieldTags),
		settings:       slices.Contains(in, w.ClusterFieldSettings),
		statistics:     slices.Contains(in, w.ClusterFieldStatistics),
		configurations: slices.Contains(in, w.ClusterFieldConfigurations),
		attachments:    slices.Contains(in, w.ClusterFieldAttachments),
	}
}

func (a *Adapter) clusterToWire(ctx context.Context, req *api.Request, cl *control.Cluster, inc includes) *w.Cluster {
	counts := a.ctl.Counts(ctx, req.Scope, cl)
	out := &w.Cluster{
		ClusterArn:                        wire.String(cl.ARN),
		ClusterName:                       wire.String(cl.Name),
		Status:                            wire.String(cl.Status),
		RegisteredContainerInstancesCount: wire.Int32(int32(counts.RegisteredContainerInstances)),
		RunningTasksCount:                 wire.Int32(int32(counts.RunningTasks)),
		PendingTasksCount:                 wire.Int32(int32(counts.PendingTasks)),
		ActiveServicesCount:               wire.Int32(int32(counts.ActiveServices)),
		CapacityProviders:                 cl.CapacityProviders,
		DefaultCapacityProviderStrategy:   strategyToWire(cl.DefaultCapacityProviderStrategy),
		Statistics:                        []w.KeyValuePair{},
		Tags:                              []w.Tag{},
		Settings:                          []w.ClusterSetting{},
	}
	if out.CapacityProviders == nil {
		out.CapacityProviders = []string{}
	}
	if inc.tags {
		out.Tags = tagsToWire(cl.Tags)
	}
	if inc.settings {
		out.Settings = settingsToWire(cl.Settings)
	}
	if inc.statistics {
		for _, kv := range counts.Statistics {
			out.Statistics = append(out.Statistics, w.KeyValuePair{Name: wire.String(kv.Name), Value: wire.String(kv.Value)})
		}
	}
	if inc.configurations || inc.tags {
		out.Configuration = clusterConfigToWire(cl.Configuration)
	}
	if cl.ServiceConnectNamespace != "" {
		out.ServiceConnectDefaults = &w.ClusterServiceConnectDefaults{Namespace: wire.String(cl.ServiceConnectNamespace)}
	}
	return out
}

func (a *Adapter) describeClusters(ctx context.Context, req *api.Request, in *w.DescribeClustersRequest) (*w.DescribeClustersResponse, error) {
	cls, failures, err := a.ctl.DescribeClusters(ctx, req.Scope, in.Clusters)
	if err != nil {
		return nil, err
	}
	inc := parseIncludes(in.Include)
	out := &w.DescribeClustersResponse{Clusters: []w.Cluster{}, Failures: failuresToWire(failures)}
	for _, cl := range cls {
		out.Clusters = append(out.Clusters, *a.clusterToWire(ctx, req, cl, inc))
	}
	return out, nil
}

func (a *Adapter) listClusters(ctx context.Context, req *api.Request, in *w.ListClustersRequest) (*w.ListClustersResponse, error) {
	arns, next, err := a.ctl.ListClusters(ctx, req.Scope, page(in.MaxResults, in.NextToken, 100, 100))
	if err != nil {
		return nil, err
	}
	if arns == nil {
		arns = []string{}
	}
	return &w.ListClustersResponse{ClusterArns: arns, NextToken: optStr(next)}, nil
}

func (a *Adapter) deleteCluster(ctx context.Context, req *api.Request, in *w.DeleteClusterRequest) (*w.DeleteClusterResponse, error) {
	cl, err := a.ctl.DeleteCluster(ctx, req.Scope, requiredCluster(in.Cluster))
	if err != nil {
		return nil, err
	}
	return &w.DeleteClusterResponse{Cluster: a.clusterToWire(ctx, req, cl, allIncludes)}, nil
}

func (a *Adapter) updateCluster(ctx context.Context, req *api.Request, in *w.UpdateClusterRequest) (*w.UpdateClusterResponse, error) {
	u := control.ClusterUpdate{Settings: settingsFromWire(in.Settings), Configuration: clusterConfigFromWire(in.Configuration)}
	if in.ServiceConnectDefaults != nil {
		u.ServiceConnectNamespace = in.ServiceConnectDefaults.Namespace
	}
	cl, err := a.ctl.UpdateCluster(ctx, req.Scope, requiredCluster(in.Cluster), u)
	if err != nil {
		return nil, err
	}
	return &w.UpdateClusterResponse{Cluster: a.clusterToWire(ctx, req, cl, allIncludes)}, nil
}

func (a *Adapter) updateClusterSettings(ctx context.Context, req *api.Request, in *w.UpdateClusterSettingsRequest) (*w.UpdateClusterSettingsResponse, error) {
	if len(in.Settings) == 0 {
		return nil, control.InvalidParameterf("Settings must contain at least one element.")
	}
	cl, err := a.ctl.UpdateCluster(ctx, req.Scope, requiredCluster(in.Cluster), control.ClusterUpdate{Settings: settingsFromWire(in.Settings)})
	if err != nil {
		return nil, err
	}
	return &w.UpdateClusterSettingsResponse{Cluster: a.clusterToWire(ctx, req, cl, allIncludes)}, nil
}

func (a *Adapter) putClusterCapacityProviders(ctx context.Context, req *api.Request, in *w.PutClusterCapacityProvidersRequest) (*w.PutClusterCapacityProvidersResponse, error) {
	if in.CapacityProviders == nil || in.DefaultCapacityProviderStrategy == nil {
		return nil, control.InvalidParameterf("capacityProviders and defaultCapacityProviderStrategy are required; pass [] to clear them.")
	}
	cl, err := a.ctl.PutClusterCapacityProviders(ctx, req.Scope, requiredCluster(in.Cluster), in.CapacityProviders, strategyFromWire(in.DefaultCapacityProviderStrategy))
	if err != nil {
		return nil, err
	}
	return &w.PutClusterCapacityProvidersResponse{Cluster: a.clusterToWire(ctx, req, cl, allIncludes)}, nil
}

// requiredCluster turns a required cluster member into a reference; an
// absent one names no cluster (not "default") and is not found.
func requiredCluster(s *string) string {
	if s == nil || *s == "" {
		return "\x00"
	}
	return *s
}

func settingsFromWire(in []w.ClusterSetting) []control.ClusterSetting {
	var out []control.ClusterSetting
	for _, s := range in {
		out = append(out, control.ClusterSetting{Name: wire.ToString(s.Name), Value: wire.ToString(s.Value)})
	}
	return out
}

func settingsToWire(in []control.ClusterSetting) []w.ClusterSetting {
	out := []w.ClusterSetting{}
	for _, s := range in {
		out = append(out, w.ClusterSetting{Name: wire.String(s.Name), Value: wire.String(s.Value)})
	}
	return out
}

func strategyFromWire(in []w.CapacityProviderStrategyItem) []control.CapacityProviderStrategyItem {
	var out []control.CapacityProviderStrategyItem
	for _, it := range in {
		out = append(out, control.CapacityProviderStrategyItem{
			CapacityProvider: wire.ToString(it.CapacityProvider), Weight: wire.ToInt32(it.Weight), Base: wire.ToInt32(it.Base),
		})
	}
	return out
}

func strategyToWire(in []control.CapacityProviderStrategyItem) []w.CapacityProviderStrategyItem {
	out := []w.CapacityProviderStrategyItem{}
	for _, it := range in {
		out = append(out, w.CapacityProviderStrategyItem{
			CapacityProvider: wire.String(it.CapacityProvider), Weight: wire.Int32(it.Weight), Base: wire.Int32(it.Base),
		})
	}
	return out
}

func clusterConfigFromWire(in *w.ClusterConfiguration) *control.ClusterConfiguration {
	if in == nil {
		return nil
	}
	out := &control.ClusterConfiguration{}
	if e := in.ExecuteCommandConfiguration; e != nil {
		out.ExecuteCommand = &control.ExecuteCommandConfiguration{KmsKeyID: wire.ToString(e.KmsKeyId), Logging: wire.ToString(e.Logging)}
		if l := e.LogConfiguration; l != nil {
			out.ExecuteCommand.Log = &control.ExecuteCommandLogConfiguration{
				CloudWatchLogGroupName:      wire.ToString(l.CloudWatchLogGroupName),
				CloudWatchEncryptionEnabled: wire.ToBool(l.CloudWatchEncryptionEnabled),
				S3BucketName:                wire.ToString(l.S3BucketName),
				S3EncryptionEnabled:         wire.ToBool(l.S3EncryptionEnabled),
				S3KeyPrefix:                 wire.ToString(l.S3KeyPrefix),
			}
		}
	}
	if m := in.ManagedStorageConfiguration; m != nil {
		out.ManagedStorage = &control.ManagedStorageConfiguration{
			KmsKeyID: wire.ToString(m.KmsKeyId), FargateEphemeralStorageKmsKeyID: wire.ToString(m.FargateEphemeralStorageKmsKeyId),
		}
	}
	return out
}

func clusterConfigToWire(in *control.ClusterConfiguration) *w.ClusterConfiguration {
	if in == nil {
		return nil
	}
	out := &w.ClusterConfiguration{}
	if e := in.ExecuteCommand; e != nil {
		out.ExecuteCommandConfiguration = &w.ExecuteCommandConfiguration{KmsKeyId: optStr(e.KmsKeyID), Logging: optStr(e.Logging)}
		if l := e.Log; l != nil {
			out.ExecuteCommandConfiguration.LogConfiguration = &w.ExecuteCommandLogConfiguration{
				CloudWatchLogGroupName:      optStr(l.CloudWatchLogGroupName),
				CloudWatchEncryptionEnabled: wire.Bool(l.CloudWatchEncryptionEnabled),
				S3BucketName:                optStr(l.S3BucketName),
				S3EncryptionEnabled:         wire.Bool(l.S3EncryptionEnabled),
				S3KeyPrefix:                 optStr(l.S3KeyPrefix),
			}
		}
	}
	if m := in.ManagedStorage; m != nil {
		out.ManagedStorageConfiguration = &w.ManagedStorageConfiguration{
			KmsKeyId: optStr(m.KmsKeyID), FargateEphemeralStorageKmsKeyId: optStr(m.FargateEphemeralStorageKmsKeyID),
		}
	}
	return out
}

func failuresToWire(in []control.Failure) []w.Failure {
	out := []w.Failure{}
	for _, f := range in {
		out = append(out, w.Failure{Arn: optStr(f.ARN), Reason: optStr(f.Reason), Detail: optStr(f.Detail)})
	}
	return out
}
