package autoscaling

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/autoscalingwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/autoscaling"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

// newAdapter is the adapter over the real control plane and CloudWatch
// with a service "web" (desired 1) in cluster default.
func newAdapter(t *testing.T) (*Adapter, *control.Control, *metrics.Service, *api.Request) {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data, err := metrics.OpenData(filepath.Join(dir, "metrics.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { data.Close() })
	ctx := context.Background()
	req := &api.Request{Scope: tenant.Scope{Account: "123456789012", Region: "us-east-1"}}
	ctl := control.New(control.Config{}, st)
	if _, err := ctl.CreateCluster(ctx, req.Scope, control.ClusterSpec{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ctl.RegisterTaskDefinition(ctx, req.Scope, &control.TaskDefinition{
		Family: "web", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: []control.ContainerDefinition{{Name: "web", Image: "nginx"}},
	}, "test"); err != nil {
		t.Fatal(err)
	}
	one := 1
	if _, err := ctl.CreateService(ctx, req.Scope, control.ServiceSpec{Name: "web", TaskDefinition: "web", DesiredCount: &one,
		LaunchType: "FARGATE", NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-1"}}}); err != nil {
		t.Fatal(err)
	}
	cw := metrics.New(metrics.Config{}, data, st)
	svc := autoscaling.New(autoscaling.Config{}, st, autoscaling.ControlECS{Control: ctl}, cw)
	cw.SetActionSink(svc)
	return &Adapter{svc: svc}, ctl, cw, req
}

func code(err error) string {
	if e := mapError(err); e != nil {
		return e.Code
	}
	return "unmapped: " + err.Error()
}

func TestErrors(t *testing.T) {
	a, _, _, req := newAdapter(t)
	ctx := context.Background()
	reg := func(ns, rid, dim string, min, max int32) error {
		_, err := a.registerScalableTarget(ctx, req, &w.RegisterScalableTargetRequest{ServiceNamespace: &ns, ResourceId: &rid,
			ScalableDimension: &dim, MinCapacity: &min, MaxCapacity: &max})
		return err
	}
	const dim = "ecs:service:DesiredCount"
	for name, c := range map[string]struct {
		err  error
		want string
	}{
		"unknown namespace":     {reg("foo", "service/default/web", dim, 1, 2), "ValidationException"},
		"other namespace":       {reg("dynamodb", "table/t", "dynamodb:table:ReadCapacityUnits", 1, 2), "ValidationException"},
		"wrong dimension":       {reg("ecs", "service/default/web", "ecs:service:Foo", 1, 2), "ValidationException"},
		"bad resource id":       {reg("ecs", "web", dim, 1, 2), "ValidationException"},
		"missing service":       {reg("ecs", "service/default/nope", dim, 1, 2), "ValidationException"},
		"missing cluster":       {reg("ecs", "service/nope/web", dim, 1, 2), "ValidationException"},
		"min greater than max":  {reg("ecs", "service/default/web", dim, 3, 2), "ValidationException"},
		"negative min capacity": {reg("ecs", "service/default/web", dim, -1, 2), "ValidationException"},
	} {
		if c.err == nil || code(c.err) != c.want {
			t.Errorf("%s: %v, want %s", name, c.err, c.want)
		}
	}
	ns, rid, d := "ecs", "service/default/web", dim
	_, err := a.putScalingPolicy(ctx, req, &w.PutScalingPolicyRequest{PolicyName: wire.String("p"), ServiceNamespace: &ns, ResourceId: &rid,
		ScalableDimension: &d, PolicyType: wire.String("StepScaling"), StepScalingPolicyConfiguration: &w.StepScalingPolicyConfiguration{
			AdjustmentType: wire.String("ChangeInCapacity"), StepAdjustments: []w.StepAdjustment{{MetricIntervalLowerBound: wire.Float64(0), ScalingAdjustment: wire.Int32(1)}}}})
	if code(err) != "ObjectNotFoundException" {
		t.Errorf("policy on an unregistered target: %v", err)
	}
	_, err = a.describeScalableTargets(ctx, req, &w.DescribeScalableTargetsRequest{ServiceNamespace: &ns, NextToken: wire.String("garbage")})
	if code(err) != "InvalidNextTokenException" {
		t.Errorf("bad NextToken: %v", err)
	}
	_, err = a.listTagsForResource(ctx, req, &w.ListTagsForResourceRequest{ResourceARN: wire.String("arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/nope")})
	if code(err) != "ResourceNotFoundException" {
		t.Errorf("tags of an unknown target: %v", err)
	}
}

// TestStepPolicyFromAlarm: a step policy is the action of an alarm the
// user creates; the alarm going to ALARM (SetAlarmState, delivered through
// CloudWatch's outbox) scales by the step its datapoints fall in.
func TestStepPolicyFromAlarm(t *testing.T) {
	a, ctl, cw, req := newAdapter(t)
	ctx := context.Background()
	ns, rid, dim := "ecs", "service/default/web", "ecs:service:DesiredCount"
	if _, err := a.registerScalableTarget(ctx, req, &w.RegisterScalableTargetRequest{ServiceNamespace: &ns, ResourceId: &rid,
		ScalableDimension: &dim, MinCapacity: wire.Int32(1), MaxCapacity: wire.Int32(10), Tags: map[string]string{"team": "web"}}); err != nil {
		t.Fatal(err)
	}
	out, err := a.putScalingPolicy(ctx, req, &w.PutScalingPolicyRequest{PolicyName: wire.String("steps"), ServiceNamespace: &ns, ResourceId: &rid,
		ScalableDimension: &dim, PolicyType: wire.String("StepScaling"), StepScalingPolicyConfiguration: &w.StepScalingPolicyConfiguration{
			AdjustmentType: wire.String("ChangeInCapacity"), Cooldown: wire.Int32(60), MetricAggregationType: wire.String("Maximum"),
			StepAdjustments: []w.StepAdjustment{
				{MetricIntervalLowerBound: wire.Float64(0), MetricIntervalUpperBound: wire.Float64(20), ScalingAdjustment: wire.Int32(1)},
				{MetricIntervalLowerBound: wire.Float64(20), ScalingAdjustment: wire.Int32(4)}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Alarms) != 0 {
		t.Errorf("a step policy made alarms: %v", out.Alarms)
	}
	if err := cw.PutAlarm(ctx, metrics.Alarm{Scope: req.Scope, Name: "cpu-high", ActionsEnabled: true, AlarmActions: []string{*out.PolicyARN},
		Metric: metrics.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization"}, Statistic: "Average", Period: 60, EvaluationPeriods: 2,
		Threshold: 70, Comparison: "GreaterThanThreshold"}); err != nil {
		t.Fatal(err)
	}
	// Maximum of 75 and 95 is 25 over the threshold: the second step, +4.
	if err := cw.SetState(ctx, req.Scope, "cpu-high", metrics.StateAlarm, "test", `{"recentDatapoints":[75,95]}`); err != nil {
		t.Fatal(err)
	}
	svcs, _, err := ctl.DescribeServices(ctx, req.Scope, "default", []string{"web"})
	if err != nil || svcs[0].DesiredCount != 5 {
		t.Fatalf("desired count after the step: %v %v", err, svcs)
	}
	acts, err := a.describeScalingActivities(ctx, req, &w.DescribeScalingActivitiesRequest{ServiceNamespace: &ns, ResourceId: &rid})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(acts)
	for _, want := range []string{`"Description":"Setting desired count to 5."`, `"Cause":"monitor alarm cpu-high in state ALARM triggered policy steps"`,
		`"StatusCode":"Successful"`, `"StatusMessage":"Successfully set desired count to 5. Change successfully fulfilled by ecs."`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("activities lack %s: %s", want, b)
		}
	}
	pols, err := a.describeScalingPolicies(ctx, req, &w.DescribeScalingPoliciesRequest{ServiceNamespace: &ns})
	if err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(pols)
	for _, want := range []string{`"PolicyType":"StepScaling"`, `"Cooldown":60`, `"MetricAggregationType":"Maximum"`,
		`{"MetricIntervalLowerBound":20,"ScalingAdjustment":4}`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("policies lack %s: %s", want, b)
		}
	}
	// Tags on the target, by its ARN.
	ts, _ := a.describeScalableTargets(ctx, req, &w.DescribeScalableTargetsRequest{ServiceNamespace: &ns})
	arn := ts.ScalableTargets[0].ScalableTargetARN
	if _, err := a.tagResource(ctx, req, &w.TagResourceRequest{ResourceARN: arn, Tags: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.untagResource(ctx, req, &w.UntagResourceRequest{ResourceARN: arn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, err := a.listTagsForResource(ctx, req, &w.ListTagsForResourceRequest{ResourceARN: arn})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["env"] != "prod" {
		t.Errorf("tags %v %v", tags, err)
	}
}
