package control

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ServiceSpec is what CreateService asks for.
type ServiceSpec struct {
	Cluster                       string
	Name                          string
	TaskDefinition                string
	DesiredCount                  *int
	LaunchType                    string
	CapacityProviderStrategy      []CapacityProviderStrategyItem
	PlatformVersion               string
	NetworkConfiguration          *NetworkConfiguration
	DeploymentConfiguration       *DeploymentConfigurationInput
	DeploymentController          string
	SchedulingStrategy            string
	HealthCheckGracePeriodSeconds *int
	LoadBalancers                 []ServiceLoadBalancer
	ServiceRegistries             []ServiceRegistry
	EnableECSManagedTags          bool
	EnableExecuteCommand          bool
	PropagateTags                 string
	Role                          string
	Tags                          []Tag
	ClientToken                   string
	CreatedBy                     string
}

// DeploymentConfigurationInput is a deploymentConfiguration as given: nil
// fields take the defaults (create) or keep their value (update).
type DeploymentConfigurationInput struct {
	MaximumPercent        *int
	MinimumHealthyPercent *int
	CircuitBreaker        *CircuitBreaker
}

// ServiceUpdate is what UpdateService changes; nil fields stay as they are.
type ServiceUpdate struct {
	Cluster                       string
	Service                       string
	DesiredCount                  *int
	TaskDefinition                *string
	ForceNewDeployment            bool
	DeploymentConfiguration       *DeploymentConfigurationInput
	DeploymentController          *string
	NetworkConfiguration          *NetworkConfiguration
	PlatformVersion               *string
	HealthCheckGracePeriodSeconds *int
	EnableExecuteCommand          *bool
	PropagateTags                 *string
	// LoadBalancers replaces the service's loadBalancers (an empty list
	// removes them all) and starts a new deployment when they change.
	LoadBalancers *[]ServiceLoadBalancer
	// ServiceRegistries replaces the registries (nil: unchanged; empty:
	// none); a change starts a new deployment, as ECS does.
	ServiceRegistries *[]ServiceRegistry
}

// supportedController refuses the deployment controllers fargo lacks.
func supportedController(t string) error {
	switch t {
	case "", DeploymentControllerECS:
		return nil
	case "CODE_DEPLOY", "EXTERNAL":
		return InvalidParameterf("The %s deployment controller is not supported by fargo; use the ECS deployment controller.", t)
	}
	return InvalidParameterf("deploymentController type must be one of ECS, CODE_DEPLOY, EXTERNAL.")
}

// deploymentConfig fills in and checks a deployment configuration.
func deploymentConfig(cur *DeploymentConfiguration, in *DeploymentConfigurationInput, strategy string) (DeploymentConfiguration, error) {
	var out DeploymentConfiguration
	if cur != nil {
		out = *cur
	} else if strategy == SchedulingDaemon {
		out = DeploymentConfiguration{MaximumPercent: 100, MinimumHealthyPercent: 0}
	} else {
		out = DeploymentConfiguration{MaximumPercent: 200, MinimumHealthyPercent: 100}
	}
	if in != nil {
		if in.MaximumPercent != nil {
			out.MaximumPercent = *in.MaximumPercent
		}
		if in.MinimumHealthyPercent != nil {
			out.MinimumHealthyPercent = *in.MinimumHealthyPercent
		}
		if in.CircuitBreaker != nil {
			out.CircuitBreaker = *in.CircuitBreaker
		}
	}
	if out.MinimumHealthyPercent < 0 || out.MinimumHealthyPercent > 100 {
		return out, InvalidParameterf("Invalid deploymentConfiguration: minimumHealthyPercent must be between 0 and 100.")
	}
	if strategy != SchedulingDaemon && out.MaximumPercent < 100 {
		return out, InvalidParameterf("Invalid deploymentConfiguration: maximumPercent must be at least 100 for a service using the REPLICA scheduling strategy.")
	}
	// AWS documents that a DAEMON service's maximumPercent "should remain
	// at 100%", its default; the controller runs one task per node and
	// never a second beside it. The message is fargo's: AWS's own wording
	// for this case is not documented.
	// A service stored before fargo checked this keeps its value until an
	// update names maximumPercent.
	if strategy == SchedulingDaemon && out.MaximumPercent != 100 && (cur == nil || in != nil && in.MaximumPercent != nil) {
		return out, InvalidParameterf("Invalid deploymentConfiguration: maximumPercent must be 100 for a service using the DAEMON scheduling strategy.")
	}
	if out.MaximumPercent < 0 || out.MaximumPercent > 2000 {
		return out, InvalidParameterf("Invalid deploymentConfiguration: maximumPercent must be between 0 and 2000.")
	}
	return out, nil
}

// serviceTarget is a validated deployment target.
type serviceTarget struct {
	td               *TaskDefinition
	launchType       string
	capacityProvider []CapacityProviderStrategyItem
}

// serviceTaskDef is runnableTaskDef with a service's errors: the task
// definition is required, and one that does not exist is an invalid
// parameter.
func (c *Control) serviceTaskDef(ctx context.Context, s tenant.Scope, tdRef string) (*TaskDefinition, error) {
	if tdRef == "" {
		return nil, InvalidParameterf("TaskDefinition is required.")
	}
	td, err := c.runnableTaskDef(ctx, s, tdRef)
	if errors.Is(err, ErrTaskDefNotFound) {
		return nil, InvalidParameterf("TaskDefinition not found.")
	}
	return td, err
}

// resolveTarget checks a task definition, launch type and network
// configuration the way RunTask would.
func (c *Control) resolveTarget(ctx context.Context, s tenant.Scope, cl *Cluster, tdRef, launchType string, cps []CapacityProviderStrategyItem, nc *NetworkConfiguration) (*serviceTarget, error) {
	td, err := c.serviceTaskDef(ctx, s, tdRef)
	if err != nil {
		return nil, err
	}
	in := RunTaskInput{LaunchType: launchType, NetworkConfiguration: nc}
	if len(cps) > 0 {
		in.CapacityProvider = cps[0].CapacityProvider
	}
	if err := validateStrategyItems(cps); err != nil {
		return nil, err
	}
	if err := resolveLaunchType(&in, cl); err != nil {
		return nil, err
	}
	if _, _, err := taskSize(td, nil, in.LaunchType); err != nil {
		return nil, err
	}
	if err := validateRunNetwork(td, in); err != nil {
		return nil, err
	}
	if err := c.checkHostAccess(td); err != nil {
		return nil, err
	}
	if err := checkSupported(td); err != nil {
		return nil, err
	}
	t := &serviceTarget{td: td, launchType: in.LaunchType, capacityProvider: cps}
	if len(cps) > 0 {
		t.launchType = ""
	}
	return t, nil
}

func validateStrategyItems(cps []CapacityProviderStrategyItem) error {
	for _, it := range cps {
		if it.Weight < 0 || it.Weight > 1000 || it.Base < 0 || it.Base > 100000 {
			return InvalidParameterf("capacityProviderStrategy weight must be 0-1000 and base 0-100000.")
		}
	}
	return nil
}

// newDeployment starts a deployment of svc's current configuration.
func newDeployment(svc *Service, now time.Time, reason string) *Deployment {
	id := NewDeploymentID()
	if reason == "" {
		reason = "ECS deployment " + id + " in progress."
	}
	d := &Deployment{
		ID: id, Status: DeploymentPrimary, TaskDefinition: svc.TaskDefinition, DesiredCount: svc.DesiredCount,
		LaunchType: svc.LaunchType, CapacityProvider: svc.CapacityProviderStrategy, PlatformVersion: svc.PlatformVersion,
		NetworkConfiguration: svc.NetworkConfiguration, LoadBalancers: svc.LoadBalancers,
		RolloutState: RolloutInProgress, RolloutStateReason: reason,
		CreatedAt: now, UpdatedAt: now, DeploymentStatus: SvcDeployInProgress,
		DeploymentConfiguration: svc.DeploymentConfiguration,
	}
	if d.LaunchType == LaunchTypeFargate && d.PlatformVersion == "" {
		d.PlatformVersion = "LATEST"
	}
	for _, old := range svc.Deployments {
		d.SourceDeployments = append(d.SourceDeployments, old.ID)
	}
	return d
}

// pushDeployment makes d the PRIMARY; the previous ones turn ACTIVE.
func pushDeployment(svc *Service, d *Deployment, now time.Time) {
	for _, old := range svc.Deployments {
		old.Status = DeploymentActive
		old.UpdatedAt = now
		if old.DeploymentStatus == SvcDeployInProgress {
			old.DeploymentStatus, old.StatusReason, old.StoppedAt = SvcDeployStopped, "A newer deployment was started.", now
		}
	}
	svc.Deployments = append([]*Deployment{d}, svc.Deployments...)
	svc.SteadyAt = time.Time{}
}

func specHash(spec ServiceSpec) string {
	spec.ClientToken, spec.CreatedBy, spec.Tags = "", "", nil
	b, _ := json.Marshal(spec)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// CreateService validates a service and stores it with its first
// deployment, in one transaction. Repeating the same request returns the
// existing ACTIVE service; another request for a name in use fails.
//
// As on AWS, the name of an INACTIVE service may be used again (the new
// service replaces the old record), and a DRAINING service is never the
// answer to a repeated request: its tasks are still stopping and it will
// turn INACTIVE, so AWS answers InvalidParameterException "Creation of
// service was not idempotent." until it has (seen by Terraform and CI
// tools that recreate a service right after deleting it).
func (c *Control) CreateService(ctx context.Context, s tenant.Scope, spec ServiceSpec) (*Service, error) {
	if !nameRe.MatchString(spec.Name) {
		return nil, InvalidParameterf("Service name must be 1-255 letters, numbers, hyphens and underscores.")
	}
	if err := checkRole(spec.Role, true); err != nil {
		return nil, err
	}
	if err := supportedController(spec.DeploymentController); err != nil {
		return nil, err
	}
	if spec.LaunchType != "" && len(spec.CapacityProviderStrategy) > 0 {
		return nil, InvalidParameterf("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	strategy := spec.SchedulingStrategy
	switch strategy {
	case "":
		strategy = SchedulingReplica
	case SchedulingReplica, SchedulingDaemon:
	default:
		return nil, InvalidParameterf("schedulingStrategy must be one of REPLICA, DAEMON.")
	}
	desired := 0
	if spec.DesiredCount != nil {
		desired = *spec.DesiredCount
		if strategy == SchedulingDaemon {
			return nil, InvalidParameterf("The daemon scheduling strategy does not support a desired count for services.")
		}
	}
	if desired < 0 || desired > 10000 {
		return nil, InvalidParameterf("desiredCount must be between 0 and 10000.")
	}
	if strategy == SchedulingDaemon && (spec.LaunchType == LaunchTypeFargate || len(spec.CapacityProviderStrategy) > 0) {
		return nil, InvalidParameterf("The daemon scheduling strategy does not support the FARGATE launch type.")
	}
	grace := 0
	if spec.HealthCheckGracePeriodSeconds != nil {
		grace = *spec.HealthCheckGracePeriodSeconds
		if grace < 0 {
			return nil, InvalidParameterf("healthCheckGracePeriodSeconds must be at least 0.")
		}
	}
	switch spec.PropagateTags {
	case "", "NONE", "SERVICE", "TASK_DEFINITION":
	default:
		return nil, InvalidParameterf("propagateTags must be one of TASK_DEFINITION, SERVICE, NONE.")
	}
	if err := ValidateTags(spec.Tags); err != nil {
		return nil, err
	}
	dc, err := deploymentConfig(nil, spec.DeploymentConfiguration, strategy)
	if err != nil {
		return nil, err
	}
	cl, err := c.ActiveCluster(ctx, s, spec.Cluster)
	if err != nil {
		return nil, err
	}
	launch := spec.LaunchType
	if strategy == SchedulingDaemon && launch == "" {
		launch = LaunchTypeEC2
	}
	var target *serviceTarget
	if strategy == SchedulingDaemon {
		target, err = c.resolveDaemonTarget(ctx, s, spec.TaskDefinition, spec.NetworkConfiguration)
	} else {
		target, err = c.resolveTarget(ctx, s, cl, spec.TaskDefinition, launch, spec.CapacityProviderStrategy, spec.NetworkConfiguration)
	}
	if err != nil {
		return nil, err
	}
	if strategy == SchedulingDaemon {
		target.launchType = LaunchTypeEC2
	}
	if err := c.validateLoadBalancers(ctx, s, target.td, spec.LoadBalancers); err != nil {
		return nil, err
	}
	if err := c.checkServiceRegistries(ctx, s, target.td, spec.ServiceRegistries); err != nil {
		return nil, err
	}
	now := c.now().UTC()
	hash := specHash(spec)
	svc := &Service{
		Name: spec.Name, ARN: s.ARN("ecs", "service/"+cl.Name+"/"+spec.Name), Cluster: cl.Name, ClusterARN: cl.ARN,
		Status: ServiceActive, DesiredCount: desired, TaskDefinition: target.td.TaskDefinitionArn,
		LaunchType: target.launchType, CapacityProviderStrategy: target.capacityProvider, PlatformVersion: spec.PlatformVersion,
		NetworkConfiguration: spec.NetworkConfiguration, DeploymentConfiguration: dc,
		DeploymentController: DeploymentControllerECS, SchedulingStrategy: strategy, HealthCheckGracePeriodSeconds: grace,
		LoadBalancers: spec.LoadBalancers, ServiceRegistries: spec.ServiceRegistries, EnableECSManagedTags: spec.EnableECSManagedTags, EnableExecuteCommand: spec.EnableExecuteCommand,
		PropagateTags: spec.PropagateTags, RoleARN: spec.Role, Tags: spec.Tags, CreatedAt: now, CreatedBy: spec.CreatedBy,
		SpecHash: hash, Version: 1,
	}
	if svc.LaunchType == LaunchTypeFargate && svc.PlatformVersion == "" {
		svc.PlatformVersion = "LATEST"
	}
	svc.Deployments = []*Deployment{newDeployment(svc, now, "")}
	var out *Service
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		key := serviceKey(s, cl.Name, spec.Name)
		cur, err := get[Service](tx, key)
		switch {
		case err == nil && cur.Status != ServiceInactive:
			if cur.Status == ServiceActive && cur.SpecHash == hash {
				out = cur
				return nil
			}
			return InvalidParameterf("Creation of service was not idempotent.")
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		out = svc
		if err := put(tx, key, svc); err != nil {
			return err
		}
		return tx.Put(serviceIndexKey(s, cl.Name, svc.Name), nil)
	})
	if err != nil {
		return nil, err
	}
	if out == svc {
		c.log.Info("service created", "cluster", cl.Name, "service", svc.Name, "taskDefinition", svc.TaskDefinition, "desired", desired)
	}
	return out, nil
}

// resolveDaemonTarget checks a DAEMON service's task definition. fargo's
// nodes stand in for the container instances a DAEMON service runs on.
func (c *Control) resolveDaemonTarget(ctx context.Context, s tenant.Scope, tdRef string, nc *NetworkConfiguration) (*serviceTarget, error) {
	td, err := c.serviceTaskDef(ctx, s, tdRef)
	if err != nil {
		return nil, err
	}
	if err := validateRunNetwork(td, RunTaskInput{NetworkConfiguration: nc}); err != nil {
		return nil, err
	}
	if _, _, err := taskSize(td, nil, LaunchTypeEC2); err != nil {
		return nil, InvalidParameterf("A DAEMON service on fargo needs a task definition with task-level cpu and memory.")
	}
	if err := c.checkHostAccess(td); err != nil {
		return nil, err
	}
	if err := checkSupported(td); err != nil {
		return nil, err
	}
	return &serviceTarget{td: td, launchType: LaunchTypeEC2}, nil
}

// serviceName resolves a service reference (a name or an ARN, long
// service/CLUSTER/NAME or short service/NAME) of a cluster.
func serviceName(s tenant.Scope, cluster, ref string) (string, bool) {
	if strings.HasPrefix(ref, "arn:") {
		res, err := parseARN(s, ref)
		if err != nil || res.kind != "service" {
			return "", false
		}
		cl, name, ok := strings.Cut(res.id, "/")
		if !ok {
			return res.id, nameRe.MatchString(res.id)
		}
		if cl != cluster {
			return "", false
		}
		ref = name
	}
	return ref, nameRe.MatchString(ref)
}

// mutateService applies fn to a stored service in one transaction.
func (c *Control) mutateService(ctx context.Context, s tenant.Scope, clusterRef, ref string, fn func(tx store.Tx, svc *Service) error) (*Service, error) {
	cl, err := c.ActiveCluster(ctx, s, clusterRef)
	if err != nil {
		return nil, err
	}
	name, ok := serviceName(s, cl.Name, ref)
	if !ok {
		return nil, ErrServiceNotFound
	}
	var out *Service
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		key := serviceKey(s, cl.Name, name)
		svc, err := get[Service](tx, key)
		if errors.Is(err, store.ErrNotFound) {
			return ErrServiceNotFound
		}
		if err != nil {
			return err
		}
		if err := fn(tx, svc); err != nil {
			return err
		}
		svc.Version++
		out = svc
		return put(tx, key, svc)
	})
	if err != nil {
		return nil, err
	}
	return out, c.fillCounts(ctx, s, out)
}

// UpdateService changes a service. Changing the task definition, network
// configuration, platform version or loadBalancers, or
// forceNewDeployment, starts a new deployment; desiredCount alone changes
// the PRIMARY's count.
func (c *Control) UpdateService(ctx context.Context, s tenant.Scope, u ServiceUpdate) (*Service, error) {
	if u.DeploymentController != nil {
		if err := supportedController(*u.DeploymentController); err != nil {
			return nil, err
		}
	}
	if u.DesiredCount != nil && (*u.DesiredCount < 0 || *u.DesiredCount > 10000) {
		return nil, InvalidParameterf("desiredCount must be between 0 and 10000.")
	}
	if u.HealthCheckGracePeriodSeconds != nil && *u.HealthCheckGracePeriodSeconds < 0 {
		return nil, InvalidParameterf("healthCheckGracePeriodSeconds must be at least 0.")
	}
	cl, err := c.ActiveCluster(ctx, s, u.Cluster)
	if err != nil {
		return nil, err
	}
	// Validate the new target outside the write transaction (task
	// definitions are immutable once registered).
	cur, err := c.getService(ctx, s, cl.Name, u.Service)
	if err != nil {
		return nil, err
	}
	if cur.Status != ServiceActive {
		return nil, ErrServiceNotActive
	}
	var target *serviceTarget
	if u.TaskDefinition != nil || u.NetworkConfiguration != nil {
		tdRef := cur.TaskDefinition
		if u.TaskDefinition != nil {
			tdRef = *u.TaskDefinition
		}
		nc := cur.NetworkConfiguration
		if u.NetworkConfiguration != nil {
			nc = u.NetworkConfiguration
		}
		if cur.SchedulingStrategy == SchedulingDaemon {
			target, err = c.resolveDaemonTarget(ctx, s, tdRef, nc)
		} else {
			launch := cur.LaunchType
			target, err = c.resolveTarget(ctx, s, cl, tdRef, launch, cur.CapacityProviderStrategy, nc)
		}
		if err != nil {
			return nil, err
		}
	}
	if err := c.checkUpdateLoadBalancers(ctx, s, cur, target, u.LoadBalancers); err != nil {
		return nil, err
	}
	if u.ServiceRegistries != nil {
		td := (*TaskDefinition)(nil)
		if target != nil {
			td = target.td
		} else if td, err = c.serviceTaskDef(ctx, s, cur.TaskDefinition); err != nil {
			return nil, err
		}
		if err := c.checkServiceRegistries(ctx, s, td, *u.ServiceRegistries); err != nil {
			return nil, err
		}
	}
	now := c.now().UTC()
	return c.mutateService(ctx, s, cl.Name, cur.Name, func(_ store.Tx, svc *Service) error {
		if svc.Status != ServiceActive {
			return ErrServiceNotActive
		}
		dc, err := deploymentConfig(&svc.DeploymentConfiguration, u.DeploymentConfiguration, svc.SchedulingStrategy)
		if err != nil {
			return err
		}
		svc.DeploymentConfiguration = dc
		if u.DesiredCount != nil {
			if svc.SchedulingStrategy == SchedulingDaemon {
				return InvalidParameterf("The daemon scheduling strategy does not support a desired count for services.")
			}
			svc.DesiredCount = *u.DesiredCount
		}
		if u.HealthCheckGracePeriodSeconds != nil {
			svc.HealthCheckGracePeriodSeconds = *u.HealthCheckGracePeriodSeconds
		}
		if u.EnableExecuteCommand != nil {
			svc.EnableExecuteCommand = *u.EnableExecuteCommand
		}
		if u.PropagateTags != nil {
			svc.PropagateTags = *u.PropagateTags
		}
		redeploy := u.ForceNewDeployment
		tdChanged := false
		if target != nil && target.td.TaskDefinitionArn != svc.TaskDefinition {
			svc.TaskDefinition, redeploy, tdChanged = target.td.TaskDefinitionArn, true, true
		}
		if u.NetworkConfiguration != nil && !reflect.DeepEqual(u.NetworkConfiguration, svc.NetworkConfiguration) {
			svc.NetworkConfiguration, redeploy = u.NetworkConfiguration, true
		}
		if u.PlatformVersion != nil && *u.PlatformVersion != svc.PlatformVersion {
			svc.PlatformVersion, redeploy = *u.PlatformVersion, true
		}
		if u.LoadBalancers != nil && !sameLoadBalancers(*u.LoadBalancers, svc.LoadBalancers) {
			svc.LoadBalancers, redeploy = *u.LoadBalancers, true
		}
		if u.ServiceRegistries != nil && !reflect.DeepEqual(*u.ServiceRegistries, svc.ServiceRegistries) &&
			(len(*u.ServiceRegistries) > 0 || len(svc.ServiceRegistries) > 0) {
			svc.ServiceRegistries, redeploy = *u.ServiceRegistries, true
		}
		if redeploy {
			d := newDeployment(svc, now, "")
			pushDeployment(svc, d, now)
			if tdChanged {
				svc.Throttle = ServiceThrottle{}
			}
		} else if p := svc.Primary(); p != nil && p.DesiredCount != svc.DesiredCount {
			p.DesiredCount, p.UpdatedAt = svc.DesiredCount, now
		}
		return nil
	})
}

// DeleteService makes a service DRAINING: its desired count drops to 0,
// the controller stops its tasks and then marks it INACTIVE. Without
// force a REPLICA service must be scaled to 0 first.
func (c *Control) DeleteService(ctx context.Context, s tenant.Scope, cluster, ref string, force bool) (*Service, error) {
	now := c.now().UTC()
	return c.mutateService(ctx, s, cluster, ref, func(_ store.Tx, svc *Service) error {
		if svc.Status != ServiceActive {
			return ErrServiceNotActive
		}
		if !force && svc.SchedulingStrategy == SchedulingReplica && svc.DesiredCount > 0 {
			return InvalidParameterf("The service cannot be stopped while it is scaled above 0.")
		}
		svc.Status, svc.DesiredCount, svc.SteadyAt = ServiceDraining, 0, time.Time{}
		for _, d := range svc.Deployments {
			d.DesiredCount, d.UpdatedAt = 0, now
		}
		return nil
	})
}

// getService reads one service (any status) of a cluster by reference.
func (c *Control) getService(ctx context.Context, s tenant.Scope, cluster, ref string) (*Service, error) {
	name, ok := serviceName(s, cluster, ref)
	if !ok {
		return nil, ErrServiceNotFound
	}
	kv, err := c.st.Get(ctx, serviceKey(s, cluster, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrServiceNotFound
	}
	if err != nil {
		return nil, err
	}
	return decode[Service](kv)
}

// fillCounts computes a service's running and pending counts from its
// tasks, per deployment and in total.
func (c *Control) fillCounts(ctx context.Context, s tenant.Scope, svc *Service) error {
	return c.st.View(ctx, func(tx store.ReadTx) error {
		tasks, err := serviceTasks(tx, s, svc)
		if err != nil {
			return err
		}
		setCounts(svc, tasks)
		return nil
	})
}

// serviceTasks reads the tasks of a service (STOPPED ones still kept
// included).
func serviceTasks(tx store.ReadTx, s tenant.Scope, svc *Service) ([]*Task, error) {
	kvs, err := tx.List(keyPrefix(s) + "tasks/" + svc.Cluster + "/")
	if err != nil {
		return nil, err
	}
	var out []*Task
	group := svc.Group()
	for _, kv := range kvs {
		// Cheap pre-filter before decoding.
		if !strings.Contains(string(kv.Value), `"group":"`+group+`"`) {
			continue
		}
		t, err := decode[Task](kv)
		if err != nil {
			return nil, err
		}
		if t.Group == group {
			out = append(out, t)
		}
	}
	return out, nil
}

// setCounts fills RunningCount and PendingCount.
func setCounts(svc *Service, tasks []*Task) {
	svc.RunningCount, svc.PendingCount = 0, 0
	for _, d := range svc.Deployments {
		d.RunningCount, d.PendingCount = 0, 0
	}
	for _, t := range tasks {
		running := t.LastStatus == TaskRunning
		pending := TaskStatusIndex(t.LastStatus) < TaskStatusIndex(TaskRunning)
		if !running && !pending {
			continue
		}
		d := svc.Deployment(t.StartedBy)
		if running {
			svc.RunningCount++
			if d != nil {
				d.RunningCount++
			}
		} else {
			svc.PendingCount++
			if d != nil {
				d.PendingCount++
			}
		}
	}
}

// DescribeServices returns the services named (at most 10) of a cluster
// and MISSING failures for the rest; INACTIVE services still describe.
func (c *Control) DescribeServices(ctx context.Context, s tenant.Scope, cluster string, refs []string) ([]*Service, []Failure, error) {
	if len(refs) == 0 {
		return nil, nil, InvalidParameterf("Services cannot be empty.")
	}
	if len(refs) > 10 {
		return nil, nil, InvalidParameterf("Services cannot have more than 10 elements")
	}
	cl, err := c.ActiveCluster(ctx, s, cluster)
	if err != nil {
		return nil, nil, err
	}
	var out []*Service
	var failures []Failure
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		out, failures = nil, nil
		var tasks []*Task
		for _, ref := range refs {
			name, ok := serviceName(s, cl.Name, ref)
			var svc *Service
			var err error
			if ok {
				svc, err = get[Service](tx, serviceKey(s, cl.Name, name))
			}
			if !ok || errors.Is(err, store.ErrNotFound) {
				failures = append(failures, Failure{ARN: missingServiceARN(s, cl.Name, ref), Reason: "MISSING"})
				continue
			}
			if err != nil {
				return err
			}
			if tasks == nil {
				kvs, err := tx.List(keyPrefix(s) + "tasks/" + cl.Name + "/")
				if err != nil {
					return err
				}
				tasks = make([]*Task, 0, len(kvs))
				for _, kv := range kvs {
					t, err := cachedDecode[Task](c, kv) // read only, by setCounts
					if err != nil {
						return err
					}
					tasks = append(tasks, t)
				}
			}
			var mine []*Task
			for _, t := range tasks {
				if t.Group == svc.Group() {
					mine = append(mine, t)
				}
			}
			setCounts(svc, mine)
			out = append(out, svc)
		}
		return nil
	})
	return out, failures, err
}

func missingServiceARN(s tenant.Scope, cluster, ref string) string {
	if strings.HasPrefix(ref, "arn:") {
		return ref
	}
	return s.ARN("ecs", "service/"+cluster+"/"+ref)
}

// ListServicesFilter narrows ListServices.
type ListServicesFilter struct {
	LaunchType         string
	SchedulingStrategy string
}

// ListServices lists the ARNs of a cluster's ACTIVE services (10 a page
// by default).
func (c *Control) ListServices(ctx context.Context, s tenant.Scope, cluster string, f ListServicesFilter, p Page) ([]string, string, error) {
	switch f.SchedulingStrategy {
	case "", SchedulingReplica, SchedulingDaemon:
	default:
		return nil, "", InvalidParameterf("schedulingStrategy must be one of REPLICA, DAEMON.")
	}
	cl, err := c.ActiveCluster(ctx, s, cluster)
	if err != nil {
		return nil, "", err
	}
	kvs, err := c.st.List(ctx, servicesPrefix(s, cl.Name))
	if err != nil {
		return nil, "", err
	}
	var arns []string
	for _, kv := range kvs {
		svc, err := decode[Service](kv)
		if err != nil {
			return nil, "", err
		}
		switch {
		case svc.Status != ServiceActive:
		case f.LaunchType != "" && svc.LaunchType != f.LaunchType:
		case f.SchedulingStrategy != "" && svc.SchedulingStrategy != f.SchedulingStrategy:
		default:
			arns = append(arns, svc.ARN)
		}
	}
	return paginate("ListServices", arns, p)
}

// activeServiceCount counts a cluster's ACTIVE and DRAINING services.
func activeServiceCount(tx store.ReadTx, s tenant.Scope, cluster string) (active, draining int, err error) {
	kvs, err := tx.List(servicesPrefix(s, cluster))
	if err != nil {
		return 0, 0, err
	}
	for _, kv := range kvs {
		svc, err := decode[Service](kv)
		if err != nil {
			return 0, 0, err
		}
		switch svc.Status {
		case ServiceActive:
			active++
		case ServiceDraining:
			draining++
		}
	}
	return active, draining, nil
}
