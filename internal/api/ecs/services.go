package ecs

import (
	"context"
	"slices"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/tenant"
)

func (a *Adapter) createService(ctx context.Context, req *api.Request, in *w.CreateServiceRequest) (*w.CreateServiceResponse, error) {
	fargate := wire.ToString(in.LaunchType) == control.LaunchTypeFargate || onFargate(in.CapacityProviderStrategy)
	if err := refuseUnhonoured(serviceExtras{
		loadBalancers: in.LoadBalancers, serviceRegistries: in.ServiceRegistries, managedTags: in.EnableECSManagedTags,
		constraints: in.PlacementConstraints, strategies: in.PlacementStrategy, serviceConnect: in.ServiceConnectConfiguration,
		volumes: in.VolumeConfigurations, lattice: in.VpcLatticeConfigurations,
	}, fargate); err != nil {
		return nil, err
	}
	spec := control.ServiceSpec{
		Cluster:                       wire.ToString(in.Cluster),
		Name:                          wire.ToString(in.ServiceName),
		TaskDefinition:                wire.ToString(in.TaskDefinition),
		DesiredCount:                  intFromWire(in.DesiredCount),
		LaunchType:                    wire.ToString(in.LaunchType),
		CapacityProviderStrategy:      strategyFromWire(in.CapacityProviderStrategy),
		PlatformVersion:               wire.ToString(in.PlatformVersion),
		NetworkConfiguration:          networkConfigFromWire(in.NetworkConfiguration),
		DeploymentConfiguration:       deploymentConfigFromWire(in.DeploymentConfiguration),
		SchedulingStrategy:            wire.ToString(in.SchedulingStrategy),
		HealthCheckGracePeriodSeconds: intFromWire(in.HealthCheckGracePeriodSeconds),
		LoadBalancers:                 loadBalancersFromWire(in.LoadBalancers),
		ServiceRegistries:             registriesFromWire(in.ServiceRegistries),
		EnableECSManagedTags:          wire.ToBool(in.EnableECSManagedTags),
		EnableExecuteCommand:          wire.ToBool(in.EnableExecuteCommand),
		PropagateTags:                 wire.ToString(in.PropagateTags),
		Role:                          wire.ToString(in.Role),
		Tags:                          tagsFromWire(in.Tags),
		ClientToken:                   wire.ToString(in.ClientToken),
	}
	if in.DeploymentController != nil {
		spec.DeploymentController = wire.ToString(in.DeploymentController.Type)
	}
	svc, err := a.ctl.CreateService(ctx, req.Scope, spec)
	if err != nil {
		return nil, err
	}
	return &w.CreateServiceResponse{Service: serviceToWire(req.Scope, svc, true)}, nil
}

func (a *Adapter) updateService(ctx context.Context, req *api.Request, in *w.UpdateServiceRequest) (*w.UpdateServiceResponse, error) {
	if err := a.checkUpdate(ctx, req, in); err != nil {
		return nil, err
	}
	u := control.ServiceUpdate{
		Cluster:                       wire.ToString(in.Cluster),
		Service:                       requiredCluster(in.Service),
		DesiredCount:                  intFromWire(in.DesiredCount),
		TaskDefinition:                in.TaskDefinition,
		ForceNewDeployment:            wire.ToBool(in.ForceNewDeployment),
		DeploymentConfiguration:       deploymentConfigFromWire(in.DeploymentConfiguration),
		NetworkConfiguration:          networkConfigFromWire(in.NetworkConfiguration),
		PlatformVersion:               in.PlatformVersion,
		HealthCheckGracePeriodSeconds: intFromWire(in.HealthCheckGracePeriodSeconds),
		EnableExecuteCommand:          in.EnableExecuteCommand,
		PropagateTags:                 in.PropagateTags,
	}
	if in.ServiceRegistries != nil {
		regs := registriesFromWire(in.ServiceRegistries)
		u.ServiceRegistries = &regs
	}
	if in.DeploymentController != nil {
		u.DeploymentController = in.DeploymentController.Type
	}
	if in.LoadBalancers != nil { // [] removes them all
		lbs := loadBalancersFromWire(in.LoadBalancers)
		u.LoadBalancers = &lbs
	}
	svc, err := a.ctl.UpdateService(ctx, req.Scope, u)
	if err != nil {
		return nil, err
	}
	return &w.UpdateServiceResponse{Service: serviceToWire(req.Scope, svc, true)}, nil
}

// serviceExtras are the CreateService and UpdateService fields that ask
// for something fargo cannot do yet (a load balancer, Cloud Map, managed
// tags, placement rules, Service Connect, EBS volumes, VPC Lattice).
type serviceExtras struct {
	// loadBalancers are honoured: control checks them
	// (validateLoadBalancers) and refuses them without ELBv2.
	loadBalancers     []w.LoadBalancer
	serviceRegistries []w.ServiceRegistry
	managedTags       *bool
	constraints       []w.PlacementConstraint
	strategies        []w.PlacementStrategy
	serviceConnect    *w.ServiceConnectConfiguration
	volumes           []w.ServiceVolumeConfiguration
	lattice           []w.VpcLatticeConfiguration
}

// refuseUnhonoured answers InvalidParameterException for a field fargo
// would otherwise accept and ignore: a user who asks for a load balancer
// must learn at once that none will be there, not find out from a service
// nobody can reach. Empty lists and false flags ask for nothing and pass
// (tools that send every field on each apply send them). On Fargate, AWS's
// own placement errors come first.
func refuseUnhonoured(x serviceExtras, fargate bool) error {
	switch {
	case len(x.constraints) > 0 && fargate:
		return control.InvalidParameterf("Placement constraints are not supported with FARGATE launch type.")
	case len(x.strategies) > 0 && fargate:
		return control.InvalidParameterf("Placement strategies are not supported with FARGATE launch type.")
	case len(x.constraints) > 0:
		return control.InvalidParameterf("fargo does not support service placement constraints yet: it places each task on any instance with room; remove placementConstraints from the service.")
	case len(x.strategies) > 0:
		return control.InvalidParameterf("fargo does not support service placement strategies yet: it places each task on any instance with room; remove placementStrategy from the service.")
	case wire.ToBool(x.managedTags):
		return control.InvalidParameterf("fargo does not support Amazon ECS managed tags yet; set enableECSManagedTags to false (to tag the tasks, tag the service and set propagateTags to SERVICE).")
	case x.serviceConnect != nil && wire.ToBool(x.serviceConnect.Enabled):
		return control.InvalidParameterf("fargo does not support Service Connect yet; remove serviceConnectConfiguration from the service.")
	case len(x.volumes) > 0:
		return control.InvalidParameterf("fargo does not support service volume configurations (Amazon EBS volumes) yet; remove volumeConfigurations from the service.")
	case len(x.lattice) > 0:
		return control.InvalidParameterf("fargo does not support VPC Lattice yet; remove vpcLatticeConfigurations from the service.")
	}
	return nil
}

func (x serviceExtras) asksForSomething() bool {
	return refuseUnhonoured(x, false) != nil
}

// onFargate reports whether a capacity provider strategy runs on Fargate.
func onFargate(cps []w.CapacityProviderStrategyItem) bool {
	for _, it := range cps {
		if p := wire.ToString(it.CapacityProvider); p == "FARGATE" || p == "FARGATE_SPOT" {
			return true
		}
	}
	return false
}

// checkUpdate refuses UpdateService fields fargo cannot honour, and the
// propagateTags values AWS rejects. control cannot change a service's
// capacity provider strategy yet: a strategy is accepted when it restates
// the current one (Terraform and CloudFormation send it on every apply)
// and refused when it would change it, instead of being dropped.
func (a *Adapter) checkUpdate(ctx context.Context, req *api.Request, in *w.UpdateServiceRequest) error {
	if p := in.PropagateTags; p != nil {
		switch *p {
		case w.PropagateTagsService, w.PropagateTagsTaskDefinition, w.PropagateTagsNone:
		default:
			return control.InvalidParameterf("propagateTags must be one of TASK_DEFINITION, SERVICE, NONE.")
		}
	}
	x := serviceExtras{
		loadBalancers: in.LoadBalancers, serviceRegistries: in.ServiceRegistries, managedTags: in.EnableECSManagedTags,
		constraints: in.PlacementConstraints, strategies: in.PlacementStrategy, serviceConnect: in.ServiceConnectConfiguration,
		volumes: in.VolumeConfigurations, lattice: in.VpcLatticeConfigurations,
	}
	if !x.asksForSomething() && in.CapacityProviderStrategy == nil {
		return nil
	}
	// The service as it is decides what a change is and whether it runs
	// on Fargate.
	svcs, _, err := a.ctl.DescribeServices(ctx, req.Scope, wire.ToString(in.Cluster), []string{requiredCluster(in.Service)})
	if err != nil {
		return err
	}
	if len(svcs) == 0 {
		return nil // UpdateService answers ServiceNotFoundException
	}
	cur := svcs[0]
	fargate := cur.LaunchType == control.LaunchTypeFargate || onFargate(strategyToWire(cur.CapacityProviderStrategy))
	if err := refuseUnhonoured(x, fargate); err != nil {
		return err
	}
	if in.CapacityProviderStrategy != nil && !slices.Equal(strategyFromWire(in.CapacityProviderStrategy), cur.CapacityProviderStrategy) {
		return control.InvalidParameterf("fargo cannot change the capacity provider strategy of an existing service yet; create a new service with the strategy you want.")
	}
	return nil
}

func (a *Adapter) deleteService(ctx context.Context, req *api.Request, in *w.DeleteServiceRequest) (*w.DeleteServiceResponse, error) {
	svc, err := a.ctl.DeleteService(ctx, req.Scope, wire.ToString(in.Cluster), requiredCluster(in.Service), wire.ToBool(in.Force))
	if err != nil {
		return nil, err
	}
	return &w.DeleteServiceResponse{Service: serviceToWire(req.Scope, svc, true)}, nil
}

func (a *Adapter) describeServices(ctx context.Context, req *api.Request, in *w.DescribeServicesRequest) (*w.DescribeServicesResponse, error) {
	svcs, failures, err := a.ctl.DescribeServices(ctx, req.Scope, wire.ToString(in.Cluster), in.Services)
	if err != nil {
		return nil, err
	}
	tags := slices.Contains(in.Include, w.ServiceFieldTags)
	out := &w.DescribeServicesResponse{Services: []w.Service{}, Failures: failuresToWire(failures)}
	for _, svc := range svcs {
		out.Services = append(out.Services, *serviceToWire(req.Scope, svc, tags))
	}
	return out, nil
}

func (a *Adapter) listServices(ctx context.Context, req *api.Request, in *w.ListServicesRequest) (*w.ListServicesResponse, error) {
	arns, next, err := a.ctl.ListServices(ctx, req.Scope, wire.ToString(in.Cluster), control.ListServicesFilter{
		LaunchType: wire.ToString(in.LaunchType), SchedulingStrategy: wire.ToString(in.SchedulingStrategy),
	}, page(in.MaxResults, in.NextToken, 10, 100))
	if err != nil {
		return nil, err
	}
	if arns == nil {
		arns = []string{}
	}
	return &w.ListServicesResponse{ServiceArns: arns, NextToken: optStr(next)}, nil
}

func (a *Adapter) listServicesByNamespace(ctx context.Context, req *api.Request, in *w.ListServicesByNamespaceRequest) (*w.ListServicesByNamespaceResponse, error) {
	arns, next, err := a.ctl.ListServicesByNamespace(ctx, req.Scope, wire.ToString(in.Namespace), page(in.MaxResults, in.NextToken, 10, 100))
	if err != nil {
		return nil, err
	}
	if arns == nil {
		arns = []string{}
	}
	return &w.ListServicesByNamespaceResponse{ServiceArns: arns, NextToken: optStr(next)}, nil
}

func (a *Adapter) listServiceDeployments(ctx context.Context, req *api.Request, in *w.ListServiceDeploymentsRequest) (*w.ListServiceDeploymentsResponse, error) {
	f := control.ServiceDeploymentFilter{Status: in.Status}
	if in.CreatedAt != nil {
		f.CreatedAfter, f.CreatedBefore = in.CreatedAt.After.TimeOrZero(), in.CreatedAt.Before.TimeOrZero()
	}
	infos, next, err := a.ctl.ListServiceDeployments(ctx, req.Scope, wire.ToString(in.Cluster), requiredCluster(in.Service), f,
		page(in.MaxResults, in.NextToken, 20, 100))
	if err != nil {
		return nil, err
	}
	out := &w.ListServiceDeploymentsResponse{ServiceDeployments: []w.ServiceDeploymentBrief{}, NextToken: optStr(next)}
	for _, info := range infos {
		svc, d := info.Service, info.Deployment
		out.ServiceDeployments = append(out.ServiceDeployments, w.ServiceDeploymentBrief{
			ServiceDeploymentArn: wire.String(control.ServiceDeploymentARN(req.Scope, svc, d)),
			ServiceArn:           wire.String(svc.ARN), ClusterArn: wire.String(svc.ClusterARN),
			CreatedAt: wire.NewTimestamp(d.CreatedAt), StartedAt: wire.NewTimestamp(d.CreatedAt),
			FinishedAt:               wire.NewTimestamp(d.FinishedAt),
			TargetServiceRevisionArn: wire.String(control.ServiceRevisionARN(req.Scope, svc, d)),
			Status:                   wire.String(d.DeploymentStatus), StatusReason: optStr(d.StatusReason),
		})
	}
	return out, nil
}

func (a *Adapter) describeServiceDeployments(ctx context.Context, req *api.Request, in *w.DescribeServiceDeploymentsRequest) (*w.DescribeServiceDeploymentsResponse, error) {
	infos, failures, err := a.ctl.DescribeServiceDeployments(ctx, req.Scope, "service-deployment", in.ServiceDeploymentArns)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeServiceDeploymentsResponse{ServiceDeployments: []w.ServiceDeployment{}, Failures: failuresToWire(failures)}
	for _, info := range infos {
		out.ServiceDeployments = append(out.ServiceDeployments, serviceDeploymentToWire(req.Scope, info.Service, info.Deployment))
	}
	return out, nil
}

func (a *Adapter) describeServiceRevisions(ctx context.Context, req *api.Request, in *w.DescribeServiceRevisionsRequest) (*w.DescribeServiceRevisionsResponse, error) {
	infos, failures, err := a.ctl.DescribeServiceDeployments(ctx, req.Scope, "service-revision", in.ServiceRevisionArns)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeServiceRevisionsResponse{ServiceRevisions: []w.ServiceRevision{}, Failures: failuresToWire(failures)}
	for _, info := range infos {
		svc, d := info.Service, info.Deployment
		out.ServiceRevisions = append(out.ServiceRevisions, w.ServiceRevision{
			ServiceRevisionArn: wire.String(control.ServiceRevisionARN(req.Scope, svc, d)),
			ServiceArn:         wire.String(svc.ARN), ClusterArn: wire.String(svc.ClusterARN),
			TaskDefinition: wire.String(d.TaskDefinition), LaunchType: optStr(d.LaunchType),
			CapacityProviderStrategy: strategyToWire(d.CapacityProvider),
			PlatformVersion:          optStr(d.PlatformVersion), NetworkConfiguration: networkConfigToWire(d.NetworkConfiguration),
			LoadBalancers: loadBalancersToWire(d.LoadBalancers), CreatedAt: wire.NewTimestamp(d.CreatedAt),
		})
	}
	return out, nil
}

func serviceDeploymentToWire(s tenant.Scope, svc *control.Service, d *control.Deployment) w.ServiceDeployment {
	out := w.ServiceDeployment{
		ServiceDeploymentArn: wire.String(control.ServiceDeploymentARN(s, svc, d)),
		ServiceArn:           wire.String(svc.ARN), ClusterArn: wire.String(svc.ClusterARN),
		CreatedAt: wire.NewTimestamp(d.CreatedAt), StartedAt: wire.NewTimestamp(d.CreatedAt), UpdatedAt: wire.NewTimestamp(d.UpdatedAt),
		FinishedAt: wire.NewTimestamp(d.FinishedAt), StoppedAt: wire.NewTimestamp(d.StoppedAt),
		Status: wire.String(d.DeploymentStatus), StatusReason: optStr(d.StatusReason),
		TargetServiceRevision: &w.ServiceRevisionSummary{
			Arn:                wire.String(control.ServiceRevisionARN(s, svc, d)),
			RequestedTaskCount: wire.Int32(int32(d.DesiredCount)),
			RunningTaskCount:   wire.Int32(int32(d.RunningCount)), PendingTaskCount: wire.Int32(int32(d.PendingCount)),
		},
		SourceServiceRevisions:  []w.ServiceRevisionSummary{},
		DeploymentConfiguration: deploymentConfigToWire(d.DeploymentConfiguration),
	}
	for _, id := range d.SourceDeployments {
		if src := svc.FindDeployment(id); src != nil {
			out.SourceServiceRevisions = append(out.SourceServiceRevisions, w.ServiceRevisionSummary{
				Arn:                wire.String(control.ServiceRevisionARN(s, svc, src)),
				RequestedTaskCount: wire.Int32(int32(src.DesiredCount)),
				RunningTaskCount:   wire.Int32(int32(src.RunningCount)), PendingTaskCount: wire.Int32(int32(src.PendingCount)),
			})
		}
	}
	cb := &w.ServiceDeploymentCircuitBreaker{Status: wire.String("DISABLED")}
	if d.DeploymentConfiguration.CircuitBreaker.Enable {
		cb.FailureCount = wire.Int32(int32(d.FailedTasks))
		cb.Threshold = wire.Int32(int32(control.CircuitBreakerThreshold(d.DesiredCount)))
		switch d.RolloutState {
		case control.RolloutFailed:
			cb.Status = wire.String("TRIGGERED")
		case control.RolloutCompleted:
			cb.Status = wire.String("MONITORING_COMPLETE")
		default:
			cb.Status = wire.String("MONITORING")
		}
	}
	out.DeploymentCircuitBreaker = cb
	if d.Rollback != nil {
		target := &control.Deployment{ID: d.Rollback.DeploymentID}
		out.Rollback = &w.Rollback{Reason: wire.String(d.Rollback.Reason), StartedAt: wire.NewTimestamp(d.Rollback.StartedAt),
			ServiceRevisionArn: wire.String(control.ServiceRevisionARN(s, svc, target))}
	}
	return out
}

func serviceToWire(s tenant.Scope, svc *control.Service, withTags bool) *w.Service {
	out := &w.Service{
		ServiceArn: wire.String(svc.ARN), ServiceName: wire.String(svc.Name), ClusterArn: wire.String(svc.ClusterARN),
		Status: wire.String(svc.Status), DesiredCount: wire.Int32(int32(svc.DesiredCount)),
		RunningCount: wire.Int32(int32(svc.RunningCount)), PendingCount: wire.Int32(int32(svc.PendingCount)),
		TaskDefinition: wire.String(svc.TaskDefinition), LaunchType: optStr(svc.LaunchType),
		CapacityProviderStrategy: strategyToWire(svc.CapacityProviderStrategy),
		PlatformVersion:          optStr(svc.PlatformVersion), NetworkConfiguration: networkConfigToWire(svc.NetworkConfiguration),
		DeploymentConfiguration:       deploymentConfigToWire(svc.DeploymentConfiguration),
		DeploymentController:          &w.DeploymentController{Type: wire.String(svc.DeploymentController)},
		SchedulingStrategy:            wire.String(svc.SchedulingStrategy),
		HealthCheckGracePeriodSeconds: wire.Int32(int32(svc.HealthCheckGracePeriodSeconds)),
		LoadBalancers:                 loadBalancersToWire(svc.LoadBalancers),
		EnableECSManagedTags:          wire.Bool(svc.EnableECSManagedTags), EnableExecuteCommand: wire.Bool(svc.EnableExecuteCommand),
		PropagateTags: wire.String(cmpOr(svc.PropagateTags, "NONE")), RoleArn: optStr(svc.RoleARN),
		CreatedAt: wire.NewTimestamp(svc.CreatedAt), CreatedBy: optStr(svc.CreatedBy),
		Deployments: []w.Deployment{}, Events: []w.ServiceEvent{}, Tags: []w.Tag{},
		PlacementConstraints: []w.PlacementConstraint{}, PlacementStrategy: []w.PlacementStrategy{},
		ServiceRegistries: registriesToWire(svc.ServiceRegistries),
	}
	if svc.LaunchType == control.LaunchTypeFargate || len(svc.CapacityProviderStrategy) > 0 {
		out.PlatformFamily = wire.String("Linux")
	}
	if withTags {
		out.Tags = tagsToWire(svc.Tags)
	}
	if p := svc.Primary(); p != nil {
		out.CurrentServiceDeployment = wire.String(control.ServiceDeploymentARN(s, svc, p))
	}
	for _, d := range svc.Deployments {
		out.Deployments = append(out.Deployments, w.Deployment{
			Id: wire.String(d.ID), Status: wire.String(d.Status), TaskDefinition: wire.String(d.TaskDefinition),
			DesiredCount: wire.Int32(int32(d.DesiredCount)), RunningCount: wire.Int32(int32(d.RunningCount)),
			PendingCount: wire.Int32(int32(d.PendingCount)), FailedTasks: wire.Int32(int32(d.FailedTasks)),
			CreatedAt: wire.NewTimestamp(d.CreatedAt), UpdatedAt: wire.NewTimestamp(d.UpdatedAt),
			LaunchType: optStr(d.LaunchType), CapacityProviderStrategy: strategyToWire(d.CapacityProvider),
			PlatformVersion: optStr(d.PlatformVersion), NetworkConfiguration: networkConfigToWire(d.NetworkConfiguration),
			RolloutState: wire.String(d.RolloutState), RolloutStateReason: wire.String(d.RolloutStateReason),
		})
	}
	for _, ev := range svc.Events {
		out.Events = append(out.Events, w.ServiceEvent{Id: wire.String(ev.ID), CreatedAt: wire.NewTimestamp(ev.CreatedAt), Message: wire.String(ev.Message)})
	}
	return out
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func deploymentConfigFromWire(in *w.DeploymentConfiguration) *control.DeploymentConfigurationInput {
	if in == nil {
		return nil
	}
	out := &control.DeploymentConfigurationInput{MaximumPercent: intFromWire(in.MaximumPercent), MinimumHealthyPercent: intFromWire(in.MinimumHealthyPercent)}
	if cb := in.DeploymentCircuitBreaker; cb != nil {
		out.CircuitBreaker = &control.CircuitBreaker{Enable: wire.ToBool(cb.Enable), Rollback: wire.ToBool(cb.Rollback)}
	}
	return out
}

func deploymentConfigToWire(in control.DeploymentConfiguration) *w.DeploymentConfiguration {
	return &w.DeploymentConfiguration{
		MaximumPercent: wire.Int32(int32(in.MaximumPercent)), MinimumHealthyPercent: wire.Int32(int32(in.MinimumHealthyPercent)),
		DeploymentCircuitBreaker: &w.DeploymentCircuitBreaker{Enable: wire.Bool(in.CircuitBreaker.Enable), Rollback: wire.Bool(in.CircuitBreaker.Rollback)},
	}
}

func networkConfigToWire(in *control.NetworkConfiguration) *w.NetworkConfiguration {
	if in == nil {
		return nil
	}
	return &w.NetworkConfiguration{AwsvpcConfiguration: &w.AwsVpcConfiguration{
		Subnets: in.Subnets, SecurityGroups: in.SecurityGroups, AssignPublicIp: wire.String(cmpOr(in.AssignPublicIP, "DISABLED")),
	}}
}

func loadBalancersFromWire(in []w.LoadBalancer) []control.ServiceLoadBalancer {
	var out []control.ServiceLoadBalancer
	for _, lb := range in {
		out = append(out, control.ServiceLoadBalancer{TargetGroupARN: wire.ToString(lb.TargetGroupArn), LoadBalancerName: wire.ToString(lb.LoadBalancerName),
			ContainerName: wire.ToString(lb.ContainerName), ContainerPort: int(wire.ToInt32(lb.ContainerPort))})
	}
	return out
}

func loadBalancersToWire(in []control.ServiceLoadBalancer) []w.LoadBalancer {
	out := []w.LoadBalancer{}
	for _, lb := range in {
		out = append(out, w.LoadBalancer{TargetGroupArn: optStr(lb.TargetGroupARN), LoadBalancerName: optStr(lb.LoadBalancerName),
			ContainerName: optStr(lb.ContainerName), ContainerPort: wire.Int32(int32(lb.ContainerPort))})
	}
	return out
}

func registriesFromWire(in []w.ServiceRegistry) []control.ServiceRegistry {
	var out []control.ServiceRegistry
	for _, r := range in {
		out = append(out, control.ServiceRegistry{RegistryARN: wire.ToString(r.RegistryArn), Port: int(wire.ToInt32(r.Port)),
			ContainerName: wire.ToString(r.ContainerName), ContainerPort: int(wire.ToInt32(r.ContainerPort))})
	}
	return out
}

func registriesToWire(in []control.ServiceRegistry) []w.ServiceRegistry {
	out := []w.ServiceRegistry{}
	for _, r := range in {
		sr := w.ServiceRegistry{RegistryArn: optStr(r.RegistryARN), ContainerName: optStr(r.ContainerName)}
		if r.Port != 0 {
			sr.Port = wire.Int32(int32(r.Port))
		}
		if r.ContainerPort != 0 {
			sr.ContainerPort = wire.Int32(int32(r.ContainerPort))
		}
		out = append(out, sr)
	}
	return out
}
