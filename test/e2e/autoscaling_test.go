package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// scalingService creates cluster default, a Fargate task definition and
// service name with desired count n (on an instance without an agent the
// service has no tasks; its desired count is what scaling changes).
func (in *instance) scalingService(name string, n int) {
	in.t.Helper()
	in.mustAWS("ecs", "create-cluster", "--cluster-name", "default")
	cdefs := `[{"name":"app","image":"busybox:latest","essential":true,"command":["sleep","3600"]}]`
	in.mustAWS("ecs", "register-task-definition", "--family", name, "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "256", "--memory", "512", "--container-definitions", cdefs)
	in.mustAWS("ecs", "create-service", "--service-name", name, "--task-definition", name,
		"--desired-count", fmt.Sprint(n), "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig)
}

// scalingExpectErr runs a CLI call that must fail with code.
func (in *instance) scalingExpectErr(code string, args ...string) {
	in.t.Helper()
	_, err := in.aws(args...)
	if err == nil || !strings.Contains(err.Error(), "("+code+")") {
		in.t.Errorf("aws %s: got %v, want %s", strings.Join(args, " "), err, code)
	}
}

func (in *instance) scalingDesired(name string) float64 {
	in.t.Helper()
	d, _ := in.describeService(name)["desiredCount"].(float64)
	return d
}

// scalingWait polls f for up to d.
func scalingWait(t *testing.T, d time.Duration, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func (in *instance) scalingActivities(rid string) []any {
	in.t.Helper()
	out := in.mustAWS("application-autoscaling", "describe-scaling-activities", "--service-namespace", "ecs", "--resource-id", rid)
	acts, _ := out["ScalingActivities"].([]any)
	return acts
}

// TestAutoScalingTargetTracking is issue 11's Application Auto Scaling
// session with the AWS CLI: bad input, a scalable target clamping the
// service, a target-tracking policy whose two alarms CloudWatch shows with
// AWS's settings, AlarmHigh set to ALARM scaling the service out with
// AWS's activity, kill -9 keeping it all, scheduled actions (malformed
// ones refused, an at() one setting the bounds), and deregistering
// removing the policies and their alarms.
func TestAutoScalingTargetTracking(t *testing.T) {
	in := newInstance(t, "FARGO_METRICS_PERIOD=2s")
	in.start()
	in.scalingService("web", 1)
	const rid = "service/default/web"
	asc := func(args ...string) map[string]any {
		t.Helper()
		return in.mustAWS(append([]string{"application-autoscaling"}, args...)...)
	}
	target := []string{"--service-namespace", "ecs", "--scalable-dimension", "ecs:service:DesiredCount", "--resource-id"}

	// Bad input: AWS's errors, nothing stored.
	in.scalingExpectErr("ValidationException", append([]string{"application-autoscaling", "register-scalable-target"}, append(target, rid, "--min-capacity", "3", "--max-capacity", "2")...)...)
	ttConfig := `{"TargetValue":50,"PredefinedMetricSpecification":{"PredefinedMetricType":"ECSServiceAverageCPUUtilization"}}`
	in.scalingExpectErr("ObjectNotFoundException", append([]string{"application-autoscaling", "put-scaling-policy", "--policy-name", "cpu",
		"--policy-type", "TargetTrackingScaling", "--target-tracking-scaling-policy-configuration", ttConfig}, append(target, rid)...)...)
	if out := asc("describe-scalable-targets", "--service-namespace", "ecs"); len(out["ScalableTargets"].([]any)) != 0 {
		t.Fatalf("targets after refused registrations: %v", out)
	}

	// Registering clamps the desired count (1 -> min 2) through UpdateService.
	reg := asc(append([]string{"register-scalable-target"}, append(target, rid, "--min-capacity", "2", "--max-capacity", "5")...)...)
	if arn, _ := reg["ScalableTargetARN"].(string); !strings.HasPrefix(arn, "arn:aws:application-autoscaling:us-east-1:") {
		t.Errorf("ScalableTargetARN %v", reg)
	}
	if d := in.scalingDesired("web"); d != 2 {
		t.Fatalf("desired count after registering min 2: %v", d)
	}
	st := asc("describe-scalable-targets", "--service-namespace", "ecs", "--resource-ids", rid)
	if path(st, "ScalableTargets", 0, "MinCapacity") != 2.0 || path(st, "ScalableTargets", 0, "MaxCapacity") != 5.0 ||
		path(st, "ScalableTargets", 0, "SuspendedState", "DynamicScalingInSuspended") != false {
		t.Errorf("describe-scalable-targets: %v", st)
	}

	// A target-tracking policy and its two alarms.
	pol := asc(append([]string{"put-scaling-policy", "--policy-name", "cpu", "--policy-type", "TargetTrackingScaling",
		"--target-tracking-scaling-policy-configuration", ttConfig}, append(target, rid)...)...)
	policyARN, _ := pol["PolicyARN"].(string)
	if !regexp.MustCompile(`^arn:aws:autoscaling:us-east-1:\d{12}:scalingPolicy:[0-9a-f-]{36}:resource/ecs/service/default/web:policyName/cpu$`).MatchString(policyARN) {
		t.Errorf("PolicyARN %q", policyARN)
	}
	alarms, _ := pol["Alarms"].([]any)
	if len(alarms) != 2 {
		t.Fatalf("put-scaling-policy alarms: %v", pol)
	}
	high, _ := path(alarms, 0, "AlarmName").(string)
	low, _ := path(alarms, 1, "AlarmName").(string)
	if !regexp.MustCompile(`^TargetTracking-service/default/web-AlarmHigh-[0-9a-f-]{36}$`).MatchString(high) ||
		!regexp.MustCompile(`^TargetTracking-service/default/web-AlarmLow-[0-9a-f-]{36}$`).MatchString(low) {
		t.Errorf("alarm names %q %q", high, low)
	}
	da := in.mustAWS("cloudwatch", "describe-alarms", "--alarm-names", high, low)
	got := map[string]map[string]any{}
	for _, a := range da["MetricAlarms"].([]any) {
		m := a.(map[string]any)
		got[m["AlarmName"].(string)] = m
	}
	for name, want := range map[string][3]any{high: {3.0, 50.0, "GreaterThanThreshold"}, low: {15.0, 45.0, "LessThanThreshold"}} {
		a := got[name]
		if a == nil {
			t.Fatalf("describe-alarms lacks %s: %v", name, da)
		}
		if a["EvaluationPeriods"] != want[0] || a["DatapointsToAlarm"] != want[0] || a["Threshold"] != want[1] ||
			a["ComparisonOperator"] != want[2] || a["Period"] != 60.0 || a["Namespace"] != "AWS/ECS" ||
			a["MetricName"] != "CPUUtilization" || path(a, "AlarmActions", 0) != policyARN {
			t.Errorf("alarm %s: %v", name, a)
		}
		dims, _ := json.Marshal(a["Dimensions"])
		if !strings.Contains(string(dims), `"ClusterName","Value":"default"`) || !strings.Contains(string(dims), `"ServiceName","Value":"web"`) {
			t.Errorf("alarm %s dimensions %s", name, dims)
		}
	}

	// AlarmHigh in ALARM at 90% CPU: ceil(2 × 90 / 50) = 4.
	in.mustAWS("cloudwatch", "set-alarm-state", "--alarm-name", high, "--state-value", "ALARM",
		"--state-reason", "test", "--state-reason-data", `{"version":"1.0","recentDatapoints":[90.0]}`)
	scalingWait(t, 30*time.Second, "the scale-out activity", func() bool {
		for _, a := range in.scalingActivities(rid) {
			if path(a, "StatusCode") == "Successful" && path(a, "Description") == "Setting desired count to 4." {
				return true
			}
		}
		return false
	})
	acts := in.scalingActivities(rid)
	first := acts[len(acts)-1]
	if path(first, "Cause") != fmt.Sprintf("monitor alarm %s in state ALARM triggered policy cpu", high) ||
		path(first, "StatusMessage") != "Successfully set desired count to 4. Change successfully fulfilled by ecs." {
		t.Errorf("activity %v", first)
	}
	if d := in.scalingDesired("web"); d < 4 || d > 5 {
		t.Errorf("desired count after the scale-out: %v, want 4 (5 once the cooldown has passed)", d)
	}
	// boto3 reads the same activity.
	if exec.Command("python3", "-c", "import boto3").Run() == nil {
		script := `import boto3,sys
c=boto3.Session(profile_name="fargo").client("application-autoscaling")
a=c.describe_scaling_activities(ServiceNamespace="ecs",ResourceId="service/default/web")["ScalingActivities"]
assert any(x["Description"]=="Setting desired count to 4." and x["StatusCode"]=="Successful" for x in a), a
p=c.describe_scaling_policies(ServiceNamespace="ecs",ResourceId="service/default/web")["ScalingPolicies"]
assert p[0]["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]==50.0, p
for bad, tz in [("cron(61 * * * ? *)", "UTC"), ("cron(0 12 * * 1 *)", "UTC"), ("rate(0 minutes)", "UTC"), ("rate(5 weeks)", "UTC"),
        ("at(2026-13-01T00:00:00)", "UTC"), ("every 5 minutes", "UTC"), ("cron(0 9 ? * MON-FRI *)", "Mars/Olympus")]:
    try:
        c.put_scheduled_action(ServiceNamespace="ecs",ResourceId="service/default/web",ScalableDimension="ecs:service:DesiredCount",
            ScheduledActionName="bad",Schedule=bad,Timezone=tz,ScalableTargetAction={"MinCapacity":1})
        sys.exit("malformed schedule accepted: "+bad+" "+tz)
    except c.exceptions.ValidationException as e:
        pass
for kw, code in [(dict(ResourceId="service/default/nope", MinCapacity=1, MaxCapacity=2), "ValidationException"),
                 (dict(ResourceId="web", MinCapacity=1, MaxCapacity=2), "ValidationException")]:
    try:
        c.register_scalable_target(ServiceNamespace="ecs", ScalableDimension="ecs:service:DesiredCount", **kw)
        sys.exit("accepted %r" % kw)
    except c.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == code, e.response
print("boto3 autoscaling ok")
`
		cmd := exec.Command("python3", "-c", script)
		cmd.Env = in.env
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "boto3 autoscaling ok") {
			t.Errorf("boto3: %v\n%s", err, out)
		}
	}

	// kill -9: targets, policies, alarms and activities survive.
	in.kill()
	in.start()
	if out := asc("describe-scaling-policies", "--service-namespace", "ecs", "--resource-id", rid); path(out, "ScalingPolicies", 0, "PolicyARN") != policyARN {
		t.Errorf("policies after kill -9: %v", out)
	}
	if out := asc("describe-scalable-targets", "--service-namespace", "ecs"); path(out, "ScalableTargets", 0, "MaxCapacity") != 5.0 {
		t.Errorf("targets after kill -9: %v", out)
	}
	if n := len(in.mustAWS("cloudwatch", "describe-alarms", "--alarm-names", high, low)["MetricAlarms"].([]any)); n != 2 {
		t.Errorf("%d alarms after kill -9", n)
	}
	found := false
	for _, a := range in.scalingActivities(rid) {
		found = found || path(a, "Description") == "Setting desired count to 4."
	}
	if !found {
		t.Errorf("the scale-out activity is gone after kill -9")
	}

	// Scheduled actions: malformed expressions and time zones are refused;
	// an at() action sets the bounds and clamps the service.
	in.scalingExpectErr("ValidationException", append([]string{"application-autoscaling", "put-scheduled-action", "--scheduled-action-name", "bad",
		"--schedule", "cron(0 12 * * *)", "--scalable-target-action", "MinCapacity=1"}, append(target, rid)...)...)
	asc(append([]string{"put-scheduled-action", "--scheduled-action-name", "weekdays", "--schedule", "cron(0 9 ? * MON-FRI *)",
		"--timezone", "Europe/Paris", "--scalable-target-action", "MinCapacity=3,MaxCapacity=6"}, append(target, rid)...)...)
	at := time.Now().UTC().Add(40 * time.Second).Format("2006-01-02T15:04:05")
	asc(append([]string{"put-scheduled-action", "--scheduled-action-name", "night", "--schedule", "at(" + at + ")",
		"--scalable-target-action", "MinCapacity=1,MaxCapacity=1"}, append(target, rid)...)...)
	sa := asc("describe-scheduled-actions", "--service-namespace", "ecs", "--resource-id", rid)
	if n := len(sa["ScheduledActions"].([]any)); n != 2 {
		t.Fatalf("scheduled actions: %v", sa)
	}
	scalingWait(t, 120*time.Second, "the at() action", func() bool { return in.scalingDesired("web") == 1 })
	st = asc("describe-scalable-targets", "--service-namespace", "ecs", "--resource-ids", rid)
	if path(st, "ScalableTargets", 0, "MinCapacity") != 1.0 || path(st, "ScalableTargets", 0, "MaxCapacity") != 1.0 {
		t.Errorf("target after the at() action: %v", st)
	}
	acts = in.scalingActivities(rid)
	if path(acts, 0, "Cause") != "scheduled action name night was triggered" ||
		path(acts, 0, "Description") != "Setting min capacity to 1 and max capacity to 1 and desired count to 1" {
		t.Errorf("scheduled activity %v", path(acts, 0))
	}
	asc(append([]string{"delete-scheduled-action", "--scheduled-action-name", "weekdays"}, append(target, rid)...)...)
	in.scalingExpectErr("ObjectNotFoundException", append([]string{"application-autoscaling", "delete-scheduled-action", "--scheduled-action-name", "weekdays"}, append(target, rid)...)...)

	// Deregistering removes the policies and their alarms.
	asc(append([]string{"deregister-scalable-target"}, append(target, rid)...)...)
	if out := asc("describe-scaling-policies", "--service-namespace", "ecs"); len(out["ScalingPolicies"].([]any)) != 0 {
		t.Errorf("policies after deregistering: %v", out)
	}
	if out := in.mustAWS("cloudwatch", "describe-alarms", "--alarm-name-prefix", "TargetTracking-"); len(out["MetricAlarms"].([]any)) != 0 {
		t.Errorf("alarms after deregistering: %v", out)
	}
	in.scalingExpectErr("ObjectNotFoundException", append([]string{"application-autoscaling", "deregister-scalable-target"}, append(target, rid)...)...)
}

// TestAutoScalingCPUScalesOutAndIn is the Fargate course's last lesson on
// real tasks under the short metric period: a service of one task with a
// target-tracking policy on ECSServiceAverageCPUUtilization (target 50,
// min 1, max 3). The task burns CPU: fargo's AWS/ECS CPUUtilization from
// its cgroup rises, AlarmHigh goes to ALARM by itself, the policy sets the
// desired count to ceil(1 × CPU / 50) and the service runs that many tasks. The burn ends, AlarmLow
// holds for its 15 datapoints and the service scales back in to min.
// (The scale-out's size depends on the CPU the task gets on a shared
// machine: 2 or 3.)
func TestAutoScalingCPUScalesOutAndIn(t *testing.T) {
	awsCLI(t)
	in := newAgentInstanceEnv(t, "FARGO_METRICS_PERIOD=3s")
	image := in.pushTaskImage("burn")
	in.registerTaskDef("burn", image, nil, nil)
	in.mustAWS("ecs", "create-service", "--service-name", "burn", "--task-definition", "burn:1",
		"--desired-count", "1", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig)
	t.Cleanup(func() {
		_, _ = in.aws("ecs", "delete-service", "--service", "burn", "--force")
		_, _ = in.aws("ecs", "wait", "services-inactive", "--services", "burn")
	})
	in.mustAWS("ecs", "wait", "services-stable", "--services", "burn")
	tasks := in.serviceTasks("burn", "RUNNING")
	if len(tasks) != 1 {
		t.Fatalf("%d tasks", len(tasks))
	}
	cluster := path(tasks[0], "clusterArn").(string)
	rid := "service/" + cluster[strings.LastIndex(cluster, "/")+1:] + "/burn"
	target := []string{"--service-namespace", "ecs", "--scalable-dimension", "ecs:service:DesiredCount", "--resource-id", rid}
	in.mustAWS(append([]string{"application-autoscaling", "register-scalable-target", "--min-capacity", "1", "--max-capacity", "3"}, target...)...)
	pol := in.mustAWS(append([]string{"application-autoscaling", "put-scaling-policy", "--policy-name", "cpu50", "--policy-type", "TargetTrackingScaling",
		"--target-tracking-scaling-policy-configuration", `{"TargetValue":50,"PredefinedMetricSpecification":{"PredefinedMetricType":"ECSServiceAverageCPUUtilization"}}`}, target...)...)
	high, _ := path(pol, "Alarms", 0, "AlarmName").(string)
	low, _ := path(pol, "Alarms", 1, "AlarmName").(string)

	base := "http://" + taskIP(t, tasks[0]) + ":8080"
	waitHTTP(t, base+"/", 10*time.Second)
	waitHTTP(t, base+"/burn?secs=45&workers=2", 10*time.Second)

	activity := func(desc string) map[string]any {
		for _, a := range in.scalingActivities(rid) {
			if path(a, "Description") == desc && path(a, "StatusCode") == "Successful" {
				return a.(map[string]any)
			}
		}
		return nil
	}
	// The first scale-out: ceil(1 × CPU / 50), at least 2, at most 3.
	var out map[string]any
	var n int
	deadline := time.Now().Add(150 * time.Second)
	for out == nil {
		for _, a := range in.scalingActivities(rid) {
			var k int
			if _, err := fmt.Sscanf(fmt.Sprint(path(a, "Description")), "Setting desired count to %d.", &k); err == nil && k >= 2 && path(a, "StatusCode") == "Successful" {
				out, n = a.(map[string]any), k
			}
		}
		if out == nil && time.Now().After(deadline) {
			t.Logf("activities: %v", in.scalingActivities(rid))
			t.Logf("alarms: %v", in.mustAWS("cloudwatch", "describe-alarms", "--alarm-names", high, low))
			t.Fatalf("no scale-out")
		}
		time.Sleep(time.Second)
	}
	t.Logf("scale-out: %v (%v)", out["Description"], out["Cause"])
	if n > 3 {
		t.Errorf("scaled past max: %v", out)
	}
	if cause, _ := out["Cause"].(string); cause != fmt.Sprintf("monitor alarm %s in state ALARM triggered policy cpu50", high) {
		t.Errorf("scale-out cause %q", cause)
	}
	if st := path(in.mustAWS("cloudwatch", "describe-alarms", "--alarm-names", high), "MetricAlarms", 0, "StateReason"); !strings.HasPrefix(fmt.Sprint(st), "Threshold Crossed") {
		t.Errorf("AlarmHigh reason %v", st)
	}
	// The burn ends: AlarmLow after 15 datapoints below 45%, back to min,
	// with the scale-out's tasks started and then stopped.
	scalingWait(t, 240*time.Second, "the scale-in to 1", func() bool { return activity("Setting desired count to 1.") != nil })
	in.waitService("burn", 180*time.Second, func(s map[string]any) bool { return s["desiredCount"] == 1.0 && s["runningCount"] == 1.0 })
	running, stopped := len(in.serviceTasks("burn", "RUNNING")), len(in.serviceTasks("burn", "STOPPED"))
	if running != 1 || stopped < n-1 {
		t.Errorf("after the scale-in: %d running, %d stopped tasks; want 1 and at least %d", running, stopped, n-1)
	}
	raw, _ := json.Marshal(in.describeService("burn")["events"])
	if c := strings.Count(string(raw), "has started"); c < 2 {
		t.Errorf("service events show %d starts, want the first and the scale-out's: %s", c, raw)
	}
}
