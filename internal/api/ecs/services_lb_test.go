package ecs

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

const lbTestTG = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/tg/0123456789abcdef"

type oneTargetGroup struct{}

func (oneTargetGroup) TargetGroup(_ context.Context, _ tenant.Scope, arn string) (control.TargetGroupInfo, error) {
	if arn != lbTestTG {
		return control.TargetGroupInfo{}, errdefs.New(errdefs.ErrNotFound, "not found")
	}
	return control.TargetGroupInfo{ARN: arn, TargetType: "ip", LoadBalancerARNs: []string{"arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/1"}}, nil
}

// TestServiceLoadBalancersOnTheWire: loadBalancers given to CreateService
// come back in the service and in its service revision; UpdateService
// with loadBalancers [] removes them in a new deployment, and a missing
// target group is InvalidParameterException with AWS's message.
func TestServiceLoadBalancersOnTheWire(t *testing.T) {
	a, ctl, req := newServiceAdapter(t)
	ctl.SetTargetGroups(oneTargetGroup{})
	ctx := context.Background()
	lbs := []w.LoadBalancer{{TargetGroupArn: wire.String(lbTestTG), ContainerName: wire.String("web"), ContainerPort: wire.Int32(80)}}
	out, err := a.createService(ctx, req, &w.CreateServiceRequest{ServiceName: wire.String("web"), TaskDefinition: wire.String("web"),
		DesiredCount: wire.Int32(0), LaunchType: wire.String("FARGATE"), LoadBalancers: lbs,
		NetworkConfiguration: &w.NetworkConfiguration{AwsvpcConfiguration: &w.AwsVpcConfiguration{Subnets: []string{"subnet-1"}}}})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(out.Service)
	if want := `"loadBalancers":[{"containerName":"web","containerPort":80,"targetGroupArn":"` + lbTestTG + `"}]`; !strings.Contains(string(b), want) {
		t.Fatalf("service lacks %s:\n%s", want, b)
	}
	list, err := a.listServiceDeployments(ctx, req, &w.ListServiceDeploymentsRequest{Service: wire.String("web")})
	if err != nil || len(list.ServiceDeployments) != 1 {
		t.Fatalf("list deployments: %v %+v", err, list)
	}
	rev := wire.ToString(list.ServiceDeployments[0].TargetServiceRevisionArn)
	revs, err := a.describeServiceRevisions(ctx, req, &w.DescribeServiceRevisionsRequest{ServiceRevisionArns: []string{rev}})
	if err != nil || len(revs.ServiceRevisions) != 1 || len(revs.ServiceRevisions[0].LoadBalancers) != 1 {
		t.Fatalf("revision: %v %+v", err, revs)
	}

	_, err = a.updateService(ctx, req, &w.UpdateServiceRequest{Service: wire.String("web"),
		LoadBalancers: []w.LoadBalancer{{TargetGroupArn: wire.String(lbTestTG + "0"), ContainerName: wire.String("web"), ContainerPort: wire.Int32(80)}}})
	if e := mapError(err); e == nil || e.Code != "InvalidParameterException" || !strings.HasPrefix(e.Message, "Unable to assume role and validate the specified targetGroupArn.") {
		t.Fatalf("missing target group: %v", err)
	}
	up, err := a.updateService(ctx, req, &w.UpdateServiceRequest{Service: wire.String("web"), LoadBalancers: []w.LoadBalancer{}})
	if err != nil || len(up.Service.LoadBalancers) != 0 || len(up.Service.Deployments) != 2 {
		t.Fatalf("removing loadBalancers: %v %+v", err, up)
	}
	// Leaving loadBalancers out changes nothing.
	up, err = a.updateService(ctx, req, &w.UpdateServiceRequest{Service: wire.String("web"), DesiredCount: wire.Int32(0)})
	if err != nil || len(up.Service.Deployments) != 2 {
		t.Fatalf("update without loadBalancers: %v %+v", err, up)
	}
}
