package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestServiceLifecycle is issue 5's session with the AWS CLI and real
// containers: create a service of 3, wait services-stable, kill a task's
// container from the host and watch it replaced, roll to a new revision,
// trip the circuit breaker with a crashing revision and see it roll back,
// kill -9 fargo in the middle of a rollout and see it converge with no task
// lost, duplicated or orphaned, then delete the service.
func TestServiceLifecycle(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("svc")
	revision := func(greeting string, command []string) {
		in.registerTaskDef("web", image, command, map[string]any{
			"environment": []any{map[string]any{"name": "GREETING", "value": greeting}}})
	}
	revision("one", nil) // web:1

	in.mustAWS("ecs", "create-service", "--service-name", "web", "--task-definition", "web:1",
		"--desired-count", "3", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig,
		"--deployment-configuration", "deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100")
	in.mustAWS("ecs", "wait", "services-stable", "--services", "web")
	svc := in.describeService("web")
	if svc["runningCount"] != 3.0 || svc["desiredCount"] != 3.0 || len(svc["deployments"].([]any)) != 1 {
		t.Fatalf("after services-stable: running %v desired %v deployments %v", svc["runningCount"], svc["desiredCount"], svc["deployments"])
	}
	// The steady-state event follows once the tasks have stayed healthy.
	in.waitService("web", 30*time.Second, func(map[string]any) bool { return in.serviceEvent("web", "has reached a steady state") })
	tasks := in.serviceTasks("web", "RUNNING")
	if len(tasks) != 3 {
		t.Fatalf("service tasks: %d, want 3", len(tasks))
	}
	for _, task := range tasks {
		if task["group"] != "service:web" || !strings.HasPrefix(task["startedBy"].(string), "ecs-svc/") {
			t.Errorf("task group %v startedBy %v", task["group"], task["startedBy"])
		}
		waitHTTP(t, "http://"+taskIP(t, task)+":8080/", 10*time.Second)
	}

	// Kill one task's container from the host: the service replaces it.
	victim := tasks[0]
	runtimeID := containerOf(victim)["runtimeId"].(string)
	if out, err := exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "kill", runtimeID, "KILL").CombinedOutput(); err != nil {
		t.Fatalf("runc kill %s: %v: %s", runtimeID, err, out)
	}
	stopped := in.waitTaskStatus(victim["taskArn"].(string), "STOPPED", 60*time.Second)
	if stopped["stopCode"] != "EssentialContainerExited" || containerOf(stopped)["exitCode"] != 137.0 {
		t.Errorf("killed task: stopCode %v exitCode %v", stopped["stopCode"], containerOf(stopped)["exitCode"])
	}
	in.waitService("web", 90*time.Second, func(s map[string]any) bool {
		return s["runningCount"] == 3.0 && len(in.serviceTasks("web", "RUNNING")) == 3
	})
	if !in.serviceEvent("web", "has started 1 tasks") {
		t.Errorf("no event for the replacement: %v", in.describeService("web")["events"])
	}

	// A rolling update to web:2.
	revision("two", nil)
	in.mustAWS("ecs", "update-service", "--service", "web", "--task-definition", "web:2")
	in.waitRollout("web", "web:2", 180*time.Second)

	// A revision whose container crashes trips the circuit breaker, and the
	// service rolls back to web:2 by itself.
	revision("crash", []string{"exit", "1", "0.5"}) // web:3
	in.mustAWS("ecs", "update-service", "--service", "web", "--task-definition", "web:3")
	in.waitService("web", 300*time.Second, func(s map[string]any) bool {
		return strings.HasSuffix(path(s, "deployments", 0, "taskDefinition").(string), "web:2") &&
			path(s, "deployments", 0, "rolloutState") == "COMPLETED" && len(s["deployments"].([]any)) == 1
	})
	if !in.serviceEvent("web", "rolling back") && !in.serviceEvent("web", "circuit breaker") {
		t.Errorf("no rollback event: %v", in.describeService("web")["events"])
	}
	in.waitRollout("web", "web:2", 120*time.Second)

	// kill -9 fargo in the middle of a rollout to web:4; the restarted
	// fargo finishes it.
	revision("four", nil)
	in.mustAWS("ecs", "update-service", "--service", "web", "--task-definition", "web:4")
	time.Sleep(1500 * time.Millisecond)
	in.kill()
	in.start()
	in.waitRollout("web", "web:4", 180*time.Second)
	in.checkContainersMatchTasks("web")

	// The waiters fail fast on a service that does not exist (MISSING).
	start := time.Now()
	if _, err := in.aws("ecs", "wait", "services-stable", "--services", "no-such-service"); err == nil {
		t.Errorf("wait services-stable on a missing service succeeded")
	} else if d := time.Since(start); d > 30*time.Second {
		t.Errorf("wait services-stable on a missing service took %v to fail", d)
	}

	// Delete: ACTIVE -> DRAINING -> INACTIVE, tasks stopped.
	in.mustAWS("ecs", "delete-service", "--service", "web", "--force")
	in.mustAWS("ecs", "wait", "services-inactive", "--services", "web")
	if n := len(in.serviceTasks("web", "RUNNING")); n != 0 {
		t.Errorf("%d tasks still running after the service was deleted", n)
	}
}

func (in *instance) describeService(name string) map[string]any {
	in.t.Helper()
	out := in.mustAWS("ecs", "describe-services", "--services", name)
	s, _ := path(out, "services", 0).(map[string]any)
	if s == nil {
		in.t.Fatalf("describe-services %s: %v", name, out)
	}
	return s
}

func (in *instance) serviceEvent(name, substr string) bool {
	raw, _ := json.Marshal(in.describeService(name)["events"])
	return strings.Contains(string(raw), substr)
}

// serviceTasks describes the service's tasks of a desired status.
func (in *instance) serviceTasks(name, desired string) []map[string]any {
	in.t.Helper()
	out := in.mustAWS("ecs", "list-tasks", "--service-name", name, "--desired-status", desired)
	arns, _ := out["taskArns"].([]any)
	if len(arns) == 0 {
		return nil
	}
	args := []string{"ecs", "describe-tasks", "--tasks"}
	for _, a := range arns {
		args = append(args, a.(string))
	}
	var tasks []map[string]any
	for _, task := range in.mustAWS(args...)["tasks"].([]any) {
		tasks = append(tasks, task.(map[string]any))
	}
	return tasks
}

func (in *instance) waitService(name string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := in.describeService(name)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(map[string]any{"deployments": s["deployments"], "events": s["events"],
				"running": s["runningCount"], "pending": s["pendingCount"]}, "", " ")
			in.t.Fatalf("service %s did not get there in %v:\n%s\nfargo:\n%s", name, timeout, raw, in.out)
		}
		time.Sleep(time.Second)
	}
}

// waitRollout waits until the service runs exactly its desired count of
// taskDef's tasks, with one COMPLETED deployment, and every RUNNING
// container answers.
func (in *instance) waitRollout(name, taskDef string, timeout time.Duration) {
	in.t.Helper()
	in.waitService(name, timeout, func(s map[string]any) bool {
		deps, _ := s["deployments"].([]any)
		if len(deps) != 1 || path(deps[0], "rolloutState") != "COMPLETED" || s["runningCount"] != s["desiredCount"] {
			return false
		}
		tasks := in.serviceTasks(name, "RUNNING")
		if float64(len(tasks)) != s["desiredCount"] {
			return false
		}
		return !slices.ContainsFunc(tasks, func(t map[string]any) bool {
			return !strings.HasSuffix(t["taskDefinitionArn"].(string), taskDef) || t["lastStatus"] != "RUNNING"
		})
	})
	for _, task := range in.serviceTasks(name, "RUNNING") {
		waitHTTP(in.t, "http://"+taskIP(in.t, task)+":8080/", 10*time.Second)
	}
}

// checkContainersMatchTasks: every running container on the host belongs to
// a RUNNING task of the service and every such task has its container: no
// orphan, no duplicate.
func (in *instance) checkContainersMatchTasks(name string) {
	in.t.Helper()
	out, err := exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "list", "--format", "json").Output()
	if err != nil {
		in.t.Fatalf("runc list: %v", err)
	}
	var list []struct{ ID, Status string }
	if err := json.Unmarshal(out, &list); err != nil && len(strings.TrimSpace(string(out))) > 0 && strings.TrimSpace(string(out)) != "null" {
		in.t.Fatalf("runc list: %v: %s", err, out)
	}
	var running []string
	for _, c := range list {
		if c.Status == "running" {
			running = append(running, c.ID)
		}
	}
	var want []string
	for _, task := range in.serviceTasks(name, "RUNNING") {
		want = append(want, fmt.Sprint(containerOf(task)["runtimeId"]))
	}
	slices.Sort(running)
	slices.Sort(want)
	if !slices.Equal(running, want) {
		in.t.Errorf("running containers %v, want exactly the service's RUNNING tasks' %v", running, want)
	}
}

// TestServiceCrashLoop kills fargo with kill -9 at random moments of
// create, scale-out, rolling update, scale-in and rollback, again and
// again; after each restart the service converges with its tasks and the
// host's containers in one-to-one correspondence.
func TestServiceCrashLoop(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("crash")
	revision := func(greeting string, command []string) {
		in.registerTaskDef("loop", image, command, map[string]any{
			"environment": []any{map[string]any{"name": "GREETING", "value": greeting}}})
	}
	revision("a", nil)                     // loop:1
	revision("b", nil)                     // loop:2
	revision("bad", []string{"exit", "2"}) // loop:3
	steps := []struct {
		name    string
		args    []string
		desired float64
		want    string // task definition the service settles on
	}{
		{"create", []string{"create-service", "--service-name", "loop", "--task-definition", "loop:1", "--desired-count", "2",
			"--launch-type", "FARGATE", "--network-configuration", awsvpcConfig,
			"--deployment-configuration", "deploymentCircuitBreaker={enable=true,rollback=true}"}, 2, "loop:1"},
		{"scale out", []string{"update-service", "--service", "loop", "--desired-count", "4"}, 4, "loop:1"},
		{"rolling update", []string{"update-service", "--service", "loop", "--task-definition", "loop:2"}, 4, "loop:2"},
		{"scale in", []string{"update-service", "--service", "loop", "--desired-count", "2"}, 2, "loop:2"},
		{"rollback", []string{"update-service", "--service", "loop", "--task-definition", "loop:3"}, 2, "loop:2"},
	}
	for i, st := range steps {
		in.mustAWS(append([]string{"ecs"}, st.args...)...)
		// A different moment of each step: right away, or once it is under way.
		time.Sleep(time.Duration(i*700) * time.Millisecond)
		in.kill()
		in.start()
		in.waitService("loop", 300*time.Second, func(s map[string]any) bool { return s["desiredCount"] == st.desired })
		in.waitRollout("loop", st.want, 300*time.Second)
		in.checkContainersMatchTasks("loop")
		t.Logf("%s: converged after kill -9", st.name)
	}
	in.mustAWS("ecs", "delete-service", "--service", "loop", "--force")
	in.waitService("loop", 120*time.Second, func(s map[string]any) bool { return s["status"] == "INACTIVE" })
}
