package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestTaskWebServer is the session with the AWS CLI: push an image
// to fargo's registry, register a Fargate task definition, run-task, wait
// tasks-running, reach the task's IP from the host, read its logs and its
// metadata endpoint, stop-task, wait tasks-stopped, see how it ended.
func TestTaskWebServer(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("web")
	in.registerTaskDef("web", image, nil, nil)
	arn := in.runTask("web")

	in.mustAWS("ecs", "wait", "tasks-running", "--tasks", arn)
	task := in.describeTask(arn)
	if task["lastStatus"] != "RUNNING" || task["desiredStatus"] != "RUNNING" {
		t.Fatalf("after wait tasks-running: %v/%v", task["lastStatus"], task["desiredStatus"])
	}
	for _, f := range []string{"createdAt", "pullStartedAt", "pullStoppedAt", "startedAt", "connectivityAt"} {
		if task[f] == nil {
			t.Errorf("RUNNING task has no %s", f)
		}
	}
	ip := taskIP(t, task)
	c := containerOf(task)
	if got := path(c, "networkInterfaces", 0, "privateIpv4Address"); got != ip {
		t.Errorf("container networkInterfaces address %v, want the ENI's %s", got, ip)
	}
	if d, _ := c["imageDigest"].(string); !strings.HasPrefix(d, "sha256:") {
		t.Errorf("imageDigest %q", c["imageDigest"])
	}
	if c["runtimeId"] == nil {
		t.Errorf("no runtimeId: %v", c)
	}

	// The host reaches the task at its own IP.
	body := waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)
	if !strings.HasPrefix(body, "hello from ip-") {
		t.Errorf("GET / = %q", body)
	}
	// The environment: the image's, the container definition's, and ECS's.
	env := waitHTTP(t, "http://"+ip+":8080/env", 10*time.Second)
	for _, kv := range []string{"APP_FROM_IMAGE=yes", "GREETING=hi", "AWS_EXECUTION_ENV=AWS_ECS_FARGATE", "AWS_REGION=us-east-1",
		"ECS_CONTAINER_METADATA_URI_V4=http://" + e2eMetadataIP + "/v4/"} {
		if !strings.Contains(env, "\n"+kv) && !strings.HasPrefix(env, kv) {
			t.Errorf("the container's environment lacks %s:\n%s", kv, env)
		}
	}
	// The task reaches its metadata endpoint (ECS_CONTAINER_METADATA_URI_V4).
	meta := waitHTTP(t, "http://"+ip+":8080/meta", 10*time.Second)
	var md map[string]any
	if err := json.Unmarshal([]byte(meta), &md); err != nil {
		t.Fatalf("metadata /task: %v: %s", err, meta)
	}
	if md["TaskARN"] != arn || md["Family"] != "web" || md["KnownStatus"] != "RUNNING" {
		t.Errorf("metadata /task = %v", md)
	}
	if got := path(md, "Containers", 0, "Networks", 0, "IPv4Addresses", 0); got != ip {
		t.Errorf("metadata container address %v, want %s", got, ip)
	}
	// Real cgroup statistics: the container's memory use and the task's
	// 512 MiB limit.
	var stats map[string]any
	if err := json.Unmarshal([]byte(waitHTTP(t, "http://"+ip+":8080/meta/stats", 10*time.Second)), &stats); err != nil {
		t.Fatalf("metadata /stats: %v", err)
	}
	if u, _ := path(stats, "memory_stats", "usage").(float64); u < 1<<20 {
		t.Errorf("metadata /stats memory usage %v, want the container's real use (> 1 MiB)", u)
	}
	if l, _ := path(stats, "memory_stats", "limit").(float64); l != 512<<20 {
		t.Errorf("metadata /stats memory limit %v, want the task's 512 MiB", l)
	}

	// Its output is in the Logs API, in the stream awslogs names.
	taskID := arn[strings.LastIndex(arn, "/")+1:]
	stream := "ecs/app/" + taskID
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := in.mustAWS("logs", "get-log-events", "--log-group-name", "/ecs/web", "--log-stream-name", stream, "--start-from-head")
		raw, _ := json.Marshal(out["events"])
		if strings.Contains(string(raw), "taskapp listening on :8080") && strings.Contains(string(raw), "request GET / from") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("log events of %s: %s", stream, raw)
		}
		time.Sleep(300 * time.Millisecond)
	}

	in.mustAWS("ecs", "stop-task", "--task", arn, "--reason", "done testing")
	in.mustAWS("ecs", "wait", "tasks-stopped", "--tasks", arn)
	task = in.describeTask(arn)
	c = containerOf(task)
	if task["stopCode"] != "UserInitiated" || task["stoppedReason"] != "done testing" {
		t.Errorf("stopCode %v, stoppedReason %v", task["stopCode"], task["stoppedReason"])
	}
	// taskapp exits 0 on SIGTERM: the code is the process's own.
	if code, ok := c["exitCode"].(float64); !ok || code != 0 {
		t.Errorf("exitCode %v, want 0 (taskapp exits 0 on SIGTERM)", c["exitCode"])
	}
	for _, f := range []string{"stoppingAt", "stoppedAt", "executionStoppedAt"} {
		if task[f] == nil {
			t.Errorf("STOPPED task has no %s", f)
		}
	}
	if _, err := httpGet("http://" + ip + ":8080/"); err == nil {
		t.Errorf("the stopped task still answers at %s", ip)
	}
}

// TestTaskExitCodes: an essential container's own exit code ends the task
// (EssentialContainerExited), and an out-of-memory kill is 137 with AWS's
// OutOfMemoryError reason. Both come from the kernel, through the monitor.
func TestTaskExitCodes(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("exits")
	in.registerTaskDef("exit3", image, []string{"exit", "3", "0.5"}, nil)
	in.registerTaskDef("oom", image, []string{"oom"}, map[string]any{"memory": 64})

	health := func(cmd string) map[string]any {
		return map[string]any{"healthCheck": map[string]any{
			"command": []any{"CMD", "/taskapp", "exit", cmd}, "interval": 5, "timeout": 2, "retries": 1, "startPeriod": 0}}
	}
	in.registerTaskDef("healthy", image, nil, health("0"))
	in.registerTaskDef("unhealthy", image, nil, health("1"))

	exitARN := in.runTask("exit3")
	oomARN := in.runTask("oom")
	healthyARN := in.runTask("healthy")
	unhealthyARN := in.runTask("unhealthy")

	task := in.waitTaskStatus(exitARN, "STOPPED", 60*time.Second)
	c := containerOf(task)
	if code, _ := c["exitCode"].(float64); code != 3 {
		t.Errorf("exit3: exitCode %v, want 3", c["exitCode"])
	}
	if task["stopCode"] != "EssentialContainerExited" {
		t.Errorf("exit3: stopCode %v", task["stopCode"])
	}
	if r, _ := task["stoppedReason"].(string); !strings.Contains(r, "Essential container in task exited") {
		t.Errorf("exit3: stoppedReason %q", r)
	}

	task = in.waitTaskStatus(oomARN, "STOPPED", 60*time.Second)
	c = containerOf(task)
	if code, _ := c["exitCode"].(float64); code != 137 {
		t.Errorf("oom: exitCode %v, want 137", c["exitCode"])
	}
	if r, _ := c["reason"].(string); !strings.HasPrefix(r, "OutOfMemoryError") {
		t.Errorf("oom: container reason %q, want OutOfMemoryError...", r)
	}

	// Health checks run in the container (runc exec) and are reported on
	// the container and the task. A standalone task stays RUNNING when
	// unhealthy (only a service replaces it), as on ECS.
	waitHealth := func(arn, want string) map[string]any {
		deadline := time.Now().Add(40 * time.Second)
		for {
			task := in.describeTask(arn)
			if containerOf(task)["healthStatus"] == want {
				return task
			}
			if time.Now().After(deadline) {
				t.Fatalf("task %s: container healthStatus %v, want %s", arn, containerOf(task)["healthStatus"], want)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	if task := waitHealth(healthyARN, "HEALTHY"); task["healthStatus"] != "HEALTHY" {
		t.Errorf("healthy task's healthStatus %v", task["healthStatus"])
	}
	if task := waitHealth(unhealthyARN, "UNHEALTHY"); task["healthStatus"] != "UNHEALTHY" || task["lastStatus"] != "RUNNING" {
		t.Errorf("unhealthy task: healthStatus %v, lastStatus %v; want UNHEALTHY, RUNNING", task["healthStatus"], task["lastStatus"])
	}
}

// TestTaskSurvivesKill9: kill -9 of fargo leaves a running task running;
// the restarted fargo re-adopts it, and a container that exited while fargo
// was down is reported with its real exit code.
func TestTaskSurvivesKill9(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("durable")
	in.registerTaskDef("web", image, nil, nil)
	in.registerTaskDef("late", image, []string{"exit", "7", "4"}, nil)

	webARN := in.runTask("web")
	web := in.waitTaskStatus(webARN, "RUNNING", 60*time.Second)
	ip := taskIP(t, web)
	waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)
	lateARN := in.runTask("late")
	in.waitTaskStatus(lateARN, "RUNNING", 60*time.Second)

	in.kill()
	// fargo is gone; the task is not.
	if body, err := httpGet("http://" + ip + ":8080/"); err != nil {
		t.Fatalf("task stopped answering when fargo was killed: %v", err)
	} else if !strings.HasPrefix(body, "hello") {
		t.Errorf("GET / = %q", body)
	}
	time.Sleep(5 * time.Second) // "late" exits with 7 meanwhile
	in.start()

	web = in.waitTaskStatus(webARN, "RUNNING", 10*time.Second)
	if got := taskIP(t, web); got != ip {
		t.Errorf("re-adopted task's IP %s, want %s", got, ip)
	}
	waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)

	late := in.waitTaskStatus(lateARN, "STOPPED", 30*time.Second)
	if code, _ := containerOf(late)["exitCode"].(float64); code != 7 {
		t.Errorf("container that exited while fargo was down: exitCode %v, want 7", containerOf(late)["exitCode"])
	}
	if late["stopCode"] != "EssentialContainerExited" {
		t.Errorf("late: stopCode %v", late["stopCode"])
	}
}

// TestTaskBridgeAndHostModes: the EC2 launch type on this host, with
// bridge (a published host port; hostPort 0 = an ephemeral one; a
// containerPortRange) and host network modes.
func TestTaskBridgeAndHostModes(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("modes")
	register := func(family, mode string, command []string, ports string) {
		in.mustAWS("ecs", "register-task-definition", "--family", family,
			"--requires-compatibilities", "EC2", "--network-mode", mode,
			"--container-definitions", `[{"name":"app","image":"`+image+`","memory":128,"essential":true,`+
				`"command":["`+strings.Join(command, `","`)+`"],"portMappings":[`+ports+`]}]`)
	}
	register("bridged", "bridge", []string{"serve", "8080"}, `{"containerPort":8080,"hostPort":0}`)
	register("hosted", "host", []string{"serve", "18089"}, `{"containerPort":18089}`)
	register("ranged", "bridge", []string{"serve", "8081"}, `{"containerPortRange":"8080-8082"}`)

	run := func(family string) string {
		out := in.mustAWS("ecs", "run-task", "--launch-type", "EC2", "--task-definition", family)
		arn, _ := path(out, "tasks", 0, "taskArn").(string)
		if arn == "" {
			t.Fatalf("run-task %s: %v", family, out)
		}
		return arn
	}
	bridged, hosted := run("bridged"), run("hosted")

	task := in.waitTaskStatus(bridged, "RUNNING", 60*time.Second)
	port, _ := path(containerOf(task), "networkBindings", 0, "hostPort").(float64)
	if port == 0 || path(containerOf(task), "networkBindings", 0, "containerPort") != 8080.0 {
		t.Fatalf("bridge task's networkBindings: %v", containerOf(task)["networkBindings"])
	}
	if body := waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", int(port)), 10*time.Second); !strings.HasPrefix(body, "hello") {
		t.Errorf("bridge task through its host port: %q", body)
	}

	in.waitTaskStatus(hosted, "RUNNING", 60*time.Second)
	if body := waitHTTP(t, "http://127.0.0.1:18089/", 10*time.Second); !strings.HasPrefix(body, "hello") {
		t.Errorf("host-mode task on the host's port: %q", body)
	}

	// fargo's host is the cluster's container instance: listed, described,
	// and StartTask starts a task on it.
	instances, _ := in.mustAWS("ecs", "list-container-instances")["containerInstanceArns"].([]any)
	if len(instances) != 1 {
		t.Fatalf("list-container-instances: %v, want this host", instances)
	}
	ciARN := instances[0].(string)
	if got := path(in.describeTask(bridged), "containerInstanceArn"); got != ciARN {
		t.Errorf("EC2 task's containerInstanceArn %v, want %s", got, ciARN)
	}
	ci := in.mustAWS("ecs", "describe-container-instances", "--container-instances", ciARN)
	if path(ci, "containerInstances", 0, "status") != "ACTIVE" || path(ci, "containerInstances", 0, "agentConnected") != true ||
		path(ci, "containerInstances", 0, "runningTasksCount") != 2.0 {
		t.Errorf("describe-container-instances: %v", ci)
	}

	// A containerPortRange in bridge mode: as many consecutive host ports,
	// each to its own container port (the app serves the middle one).
	ranged := run("ranged")
	task = in.waitTaskStatus(ranged, "RUNNING", 60*time.Second)
	rb, _ := path(containerOf(task), "networkBindings", 0).(map[string]any)
	var lo, hi int
	if _, err := fmt.Sscanf(fmt.Sprint(rb["hostPortRange"]), "%d-%d", &lo, &hi); err != nil || hi-lo != 2 ||
		rb["containerPortRange"] != "8080-8082" || rb["containerPort"] != nil || rb["hostPort"] != nil {
		t.Fatalf("containerPortRange networkBindings: %v", containerOf(task)["networkBindings"])
	}
	if body := waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", lo+1), 10*time.Second); !strings.HasPrefix(body, "hello") {
		t.Errorf("container port 8081 through host port %d: %q", lo+1, body)
	}

	started := in.mustAWS("ecs", "start-task", "--task-definition", "bridged", "--container-instances", ciARN)
	startedARN, _ := path(started, "tasks", 0, "taskArn").(string)
	if startedARN == "" || path(started, "tasks", 0, "containerInstanceArn") != ciARN {
		t.Fatalf("start-task: %v", started)
	}
	task = in.waitTaskStatus(startedARN, "RUNNING", 60*time.Second)
	sport, _ := path(containerOf(task), "networkBindings", 0, "hostPort").(float64)
	if body := waitHTTP(t, fmt.Sprintf("http://127.0.0.1:%d/", int(sport)), 10*time.Second); !strings.HasPrefix(body, "hello") {
		t.Errorf("task started with start-task: %q", body)
	}
	missing := in.mustAWS("ecs", "start-task", "--task-definition", "bridged", "--container-instances", "0123456789abcdef0123456789abcdef")
	if path(missing, "failures", 0, "reason") != "MISSING" {
		t.Errorf("start-task on an unknown instance: %v", missing)
	}

	for _, arn := range []string{bridged, hosted, ranged, startedARN} {
		in.mustAWS("ecs", "stop-task", "--task", arn)
		in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
	}
	for _, p := range []int{int(port), lo + 1} {
		if _, err := httpGet(fmt.Sprintf("http://127.0.0.1:%d/", p)); err == nil {
			t.Errorf("a stopped bridge task's host port %d still answers", p)
		}
	}
}

// TestTaskBadInput: an image that does not exist and a command that does
// not exist stop the task with AWS's reasons; a size no host can meet is a
// failures entry; the host is left clean (the cleanup checks it).
func TestTaskBadInput(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("bad")
	host := image[:strings.Index(image, "/")]
	in.registerTaskDef("nopull", host+"/bad:nosuchtag", nil, nil)
	in.registerTaskDef("nocmd", image, nil, map[string]any{"entryPoint": []any{"/no/such/binary"}})

	task := in.waitTaskStatus(in.runTask("nopull"), "STOPPED", 60*time.Second)
	if task["stopCode"] != "TaskFailedToStart" {
		t.Errorf("missing image: stopCode %v", task["stopCode"])
	}
	if r, _ := task["stoppedReason"].(string); !strings.HasPrefix(r, "CannotPullContainerError") {
		t.Errorf("missing image: stoppedReason %q", r)
	}

	task = in.waitTaskStatus(in.runTask("nocmd"), "STOPPED", 60*time.Second)
	if task["stopCode"] != "TaskFailedToStart" && task["stopCode"] != "EssentialContainerExited" {
		t.Errorf("missing command: stopCode %v", task["stopCode"])
	}
	raw, _ := json.Marshal(task)
	if !strings.Contains(string(raw), "CannotStartContainerError") {
		t.Errorf("missing command: no CannotStartContainerError in %s", raw)
	}

	// 16 vCPU / 120 GiB: no host of this size can place it.
	in.mustAWS("ecs", "register-task-definition", "--family", "huge", "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "16384", "--memory", "122880",
		"--container-definitions", `[{"name":"app","image":"`+image+`","essential":true}]`)
	out := in.mustAWS("ecs", "run-task", "--launch-type", "FARGATE", "--task-definition", "huge",
		"--network-configuration", awsvpcConfig)
	if tasks, _ := out["tasks"].([]any); len(tasks) != 0 {
		t.Errorf("an unplaceable task was created: %v", tasks)
	}
	if r, _ := path(out, "failures", 0, "reason").(string); !strings.HasPrefix(r, "RESOURCE:") {
		t.Errorf("unplaceable task: failures %v, want a RESOURCE:* reason", out["failures"])
	}
}

// TestTaskGracefulShutdown: SIGTERM stops fargo's tasks with a reason that
// says so (the cleanup checks nothing is left on the host).
func TestTaskGracefulShutdown(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("graceful")
	in.registerTaskDef("web", image, nil, nil)
	arn := in.runTask("web")
	in.waitTaskStatus(arn, "RUNNING", 60*time.Second)
	in.stop()
	in.checkNoLeftovers()
	in.start()
	task := in.describeTask(arn)
	if task["lastStatus"] != "STOPPED" || task["stopCode"] != "TerminationNotice" {
		t.Errorf("after a graceful stop: lastStatus %v stopCode %v", task["lastStatus"], task["stopCode"])
	}
	if r, _ := task["stoppedReason"].(string); !strings.Contains(r, "shutting down") {
		t.Errorf("stoppedReason %q does not say fargo shut down", r)
	}
}

// TestTaskDependsOn: a container that depends on another's SUCCESS starts
// only once that one has exited 0; a non-essential container's exit does
// not stop the task; the task's containers share localhost.
func TestTaskDependsOn(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("deps")
	cdefs := `[
	 {"name":"setup","image":"` + image + `","essential":false,"command":["exit","0","1"]},
	 {"name":"web","image":"` + image + `","essential":true,"command":["serve","8080"],
	  "dependsOn":[{"containerName":"setup","condition":"SUCCESS"}]},
	 {"name":"side","image":"` + image + `","essential":false,"command":["serve","9090"],
	  "dependsOn":[{"containerName":"web","condition":"START"}]}]`
	in.mustAWS("ecs", "register-task-definition", "--family", "deps", "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "256", "--memory", "512", "--container-definitions", cdefs)
	arn := in.runTask("deps")
	task := in.waitTaskStatus(arn, "RUNNING", 60*time.Second)
	byName := map[string]map[string]any{}
	for _, c := range task["containers"].([]any) {
		byName[path(c, "name").(string)] = c.(map[string]any)
	}
	if s := byName["setup"]; s["lastStatus"] != "STOPPED" || s["exitCode"] != 0.0 {
		t.Errorf("setup when web runs: %v exit %v, want STOPPED 0 (web depends on its SUCCESS)", s["lastStatus"], s["exitCode"])
	}
	if byName["web"]["lastStatus"] != "RUNNING" || byName["side"]["lastStatus"] != "RUNNING" {
		t.Errorf("web %v, side %v; want both RUNNING", byName["web"]["lastStatus"], byName["side"]["lastStatus"])
	}
	ip := taskIP(t, task)
	waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)
	waitHTTP(t, "http://"+ip+":9090/", 10*time.Second)
	if body := waitHTTP(t, "http://"+ip+":8080/get?url=http://127.0.0.1:9090/", 10*time.Second); !strings.HasPrefix(body, "hello") {
		t.Errorf("web reaching side on localhost: %q", body)
	}
	in.mustAWS("ecs", "stop-task", "--task", arn)
	in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
}

// TestSweepAfterLostStore: when fargo comes back without a record of a
// task whose container still runs (here its store is gone), the agent
// removes the container, its root filesystem and its network: nothing on
// the host is left that no task owns.
func TestSweepAfterLostStore(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("orphan")
	in.registerTaskDef("web", image, nil, nil)
	task := in.waitTaskStatus(in.runTask("web"), "RUNNING", 60*time.Second)
	ip := taskIP(t, task)
	waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)

	in.kill()
	for _, f := range []string{"fargo.db", "logs.db"} {
		if err := os.Remove(filepath.Join(in.dataDir, f)); err != nil {
			t.Fatal(err)
		}
	}
	in.start()
	// The sweep removes the container first, then its root filesystem and
	// network: wait for all of it, not only for the container.
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := httpGet("http://" + ip + ":8080/")
		left := in.leftovers()
		if err != nil && len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the orphaned task survived the restart: answers=%v, left=%q\n%s", err == nil, left, in.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
