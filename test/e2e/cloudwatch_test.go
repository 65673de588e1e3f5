package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// cwModelDir writes a copy of botocore's CloudWatch model that lists only
// the given protocol, for AWS_DATA_PATH: botocore 1.43 picks awsJson1_0
// for CloudWatch by itself; this makes the same real client speak
// smithy-rpc-v2-cbor or awsQuery.
func cwModelDir(t *testing.T, proto string) string {
	t.Helper()
	buf, err := exec.Command("python3", "-c", "import json,botocore.loaders as l;print(json.dumps(l.Loader().load_service_model('cloudwatch','service-2')))").Output()
	if err != nil {
		t.Skip("python3 with botocore is not installed")
	}
	var model map[string]any
	if err := json.Unmarshal(buf, &model); err != nil {
		t.Fatal(err)
	}
	meta := model["metadata"].(map[string]any)
	if proto == "cbor" {
		proto = "smithy-rpc-v2-cbor"
	}
	meta["protocols"] = []string{proto}
	meta["protocol"] = proto
	dir := t.TempDir()
	dst := filepath.Join(dir, "cloudwatch", "2010-08-01")
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	buf, _ = json.Marshal(model)
	if err := os.WriteFile(filepath.Join(dst, "service-2.json"), buf, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// cwClient runs testdata/cloudwatch_client.py over one protocol.
func (in *instance) cwClient(proto, step string) map[string]any {
	in.t.Helper()
	cmd := exec.Command("python3", "testdata/cloudwatch_client.py", proto, step)
	cmd.Env = in.env
	if proto != "json" {
		cmd.Env = append(cmd.Env, "AWS_DATA_PATH="+cwModelDir(in.t, proto))
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		in.t.Fatalf("cloudwatch client %s %s: %v\n%s\n%s", proto, step, err, out, stderr.String())
	}
	in.t.Logf("client %s %s: %s", proto, step, stderr.String())
	res := map[string]any{}
	if err := json.Unmarshal(out, &res); err != nil {
		in.t.Fatalf("client output %q: %v", out, err)
	}
	return res
}

// TestCloudWatchProtocols puts and gets metrics and alarms with boto3 over
// each of CloudWatch's three protocols, checks AWS's errors for bad data,
// then kills fargo (SIGKILL) and finds the data and the alarm states again.
func TestCloudWatchProtocols(t *testing.T) {
	in := newInstance(t, "FARGO_METRICS_PERIOD=2s")
	in.start()
	wantCT := map[string]string{"json": "application/x-amz-json-1.0", "cbor": "application/cbor", "query": "application/x-www-form-urlencoded; charset=utf-8"}
	for _, proto := range []string{"json", "cbor", "query"} {
		res := in.cwClient(proto, "put")
		if res["resolved"] != map[string]string{"json": "json", "cbor": "smithy-rpc-v2-cbor", "query": "query"}[proto] {
			t.Errorf("%s: client resolved protocol %v", proto, res["resolved"])
		}
		if cts := res["content_types"].([]any); len(cts) != 1 || cts[0] != wantCT[proto] {
			t.Errorf("%s: requests sent as %v, want %s", proto, cts, wantCT[proto])
		}
		for k, want := range map[string]string{"nan": "InvalidParameterValue", "old": "InvalidParameterValue", "future": "InvalidParameterValue",
			"toomany": "InvalidParameterValue", "both": "InvalidParameterCombination", "reserved": "InvalidParameterValue", "missing_alarm": "ResourceNotFound"} {
			if res[k] != want {
				t.Errorf("%s: %s answered %v, want %s", proto, k, res[k], want)
			}
		}
	}
	check := func(when string) {
		for _, proto := range []string{"json", "cbor", "query"} {
			res := in.cwClient(proto, "check")
			// 10 + (20,30 as a set of 2, sum 50) + 1x3 + 2x1: 7 samples, sum 65.
			want := []any{map[string]any{"Sum": 65.0, "SampleCount": 7.0, "Minimum": 1.0, "Maximum": 30.0, "Average": 65.0 / 7, "Unit": "Milliseconds"}}
			if !reflect.DeepEqual(res["stats"], want) {
				t.Errorf("%s %s: statistics %v, want %v", when, proto, res["stats"], want)
			}
			data := res["data"].(map[string]any)
			for id, v := range map[string][]any{"lat": {65.0}, "hits": {7.0}, "total": {72.0}, "calc": {35.0}} {
				if !reflect.DeepEqual(data[id], v) {
					t.Errorf("%s %s: GetMetricData %s = %v, want %v", when, proto, id, data[id], v)
				}
			}
			if res["times_ok"] != true {
				t.Errorf("%s %s: timestamps did not decode as timestamps", when, proto)
			}
			if !reflect.DeepEqual(res["metrics"], []any{"Hits", "Lat"}) {
				t.Errorf("%s %s: ListMetrics %v", when, proto, res["metrics"])
			}
			if res["alarm"] != "ALARM" || res["alarm_reason"] != "by hand" || res["for_metric"] != 1.0 {
				t.Errorf("%s %s: alarm %v (%v), for metric %v", when, proto, res["alarm"], res["alarm_reason"], res["for_metric"])
			}
			if !reflect.DeepEqual(res["tags"], []any{map[string]any{"Key": "team", "Value": "a"}}) {
				t.Errorf("%s %s: tags %v", when, proto, res["tags"])
			}
			// Action: the alarm's action names an Application Auto Scaling
			// policy that does not exist, and its failure is recorded.
			if !reflect.DeepEqual(res["history"], []any{"Action", "ConfigurationUpdate", "StateUpdate"}) {
				t.Errorf("%s %s: history types %v", when, proto, res["history"])
			}
		}
	}
	check("before restart")

	// AWS/Logs: what PutLogEvents stored, per log group.
	in.mustAWS("logs", "create-log-group", "--log-group-name", "/cw/app")
	in.mustAWS("logs", "create-log-stream", "--log-group-name", "/cw/app", "--log-stream-name", "s")
	ms := time.Now().UnixMilli()
	events, _ := json.Marshal([]map[string]any{{"timestamp": ms, "message": "hello"}, {"timestamp": ms, "message": "world!"}})
	in.mustAWS("logs", "put-log-events", "--log-group-name", "/cw/app", "--log-stream-name", "s", "--log-events", string(events))
	logStats := func() (float64, float64) {
		get := func(name string) float64 {
			out := in.mustAWS("cloudwatch", "get-metric-statistics", "--namespace", "AWS/Logs", "--metric-name", name,
				"--dimensions", "Name=LogGroupName,Value=/cw/app", "--statistics", "Sum", "--period", "3600",
				"--start-time", time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "--end-time", time.Now().Add(time.Minute).UTC().Format(time.RFC3339))
			if dps, _ := out["Datapoints"].([]any); len(dps) == 1 {
				v, _ := path(dps[0], "Sum").(float64)
				return v
			}
			return 0
		}
		return get("IncomingLogEvents"), get("IncomingBytes")
	}
	var nEvents, nBytes float64
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline) && nEvents == 0; time.Sleep(time.Second) {
		nEvents, nBytes = logStats()
	}
	if nEvents != 2 || nBytes != 11 {
		t.Errorf("AWS/Logs IncomingLogEvents %v IncomingBytes %v, want 2 and 11", nEvents, nBytes)
	}
	in.kill()
	in.start()
	check("after kill -9")
	if e, b := logStats(); e != 2 || b != 11 {
		t.Errorf("after kill -9: AWS/Logs %v events, %v bytes", e, b)
	}
}

// TestCloudWatchAlarmEvaluation drives an alarm by its metric under the
// short period: ALARM after 2 of 2 breaching periods, OK once the metric
// falls, with AWS's reasons.
func TestCloudWatchAlarmEvaluation(t *testing.T) {
	in := newInstance(t, "FARGO_METRICS_PERIOD=2s")
	in.start()
	res := in.cwClient("cbor", "alarm")
	states, _ := res["states"].([]any)
	var seq []string
	for _, s := range states {
		seq = append(seq, s.([]any)[0].(string))
	}
	if strings.Join(seq, ",") != "INSUFFICIENT_DATA,ALARM,OK" {
		t.Fatalf("states %v, want INSUFFICIENT_DATA,ALARM,OK", states)
	}
	reason := states[1].([]any)[1].(string)
	if !strings.HasPrefix(reason, "Threshold Crossed: ") || !strings.Contains(reason, "[90.0 (") || !strings.Contains(reason, " greater than the threshold (50.0)") {
		t.Errorf("ALARM reason %q", reason)
	}
}

// TestCloudWatchECSServiceCPU runs a service whose task burns CPU: under
// the short metric period, fargo's AWS/ECS CPUUtilization of the service
// (from the task's cgroup) rises past 50% of its reservation, an alarm on
// it goes to ALARM, and GetMetricData and GetMetricStatistics show the
// service's and the cluster's CPU and memory utilization.
func TestCloudWatchECSServiceCPU(t *testing.T) {
	awsCLI(t)
	in := newAgentInstanceEnv(t, "FARGO_METRICS_PERIOD=3s")
	image := in.pushTaskImage("cpu")
	in.registerTaskDef("cpu", image, nil, nil)
	in.mustAWS("ecs", "create-service", "--service-name", "cpu", "--task-definition", "cpu:1",
		"--desired-count", "1", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig)
	t.Cleanup(func() {
		_, _ = in.aws("ecs", "delete-service", "--service", "cpu", "--force")
		_, _ = in.aws("ecs", "wait", "services-inactive", "--services", "cpu")
	})
	in.mustAWS("ecs", "wait", "services-stable", "--services", "cpu")
	tasks := in.serviceTasks("cpu", "RUNNING")
	if len(tasks) != 1 {
		t.Fatalf("%d tasks", len(tasks))
	}
	cluster := path(tasks[0], "clusterArn").(string)
	cluster = cluster[strings.LastIndex(cluster, "/")+1:]
	dims := "Name=ClusterName,Value=" + cluster + " Name=ServiceName,Value=cpu"
	in.mustAWS(append([]string{"cloudwatch", "put-metric-alarm", "--alarm-name", "cpu-high", "--namespace", "AWS/ECS",
		"--metric-name", "CPUUtilization", "--statistic", "Average", "--period", "60", "--evaluation-periods", "2",
		"--threshold", "50", "--comparison-operator", "GreaterThanThreshold", "--dimensions"}, strings.Fields(dims)...)...)
	base := "http://" + taskIP(t, tasks[0]) + ":8080"
	waitHTTP(t, base+"/", 10*time.Second)
	waitHTTP(t, base+"/burn?secs=120&workers=2", 10*time.Second)

	var alarm map[string]any
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		alarm = path(in.mustAWS("cloudwatch", "describe-alarms", "--alarm-names", "cpu-high"), "MetricAlarms", 0).(map[string]any)
		if alarm["StateValue"] == "ALARM" {
			break
		}
		time.Sleep(2 * time.Second)
	}
	if alarm["StateValue"] != "ALARM" {
		t.Logf("list-metrics: %v", in.mustAWS("cloudwatch", "list-metrics"))
		for _, l := range strings.Split(in.out.String(), "\n") {
			if strings.Contains(l, "cloudwatch") || strings.Contains(l, "AWS/ECS") {
				t.Log(l)
			}
		}
		t.Fatalf("alarm on the service's CPU: %v (%v)", alarm["StateValue"], alarm["StateReason"])
	}
	t.Logf("alarm: %v", alarm["StateReason"])

	now := time.Now().UTC()
	start, end := now.Add(-10*time.Minute).Format(time.RFC3339), now.Add(time.Minute).Format(time.RFC3339)
	q := func(id, metric, dims string) map[string]any {
		var d []map[string]string
		for _, f := range strings.Fields(dims) {
			kv := strings.SplitN(strings.TrimPrefix(f, "Name="), ",Value=", 2)
			d = append(d, map[string]string{"Name": kv[0], "Value": kv[1]})
		}
		return map[string]any{"Id": id, "MetricStat": map[string]any{"Metric": map[string]any{"Namespace": "AWS/ECS", "MetricName": metric, "Dimensions": d}, "Period": 600, "Stat": "Maximum"}}
	}
	queries, _ := json.Marshal([]any{q("svccpu", "CPUUtilization", dims), q("clcpu", "CPUUtilization", "Name=ClusterName,Value="+cluster),
		q("svcmem", "MemoryUtilization", dims)})
	out := in.mustAWS("cloudwatch", "get-metric-data", "--start-time", start, "--end-time", end, "--metric-data-queries", string(queries))
	vals := map[string]float64{}
	for _, r := range out["MetricDataResults"].([]any) {
		r := r.(map[string]any)
		if v, _ := r["Values"].([]any); len(v) > 0 {
			vals[r["Id"].(string)] = v[0].(float64)
		}
	}
	t.Logf("GetMetricData maxima: %v", vals)
	// 2 busy threads on a task of 0.25 vCPU: capped by its CPU quota near
	// 100% of the reservation, and well above 50 in any case.
	if vals["svccpu"] <= 50 || vals["clcpu"] <= 50 {
		t.Errorf("CPUUtilization maxima %v, want > 50", vals)
	}
	if vals["svcmem"] <= 0 || vals["svcmem"] > 100 {
		t.Errorf("MemoryUtilization %v, want within (0, 100]", vals["svcmem"])
	}
	st := in.mustAWS(append([]string{"cloudwatch", "get-metric-statistics", "--namespace", "AWS/ECS", "--metric-name", "CPUUtilization",
		"--start-time", start, "--end-time", end, "--period", "60", "--statistics", "Average", "Maximum", "--dimensions"}, strings.Fields(dims)...)...)
	if dps, _ := st["Datapoints"].([]any); len(dps) == 0 || path(dps[0], "Unit") != "Percent" {
		t.Errorf("get-metric-statistics: %v", st)
	}
	lm := in.mustAWS("cloudwatch", "list-metrics", "--namespace", "AWS/ECS")
	if n := len(lm["Metrics"].([]any)); n != 4 {
		t.Errorf("list-metrics AWS/ECS: %d metrics, want 4 (CPU and memory, per cluster and per service): %v", n, lm)
	}
}
