package control

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/scheduler"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// StoppedTaskRetention is how long STOPPED tasks stay describable (AWS:
// at least an hour).
const StoppedTaskRetention = 3 * time.Hour

// ErrClientTokenConflict: a clientToken was reused with other parameters.
var ErrClientTokenConflict = errdefs.New(errdefs.ErrConflict, "The specified client token has already been used with different parameters.")

func taskKey(s tenant.Scope, cluster, id string) string {
	return keyPrefix(s) + "tasks/" + cluster + "/" + id
}

func tokenKey(s tenant.Scope, token string) string {
	return keyPrefix(s) + "clienttokens/" + token
}

// RunTaskInput is what RunTask asks for.
type RunTaskInput struct {
	Cluster              string
	TaskDefinition       string
	Count                int
	LaunchType           string
	CapacityProvider     string
	NetworkConfiguration *NetworkConfiguration
	Overrides            *TaskOverride
	PlatformVersion      string
	Group                string
	StartedBy            string
	Tags                 []Tag
	EnableExecuteCommand bool
	ClientToken          string
	// onNodes places one task on each of these nodes (StartTask).
	onNodes []string
}

// RunTaskResult is what RunTask did: tasks created and placements missed.
type RunTaskResult struct {
	Tasks    []*Task
	Failures []Failure
}

type clientTokenRecord struct {
	Hash  string   `json:"hash"`
	Tasks []string `json:"tasks"` // task keys
}

func newTaskID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RunTask validates the request against the task definition, places the
// tasks, and stores them PROVISIONING with desiredStatus RUNNING, all in
// one transaction. Agents take it from there.
func (c *Control) RunTask(ctx context.Context, s tenant.Scope, in RunTaskInput) (*RunTaskResult, error) {
	if in.Count == 0 {
		in.Count = 1
	}
	if in.Count < 1 || in.Count > 10 {
		return nil, InvalidParameterf("count must be between 1 and 10.")
	}
	if len(in.StartedBy) > 128 {
		return nil, InvalidParameterf("startedBy must be at most 128 characters.")
	}
	if len(in.ClientToken) > 64 {
		return nil, InvalidParameterf("clientToken must be at most 64 characters.")
	}
	if err := ValidateTags(in.Tags); err != nil {
		return nil, err
	}
	cl, err := c.ActiveCluster(ctx, s, in.Cluster)
	if err != nil {
		return nil, err
	}
	td, err := c.runnableTaskDef(ctx, s, in.TaskDefinition)
	if err != nil {
		return nil, err
	}
	if err := resolveLaunchType(&in, cl); err != nil {
		return nil, err
	}
	cpu, mem, err := taskSize(td, in.Overrides, in.LaunchType)
	if err != nil {
		return nil, err
	}
	if err := validateRunNetwork(td, in); err != nil {
		return nil, err
	}
	if err := validateOverrides(td, in.Overrides); err != nil {
		return nil, err
	}
	if err := c.checkHostAccess(td); err != nil {
		return nil, err
	}
	if err := checkSupported(td); err != nil {
		return nil, err
	}
	if in.Group == "" {
		in.Group = "family:" + td.Family
	}
	hash := requestHash(in)

	res := &RunTaskResult{}
	now := c.now().UTC()
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		*res = RunTaskResult{}
		if in.ClientToken != "" {
			rec, err := get[clientTokenRecord](tx, tokenKey(s, in.ClientToken))
			switch {
			case err == nil && rec.Hash != hash:
				return ErrClientTokenConflict
			case err == nil:
				tasks, err := tokenTasks(tx, rec)
				if err != nil {
					return err
				}
				if tasks != nil {
					res.Tasks = tasks
					return nil
				}
				// Its tasks were purged: the token has expired, and
				// this request starts tasks of its own.
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		snap, err := schedulerNodes(tx)
		if err != nil {
			return err
		}
		req := scheduler.Request{Count: in.Count, CPU: cpu, Memory: mem, Ports: taskHostPorts(td)}
		var plan scheduler.Plan
		if in.onNodes != nil {
			plan = placeOnNodes(snap, in.onNodes, req)
		} else {
			plan = scheduler.Place(snap, req)
		}
		for _, reason := range plan.Failures {
			res.Failures = append(res.Failures, placementFailure(reason, req))
		}
		var keys []string
		for _, node := range plan.Nodes {
			t := c.newTask(s, cl, td, in, node, cpu, mem, now)
			key := taskKey(s, cl.Name, t.ID)
			if err := put(tx, key, t); err != nil {
				return err
			}
			if err := putNodeTask(tx, s, t, req); err != nil {
				return err
			}
			keys = append(keys, key)
			res.Tasks = append(res.Tasks, t)
		}
		if in.ClientToken != "" && len(keys) > 0 {
			return put(tx, tokenKey(s, in.ClientToken), &clientTokenRecord{Hash: hash, Tasks: keys})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, t := range res.Tasks {
		c.log.Info("task created", "cluster", t.Cluster, "task", t.ID, "family", t.Family, "node", t.Node)
	}
	if len(res.Tasks) > 0 {
		warnRepositoryCredentials(c.log, td)
	}
	return res, nil
}

// runnableTaskDef returns the task definition ref names if new tasks may
// be started from it: it exists (ErrTaskDefNotFound) and is ACTIVE. RunTask,
// StartTask, CreateService and UpdateService check through it; tasks a
// service already runs keep an INACTIVE revision (ApplyServicePlan).
func (c *Control) runnableTaskDef(ctx context.Context, s tenant.Scope, ref string) (*TaskDefinition, error) {
	td, err := c.DescribeTaskDefinition(ctx, s, ref)
	if err != nil {
		return nil, err
	}
	if td.Status != TaskDefinitionActive {
		return nil, InvalidParameterf("TaskDefinition is inactive")
	}
	return td, nil
}

// warnRepositoryCredentials says that a container's repositoryCredentials
// are not used: they name a Secrets Manager secret, and fargo has none.
// The task still runs; its images are pulled with the host's docker
// credentials (anonymous where it has none), so a task definition written
// for AWS runs unchanged when the image is public or the host is logged in.
func warnRepositoryCredentials(log *slog.Logger, td *TaskDefinition) {
	for _, cd := range td.ContainerDefinitions {
		if cd.RepositoryCredentials != nil {
			log.Warn("repositoryCredentials ignored: fargo has no Secrets Manager; the image is pulled with the host's docker credentials",
				"family", td.Family, "container", cd.Name, "credentialsParameter", cd.RepositoryCredentials.CredentialsParameter)
		}
	}
}

// tokenTasks reads the tasks a client token started; nil when any of them
// is gone (purged with its retention: the token has expired with it).
func tokenTasks(tx store.ReadTx, rec *clientTokenRecord) ([]*Task, error) {
	out := make([]*Task, 0, len(rec.Tasks))
	for _, k := range rec.Tasks {
		t, err := get[Task](tx, k)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

func (c *Control) newTask(s tenant.Scope, cl *Cluster, td *TaskDefinition, in RunTaskInput, node string, cpu, mem int, now time.Time) *Task {
	id := newTaskID()
	t := &Task{
		ID: id, ARN: s.ARN("ecs", "task/"+cl.Name+"/"+id), Cluster: cl.Name, ClusterARN: cl.ARN,
		TaskDefinitionARN: td.TaskDefinitionArn, Family: td.Family, Revision: td.Revision,
		LaunchType: in.LaunchType, CapacityProvider: in.CapacityProvider,
		Cpu: strconv.Itoa(cpu), Memory: strconv.Itoa(mem),
		Group: in.Group, StartedBy: in.StartedBy, Overrides: in.Overrides, NetworkConfiguration: in.NetworkConfiguration,
		EnableExecuteCommand: in.EnableExecuteCommand, Tags: in.Tags, ClientToken: in.ClientToken,
		AvailabilityZone: s.Region + "a", Node: node,
		DesiredStatus: TaskRunning, LastStatus: TaskProvisioning, HealthStatus: "UNKNOWN", Version: 1, CreatedAt: now,
	}
	if in.LaunchType == LaunchTypeEC2 {
		t.ContainerInstanceARN = ContainerInstanceARN(s, cl.Name, node)
	}
	if in.LaunchType == LaunchTypeFargate {
		t.PlatformVersion, t.PlatformFamily, t.EphemeralStorageGiB = "1.4.0", "Linux", 20
		if td.EphemeralStorage != nil && td.EphemeralStorage.SizeInGiB > 0 {
			t.EphemeralStorageGiB = td.EphemeralStorage.SizeInGiB
		}
		if o := in.Overrides; o != nil && o.EphemeralStorage != nil {
			t.EphemeralStorageGiB = o.EphemeralStorage.SizeInGiB
		}
	}
	if td.NetworkMode == NetworkModeAwsvpc {
		subnet := ""
		if in.NetworkConfiguration != nil && len(in.NetworkConfiguration.Subnets) > 0 {
			subnet = in.NetworkConfiguration.Subnets[0]
		}
		t.Attachments = []TaskAttachment{{ID: uuid.NewString(), Type: "ElasticNetworkInterface", Status: "PRECREATED",
			Details: []KeyValue{{Name: "subnetId", Value: subnet}}}}
	}
	for _, cd := range td.ContainerDefinitions {
		ct := Container{
			ARN:  s.ARN("ecs", "container/"+cl.Name+"/"+id+"/"+uuid.NewString()),
			Name: cd.Name, Image: cd.Image, LastStatus: ContainerPending, Essential: cd.IsEssential(),
		}
		cpu, mem, res := containerSize(&cd, in.Overrides)
		ct.Cpu = strconv.Itoa(cpu)
		if mem != nil {
			ct.Memory = strconv.Itoa(*mem)
		}
		if res != nil {
			ct.MemoryReservation = strconv.Itoa(*res)
		}
		t.Containers = append(t.Containers, ct)
	}
	return t
}

// containerSize is a container's cpu units, memory and memoryReservation
// (MiB, nil when unset) with the task's container override applied, as
// the agent enforces them.
func containerSize(cd *ContainerDefinition, o *TaskOverride) (cpu int, mem, res *int) {
	cpu, mem, res = cd.Cpu, cd.Memory, cd.MemoryReservation
	if o == nil {
		return cpu, mem, res
	}
	for _, co := range o.ContainerOverrides {
		if co.Name != cd.Name {
			continue
		}
		if co.Cpu != nil {
			cpu = *co.Cpu
		}
		if co.Memory != nil {
			mem = co.Memory
		}
		if co.MemoryReservation != nil {
			res = co.MemoryReservation
		}
	}
	return cpu, mem, res
}

// resolveLaunchType settles launchType xor capacityProviderStrategy (the
// cluster default strategy when neither is given).
func resolveLaunchType(in *RunTaskInput, cl *Cluster) error {
	if in.LaunchType != "" && in.CapacityProvider != "" {
		return InvalidParameterf("Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.")
	}
	if in.CapacityProvider == "" && in.LaunchType == "" && len(cl.DefaultCapacityProviderStrategy) > 0 {
		in.CapacityProvider = cl.DefaultCapacityProviderStrategy[0].CapacityProvider
	}
	switch in.CapacityProvider {
	case "":
	case CapacityProviderFargate, CapacityProviderFargateSpot:
		if !slices.Contains(cl.CapacityProviders, in.CapacityProvider) && len(cl.CapacityProviders) > 0 {
			return InvalidParameterf("The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.")
		}
		in.LaunchType = LaunchTypeFargate
	default:
		return InvalidParameterf("The specified capacity provider %s was not found.", in.CapacityProvider)
	}
	switch in.LaunchType {
	case LaunchTypeFargate:
	case "", LaunchTypeEC2:
		// fargo's hosts are the EC2 capacity of every cluster too: the EC2
		// launch type places on them like FARGATE (bridge and host network
		// modes need it).
		in.LaunchType = LaunchTypeEC2
	case "EXTERNAL":
		return InvalidParameterf("No Container Instances were found in your cluster.")
	default:
		return InvalidParameterf("launchType must be one of EC2, FARGATE, EXTERNAL.")
	}
	return nil
}

// taskSize is the task's CPU units and MiB, overrides included.
func taskSize(td *TaskDefinition, o *TaskOverride, launchType string) (int, int, error) {
	cpuS, memS := td.Cpu, td.Memory
	if o != nil && o.Cpu != "" {
		cpuS = o.Cpu
	}
	if o != nil && o.Memory != "" {
		memS = o.Memory
	}
	if launchType == LaunchTypeFargate && !slices.Contains(td.Compatibilities, CompatibilityFargate) {
		return 0, 0, InvalidParameterf("Task definition does not support launch_type FARGATE.")
	}
	// On EC2 a task without a task-level size reserves what its
	// containers ask for (cpu may be 0: no reservation, no limit).
	if launchType != LaunchTypeFargate && cpuS == "" {
		cpuS = strconv.Itoa(sumContainers(td, func(cd *ContainerDefinition) int { return cd.Cpu }))
	}
	if launchType != LaunchTypeFargate && memS == "" {
		memS = strconv.Itoa(sumContainers(td, func(cd *ContainerDefinition) int {
			if cd.Memory != nil {
				return *cd.Memory
			}
			if cd.MemoryReservation != nil {
				return *cd.MemoryReservation
			}
			return 0
		}))
	}
	cpu, err := ParseCPU(cpuS)
	if err != nil {
		return 0, 0, InvalidParameterf("Invalid 'cpu' setting for task.")
	}
	mem, err := ParseMemory(memS)
	if err != nil {
		return 0, 0, InvalidParameterf("Invalid 'memory' setting for task.")
	}
	if launchType == LaunchTypeFargate && !FargateMemoryValid(cpu, mem) {
		return 0, 0, InvalidParameterf("No Fargate configuration exists for given values: %d CPU, %d memory. See the Amazon ECS documentation for the valid values.", cpu, mem)
	}
	return cpu, mem, nil
}

// placeOnNodes places one task on each given node (StartTask), each a
// placement of its own.
func placeOnNodes(snap []scheduler.Node, ids []string, req scheduler.Request) scheduler.Plan {
	var plan scheduler.Plan
	req.Count = 1
	for _, id := range ids {
		i := slices.IndexFunc(snap, func(n scheduler.Node) bool { return n.ID == id })
		if i < 0 {
			plan.Failures = append(plan.Failures, scheduler.ReasonAgent)
			continue
		}
		one := scheduler.Place(snap[i:i+1], req)
		plan.Nodes = append(plan.Nodes, one.Nodes...)
		plan.Failures = append(plan.Failures, one.Failures...)
		if len(one.Nodes) == 1 {
			snap[i].Use(req)
		}
	}
	return plan
}

// placementFailure is a RunTask failure for a task the scheduler could
// not place.
func placementFailure(reason string, req scheduler.Request) Failure {
	detail := fmt.Sprintf("No capacity on fargo's hosts for a task of %d CPU units and %d MiB.", req.CPU, req.Memory)
	switch reason {
	case scheduler.ReasonPorts:
		detail = "The host ports the task binds (" + strings.Join(req.Ports, ", ") + ") are taken on every host by other tasks."
	case scheduler.ReasonAgent:
		detail = "No connected host can run the task."
	}
	return Failure{Reason: reason, Detail: detail}
}

func sumContainers(td *TaskDefinition, f func(*ContainerDefinition) int) int {
	n := 0
	for i := range td.ContainerDefinitions {
		n += f(&td.ContainerDefinitions[i])
	}
	return n
}

func validateRunNetwork(td *TaskDefinition, in RunTaskInput) error {
	nc := in.NetworkConfiguration
	if td.NetworkMode != NetworkModeAwsvpc {
		if nc != nil {
			return InvalidParameterf("Network Configuration is not valid for the given networkMode of this task definition.")
		}
		return nil
	}
	if nc == nil {
		return InvalidParameterf("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
	}
	if len(nc.Subnets) == 0 {
		return InvalidParameterf("subnets can not be empty.")
	}
	if len(nc.Subnets) > 16 || len(nc.SecurityGroups) > 5 {
		return InvalidParameterf("At most 16 subnets and 5 security groups can be specified.")
	}
	for _, sn := range nc.Subnets {
		if !strings.HasPrefix(sn, "subnet-") {
			return InvalidParameterf("Error retrieving subnet information for [%s]: The subnet ID '%s' is malformed", sn, sn)
		}
	}
	for _, sg := range nc.SecurityGroups {
		if !strings.HasPrefix(sg, "sg-") {
			// EC2's InvalidGroupId.Malformed, as ECS passes it on (wording: unverified).
			return InvalidParameterf("Error retrieving security group information for [%s]: Invalid id: \"%s\" (expecting \"sg-...\")", sg, sg)
		}
	}
	switch nc.AssignPublicIP {
	case "", "DISABLED", "ENABLED":
	default:
		return InvalidParameterf("assignPublicIp must be ENABLED or DISABLED.")
	}
	return nil
}

func validateOverrides(td *TaskDefinition, o *TaskOverride) error {
	if o == nil {
		return nil
	}
	if es := o.EphemeralStorage; es != nil && (es.SizeInGiB < 21 || es.SizeInGiB > 200) {
		return InvalidParameterf("The ephemeral storage size must be between 21 and 200 GiB.") // wording: unverified, as at registration
	}
	if err := checkOverrideFields(o); err != nil {
		return err
	}
	for _, co := range o.ContainerOverrides {
		if !slices.ContainsFunc(td.ContainerDefinitions, func(cd ContainerDefinition) bool { return cd.Name == co.Name }) {
			return InvalidParameterf("Override for container named %s is not a container in the TaskDefinition.", co.Name)
		}
	}
	return nil
}

func requestHash(in RunTaskInput) string {
	in.ClientToken = ""
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
