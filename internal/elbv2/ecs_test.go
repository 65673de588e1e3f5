package elbv2

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/lb"
)

func awsvpcTask(id, ip string) *control.Task {
	return &control.Task{
		ID: id, ARN: "arn:aws:ecs:eu-west-1:123456789012:task/default/" + id, Node: "node-a",
		Attachments: []control.TaskAttachment{{ID: "eni-att", Type: "ElasticNetworkInterface", Details: []control.KeyValue{
			{Name: "subnetId", Value: "subnet-1"}, {Name: "privateIPv4Address", Value: ip}}}},
		Containers: []control.Container{{Name: "web"}},
	}
}

// TestRegistrarAwsvpc: an awsvpc task registers as ip:containerPort,
// counts as healthy once the data plane says so, and deregisters into
// draining for the group's delay.
func TestRegistrarAwsvpc(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, tg, _ := f.basic(t)
	svc := &control.Service{Name: "web", LoadBalancers: []control.ServiceLoadBalancer{{TargetGroupARN: tg.ARN, ContainerName: "web", ContainerPort: 8080}}}
	task := awsvpcTask("t1", "10.218.3.4")

	info, err := f.sv.TargetGroup(ctx, scope, tg.ARN)
	if err != nil || info.TargetType != "ip" || len(info.LoadBalancerARNs) != 1 || info.LoadBalancerARNs[0] != b.ARN {
		t.Fatalf("TargetGroup: %+v %v", info, err)
	}
	if _, err := f.sv.TargetGroup(ctx, scope, tg.ARN+"0"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Fatalf("a missing group: %v, want ErrNotFound", err)
	}

	if st, err := f.sv.TaskTargetHealth(ctx, scope, svc, task); err != nil || st.State != "" {
		t.Fatalf("before registration: %+v %v", st, err)
	}
	if err := f.sv.Register(ctx, task, svc); err != nil {
		t.Fatal(err)
	}
	if err := f.sv.Register(ctx, task, svc); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	hs, _ := f.sv.DescribeTargetHealth(ctx, scope, tg.ARN, nil)
	if len(hs) != 1 || hs[0].Target.ID != "10.218.3.4" || hs[0].Target.Port != 8080 {
		t.Fatalf("targets %+v", hs)
	}
	st, err := f.sv.TaskTargetHealth(ctx, scope, svc, task)
	if err != nil || st.State != control.TargetInitial || st.TargetGroupARN != tg.ARN {
		t.Fatalf("registered: %+v %v", st, err)
	}
	f.dp.mu.Lock()
	f.dp.health[tg.ARN] = []lb.TargetHealth{{Target: lb.Target{ID: "10.218.3.4", Port: 8080}, State: lb.StateUnhealthy, Reason: lb.ReasonTimeout, Description: "Request timed out"}}
	f.dp.mu.Unlock()
	if st, _ := f.sv.TaskTargetHealth(ctx, scope, svc, task); st.State != control.TargetUnhealthy || st.Reason != "Target.Timeout" || st.TargetGroupARN != tg.ARN {
		t.Fatalf("unhealthy: %+v", st)
	}
	f.dp.mu.Lock()
	f.dp.health[tg.ARN][0].State, f.dp.health[tg.ARN][0].Reason = lb.StateHealthy, ""
	f.dp.mu.Unlock()
	if st, _ := f.sv.TaskTargetHealth(ctx, scope, svc, task); st.State != control.TargetHealthy {
		t.Fatalf("healthy: %+v", st)
	}

	if _, err := f.sv.ModifyTargetGroupAttributes(ctx, scope, tg.ARN, []Attribute{{"deregistration_delay.timeout_seconds", "30"}}); err != nil {
		t.Fatal(err)
	}
	d, err := f.sv.Deregister(ctx, task, svc)
	if err != nil || d != 30*time.Second {
		t.Fatalf("deregister: %v %v", d, err)
	}
	hs, _ = f.sv.DescribeTargetHealth(ctx, scope, tg.ARN, nil)
	if hs[0].State != "draining" {
		t.Fatalf("after deregister: %+v", hs)
	}
	// Another task of no registration drains nothing.
	if d, err := f.sv.Deregister(ctx, awsvpcTask("t2", "10.218.3.5"), svc); err != nil || d != 0 {
		t.Fatalf("deregister a task never registered: %v %v", d, err)
	}
}

// TestRegistrarBridge: a bridge-mode task registers its node and the host
// port its container port is published on, in an instance group.
func TestRegistrarBridge(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	b, _, l := f.basic(t)
	tg, err := f.sv.CreateTargetGroup(ctx, scope, TargetGroupSpec{Name: "inst", Protocol: "HTTP", Port: ptr(80), VpcID: b.VpcID})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.sv.CreateRule(ctx, scope, l.ARN, 1, []Condition{{Field: FieldPathPattern, Values: []string{"/i/*"}}},
		[]Action{{Type: ActionForward, TargetGroupARN: tg.ARN}}, nil); err != nil {
		t.Fatal(err)
	}
	svc := &control.Service{Name: "web", LoadBalancers: []control.ServiceLoadBalancer{{TargetGroupARN: tg.ARN, ContainerName: "web", ContainerPort: 80}}}
	task := &control.Task{ID: "t3", ARN: "arn:aws:ecs:eu-west-1:123456789012:task/default/t3", Node: "node-a",
		Containers: []control.Container{{Name: "web", NetworkBindings: []control.NetworkBinding{{ContainerPort: 80, HostPort: 32768, Protocol: "tcp"}}}}}
	if err := f.sv.Register(ctx, task, svc); err != nil {
		t.Fatal(err)
	}
	cfg := f.dp.config()
	var got *lb.TargetGroup
	for i := range cfg.TargetGroups {
		if cfg.TargetGroups[i].ARN == tg.ARN {
			got = &cfg.TargetGroups[i]
		}
	}
	if got == nil || len(got.Targets) != 1 || got.Targets[0].ID != "node-a" || got.Targets[0].Port != 32768 || got.Targets[0].Addr.String() != "127.0.0.1" {
		t.Fatalf("instance target in the data plane: %+v", got)
	}
	// An awsvpc task cannot go into an instance group.
	svcIP := &control.Service{Name: "web", LoadBalancers: []control.ServiceLoadBalancer{{TargetGroupARN: tg.ARN, ContainerName: "web", ContainerPort: 8080}}}
	if err := f.sv.Register(ctx, awsvpcTask("t4", "10.218.3.9"), svcIP); err == nil {
		t.Fatal("an awsvpc task with no host port registered in an instance group")
	}
}
