package ecs

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

// newServiceAdapter is an adapter over a fresh store with the Fargate
// task definition "web" registered.
func newServiceAdapter(t *testing.T) (*Adapter, *control.Control, *api.Request) {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctl := control.New(control.Config{}, st)
	req := &api.Request{Scope: tenant.Scope{Account: "123456789012", Region: "us-east-1"}}
	if _, err := ctl.RegisterTaskDefinition(context.Background(), req.Scope, &control.TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []control.ContainerDefinition{{Name: "web", Image: "nginx", PortMappings: []control.PortMapping{{ContainerPort: new(80)}}}},
	}, "test"); err != nil {
		t.Fatal(err)
	}
	return &Adapter{ctl: ctl}, ctl, req
}

func TestServiceWireShapes(t *testing.T) {
	a, _, req := newServiceAdapter(t)
	ctx := context.Background()
	in := &w.CreateServiceRequest{
		ServiceName: wire.String("web"), TaskDefinition: wire.String("web"), DesiredCount: wire.Int32(1),
		LaunchType:           wire.String("FARGATE"),
		NetworkConfiguration: &w.NetworkConfiguration{AwsvpcConfiguration: &w.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}},
		Tags:                 []w.Tag{{Key: wire.String("k"), Value: wire.String("v")}},
	}
	if _, err := a.createService(ctx, req, in); err != nil {
		t.Fatal(err)
	}
	out, err := a.describeServices(ctx, req, &w.DescribeServicesRequest{Services: []string{"web", "gone"}, Include: []string{"TAGS"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out)
	for _, want := range []string{`"deployments":[{`, `"failedTasks":0`, `"rolloutState":"IN_PROGRESS"`, `"reason":"MISSING"`,
		`"deploymentCircuitBreaker":{"enable":false,"rollback":false}`, `"maximumPercent":200`, `"minimumHealthyPercent":100`,
		`"runningCount":0`, `"tags":[{"key":"k","value":"v"}]`, `"schedulingStrategy":"REPLICA"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("DescribeServices lacks %s:\n%s", want, b)
		}
	}
	// Errors map to AWS codes.
	for _, tc := range []struct {
		err  error
		code string
	}{
		{func() error {
			_, err := a.updateService(ctx, req, &w.UpdateServiceRequest{Service: wire.String("nope")})
			return err
		}(), "ServiceNotFoundException"},
		{func() error {
			_, err := a.createService(ctx, req, &w.CreateServiceRequest{ServiceName: wire.String("x"), TaskDefinition: wire.String("web"),
				DeploymentController: &w.DeploymentController{Type: wire.String("CODE_DEPLOY")}})
			return err
		}(), "InvalidParameterException"},
		{func() error {
			_, err := a.deleteService(ctx, req, &w.DeleteServiceRequest{Service: wire.String("web")})
			return err
		}(), "InvalidParameterException"},
	} {
		if e := mapError(tc.err); e == nil || e.Code != tc.code {
			t.Errorf("%v: got %+v, want %s", tc.err, e, tc.code)
		}
	}
	if _, err := a.deleteService(ctx, req, &w.DeleteServiceRequest{Service: wire.String("web"), Force: wire.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	_, err = a.updateService(ctx, req, &w.UpdateServiceRequest{Service: wire.String("web"), DesiredCount: wire.Int32(2)})
	if e := mapError(err); e == nil || e.Code != "ServiceNotActiveException" {
		t.Fatalf("update draining: %v", err)
	}
	list, err := a.listServiceDeployments(ctx, req, &w.ListServiceDeploymentsRequest{Service: wire.String("web")})
	if err != nil || len(list.ServiceDeployments) != 1 {
		t.Fatalf("list deployments: %v %+v", err, list)
	}
	arn := wire.ToString(list.ServiceDeployments[0].ServiceDeploymentArn)
	desc, err := a.describeServiceDeployments(ctx, req, &w.DescribeServiceDeploymentsRequest{ServiceDeploymentArns: []string{arn, arn + "0"}})
	if err != nil || len(desc.ServiceDeployments) != 1 || len(desc.Failures) != 1 {
		t.Fatalf("describe deployments: %v %+v", err, desc)
	}
	rev := wire.ToString(list.ServiceDeployments[0].TargetServiceRevisionArn)
	revs, err := a.describeServiceRevisions(ctx, req, &w.DescribeServiceRevisionsRequest{ServiceRevisionArns: []string{rev}})
	if err != nil || len(revs.ServiceRevisions) != 1 || !strings.Contains(wire.ToString(revs.ServiceRevisions[0].TaskDefinition), "task-definition/web:1") {
		t.Fatalf("describe revisions: %v %+v", err, revs)
	}
}

// TestServiceFieldsFargoCannotHonour: CreateService and UpdateService
// refuse, with InvalidParameterException and a message that says why, the
// fields fargo would otherwise accept and ignore, leave no service behind,
// and accept what it can honour (propagateTags, a restated strategy, empty
// lists).
func TestServiceFieldsFargoCannotHonour(t *testing.T) {
	a, ctl, req := newServiceAdapter(t)
	ctx := context.Background()
	netcfg := &w.NetworkConfiguration{AwsvpcConfiguration: &w.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}
	create := func(name string, edit func(*w.CreateServiceRequest)) error {
		in := &w.CreateServiceRequest{ServiceName: wire.String(name), TaskDefinition: wire.String("web"), DesiredCount: wire.Int32(0),
			LaunchType: wire.String("FARGATE"), NetworkConfiguration: netcfg}
		edit(in)
		_, err := a.createService(ctx, req, in)
		return err
	}
	lbs := []w.LoadBalancer{{TargetGroupArn: wire.String("arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/1"),
		ContainerName: wire.String("web"), ContainerPort: wire.Int32(80)}}
	regs := []w.ServiceRegistry{{RegistryArn: wire.String("arn:aws:servicediscovery:us-east-1:123456789012:service/srv-1")}}
	constraints := []w.PlacementConstraint{{Type: wire.String("distinctInstance")}}
	strategies := []w.PlacementStrategy{{Type: wire.String("spread"), Field: wire.String("instanceId")}}
	wantInvalid := func(t *testing.T, err error, msg string) {
		t.Helper()
		if err == nil {
			t.Errorf("accepted; want InvalidParameterException containing %q", msg)
			return
		}
		e := mapError(err)
		if e == nil || e.Code != "InvalidParameterException" || !strings.Contains(e.Message, msg) {
			t.Errorf("got %v (%+v), want InvalidParameterException containing %q", err, e, msg)
		}
	}

	for _, tc := range []struct {
		name string
		edit func(*w.CreateServiceRequest)
		msg  string
	}{
		{"loadBalancers", func(in *w.CreateServiceRequest) { in.LoadBalancers = lbs }, "runs without ELBv2, so a service cannot use load balancers"},
		{"serviceRegistries", func(in *w.CreateServiceRequest) { in.ServiceRegistries = regs }, "Service discovery is not available on this fargo."},
		{"enableECSManagedTags", func(in *w.CreateServiceRequest) { in.EnableECSManagedTags = wire.Bool(true) }, "managed tags"},
		{"placementConstraints on Fargate", func(in *w.CreateServiceRequest) { in.PlacementConstraints = constraints },
			"Placement constraints are not supported with FARGATE launch type."},
		{"placementStrategy on a Fargate capacity provider", func(in *w.CreateServiceRequest) {
			in.LaunchType, in.PlacementStrategy = nil, strategies
			in.CapacityProviderStrategy = []w.CapacityProviderStrategyItem{{CapacityProvider: wire.String("FARGATE_SPOT"), Weight: wire.Int32(1)}}
		}, "Placement strategies are not supported with FARGATE launch type."},
		{"placementConstraints on EC2", func(in *w.CreateServiceRequest) {
			in.LaunchType, in.PlacementConstraints = wire.String("EC2"), constraints
		},
			"fargo does not support service placement constraints yet"},
		{"placementStrategy on EC2", func(in *w.CreateServiceRequest) { in.LaunchType, in.PlacementStrategy = wire.String("EC2"), strategies },
			"fargo does not support service placement strategies yet"},
		{"Service Connect", func(in *w.CreateServiceRequest) {
			in.ServiceConnectConfiguration = &w.ServiceConnectConfiguration{Enabled: wire.Bool(true), Namespace: wire.String("ns")}
		}, "Service Connect"},
		{"volumeConfigurations", func(in *w.CreateServiceRequest) {
			in.VolumeConfigurations = []w.ServiceVolumeConfiguration{{Name: wire.String("data")}}
		}, "Amazon EBS volumes"},
		{"propagateTags", func(in *w.CreateServiceRequest) { in.PropagateTags = wire.String("EVERYTHING") }, "propagateTags must be one of"},
	} {
		t.Run("create with "+tc.name, func(t *testing.T) {
			wantInvalid(t, create("refused", tc.edit), tc.msg)
			// No partial service is left behind.
			_, failures, err := ctl.DescribeServices(ctx, req.Scope, "", []string{"refused"})
			if err != nil || len(failures) != 1 || failures[0].Reason != "MISSING" {
				t.Errorf("after a refused create: %v %+v", err, failures)
			}
		})
	}

	// What fargo can honour, or what asks for nothing, is accepted.
	if err := create("web", func(in *w.CreateServiceRequest) {
		in.PropagateTags = wire.String("SERVICE")
		in.EnableECSManagedTags = wire.Bool(false)
		in.LoadBalancers, in.ServiceRegistries, in.PlacementConstraints = []w.LoadBalancer{}, []w.ServiceRegistry{}, []w.PlacementConstraint{}
		in.ServiceConnectConfiguration = &w.ServiceConnectConfiguration{Enabled: wire.Bool(false)}
	}); err != nil {
		t.Fatalf("create with empty extras: %v", err)
	}
	if err := create("spot", func(in *w.CreateServiceRequest) {
		in.LaunchType = nil
		in.CapacityProviderStrategy = []w.CapacityProviderStrategyItem{{CapacityProvider: wire.String("FARGATE"), Weight: wire.Int32(1)}}
	}); err != nil {
		t.Fatalf("create with a capacity provider strategy: %v", err)
	}

	update := func(name string, edit func(*w.UpdateServiceRequest)) (*w.UpdateServiceResponse, error) {
		in := &w.UpdateServiceRequest{Service: wire.String(name)}
		edit(in)
		return a.updateService(ctx, req, in)
	}
	for _, tc := range []struct {
		name string
		edit func(*w.UpdateServiceRequest)
		msg  string
	}{
		{"loadBalancers", func(in *w.UpdateServiceRequest) { in.LoadBalancers = lbs }, "runs without ELBv2, so a service cannot use load balancers"},
		{"serviceRegistries", func(in *w.UpdateServiceRequest) { in.ServiceRegistries = regs }, "Service discovery is not available on this fargo."},
		{"enableECSManagedTags", func(in *w.UpdateServiceRequest) { in.EnableECSManagedTags = wire.Bool(true) }, "managed tags"},
		{"placementConstraints", func(in *w.UpdateServiceRequest) { in.PlacementConstraints = constraints },
			"Placement constraints are not supported with FARGATE launch type."},
		{"placementStrategy", func(in *w.UpdateServiceRequest) { in.PlacementStrategy = strategies },
			"Placement strategies are not supported with FARGATE launch type."},
		{"a new capacityProviderStrategy", func(in *w.UpdateServiceRequest) {
			in.CapacityProviderStrategy = []w.CapacityProviderStrategyItem{{CapacityProvider: wire.String("FARGATE_SPOT"), Weight: wire.Int32(1)}}
		}, "cannot change the capacity provider strategy"},
		{"propagateTags", func(in *w.UpdateServiceRequest) { in.PropagateTags = wire.String("service") }, "propagateTags must be one of"},
		{"a VPC Lattice configuration", func(in *w.UpdateServiceRequest) {
			in.VpcLatticeConfigurations = []w.VpcLatticeConfiguration{{PortName: wire.String("http")}}
		}, "VPC Lattice"},
	} {
		t.Run("update with "+tc.name, func(t *testing.T) {
			_, err := update("web", func(in *w.UpdateServiceRequest) { tc.edit(in); in.DesiredCount = wire.Int32(3) })
			wantInvalid(t, err, tc.msg)
			// Nothing of the refused request was applied.
			svcs, _, err := ctl.DescribeServices(ctx, req.Scope, "", []string{"web"})
			if err != nil || len(svcs) != 1 || svcs[0].DesiredCount != 0 || len(svcs[0].Deployments) != 1 {
				t.Errorf("after a refused update: %v %+v", err, svcs)
			}
		})
	}

	// propagateTags is applied; a restated strategy and empty lists pass.
	out, err := update("web", func(in *w.UpdateServiceRequest) {
		in.PropagateTags = wire.String("TASK_DEFINITION")
		in.LoadBalancers, in.ServiceRegistries, in.PlacementStrategy = []w.LoadBalancer{}, []w.ServiceRegistry{}, []w.PlacementStrategy{}
		in.EnableECSManagedTags = wire.Bool(false)
	})
	if err != nil || wire.ToString(out.Service.PropagateTags) != "TASK_DEFINITION" {
		t.Fatalf("update propagateTags: %v %+v", err, out)
	}
	out, err = update("spot", func(in *w.UpdateServiceRequest) {
		in.CapacityProviderStrategy = []w.CapacityProviderStrategyItem{{CapacityProvider: wire.String("FARGATE"), Weight: wire.Int32(1)}}
		in.DesiredCount = wire.Int32(2)
	})
	if err != nil || wire.ToInt32(out.Service.DesiredCount) != 2 {
		t.Fatalf("update restating the strategy: %v %+v", err, out)
	}
	// A missing service is still ServiceNotFoundException, whatever it asks.
	_, err = update("nope", func(in *w.UpdateServiceRequest) { in.LoadBalancers = lbs })
	if err == nil {
		t.Errorf("update of a missing service succeeded")
	} else if e := mapError(err); e == nil || e.Code != "ServiceNotFoundException" {
		t.Errorf("update of a missing service with loadBalancers: %v", err)
	}
}
