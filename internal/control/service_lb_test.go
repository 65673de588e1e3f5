package control

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

const (
	tgIP       = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123456789abcdef"
	tgIP2      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web2/0123456789abcde2"
	tgInstance = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/inst/0123456789abcde3"
	tgLonely   = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/lonely/0123456789abcde4"
	tgGone     = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/gone/0123456789abcde5"
	lbARN      = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/alb/0123456789abcdef"
)

// fakeTargetGroups answers from a fixed set of target groups; others do
// not exist.
type fakeTargetGroups map[string]TargetGroupInfo

func (f fakeTargetGroups) TargetGroup(_ context.Context, _ tenant.Scope, arn string) (TargetGroupInfo, error) {
	if tg, ok := f[arn]; ok {
		return tg, nil
	}
	return TargetGroupInfo{}, errdefs.New(errdefs.ErrNotFound, "One or more target groups not found")
}

func newLBControl(t *testing.T) (*Control, *TaskDefinition) {
	t.Helper()
	c := New(Config{}, openTestStore(t))
	c.SetTargetGroups(fakeTargetGroups{
		tgIP:       {ARN: tgIP, TargetType: "ip", Protocol: "HTTP", Port: 80, LoadBalancerARNs: []string{lbARN}},
		tgIP2:      {ARN: tgIP2, TargetType: "ip", Protocol: "HTTP", Port: 80, LoadBalancerARNs: []string{lbARN}},
		tgInstance: {ARN: tgInstance, TargetType: "instance", Protocol: "HTTP", Port: 80, LoadBalancerARNs: []string{lbARN}},
		tgLonely:   {ARN: tgLonely, TargetType: "ip", Protocol: "HTTP", Port: 80},
	})
	td, err := c.RegisterTaskDefinition(context.Background(), svcScope, &TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []ContainerDefinition{{Name: "web", Image: "nginx", PortMappings: []PortMapping{{ContainerPort: ptr(80)}}}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c, td
}

func lbSpec(td string, lbs ...ServiceLoadBalancer) ServiceSpec {
	s := baseSpec(td)
	s.LoadBalancers = lbs
	return s
}

func webLB(tg string) ServiceLoadBalancer {
	return ServiceLoadBalancer{TargetGroupARN: tg, ContainerName: "web", ContainerPort: 80}
}

// TestServiceLoadBalancerValidation: CreateService refuses bad
// loadBalancers with ECS's InvalidParameterException messages and leaves
// no service behind.
func TestServiceLoadBalancerValidation(t *testing.T) {
	c, td := newLBControl(t)
	ctx := context.Background()
	bridge, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{
		Family: "br", NetworkMode: "bridge", Cpu: "256", Memory: "512",
		ContainerDefinitions: []ContainerDefinition{{Name: "web", Image: "nginx", PortMappings: []PortMapping{{ContainerPort: ptr(80), HostPort: ptr(0)}}}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	six := []ServiceLoadBalancer{webLB(tgIP), webLB(tgIP), webLB(tgIP), webLB(tgIP), webLB(tgIP), webLB(tgIP)}
	for _, tc := range []struct {
		name string
		spec ServiceSpec
		want string
	}{
		{"target group does not exist", lbSpec(td.TaskDefinitionArn, webLB(tgGone)),
			"Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions."},
		{"not a target group ARN", lbSpec(td.TaskDefinitionArn, webLB(lbARN)),
			"Unable to assume role and validate the specified targetGroupArn. Please verify that the ECS service role being passed has the proper permissions."},
		{"no load balancer", lbSpec(td.TaskDefinitionArn, webLB(tgLonely)),
			"The target group with targetGroupArn " + tgLonely + " does not have an associated load balancer."},
		{"unknown container", lbSpec(td.TaskDefinitionArn, ServiceLoadBalancer{TargetGroupARN: tgIP, ContainerName: "api", ContainerPort: 80}),
			"The container api does not exist in the task definition."},
		{"port not mapped", lbSpec(td.TaskDefinitionArn, ServiceLoadBalancer{TargetGroupARN: tgIP, ContainerName: "web", ContainerPort: 8080}),
			"The container web did not have a container port 8080 defined."},
		{"blank container", lbSpec(td.TaskDefinitionArn, ServiceLoadBalancer{TargetGroupARN: tgIP, ContainerPort: 80}),
			"Container Name can not be blank."},
		{"awsvpc with an instance target group", lbSpec(td.TaskDefinitionArn, webLB(tgInstance)),
			"The provided target group " + tgInstance + " has target type instance, which is incompatible with the awsvpc network mode specified in the task definition."},
		{"bridge with an ip target group", func() ServiceSpec {
			s := lbSpec(bridge.TaskDefinitionArn, webLB(tgIP))
			s.LaunchType, s.NetworkConfiguration = LaunchTypeEC2, nil
			return s
		}(), "The provided target group " + tgIP + " has target type ip, which is incompatible with the bridge network mode specified in the task definition."},
		{"classic load balancer", lbSpec(td.TaskDefinitionArn, ServiceLoadBalancer{LoadBalancerName: "classic", ContainerName: "web", ContainerPort: 80}),
			"fargo does not support Classic Load Balancers"},
		{"no target group", lbSpec(td.TaskDefinitionArn, ServiceLoadBalancer{ContainerName: "web", ContainerPort: 80}),
			"targetGroupArn is required"},
		{"six load balancers", lbSpec(td.TaskDefinitionArn, six...), "load balancers can have at most 5 items."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.CreateService(ctx, svcScope, tc.spec)
			if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want InvalidParameter %q", err, tc.want)
			}
			if refs, _ := c.ActiveServiceRefs(ctx); len(refs) != 0 {
				t.Fatalf("partial service left: %v", refs)
			}
		})
	}

	// bridge with an instance target group, and awsvpc with ip, are fine.
	s := lbSpec(bridge.TaskDefinitionArn, webLB(tgInstance))
	s.Name, s.LaunchType, s.NetworkConfiguration = "br", LaunchTypeEC2, nil
	if _, err := c.CreateService(ctx, svcScope, s); err != nil {
		t.Fatalf("bridge + instance: %v", err)
	}
	svc, err := c.CreateService(ctx, svcScope, lbSpec(td.TaskDefinitionArn, webLB(tgIP), webLB(tgIP2)))
	if err != nil {
		t.Fatalf("awsvpc + ip: %v", err)
	}
	if !sameLoadBalancers(svc.LoadBalancers, []ServiceLoadBalancer{webLB(tgIP), webLB(tgIP2)}) ||
		!sameLoadBalancers(svc.Primary().LoadBalancers, svc.LoadBalancers) {
		t.Fatalf("service %+v, deployment %+v", svc.LoadBalancers, svc.Primary().LoadBalancers)
	}
}

// TestServiceLoadBalancersWithoutELBv2: a server with no ELBv2 refuses
// loadBalancers with a message that says so.
func TestServiceLoadBalancersWithoutELBv2(t *testing.T) {
	c, td := newLBControl(t)
	c.SetTargetGroups(nil)
	_, err := c.CreateService(context.Background(), svcScope, lbSpec(td.TaskDefinitionArn, webLB(tgIP)))
	if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), "without ELBv2") {
		t.Fatalf("got %v", err)
	}
	// What the task definition alone decides is still answered as ECS
	// words it.
	_, err = c.CreateService(context.Background(), svcScope, lbSpec(td.TaskDefinitionArn,
		ServiceLoadBalancer{TargetGroupARN: tgIP, ContainerName: "web", ContainerPort: 81}))
	if err == nil || err.Error() != "The container web did not have a container port 81 defined." {
		t.Fatalf("got %v", err)
	}
}

// TestGracePeriodWithoutLoadBalancer: healthCheckGracePeriodSeconds is
// accepted on a service with no load balancer. AWS used to refuse it
// ("Health check grace period is only valid for services configured to
// use load balancers"); since it also applies to container health checks
// AWS accepts it, and answers 0 when it is not given.
func TestGracePeriodWithoutLoadBalancer(t *testing.T) {
	c, td := newLBControl(t)
	spec := baseSpec(td.TaskDefinitionArn)
	spec.HealthCheckGracePeriodSeconds = ptr(30)
	svc, err := c.CreateService(context.Background(), svcScope, spec)
	if err != nil || svc.HealthCheckGracePeriodSeconds != 30 {
		t.Fatalf("%v %+v", err, svc)
	}
}

// TestUpdateServiceLoadBalancers: changing loadBalancers starts a new
// deployment that carries them; the older deployment's tasks keep theirs;
// restating them changes nothing; [] removes them; a new task definition
// must still map the port.
func TestUpdateServiceLoadBalancers(t *testing.T) {
	c, td := newLBControl(t)
	ctx := context.Background()
	if _, err := c.CreateService(ctx, svcScope, lbSpec(td.TaskDefinitionArn, webLB(tgIP))); err != nil {
		t.Fatal(err)
	}
	update := func(lbs ...ServiceLoadBalancer) (*Service, error) {
		return c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", LoadBalancers: &lbs})
	}
	svc, err := update(webLB(tgIP))
	if err != nil || len(svc.Deployments) != 1 {
		t.Fatalf("restating loadBalancers: %v, %d deployments", err, len(svc.Deployments))
	}
	first := svc.Primary()
	if _, err := update(webLB(tgGone)); err == nil || !strings.Contains(err.Error(), "Unable to assume role") {
		t.Fatalf("update to a missing target group: %v", err)
	}
	svc, err = update(webLB(tgIP2))
	if err != nil || len(svc.Deployments) != 2 {
		t.Fatalf("changing loadBalancers: %v %+v", err, svc)
	}
	if !sameLoadBalancers(svc.Primary().LoadBalancers, []ServiceLoadBalancer{webLB(tgIP2)}) ||
		!sameLoadBalancers(svc.Deployment(first.ID).LoadBalancers, []ServiceLoadBalancer{webLB(tgIP)}) {
		t.Fatalf("deployments: %+v / %+v", svc.Primary().LoadBalancers, svc.Deployment(first.ID).LoadBalancers)
	}
	oldTask := &Task{StartedBy: first.ID}
	if got := svc.ForTask(oldTask).LoadBalancers; !sameLoadBalancers(got, []ServiceLoadBalancer{webLB(tgIP)}) {
		t.Fatalf("an older deployment's task: %+v", got)
	}
	if got := svc.ForTask(&Task{StartedBy: "ecs-svc/gone"}).LoadBalancers; !sameLoadBalancers(got, svc.LoadBalancers) {
		t.Fatalf("a task of an unknown deployment: %+v", got)
	}

	noPort, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []ContainerDefinition{{Name: "web", Image: "nginx"}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	arn := noPort.TaskDefinitionArn
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", TaskDefinition: &arn}); err == nil ||
		!strings.Contains(err.Error(), "The container web did not have a container port 80 defined.") {
		t.Fatalf("new revision without the port: %v", err)
	}
	svc, err = update()
	if err != nil || len(svc.LoadBalancers) != 0 || len(svc.Deployments) != 3 || len(svc.Primary().LoadBalancers) != 0 {
		t.Fatalf("removing loadBalancers: %v %+v", err, svc)
	}
	// Without load balancers the revision without the port is fine.
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", TaskDefinition: &arn}); err != nil {
		t.Fatal(err)
	}
}

// TestRegistrationEvents: ActivateTask and DeactivateTask write ECS's
// service events for the task's target groups, and hand the registrars
// the load balancers of the task's own deployment.
func TestRegistrationEvents(t *testing.T) {
	c, td := newLBControl(t)
	ctx := context.Background()
	if err := c.RegisterNode(ctx, Node{ID: "node-a", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	svc, err := c.CreateService(ctx, svcScope, lbSpec(td.TaskDefinitionArn, webLB(tgIP)))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	reg := &lbRegistrar{seen: &seen, drain: 2 * time.Second}
	c.SetRegistrars(reg)
	in := fargateRun(td.TaskDefinitionArn)
	in.Group, in.StartedBy = "service:web", svc.Primary().ID
	res, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %v %+v", err, res)
	}
	task := res.Tasks[0]
	ref := TaskRef{Scope: svcScope, Cluster: task.Cluster, ID: task.ID}
	if err := c.ActivateTask(ctx, ref); err != nil {
		t.Fatal(err)
	}
	// The service changes target group; the task stays where it was.
	lbs := []ServiceLoadBalancer{webLB(tgIP2)}
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", LoadBalancers: &lbs}); err != nil {
		t.Fatal(err)
	}
	if d, err := c.DeactivateTask(ctx, ref); err != nil || d != 2*time.Second {
		t.Fatalf("deactivate: %v %v", d, err)
	}
	if want := []string{"register " + tgIP, "deregister " + tgIP}; strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("registrar saw %v, want %v", seen, want)
	}
	svcs, _, err := c.DescribeServices(ctx, svcScope, "", []string{"web"})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for _, ev := range svcs[0].Events { // newest first
		msgs = append(msgs, ev.Message)
	}
	want := []string{
		"(service web, taskSet " + svc.Primary().ID + ") has begun draining connections on 1 tasks.",
		"(service web) deregistered 1 targets in (target-group " + tgIP + ")",
		"(service web) registered 1 targets in (target-group " + tgIP + ")",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}

	// A failed registration writes no event.
	reg.err = errors.New("target group gone")
	if err := c.ActivateTask(ctx, ref); !errors.Is(err, ErrRegistration) {
		t.Fatal(err)
	}
	svcs, _, _ = c.DescribeServices(ctx, svcScope, "", []string{"web"})
	if len(svcs[0].Events) != len(want) {
		t.Fatalf("events after a failed registration: %+v", svcs[0].Events)
	}
}

// lbRegistrar records the target groups it is asked about.
type lbRegistrar struct {
	seen  *[]string
	drain time.Duration
	err   error
}

func (r *lbRegistrar) Register(_ context.Context, _ *Task, svc *Service) error {
	for _, arn := range TargetGroupARNs(svc.LoadBalancers) {
		*r.seen = append(*r.seen, "register "+arn)
	}
	return r.err
}

func (r *lbRegistrar) Deregister(_ context.Context, _ *Task, svc *Service) (time.Duration, error) {
	for _, arn := range TargetGroupARNs(svc.LoadBalancers) {
		*r.seen = append(*r.seen, "deregister "+arn)
	}
	return r.drain, r.err
}

// TestLoadBalancersSurviveRestart: a service's loadBalancers, and its
// deployments', are in the store: a control plane over the reopened store
// has them, and a task of an older deployment still maps to its own.
func TestLoadBalancersSurviveRestart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fargo.db")
	st, err := bolt.Open(file, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	c := New(Config{}, st)
	c.SetTargetGroups(fakeTargetGroups{
		tgIP:  {ARN: tgIP, TargetType: "ip", LoadBalancerARNs: []string{lbARN}},
		tgIP2: {ARN: tgIP2, TargetType: "ip", LoadBalancerARNs: []string{lbARN}},
	})
	ctx := context.Background()
	td, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []ContainerDefinition{{Name: "web", Image: "nginx", PortMappings: []PortMapping{{ContainerPort: ptr(80)}}}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	svc, err := c.CreateService(ctx, svcScope, lbSpec(td.TaskDefinitionArn, webLB(tgIP)))
	if err != nil {
		t.Fatal(err)
	}
	first := svc.Primary().ID
	lbs := []ServiceLoadBalancer{webLB(tgIP2)}
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", LoadBalancers: &lbs}); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = bolt.Open(file, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	svcs, _, err := New(Config{}, st).DescribeServices(ctx, svcScope, "", []string{"web"})
	if err != nil || len(svcs) != 1 {
		t.Fatalf("%v %+v", err, svcs)
	}
	got := svcs[0]
	if !sameLoadBalancers(got.LoadBalancers, lbs) || !sameLoadBalancers(got.Primary().LoadBalancers, lbs) ||
		!sameLoadBalancers(got.ForTask(&Task{StartedBy: first}).LoadBalancers, []ServiceLoadBalancer{webLB(tgIP)}) {
		t.Fatalf("after reopening: service %+v, primary %+v", got.LoadBalancers, got.Primary().LoadBalancers)
	}
	if err := Check(ctx, st); err != nil {
		t.Fatal(err)
	}
}
