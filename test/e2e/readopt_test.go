package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestReadoptWithoutPull: a restarted fargo re-adopts running tasks from
// what is on disk, not from the registry: a task whose image tag was
// deleted keeps running, and one whose tag now names another image keeps
// the imageDigest it runs.
func TestReadoptWithoutPull(t *testing.T) {
	in := newAgentInstance(t)
	deleted := in.pushTaskImage("readopt-deleted")
	moved := in.pushTaskImage("readopt-moved")
	in.registerTaskDef("deleted", deleted, nil, nil)
	in.registerTaskDef("moved", moved, nil, nil)
	arns := []string{in.runTask("deleted"), in.runTask("moved")}
	digests, ips := map[string]string{}, map[string]string{}
	for _, arn := range arns {
		task := in.waitTaskStatus(arn, "RUNNING", 60*time.Second)
		digests[arn], _ = containerOf(task)["imageDigest"].(string)
		ips[arn] = taskIP(t, task)
		waitHTTP(t, "http://"+ips[arn]+":8080/", 10*time.Second)
	}

	out := in.mustAWS("ecr", "batch-delete-image", "--repository-name", "readopt-deleted", "--image-ids", "imageTag=v1")
	if f, _ := out["failures"].([]any); len(f) != 0 {
		t.Fatalf("batch-delete-image: %v", out)
	}
	in.pushImage(moved[:strings.LastIndex(moved, ":")], "v1", volImage(t)) // another image, same tag
	img := in.mustAWS("ecr", "describe-images", "--repository-name", "readopt-moved", "--image-ids", "imageTag=v1")
	if d := path(img, "imageDetails", 0, "imageDigest"); d == digests[arns[1]] || d == nil {
		t.Fatalf("the tag did not move: %v", d)
	}

	in.kill()
	in.start()
	time.Sleep(3 * time.Second) // the agent re-adopts, then resyncs a few times
	for _, arn := range arns {
		task := in.waitTaskStatus(arn, "RUNNING", 10*time.Second)
		if got := containerOf(task)["imageDigest"]; got != digests[arn] {
			t.Errorf("task %s: imageDigest %v after the restart, want %s", arn, got, digests[arn])
		}
		if body := waitHTTP(t, "http://"+ips[arn]+":8080/", 10*time.Second); !strings.HasPrefix(body, "hello") {
			t.Errorf("task %s after the restart: %q", arn, body)
		}
	}
	if strings.Contains(in.out.String(), "CannotPullContainerError") {
		t.Errorf("the restarted fargo pulled:\n%s", in.out)
	}
	for _, arn := range arns {
		in.mustAWS("ecs", "stop-task", "--task", arn)
		in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
	}
}

// TestStopAcrossKill9: fargo is killed (-9) while it stops a task whose
// program takes 8 s to end after SIGTERM; the restarted fargo re-adopts
// the container before it goes on stopping it, so the task ends as an
// uninterrupted stop would: the program's own exit code (0, not a kill's
// 137), the user's reason, and the lines the program wrote while fargo
// was down and after in the task's log stream. A task stopped after a
// restart gets its SIGTERM too.
func TestStopAcrossKill9(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushImage(in.createRepository("grace"), "v1", volImage(t))
	in.registerTaskDef("grace", image, []string{"serve", "8080", "8"}, nil)
	in.registerTaskDef("plain", image, []string{"serve", "8080"}, nil)
	graceARN, plainARN := in.runTask("grace"), in.runTask("plain")
	for _, arn := range []string{graceARN, plainARN} {
		waitHTTP(t, "http://"+taskIP(t, in.waitTaskStatus(arn, "RUNNING", 60*time.Second))+":8080/", 10*time.Second)
	}

	in.mustAWS("ecs", "stop-task", "--task", graceARN, "--reason", "graceful please")
	in.waitLog("grace", graceARN, "volapp got SIGTERM", 15*time.Second)
	in.kill() // in the middle of the 8 s the program takes to stop
	in.start()

	task := in.waitTaskStatus(graceARN, "STOPPED", 60*time.Second)
	if code, ok := containerOf(task)["exitCode"].(float64); !ok || code != 0 {
		t.Errorf("exitCode %v, want the program's own 0 (it was killed, or its exit was not recorded)", containerOf(task)["exitCode"])
	}
	if task["stopCode"] != "UserInitiated" || task["stoppedReason"] != "graceful please" {
		t.Errorf("stopCode %v stoppedReason %v", task["stopCode"], task["stoppedReason"])
	}
	in.waitLog("grace", graceARN, "volapp exiting after SIGTERM", 10*time.Second)

	in.mustAWS("ecs", "stop-task", "--task", plainARN)
	task = in.waitTaskStatus(plainARN, "STOPPED", 60*time.Second)
	if code, ok := containerOf(task)["exitCode"].(float64); !ok || code != 0 {
		t.Errorf("a task stopped after the restart: exitCode %v, want 0", containerOf(task)["exitCode"])
	}
	in.waitLog("plain", plainARN, "volapp got SIGTERM", 10*time.Second)
}

// waitLog waits until the task's awslogs stream (registerTaskDef's
// /ecs/<family>, ecs/app/<task id>) has a line.
func (in *instance) waitLog(family, arn, line string, timeout time.Duration) {
	in.t.Helper()
	stream := "ecs/app/" + arn[strings.LastIndex(arn, "/")+1:]
	deadline := time.Now().Add(timeout)
	for {
		out, err := in.aws("logs", "get-log-events", "--log-group-name", "/ecs/"+family, "--log-stream-name", stream, "--start-from-head")
		raw, _ := json.Marshal(out["events"])
		if err == nil && strings.Contains(string(raw), line) {
			return
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("%q never reached %s: %s %v", line, stream, raw, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
