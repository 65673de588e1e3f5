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

func TestServiceWireShapes(t *testing.T) {
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctl := control.New(control.Config{}, st)
	req := &api.Request{Scope: tenant.Scope{Account: "123456789012", Region: "us-east-1"}}
	ctx := context.Background()
	a := &Adapter{ctl: ctl}
	if _, err := ctl.RegisterTaskDefinition(ctx, req.Scope, &control.TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []control.ContainerDefinition{{Name: "web", Image: "nginx"}},
	}, "test"); err != nil {
		t.Fatal(err)
	}
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
