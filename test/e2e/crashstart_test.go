package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStartCrashWindows kills fargo (SIGKILL, from inside: FARGO_FAULT) at
// each step of a task container's start, deterministically, and restarts
// it: the task must end RUNNING with its one container serving, and stay
// so, whether the start was cut off before the container ran (fargo
// starts it again: the directory without meta.json, meta.json without a
// monitor) or went through without fargo (it adopts it). Then a stop
// records the program's own exit code.
func TestStartCrashWindows(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("crashstart")
	in.registerTaskDef("crashstart", image, nil, nil)
	for _, step := range []string{"mkdir", "meta", "commit", "monitor", "started"} {
		in.kill()
		in.env = append(filterEnv(in.env, "FARGO_FAULT"), "FARGO_FAULT=runtime.start:"+step)
		in.start()
		arn := in.runTask("crashstart")
		id := arn[strings.LastIndex(arn, "/")+1:]
		done := make(chan struct{})
		cmd := in.cmd
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			t.Fatalf("%s: fargo did not crash at the step:\n%s", step, in.out)
		}
		in.cmd = nil
		if !strings.Contains(in.out.String(), "FARGO_FAULT: killing fargo") {
			t.Fatalf("%s: fargo ended, but not at the fault:\n%s", step, in.out)
		}

		in.env = filterEnv(in.env, "FARGO_FAULT")
		in.start()
		task := in.waitTaskStatus(arn, "RUNNING", 60*time.Second)
		ip := taskIP(t, task)
		if body := waitHTTP(t, "http://"+ip+":8080/", 10*time.Second); !strings.HasPrefix(body, "hi") && !strings.HasPrefix(body, "hello") {
			t.Errorf("%s: the task answers %q", step, body)
		}
		// Still running a while later (a container adopted with no
		// process stopped after ~2 s), and once.
		for range 4 {
			time.Sleep(time.Second)
			if st := in.describeTask(arn)["lastStatus"]; st != "RUNNING" {
				t.Fatalf("%s: the task went %v after the restart: %v\nfargo:\n%s", step, st, in.describeTask(arn), in.out)
			}
		}
		if got := in.hostContainers(); !slices.Equal(got, []string{id + "-app=running"}) {
			t.Errorf("%s: containers on the host %v, want the task's one", step, got)
		}
		in.mustAWS("ecs", "stop-task", "--task", arn)
		task = in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
		if _, ok := containerOf(task)["exitCode"].(float64); !ok || task["stopCode"] != "UserInitiated" {
			t.Errorf("%s: stopped task: stopCode %v, container %v", step, task["stopCode"], containerOf(task))
		}
	}
}
