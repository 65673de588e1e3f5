package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestTasksAPI drives RunTask, ListTasks and DescribeTasks with the Go SDK
// against one fargo running real containers: bad counts and network
// configurations with AWS's errors, overrides that reach the container,
// startedBy, group, tags, clientToken idempotency, MISSING failures, every
// ListTasks filter with pagination, version across the lifecycle, and the
// metadata endpoint as the task itself reads it.
func TestTasksAPI(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("api")
	c := in.ecsClient()
	ctx := context.Background()

	in.registerTaskDef("api-web", image, nil, nil)
	cdefs, _ := json.Marshal([]any{map[string]any{"name": "app", "image": image, "essential": true, "memory": 128}})
	in.mustAWS("ecs", "register-task-definition", "--family", "api-ec2", "--requires-compatibilities", "EC2",
		"--network-mode", "bridge", "--cpu", "256", "--memory", "256", "--container-definitions", string(cdefs))

	awsvpc := &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
		Subnets: []string{"subnet-0123456789abcdef0"}, SecurityGroups: []string{"sg-0123456789abcdef0"}}}
	fargate := func(mod func(*ecs.RunTaskInput)) *ecs.RunTaskInput {
		r := &ecs.RunTaskInput{TaskDefinition: aws.String("api-web"), LaunchType: types.LaunchTypeFargate, NetworkConfiguration: awsvpc}
		if mod != nil {
			mod(r)
		}
		return r
	}

	t.Run("InvalidRequests", func(t *testing.T) {
		for _, tc := range []struct {
			name string
			in   *ecs.RunTaskInput
			msg  string
		}{
			{"count 0", fargate(func(r *ecs.RunTaskInput) { r.Count = aws.Int32(0) }), "count"},
			{"count 11", fargate(func(r *ecs.RunTaskInput) { r.Count = aws.Int32(11) }), "count"},
			{"awsvpc without networkConfiguration", fargate(func(r *ecs.RunTaskInput) { r.NetworkConfiguration = nil }),
				"Network Configuration must be provided when networkMode 'awsvpc' is specified."},
			{"no subnets", fargate(func(r *ecs.RunTaskInput) {
				r.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{}}}
			}), "subnets"},
			{"malformed subnet", fargate(func(r *ecs.RunTaskInput) {
				r.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{Subnets: []string{"mysubnet"}}}
			}), "The subnet ID 'mysubnet' is malformed"},
			{"malformed security group", fargate(func(r *ecs.RunTaskInput) {
				r.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
					Subnets: []string{"subnet-0123456789abcdef0"}, SecurityGroups: []string{"default"}}}
			}), "security group"},
			{"bad assignPublicIp", fargate(func(r *ecs.RunTaskInput) {
				r.NetworkConfiguration = &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
					Subnets: []string{"subnet-0123456789abcdef0"}, AssignPublicIp: "SOMETIMES"}}
			}), "assignPublicIp"},
			{"networkConfiguration on bridge", &ecs.RunTaskInput{TaskDefinition: aws.String("api-ec2"), LaunchType: types.LaunchTypeEc2, NetworkConfiguration: awsvpc},
				"Network Configuration is not valid"},
			{"bridge on FARGATE", &ecs.RunTaskInput{TaskDefinition: aws.String("api-ec2"), LaunchType: types.LaunchTypeFargate},
				"does not support launch_type FARGATE"},
		} {
			_, err := c.RunTask(ctx, tc.in)
			var ipe *types.InvalidParameterException
			if !errors.As(err, &ipe) || !strings.Contains(ipe.ErrorMessage(), tc.msg) {
				t.Errorf("%s: err %v, want InvalidParameterException about %q", tc.name, err, tc.msg)
			}
		}
		// None of them left a task behind.
		if arns := listTasks(t, c, &ecs.ListTasksInput{}); len(arns) != 0 {
			t.Errorf("invalid requests made tasks: %v", arns)
		}
	})

	// A: overrides, startedBy, group, tags and a client token.
	runA := fargate(func(r *ecs.RunTaskInput) {
		r.StartedBy, r.Group, r.ClientToken = aws.String("api-test"), aws.String("batch:one"), aws.String("token-a")
		r.Tags = []types.Tag{{Key: aws.String("team"), Value: aws.String("core")}}
		r.Overrides = &types.TaskOverride{Cpu: aws.String("512"), Memory: aws.String("1024"), ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String("app"), Command: []string{"serve", "8081"}, Cpu: aws.Int32(384), Memory: aws.Int32(640),
			Environment: []types.KeyValuePair{{Name: aws.String("GREETING"), Value: aws.String("override")}, {Name: aws.String("OVERRIDDEN"), Value: aws.String("yes")}},
		}}}
	})
	out, err := c.RunTask(ctx, runA)
	if err != nil || len(out.Tasks) != 1 || len(out.Failures) != 0 {
		t.Fatalf("RunTask A: %+v, %v", out, err)
	}
	a := out.Tasks[0]
	arnA := aws.ToString(a.TaskArn)
	versions := []int64{a.Version}
	// B: the plain definition; C: the EC2 launch type on this host's
	// container instance.
	out, err = c.RunTask(ctx, fargate(nil))
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask B: %+v, %v", out, err)
	}
	arnB := aws.ToString(out.Tasks[0].TaskArn)
	out, err = c.RunTask(ctx, &ecs.RunTaskInput{TaskDefinition: aws.String("api-ec2"), LaunchType: types.LaunchTypeEc2})
	if err != nil || len(out.Tasks) != 1 {
		t.Fatalf("RunTask C: %+v, %v", out, err)
	}
	arnC := aws.ToString(out.Tasks[0].TaskArn)

	a = waitSDKTask(t, c, arnA, "RUNNING")
	versions = append(versions, a.Version)
	waitSDKTask(t, c, arnB, "RUNNING")
	waitSDKTask(t, c, arnC, "RUNNING")

	t.Run("RunTaskFields", func(t *testing.T) {
		if aws.ToString(a.StartedBy) != "api-test" || aws.ToString(a.Group) != "batch:one" {
			t.Errorf("startedBy %q group %q", aws.ToString(a.StartedBy), aws.ToString(a.Group))
		}
		if aws.ToString(a.Cpu) != "512" || aws.ToString(a.Memory) != "1024" {
			t.Errorf("task size %s/%s, want the overrides' 512/1024", aws.ToString(a.Cpu), aws.ToString(a.Memory))
		}
		if ct := a.Containers[0]; aws.ToString(ct.Cpu) != "384" || aws.ToString(ct.Memory) != "640" {
			t.Errorf("container size %s/%s, want the container override's 384/640", aws.ToString(ct.Cpu), aws.ToString(ct.Memory))
		}
		b := describeSDK(t, c, nil, arnB)[0]
		if aws.ToString(b.Group) != "family:api-web" || b.StartedBy != nil {
			t.Errorf("B: group %q startedBy %v, want family:api-web and none", aws.ToString(b.Group), b.StartedBy)
		}
		if len(a.Tags) != 0 {
			t.Errorf("tags without include TAGS: %v", a.Tags)
		}
		tagged := describeSDK(t, c, []types.TaskField{types.TaskFieldTags}, arnA)[0]
		if len(tagged.Tags) != 1 || aws.ToString(tagged.Tags[0].Key) != "team" || aws.ToString(tagged.Tags[0].Value) != "core" {
			t.Errorf("tags with include TAGS: %+v", tagged.Tags)
		}
	})

	t.Run("OverridesReachTheContainer", func(t *testing.T) {
		ip := sdkTaskIP(t, a)
		// The command override moved the server to 8081.
		env := waitHTTP(t, "http://"+ip+":8081/env", 15*time.Second)
		for _, kv := range []string{"GREETING=override", "OVERRIDDEN=yes", "APP_FROM_IMAGE=yes"} {
			if !slices.Contains(strings.Split(env, "\n"), kv) {
				t.Errorf("the container's environment lacks %s:\n%s", kv, env)
			}
		}
	})

	t.Run("ClientToken", func(t *testing.T) {
		again, err := c.RunTask(ctx, runA)
		if err != nil || len(again.Tasks) != 1 || aws.ToString(again.Tasks[0].TaskArn) != arnA {
			t.Fatalf("replayed clientToken: %+v, %v; want task %s again", again, err, arnA)
		}
		other := *runA
		other.StartedBy = aws.String("someone-else")
		_, err = c.RunTask(ctx, &other)
		var ce *types.ConflictException
		if !errors.As(err, &ce) {
			t.Errorf("clientToken reused with other parameters: %v, want ConflictException", err)
		}
	})

	t.Run("DescribeTasksMissing", func(t *testing.T) {
		prefix := arnA[:strings.LastIndex(arnA, "/")+1]
		unknownID := strings.Repeat("0", 31) + "f"
		res, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: []string{arnA, unknownID, prefix + strings.Repeat("e", 32), "not-a-task"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Tasks) != 1 || aws.ToString(res.Tasks[0].TaskArn) != arnA {
			t.Errorf("tasks %v, want only A", res.Tasks)
		}
		got := map[string]string{}
		for _, f := range res.Failures {
			got[aws.ToString(f.Arn)] = aws.ToString(f.Reason)
		}
		for _, arn := range []string{prefix + unknownID, prefix + strings.Repeat("e", 32)} {
			if got[arn] != "MISSING" {
				t.Errorf("failure for %s: %q, want MISSING (all: %v)", arn, got[arn], got)
			}
		}
		if len(res.Failures) != 3 {
			t.Errorf("failures %v, want 3", got)
		}
	})

	t.Run("MetadataEndpoint", func(t *testing.T) {
		ip := sdkTaskIP(t, a)
		var md map[string]any
		if err := json.Unmarshal([]byte(waitHTTP(t, "http://"+ip+":8081/meta", 10*time.Second)), &md); err != nil {
			t.Fatal(err)
		}
		if path(md, "Limits", "CPU") != 0.5 || path(md, "Limits", "Memory") != 1024.0 {
			t.Errorf("task Limits %v, want the overrides' 0.5 vCPU / 1024 MiB", md["Limits"])
		}
		for _, f := range []string{"PullStartedAt", "PullStoppedAt", "AvailabilityZone", "ClockDrift"} {
			if md[f] == nil {
				t.Errorf("metadata /task lacks %s", f)
			}
		}
		if _, ok := md["ExecutionStoppedAt"]; ok {
			t.Errorf("a running task has ExecutionStoppedAt %v", md["ExecutionStoppedAt"])
		}
		if _, ok := md["Errors"]; ok {
			t.Errorf("Errors without errors: %v", md["Errors"])
		}
		if es := md["EphemeralStorageMetrics"]; path(es, "Reserved") != 20480.0 || path(es, "Utilized") == nil {
			t.Errorf("EphemeralStorageMetrics %v, want 20 GiB reserved and the use", es)
		}
		ct := path(md, "Containers", 0)
		if path(ct, "Limits", "CPU") != 384.0 || path(ct, "Limits", "Memory") != 640.0 {
			t.Errorf("container Limits %v, want the override's 384/640", path(ct, "Limits"))
		}
		if p := path(ct, "Ports", 0); path(p, "ContainerPort") != 8080.0 || path(p, "HostPort") != 8080.0 || path(p, "Protocol") != "tcp" {
			t.Errorf("container Ports %v", path(ct, "Ports"))
		}
		started, _ := path(ct, "StartedAt").(string)
		if ts, err := time.Parse(time.RFC3339Nano, started); err != nil || time.Since(ts) > 5*time.Minute || time.Since(ts) < 0 {
			t.Errorf("container StartedAt %q", started)
		}
		if rc, ok := ct.(map[string]any)["RestartCount"]; !ok || rc != 0.0 {
			t.Errorf("RestartCount %v", rc)
		}
		n := path(ct, "Networks", 0)
		if path(n, "IPv4Addresses", 0) != ip || path(n, "AttachmentIndex") != 0.0 {
			t.Errorf("Networks %v", n)
		}
		for _, f := range []string{"MACAddress", "IPv4SubnetCIDRBlock", "PrivateDNSName", "SubnetGatewayIpv4Address"} {
			if s, _ := path(n, f).(string); s == "" {
				t.Errorf("Networks[0].%s is empty: %v", f, n)
			}
		}

		// Stats: the task's eth0 counters (the requests above came in
		// through it) and the cgroup's block I/O; a rate from the second
		// read on.
		var st map[string]any
		for i := range 2 {
			if err := json.Unmarshal([]byte(waitHTTP(t, "http://"+ip+":8081/meta/stats", 10*time.Second)), &st); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				time.Sleep(200 * time.Millisecond)
			}
		}
		if rx, _ := path(st, "networks", "eth0", "rx_bytes").(float64); rx < 1000 {
			t.Errorf("networks.eth0.rx_bytes %v, want the bytes that reached the task", path(st, "networks"))
		}
		if tx, _ := path(st, "networks", "eth0", "tx_packets").(float64); tx < 1 {
			t.Errorf("networks.eth0.tx_packets %v", path(st, "networks"))
		}
		if _, ok := path(st, "blkio_stats", "io_service_bytes_recursive").([]any); !ok {
			t.Errorf("blkio_stats %v", st["blkio_stats"])
		}
		if rate, _ := path(st, "network_rate_stats", "rx_bytes_per_sec").(float64); rate <= 0 {
			t.Errorf("network_rate_stats %v", st["network_rate_stats"])
		}
	})

	t.Run("ListTasksFilters", func(t *testing.T) {
		cis, err := c.ListContainerInstances(ctx, &ecs.ListContainerInstancesInput{})
		if err != nil || len(cis.ContainerInstanceArns) != 1 {
			t.Fatalf("ListContainerInstances: %+v, %v", cis, err)
		}
		instance := cis.ContainerInstanceArns[0]
		if got := aws.ToString(describeSDK(t, c, nil, arnC)[0].ContainerInstanceArn); got != instance {
			t.Errorf("C's containerInstanceArn %q, want %q", got, instance)
		}
		all := []string{arnA, arnB, arnC}
		for _, tc := range []struct {
			name string
			in   ecs.ListTasksInput
			want []string
		}{
			{"none", ecs.ListTasksInput{}, all},
			{"family", ecs.ListTasksInput{Family: aws.String("api-web")}, []string{arnA, arnB}},
			{"startedBy", ecs.ListTasksInput{StartedBy: aws.String("api-test")}, []string{arnA}},
			{"launchType FARGATE", ecs.ListTasksInput{LaunchType: types.LaunchTypeFargate}, []string{arnA, arnB}},
			{"launchType EC2", ecs.ListTasksInput{LaunchType: types.LaunchTypeEc2}, []string{arnC}},
			{"containerInstance ARN", ecs.ListTasksInput{ContainerInstance: aws.String(instance)}, []string{arnC}},
			{"containerInstance id", ecs.ListTasksInput{ContainerInstance: aws.String(instance[strings.LastIndex(instance, "/")+1:])}, []string{arnC}},
			{"unknown containerInstance", ecs.ListTasksInput{ContainerInstance: aws.String(strings.Repeat("a", 32))}, nil},
			{"desiredStatus STOPPED", ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}, nil},
		} {
			if got := listTasks(t, c, &tc.in); !sameSet(got, tc.want) {
				t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
			}
		}
		// One a page: three pages of one, the last without a nextToken.
		var paged []string
		var token *string
		for page := 0; ; page++ {
			res, err := c.ListTasks(ctx, &ecs.ListTasksInput{MaxResults: aws.Int32(1), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.TaskArns) != 1 || page > 3 {
				t.Fatalf("page %d: %v (next %v)", page, res.TaskArns, res.NextToken)
			}
			paged = append(paged, res.TaskArns...)
			if token = res.NextToken; token == nil {
				break
			}
		}
		if !sameSet(paged, all) || len(paged) != 3 {
			t.Errorf("pages %v, want each of %v once", paged, all)
		}
		// B stops: it moves to desiredStatus STOPPED.
		if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String(arnB), Reason: aws.String("filter test")}); err != nil {
			t.Fatal(err)
		}
		if got := listTasks(t, c, &ecs.ListTasksInput{DesiredStatus: types.DesiredStatusStopped}); !sameSet(got, []string{arnB}) {
			t.Errorf("desiredStatus STOPPED after stopping B: %v", got)
		}
		if got := listTasks(t, c, &ecs.ListTasksInput{Family: aws.String("api-web")}); !sameSet(got, []string{arnA}) {
			t.Errorf("RUNNING api-web tasks after stopping B: %v", got)
		}
	})

	t.Run("VersionAcrossLifecycle", func(t *testing.T) {
		if _, err := c.StopTask(ctx, &ecs.StopTaskInput{Task: aws.String(arnA)}); err != nil {
			t.Fatal(err)
		}
		versions = append(versions, describeSDK(t, c, nil, arnA)[0].Version)
		stopped := waitSDKTask(t, c, arnA, "STOPPED")
		versions = append(versions, stopped.Version)
		for i := 1; i < len(versions); i++ {
			if versions[i] <= versions[i-1] {
				t.Errorf("version went %v across RunTask, RUNNING, StopTask, STOPPED; want it to grow at each", versions)
				break
			}
		}
		if stopped.StopCode != types.TaskStopCodeUserInitiated || stopped.ExecutionStoppedAt == nil {
			t.Errorf("stopped A: stopCode %q executionStoppedAt %v", stopped.StopCode, stopped.ExecutionStoppedAt)
		}
	})
}

func describeSDK(t *testing.T, c *ecs.Client, include []types.TaskField, arns ...string) []types.Task {
	t.Helper()
	res, err := c.DescribeTasks(context.Background(), &ecs.DescribeTasksInput{Tasks: arns, Include: include})
	if err != nil || len(res.Tasks) != len(arns) {
		t.Fatalf("DescribeTasks %v: %+v, %v", arns, res, err)
	}
	return res.Tasks
}

// waitSDKTask polls until the task's lastStatus is want.
func waitSDKTask(t *testing.T, c *ecs.Client, arn, want string) types.Task {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		task := describeSDK(t, c, nil, arn)[0]
		if aws.ToString(task.LastStatus) == want {
			return task
		}
		if aws.ToString(task.LastStatus) == "STOPPED" || time.Now().After(deadline) {
			t.Fatalf("task %s is %s (%s), want %s", arn, aws.ToString(task.LastStatus), aws.ToString(task.StoppedReason), want)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func sdkTaskIP(t *testing.T, task types.Task) string {
	t.Helper()
	for _, at := range task.Attachments {
		for _, d := range at.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" && aws.ToString(d.Value) != "" {
				return aws.ToString(d.Value)
			}
		}
	}
	t.Fatalf("task %s has no private IPv4 address: %+v", aws.ToString(task.TaskArn), task.Attachments)
	return ""
}

// listTasks lists every page.
func listTasks(t *testing.T, c *ecs.Client, in *ecs.ListTasksInput) []string {
	t.Helper()
	var out []string
	p := ecs.NewListTasksPaginator(c, in)
	for p.HasMorePages() {
		res, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("ListTasks %+v: %v", in, err)
		}
		out = append(out, res.TaskArns...)
	}
	return out
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}
