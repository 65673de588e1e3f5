package e2e

import (
	"bufio"
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// profileValue reads key of section from one of the INI files fargo
// writes for the AWS CLI (its credentials or its config).
func (in *instance) profileValue(file, section, key string) string {
	in.t.Helper()
	f, err := os.Open(filepath.Join(in.home, ".aws", file))
	if err != nil {
		in.t.Fatalf("the profile fargo wrote: %v", err)
	}
	defer f.Close()
	cur := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "[") {
			cur = strings.Trim(l, "[]")
			continue
		}
		if k, v, ok := strings.Cut(l, "="); ok && cur == section && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	in.t.Fatalf("no %s in [%s] of %s", key, section, file)
	return ""
}

// ecsClient is a Go SDK v2 ECS client of the instance, set up as a user's
// would be from the "fargo" profile: its key, its region, its endpoint.
// Static credentials: the SDK never asks the EC2 metadata service.
func (in *instance) ecsClient() *ecs.Client {
	in.t.Helper()
	id := in.profileValue("credentials", "fargo", "aws_access_key_id")
	secret := in.profileValue("credentials", "fargo", "aws_secret_access_key")
	return ecs.NewFromConfig(aws.Config{
		Region:       in.profileValue("config", "profile fargo", "region"),
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint: aws.String("http://" + in.listen),
	})
}

// sdkErr asserts that err is the modeled ECS error E, and its message
// contains msg.
func sdkErr[E interface {
	*types.InvalidParameterException | *types.ServiceNotActiveException | *types.ServiceNotFoundException
	error
	ErrorMessage() string
}](t *testing.T, what string, err error, msg string) {
	t.Helper()
	var target E
	if err == nil {
		t.Errorf("%s: succeeded, want %T", what, target)
		return
	}
	if !errors.As(err, &target) {
		t.Errorf("%s: %v (%T), want %T", what, err, err, target)
		return
	}
	if !strings.Contains(target.ErrorMessage(), msg) {
		t.Errorf("%s: message %q, want one containing %q", what, target.ErrorMessage(), msg)
	}
}

// TestServiceSDK drives services through the Go SDK v2 with real
// containers, on one fargo: CreateService and the ServicesStable /
// ServicesInactive waiters (failing fast on MISSING), ListServices filters
// and pagination, tags, ListServiceDeployments and
// DescribeServiceDeployments after an update, the errors AWS answers to bad
// input (with no partial service left), and a DAEMON service on this host.
func TestServiceSDK(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("sdk")
	ctx := context.Background()
	c := in.ecsClient()

	register := func(family, greeting string, compat types.Compatibility) string {
		t.Helper()
		out, err := c.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
			Family: aws.String(family), NetworkMode: types.NetworkModeAwsvpc, RequiresCompatibilities: []types.Compatibility{compat},
			Cpu: aws.String("256"), Memory: aws.String("512"),
			ContainerDefinitions: []types.ContainerDefinition{{
				Name: aws.String("app"), Image: aws.String(image), Essential: aws.Bool(true),
				PortMappings: []types.PortMapping{{ContainerPort: aws.Int32(8080)}},
				Environment:  []types.KeyValuePair{{Name: aws.String("GREETING"), Value: aws.String(greeting)}},
			}},
		})
		if err != nil {
			t.Fatalf("register %s: %v", family, err)
		}
		return aws.ToString(out.TaskDefinition.TaskDefinitionArn)
	}
	web1 := register("sdk", "one", types.CompatibilityFargate)
	web2 := register("sdk", "two", types.CompatibilityFargate)
	gone := register("sdk", "gone", types.CompatibilityFargate)
	if _, err := c.DeregisterTaskDefinition(ctx, &ecs.DeregisterTaskDefinitionInput{TaskDefinition: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	daemonTD := register("sdk-daemon", "daemon", types.CompatibilityEc2)
	netcfg := &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
		Subnets: []string{"subnet-0123456789abcdef0"}, AssignPublicIp: types.AssignPublicIpDisabled}}
	fargate := func(name, td string, desired int32) *ecs.CreateServiceInput {
		return &ecs.CreateServiceInput{ServiceName: aws.String(name), TaskDefinition: aws.String(td), DesiredCount: aws.Int32(desired),
			LaunchType: types.LaunchTypeFargate, NetworkConfiguration: netcfg}
	}

	// Create: a REPLICA service of 2 whose tasks carry its tags, an idle
	// one, and a DAEMON service on this host's container instance.
	webIn := fargate("web", web1, 2)
	webIn.Tags = []types.Tag{{Key: aws.String("env"), Value: aws.String("e2e")}}
	webIn.PropagateTags = types.PropagateTagsService
	created, err := c.CreateService(ctx, webIn)
	if err != nil {
		t.Fatalf("CreateService web: %v", err)
	}
	if s := created.Service; aws.ToString(s.Status) != "ACTIVE" || len(s.Deployments) != 1 || s.Deployments[0].FailedTasks != 0 ||
		s.Deployments[0].RolloutState != types.DeploymentRolloutStateInProgress ||
		s.PropagateTags != types.PropagateTagsService {
		t.Errorf("CreateService web answered %+v", s)
	}
	idleIn := fargate("idle", web1, 0)
	idle, err := c.CreateService(ctx, idleIn)
	if err != nil {
		t.Fatalf("CreateService idle: %v", err)
	}
	// The same request again is the same service, not a second one.
	if again, err := c.CreateService(ctx, idleIn); err != nil || aws.ToString(again.Service.ServiceArn) != aws.ToString(idle.Service.ServiceArn) {
		t.Errorf("repeated CreateService idle: %v", err)
	}
	if _, err := c.CreateService(ctx, &ecs.CreateServiceInput{ServiceName: aws.String("daemon"), TaskDefinition: aws.String(daemonTD),
		SchedulingStrategy: types.SchedulingStrategyDaemon, LaunchType: types.LaunchTypeEc2, NetworkConfiguration: netcfg}); err != nil {
		t.Fatalf("CreateService daemon: %v", err)
	}

	all := []string{"web", "idle", "daemon"}
	stable := ecs.NewServicesStableWaiter(c, func(o *ecs.ServicesStableWaiterOptions) { o.MinDelay, o.MaxDelay = time.Second, 2*time.Second })
	if err := stable.Wait(ctx, &ecs.DescribeServicesInput{Services: all}, 3*time.Minute); err != nil {
		t.Fatalf("ServicesStable: %v\nfargo:\n%s", err, in.out)
	}
	desc, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: all})
	if err != nil || len(desc.Services) != 3 {
		t.Fatalf("DescribeServices: %v %+v", err, desc)
	}
	for i, want := range []int32{2, 0, 1} {
		s := desc.Services[i]
		if s.DesiredCount != want || s.RunningCount != want || len(s.Deployments) != 1 {
			t.Errorf("%s after ServicesStable: desired %d running %d deployments %d, want %d, %d, 1",
				aws.ToString(s.ServiceName), s.DesiredCount, s.RunningCount, len(s.Deployments), want, want)
		}
	}
	webDeployment := aws.ToString(desc.Services[0].Deployments[0].Id)
	// ServicesStable does not wait for the rollout to complete (its tasks
	// healthy): wait for it, so that the first deployment ends SUCCESSFUL.
	sdkWaitCompleted(t, c, "web", webDeployment)

	// The web tasks: the service's group, its deployment, its tags.
	tasks := sdkServiceTasks(t, c, "web", types.DesiredStatusRunning)
	if len(tasks) != 2 {
		t.Fatalf("web runs %d tasks, want 2", len(tasks))
	}
	for _, task := range tasks {
		if aws.ToString(task.Group) != "service:web" || aws.ToString(task.StartedBy) != webDeployment {
			t.Errorf("web task: group %q startedBy %q, want service:web and %s", aws.ToString(task.Group), aws.ToString(task.StartedBy), webDeployment)
		}
		if tags := tagMap(task.Tags); tags["env"] != "e2e" {
			t.Errorf("web task tags %v, want the service's env=e2e (propagateTags SERVICE)", tags)
		}
	}

	// DAEMON: one task, on this host's container instance.
	cis, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{})
	if err != nil || len(cis.ContainerInstanceArns) != 1 {
		t.Fatalf("ListContainerInstances: %v %+v", err, cis)
	}
	dtasks := sdkServiceTasks(t, c, "daemon", types.DesiredStatusRunning)
	if len(dtasks) != 1 || aws.ToString(dtasks[0].LastStatus) != "RUNNING" || dtasks[0].LaunchType != types.LaunchTypeEc2 ||
		aws.ToString(dtasks[0].ContainerInstanceArn) != cis.ContainerInstanceArns[0] || aws.ToString(dtasks[0].TaskDefinitionArn) != daemonTD {
		t.Errorf("daemon tasks: %d, want 1 RUNNING EC2 task of %s on %s: %+v", len(dtasks), daemonTD, cis.ContainerInstanceArns[0], dtasks)
	}

	// The waiters fail fast on a missing service: the first answer has
	// failures[].reason MISSING (the default 15 s delay would show).
	for name, wait := range map[string]func() error{
		"ServicesStable": func() error {
			return ecs.NewServicesStableWaiter(c).Wait(ctx, &ecs.DescribeServicesInput{Services: []string{"web", "no-such-service"}}, 2*time.Minute)
		},
		"ServicesInactive": func() error {
			return ecs.NewServicesInactiveWaiter(c).Wait(ctx, &ecs.DescribeServicesInput{Services: []string{"no-such-service"}}, 2*time.Minute)
		},
	} {
		start := time.Now()
		err := wait()
		if err == nil || !strings.Contains(err.Error(), "Failure") {
			t.Errorf("%s on a missing service: %v, want the waiter's failure state", name, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%s on a missing service took %v to fail", name, d)
		}
	}

	// ListServices: filters, and pages of one.
	list := func(in *ecs.ListServicesInput) []string {
		t.Helper()
		var names []string
		pages := 0
		for p := ecs.NewListServicesPaginator(c, in); p.HasMorePages(); pages++ {
			out, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("ListServices %+v: %v", in, err)
			}
			if in.MaxResults != nil && len(out.ServiceArns) > int(*in.MaxResults) {
				t.Errorf("ListServices maxResults %d answered %d", *in.MaxResults, len(out.ServiceArns))
			}
			for _, arn := range out.ServiceArns {
				names = append(names, arn[strings.LastIndex(arn, "/")+1:])
			}
		}
		if in.MaxResults != nil && pages < len(names) {
			t.Errorf("ListServices maxResults %d: %d names in %d pages", *in.MaxResults, len(names), pages)
		}
		slices.Sort(names)
		return names
	}
	one := aws.Int32(1)
	for _, tc := range []struct {
		in   *ecs.ListServicesInput
		want []string
	}{
		{&ecs.ListServicesInput{MaxResults: one}, []string{"daemon", "idle", "web"}},
		{&ecs.ListServicesInput{}, []string{"daemon", "idle", "web"}},
		{&ecs.ListServicesInput{LaunchType: types.LaunchTypeFargate, MaxResults: one}, []string{"idle", "web"}},
		{&ecs.ListServicesInput{LaunchType: types.LaunchTypeEc2}, []string{"daemon"}},
		{&ecs.ListServicesInput{SchedulingStrategy: types.SchedulingStrategyDaemon}, []string{"daemon"}},
		{&ecs.ListServicesInput{SchedulingStrategy: types.SchedulingStrategyReplica, MaxResults: one}, []string{"idle", "web"}},
		{&ecs.ListServicesInput{SchedulingStrategy: types.SchedulingStrategyDaemon, LaunchType: types.LaunchTypeFargate}, nil},
	} {
		if got := list(tc.in); !slices.Equal(got, tc.want) {
			t.Errorf("ListServices launchType %q schedulingStrategy %q maxResults %v: %v, want %v",
				tc.in.LaunchType, tc.in.SchedulingStrategy, aws.ToInt32(tc.in.MaxResults), got, tc.want)
		}
	}
	// The first page of one says there is more.
	if out, err := c.ListServices(ctx, &ecs.ListServicesInput{MaxResults: one}); err != nil || len(out.ServiceArns) != 1 || out.NextToken == nil {
		t.Errorf("ListServices maxResults 1: %v %+v", err, out)
	}

	// Tags on the service.
	webARN := created.Service.ServiceArn
	if _, err := c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: webARN, Tags: []types.Tag{
		{Key: aws.String("team"), Value: aws.String("core")}, {Key: aws.String("tier"), Value: aws.String("front")}}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: webARN, TagKeys: []string{"tier"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	wantTags := map[string]string{"env": "e2e", "team": "core"}
	if out, err := c.ListTagsForResource(ctx, &ecs.ListTagsForResourceInput{ResourceArn: webARN}); err != nil || !maps.Equal(tagMap(out.Tags), wantTags) {
		t.Errorf("ListTagsForResource: %v %+v, want %v", err, out, wantTags)
	}
	withTags, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{"web"}, Include: []types.ServiceField{types.ServiceFieldTags}})
	if err != nil || len(withTags.Services) != 1 || !maps.Equal(tagMap(withTags.Services[0].Tags), wantTags) {
		t.Errorf("DescribeServices include TAGS: %v %+v, want %v", err, withTags, wantTags)
	}
	if out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{"web"}}); err != nil || len(out.Services[0].Tags) != 0 {
		t.Errorf("DescribeServices without include TAGS shows tags: %v %+v", err, out)
	}
	_, err = c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: webARN, Tags: []types.Tag{{Key: aws.String("aws:owner"), Value: aws.String("me")}}})
	sdkErr[*types.InvalidParameterException](t, "TagResource aws: key", err, "")

	// A rolling update, seen through the service deployment APIs.
	upd, err := c.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), TaskDefinition: aws.String(web2)})
	if err != nil {
		t.Fatalf("UpdateService web: %v", err)
	}
	if d := upd.Service.Deployments; len(d) != 2 || aws.ToString(d[0].Status) != "PRIMARY" || aws.ToString(d[0].TaskDefinition) != web2 ||
		aws.ToString(d[1].Id) != webDeployment {
		t.Errorf("UpdateService deployments: %+v", d)
	}
	newDeployment := aws.ToString(upd.Service.Deployments[0].Id)
	if err := stable.Wait(ctx, &ecs.DescribeServicesInput{Services: []string{"web"}}, 3*time.Minute); err != nil {
		t.Fatalf("ServicesStable after the update: %v", err)
	}
	svc := sdkWaitCompleted(t, c, "web", newDeployment)
	if aws.ToString(svc.TaskDefinition) != web2 {
		t.Errorf("after the update the service runs %s, want %s", aws.ToString(svc.TaskDefinition), web2)
	}
	for _, task := range sdkServiceTasks(t, c, "web", types.DesiredStatusRunning) {
		if aws.ToString(task.TaskDefinitionArn) != web2 || aws.ToString(task.StartedBy) != newDeployment {
			t.Errorf("after the update a task of %s started by %s runs", aws.ToString(task.TaskDefinitionArn), aws.ToString(task.StartedBy))
		}
	}
	deps, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Service: aws.String("web")})
	if err != nil || len(deps.ServiceDeployments) != 2 {
		t.Fatalf("ListServiceDeployments: %v %+v", err, deps)
	}
	var arns []string
	for _, d := range deps.ServiceDeployments {
		arns = append(arns, aws.ToString(d.ServiceDeploymentArn))
		if d.Status != types.ServiceDeploymentStatusSuccessful || aws.ToString(d.ServiceArn) != aws.ToString(webARN) || d.FinishedAt == nil {
			t.Errorf("ListServiceDeployments entry: %+v", d)
		}
	}
	if aws.ToString(svc.CurrentServiceDeployment) == "" || !slices.Contains(arns, aws.ToString(svc.CurrentServiceDeployment)) {
		t.Errorf("currentServiceDeployment %q is not one of %v", aws.ToString(svc.CurrentServiceDeployment), arns)
	}
	for status, want := range map[types.ServiceDeploymentStatus]int{types.ServiceDeploymentStatusSuccessful: 2, types.ServiceDeploymentStatusInProgress: 0} {
		out, err := c.ListServiceDeployments(ctx, &ecs.ListServiceDeploymentsInput{Service: aws.String("web"), Status: []types.ServiceDeploymentStatus{status}})
		if err != nil || len(out.ServiceDeployments) != want {
			t.Errorf("ListServiceDeployments status %s: %v, %d entries, want %d", status, err, len(out.ServiceDeployments), want)
		}
	}
	sd, err := c.DescribeServiceDeployments(ctx, &ecs.DescribeServiceDeploymentsInput{ServiceDeploymentArns: append(slices.Clone(arns), arns[0]+"x")})
	if err != nil || len(sd.ServiceDeployments) != 2 || len(sd.Failures) != 1 {
		t.Fatalf("DescribeServiceDeployments: %v %+v", err, sd)
	}
	current := sd.ServiceDeployments[slices.IndexFunc(sd.ServiceDeployments, func(d types.ServiceDeployment) bool {
		return aws.ToString(d.ServiceDeploymentArn) == aws.ToString(svc.CurrentServiceDeployment)
	})]
	first := sd.ServiceDeployments[slices.IndexFunc(sd.ServiceDeployments, func(d types.ServiceDeployment) bool {
		return aws.ToString(d.ServiceDeploymentArn) != aws.ToString(svc.CurrentServiceDeployment)
	})]
	if r := current.TargetServiceRevision; current.Status != types.ServiceDeploymentStatusSuccessful || r == nil ||
		r.RequestedTaskCount != 2 || r.RunningTaskCount != 2 {
		t.Errorf("the update's service deployment: %+v", current)
	}
	if len(current.SourceServiceRevisions) != 1 || aws.ToString(current.SourceServiceRevisions[0].Arn) != aws.ToString(first.TargetServiceRevision.Arn) {
		t.Errorf("the update's source revisions %+v, want the first deployment's %s", current.SourceServiceRevisions, aws.ToString(first.TargetServiceRevision.Arn))
	}
	if current.DeploymentCircuitBreaker == nil || current.DeploymentConfiguration == nil {
		t.Errorf("the update's service deployment lacks its circuit breaker or configuration: %+v", current)
	}
	revs, err := c.DescribeServiceRevisions(ctx, &ecs.DescribeServiceRevisionsInput{ServiceRevisionArns: []string{aws.ToString(current.TargetServiceRevision.Arn)}})
	if err != nil || len(revs.ServiceRevisions) != 1 || aws.ToString(revs.ServiceRevisions[0].TaskDefinition) != web2 {
		t.Errorf("DescribeServiceRevisions: %v %+v", err, revs)
	}

	// Bad input: AWS's errors, and no partial service left behind.
	bad := func(what, name string, in *ecs.CreateServiceInput, msg string) {
		t.Helper()
		_, err := c.CreateService(ctx, in)
		sdkErr[*types.InvalidParameterException](t, what, err, msg)
		out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{name}})
		if err != nil {
			t.Fatalf("DescribeServices %s: %v", name, err)
		}
		if len(out.Services) != 0 || len(out.Failures) != 1 || aws.ToString(out.Failures[0].Reason) != "MISSING" {
			t.Errorf("%s left a service behind: %d services, failures %+v", what, len(out.Services), out.Failures)
			_, _ = c.DeleteService(ctx, &ecs.DeleteServiceInput{Service: aws.String(name), Force: aws.Bool(true)})
		}
	}
	bad("an unknown task definition", "bad", fargate("bad", "sdk-nope:1", 1), "TaskDefinition not found")
	bad("an INACTIVE task definition", "bad", fargate("bad", gone, 1), "inactive")
	lowMax := fargate("bad", web1, 1)
	lowMax.DeploymentConfiguration = &types.DeploymentConfiguration{MaximumPercent: aws.Int32(50)}
	bad("maximumPercent 50 on REPLICA", "bad", lowMax, "maximumPercent")
	withLB := fargate("bad", web1, 1)
	withLB.LoadBalancers = []types.LoadBalancer{{TargetGroupArn: aws.String("arn:aws:elasticloadbalancing:us-east-1:000000000000:targetgroup/web/0123456789abcdef"),
		ContainerName: aws.String("app"), ContainerPort: aws.Int32(8080)}}
	bad("loadBalancers naming no target group", "bad", withLB, "validate the specified targetGroupArn")
	withSD := fargate("bad", web1, 1)
	withSD.ServiceRegistries = []types.ServiceRegistry{{RegistryArn: aws.String("arn:aws:servicediscovery:us-east-1:000000000000:service/srv-0123456789")}}
	bad("serviceRegistries naming no Cloud Map service", "bad", withSD, "does not exist")
	// A second service named web, with another spec.
	_, err = c.CreateService(ctx, fargate("web", web1, 5))
	sdkErr[*types.InvalidParameterException](t, "a second service named web", err, "not idempotent")
	if out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Services: []string{"web"}}); err != nil ||
		out.Services[0].DesiredCount != 2 || aws.ToString(out.Services[0].TaskDefinition) != web2 {
		t.Errorf("the refused second web changed the first: %v %+v", err, out)
	}
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), LoadBalancers: withLB.LoadBalancers})
	sdkErr[*types.InvalidParameterException](t, "UpdateService loadBalancers naming no target group", err, "validate the specified targetGroupArn")
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("no-such-service"), DesiredCount: aws.Int32(1)})
	sdkErr[*types.ServiceNotFoundException](t, "UpdateService of a missing service", err, "")

	// Delete web: DRAINING refuses updates, then INACTIVE.
	del, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Service: aws.String("web"), Force: aws.Bool(true)})
	if err != nil || aws.ToString(del.Service.Status) != "DRAINING" {
		t.Fatalf("DeleteService web: %v %+v", err, del)
	}
	_, err = c.UpdateService(ctx, &ecs.UpdateServiceInput{Service: aws.String("web"), DesiredCount: aws.Int32(3)})
	sdkErr[*types.ServiceNotActiveException](t, "UpdateService of a DRAINING service", err, "")
	inactive := ecs.NewServicesInactiveWaiter(c, func(o *ecs.ServicesInactiveWaiterOptions) { o.MinDelay, o.MaxDelay = time.Second, 2*time.Second })
	if err := inactive.Wait(ctx, &ecs.DescribeServicesInput{Services: []string{"web"}}, 2*time.Minute); err != nil {
		t.Fatalf("ServicesInactive web: %v", err)
	}
	if n := len(sdkServiceTasks(t, c, "web", types.DesiredStatusRunning)); n != 0 {
		t.Errorf("%d web tasks still running after the service went INACTIVE", n)
	}
	if got := list(&ecs.ListServicesInput{}); !slices.Equal(got, []string{"daemon", "idle"}) {
		t.Errorf("ListServices after deleting web: %v", got)
	}
	// A DRAINING or INACTIVE service stops the stable waiter at once.
	if err := ecs.NewServicesStableWaiter(c).Wait(ctx, &ecs.DescribeServicesInput{Services: []string{"web"}}, time.Minute); err == nil ||
		!strings.Contains(err.Error(), "Failure") {
		t.Errorf("ServicesStable on an INACTIVE service: %v", err)
	}

	// Clean up: the DAEMON and idle services go too.
	for _, name := range []string{"daemon", "idle"} {
		if _, err := c.DeleteService(ctx, &ecs.DeleteServiceInput{Service: aws.String(name), Force: aws.Bool(true)}); err != nil {
			t.Fatalf("DeleteService %s: %v", name, err)
		}
	}
	if err := inactive.Wait(ctx, &ecs.DescribeServicesInput{Services: []string{"daemon", "idle"}}, 2*time.Minute); err != nil {
		t.Fatalf("ServicesInactive: %v", err)
	}
}

func tagMap(tags []types.Tag) map[string]string {
	m := map[string]string{}
	for _, tg := range tags {
		m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	return m
}

// sdkServiceTasks describes, with their tags, every task of a service with
// the given desired status (all pages).
func sdkServiceTasks(t *testing.T, c *ecs.Client, service string, desired types.DesiredStatus) []types.Task {
	t.Helper()
	ctx := context.Background()
	var arns []string
	for p := ecs.NewListTasksPaginator(c, &ecs.ListTasksInput{ServiceName: aws.String(service), DesiredStatus: desired}); p.HasMorePages(); {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListTasks %s %s: %v", service, desired, err)
		}
		arns = append(arns, out.TaskArns...)
	}
	var tasks []types.Task
	for chunk := range slices.Chunk(arns, 100) {
		out, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: chunk, Include: []types.TaskField{types.TaskFieldTags}})
		if err != nil {
			t.Fatalf("DescribeTasks: %v", err)
		}
		if len(out.Failures) > 0 {
			t.Errorf("DescribeTasks of listed tasks has failures: %+v", out.Failures)
		}
		tasks = append(tasks, out.Tasks...)
	}
	return tasks
}

// sdkWaitCompleted waits until the service's only deployment is id, with
// rolloutState COMPLETED.
func sdkWaitCompleted(t *testing.T, c *ecs.Client, service, id string) types.Service {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := c.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Services: []string{service}})
		if err != nil || len(out.Services) != 1 {
			t.Fatalf("DescribeServices %s: %v %+v", service, err, out)
		}
		svc := out.Services[0]
		if d := svc.Deployments; len(d) == 1 && aws.ToString(d[0].Id) == id && d[0].RolloutState == types.DeploymentRolloutStateCompleted {
			return svc
		}
		if time.Now().After(deadline) {
			t.Fatalf("deployment %s of %s did not complete: %+v", id, service, svc.Deployments)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
