package control

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/tenant"
)

var svcScope = tenant.Scope{Account: "123456789012", Region: "us-east-1"}

func newServiceControl(t *testing.T) (*Control, *TaskDefinition) {
	t.Helper()
	st := openTestStore(t)
	c := New(Config{}, st)
	td, err := c.RegisterTaskDefinition(context.Background(), svcScope, &TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []ContainerDefinition{{Name: "web", Image: "nginx"}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return c, td
}

func baseSpec(td string) ServiceSpec {
	return ServiceSpec{Name: "web", TaskDefinition: td, DesiredCount: ptr(2), LaunchType: "FARGATE",
		NetworkConfiguration: &NetworkConfiguration{Subnets: []string{"subnet-1"}}}
}

func TestCreateServiceValidation(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		mod  func(*ServiceSpec)
		want string
	}{
		{"unknown task definition", func(s *ServiceSpec) { s.TaskDefinition = "nope:1" }, "TaskDefinition not found."},
		{"max below 100", func(s *ServiceSpec) {
			s.DeploymentConfiguration = &DeploymentConfigurationInput{MaximumPercent: ptr(90)}
		}, "maximumPercent must be at least 100"},
		{"min above 100", func(s *ServiceSpec) {
			s.DeploymentConfiguration = &DeploymentConfigurationInput{MinimumHealthyPercent: ptr(150)}
		}, "minimumHealthyPercent"},
		{"code deploy", func(s *ServiceSpec) { s.DeploymentController = "CODE_DEPLOY" }, "not supported by fargo"},
		{"external", func(s *ServiceSpec) { s.DeploymentController = "EXTERNAL" }, "not supported by fargo"},
		{"no network", func(s *ServiceSpec) { s.NetworkConfiguration = nil }, "Network Configuration must be provided"},
		{"bad name", func(s *ServiceSpec) { s.Name = "a/b" }, "Service name"},
		{"negative desired", func(s *ServiceSpec) { s.DesiredCount = ptr(-1) }, "desiredCount"},
		{"daemon on fargate", func(s *ServiceSpec) { s.SchedulingStrategy = "DAEMON"; s.DesiredCount = nil }, "does not support the FARGATE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := baseSpec(td.TaskDefinitionArn)
			tc.mod(&spec)
			_, err := c.CreateService(ctx, svcScope, spec)
			if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want InvalidParameter %q", err, tc.want)
			}
			if _, _, err := c.DescribeServices(ctx, svcScope, "", []string{spec.Name}); err != nil {
				t.Fatal(err)
			}
			if refs, _ := c.ActiveServiceRefs(ctx); len(refs) != 0 {
				t.Fatalf("partial service left: %v", refs)
			}
		})
	}
	if _, err := c.DeregisterTaskDefinition(ctx, svcScope, td.TaskDefinitionArn); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateService(ctx, svcScope, baseSpec(td.TaskDefinitionArn)); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("inactive task definition: %v", err)
	}
}

func TestCreateServiceDefaultsAndIdempotency(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	svc, err := c.CreateService(ctx, svcScope, baseSpec(td.TaskDefinitionArn))
	if err != nil {
		t.Fatal(err)
	}
	dc := svc.DeploymentConfiguration
	if dc.MaximumPercent != 200 || dc.MinimumHealthyPercent != 100 || svc.SchedulingStrategy != "REPLICA" || svc.Status != "ACTIVE" {
		t.Fatalf("defaults: %+v", svc)
	}
	p := svc.Primary()
	if len(svc.Deployments) != 1 || !strings.HasPrefix(p.ID, "ecs-svc/") || len(p.ID) != len("ecs-svc/")+19 ||
		p.Status != "PRIMARY" || p.RolloutState != "IN_PROGRESS" || p.RolloutStateReason != "ECS deployment "+p.ID+" in progress." {
		t.Fatalf("deployment: %+v", p)
	}
	again, err := c.CreateService(ctx, svcScope, baseSpec(td.TaskDefinitionArn))
	if err != nil || again.ARN != svc.ARN || again.Primary().ID != p.ID {
		t.Fatalf("same request: %v", err)
	}
	other := baseSpec(td.TaskDefinitionArn)
	other.DesiredCount = ptr(5)
	if _, err := c.CreateService(ctx, svcScope, other); err == nil || !strings.Contains(err.Error(), "Creation of service was not idempotent.") {
		t.Fatalf("different request: %v", err)
	}
}

func TestServiceStateMachine(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	if _, err := c.CreateService(ctx, svcScope, baseSpec(td.TaskDefinitionArn)); err != nil {
		t.Fatal(err)
	}
	// Delete without force while scaled up: refused.
	if _, err := c.DeleteService(ctx, svcScope, "", "web", false); !errors.Is(err, ErrInvalidParameter) {
		t.Fatalf("delete scaled-up: %v", err)
	}
	// desiredCount alone: no new deployment.
	svc, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", DesiredCount: ptr(0)})
	if err != nil || len(svc.Deployments) != 1 || svc.Primary().DesiredCount != 0 {
		t.Fatalf("scale: %v %+v", err, svc)
	}
	// forceNewDeployment: a new PRIMARY, the old one ACTIVE.
	svc, err = c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", ForceNewDeployment: true})
	if err != nil || len(svc.Deployments) != 2 || svc.Deployments[1].Status != "ACTIVE" {
		t.Fatalf("force: %v %+v", err, svc)
	}
	svc, err = c.DeleteService(ctx, svcScope, "", "web", false)
	if err != nil || svc.Status != "DRAINING" {
		t.Fatalf("delete: %v %+v", err, svc)
	}
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "web", DesiredCount: ptr(1)}); !errors.Is(err, ErrServiceNotActive) {
		t.Fatalf("update draining: %v", err)
	}
	if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "nope"}); !errors.Is(err, ErrServiceNotFound) {
		t.Fatalf("update missing: %v", err)
	}
	// A DRAINING service blocks the name and the cluster's deletion.
	if _, err := c.DeleteCluster(ctx, svcScope, "default"); !errors.Is(err, ErrClusterHasServices) {
		t.Fatalf("delete cluster: %v", err)
	}
	svcs, failures, err := c.DescribeServices(ctx, svcScope, "", []string{"web", "nope", svc.ARN})
	if err != nil || len(svcs) != 2 || len(failures) != 1 || failures[0].Reason != "MISSING" {
		t.Fatalf("describe: %v %d %+v", err, len(svcs), failures)
	}
	arns, _, err := c.ListServices(ctx, svcScope, "", ListServicesFilter{}, Page{Default: 10})
	if err != nil || len(arns) != 0 {
		t.Fatalf("list after delete: %v %v", err, arns)
	}
}

func TestServiceTagsAndList(t *testing.T) {
	c, td := newServiceControl(t)
	ctx := context.Background()
	var arns []string
	for _, n := range []string{"a", "b", "c"} {
		spec := baseSpec(td.TaskDefinitionArn)
		spec.Name = n
		svc, err := c.CreateService(ctx, svcScope, spec)
		if err != nil {
			t.Fatal(err)
		}
		arns = append(arns, svc.ARN)
	}
	page1, next, err := c.ListServices(ctx, svcScope, "", ListServicesFilter{}, Page{MaxResults: 2, Default: 10})
	if err != nil || len(page1) != 2 || next == "" {
		t.Fatalf("page 1: %v %v %q", err, page1, next)
	}
	page2, next, err := c.ListServices(ctx, svcScope, "", ListServicesFilter{}, Page{MaxResults: 2, Token: next, Default: 10})
	if err != nil || len(page2) != 1 || next != "" {
		t.Fatalf("page 2: %v %v %q", err, page2, next)
	}
	if err := c.TagResource(ctx, svcScope, arns[0], []Tag{{Key: "team", Value: "core"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, svcScope, arns[0])
	if err != nil || len(tags) != 1 || tags[0].Key != "team" {
		t.Fatalf("tags: %v %v", err, tags)
	}
}

func TestCircuitBreakerThreshold(t *testing.T) {
	for desired, want := range map[int]int{0: 3, 1: 3, 6: 3, 7: 4, 10: 5, 399: 200, 1000: 200} {
		if got := CircuitBreakerThreshold(desired); got != want {
			t.Errorf("threshold(%d) = %d, want %d", desired, got, want)
		}
	}
}
