package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// taskCgroupDir is the directory of a task's cgroup in a hierarchy (v1:
// controller's; v2: the unified one).
func taskCgroupDir(controller, taskID string) string {
	if _, err := os.Stat("/sys/fs/cgroup/cgroup.controllers"); err == nil {
		return filepath.Join("/sys/fs/cgroup/fargo", taskID)
	}
	return filepath.Join("/sys/fs/cgroup", controller, "fargo", taskID)
}

func readCgroupInt(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q, want a number", file, b)
	}
	return n
}

// cgroupProcsLeft lists the processes still in a task's cgroups, in every
// hierarchy.
func cgroupProcsLeft(taskID string) []string {
	var left []string
	dirs, _ := filepath.Glob("/sys/fs/cgroup/*/fargo/" + taskID)
	dirs = append(dirs, filepath.Join("/sys/fs/cgroup/fargo", taskID))
	for _, d := range dirs {
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && !e.IsDir() && e.Name() == "cgroup.procs" {
				if b, _ := os.ReadFile(p); len(strings.TrimSpace(string(b))) > 0 {
					left = append(left, p+": "+strings.Join(strings.Fields(string(b)), " "))
				}
			}
			return nil
		})
	}
	return left
}

func arnID(arn string) string { return arn[strings.LastIndex(arn, "/")+1:] }

// TestForkBombContained: a fork bomb in one account's task is held at the
// task's pids limit (4096) while the host and another account's task keep
// answering, and StopTask ends it (every process of its cgroup) within
// its stopTimeout plus a few seconds.
func TestForkBombContained(t *testing.T) {
	awsCLI(t)
	a := newAgentInstance(t, "FARGO_DEV=1")
	b := a.asAccount("222222222222")

	// Half a vCPU and 2 GiB: the bomb reaches the pids limit, not the
	// memory limit, in a few seconds.
	a.registerTaskDefSized("bomb", a.pushTaskImage("bomb"), "512", "2048", map[string]any{"stopTimeout": 2})
	arnA := a.runTask("bomb")
	b.registerTaskDef("web", b.pushTaskImage("web"), nil, nil)
	arnB := b.runTask("web")
	urlA := "http://" + taskIP(t, a.waitTaskStatus(arnA, "RUNNING", 60*time.Second)) + ":8080"
	urlB := "http://" + taskIP(t, b.waitTaskStatus(arnB, "RUNNING", 60*time.Second)) + ":8080"
	waitHTTP(t, urlA+"/", 20*time.Second)
	waitHTTP(t, urlB+"/", 20*time.Second)

	id := arnID(arnA)
	const limit = 4096
	if got := readCgroupInt(t, filepath.Join(taskCgroupDir("pids", id), "pids.max")); got != limit {
		t.Fatalf("task pids.max = %d, want %d", got, limit)
	}
	if _, err := httpGet(urlA + "/bomb"); err != nil {
		t.Fatal(err)
	}
	current := filepath.Join(taskCgroupDir("pids", id), "pids.current")
	peak := 0
	deadline := time.Now().Add(40 * time.Second)
	for time.Now().Before(deadline) && peak < limit-64 {
		peak = max(peak, readCgroupInt(t, current))
		t0 := time.Now()
		if err := exec.Command("true").Run(); err != nil || time.Since(t0) > 2*time.Second {
			t.Errorf("the host ran `true` in %s (%v) under the bomb", time.Since(t0), err)
		}
		if _, err := httpGet(urlB + "/"); err != nil {
			t.Errorf("the other account's task under the bomb: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	if peak > limit || peak < limit/2 {
		t.Errorf("pids.current peaked at %d, want the bomb held at ≤ %d (and reaching it)", peak, limit)
	}
	t.Logf("fork bomb peaked at %d processes", peak)

	// Timed from StopTask's answer, as `aws ecs wait tasks-stopped` would.
	a.mustAWS("ecs", "stop-task", "--task", arnA)
	t0 := time.Now()
	task := a.waitTaskStatus(arnA, "STOPPED", 60*time.Second)
	took := time.Since(t0)
	t.Logf("StopTask of the fork bomb: STOPPED after %s (stopTimeout 2s)", took)
	if took > 2*time.Second+10*time.Second {
		t.Errorf("StopTask took %s with stopTimeout 2s:\n%s", took, a.out)
	}
	if code, _ := path(containerOf(task), "exitCode").(float64); code != 137 {
		t.Errorf("exit code %v, want 137 (SIGKILL)", path(containerOf(task), "exitCode"))
	}
	if left := cgroupProcsLeft(id); len(left) > 0 {
		t.Errorf("processes left in the stopped task's cgroups: %v", left)
	}
	if _, err := httpGet(urlB + "/"); err != nil {
		t.Errorf("the other account's task after the stop: %v", err)
	}
}

// hostNofileCeiling is the highest nofile hard limit fargo (a child of
// this test, with its limits) can give a container: fs.nr_open, or
// without CAP_SYS_RESOURCE our own hard limit.
func hostNofileCeiling(t *testing.T) uint64 {
	b, _ := os.ReadFile("/proc/sys/fs/nr_open")
	ceiling, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		ceiling = 1 << 20
	}
	status, _ := os.ReadFile("/proc/self/status")
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			mask, _ := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			if mask&(1<<24) == 0 { // CAP_SYS_RESOURCE
				var rl syscall.Rlimit
				_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
				ceiling = min(ceiling, rl.Max)
			}
		}
	}
	return ceiling
}

// TestTaskLimitsAndSysctls: nofile defaults to Fargate's 65535 (soft and
// hard; lowered to what the host allows), a nofile ulimit of AWS's
// maximum 1048576 applies (or, on a host that cannot give it, the task
// stops with a reason saying so), and systemControls are applied in the
// task's namespaces.
func TestTaskLimitsAndSysctls(t *testing.T) {
	awsCLI(t)
	in := newAgentInstance(t)
	img := in.pushTaskImage("limits")
	ceiling := hostNofileCeiling(t)

	in.registerTaskDef("limits", img, nil, map[string]any{"systemControls": []any{
		map[string]any{"namespace": "net.ipv4.tcp_keepalive_time", "value": "617"},
		map[string]any{"namespace": "kernel.shmmax", "value": "1234567"},
	}})
	arn := in.runTask("limits")
	url := "http://" + taskIP(t, in.waitTaskStatus(arn, "RUNNING", 60*time.Second)) + ":8080"
	body := waitHTTP(t, url+"/limits", 20*time.Second)
	var lim struct{ NofileSoft, NofileHard uint64 }
	if err := json.Unmarshal([]byte(body), &lim); err != nil {
		t.Fatalf("/limits: %q: %v", body, err)
	}
	want := min(65535, ceiling)
	if lim.NofileSoft != want || lim.NofileHard != want {
		t.Errorf("default nofile %d/%d, want %d/%d (Fargate's 65535, host ceiling %d)", lim.NofileSoft, lim.NofileHard, want, want, ceiling)
	}
	for file, want := range map[string]string{"/proc/sys/net/ipv4/tcp_keepalive_time": "617", "/proc/sys/kernel/shmmax": "1234567"} {
		if got := waitHTTP(t, url+"/read?path="+file, 5*time.Second); got != want {
			t.Errorf("%s in the task: %q, want %q", file, got, want)
		}
	}
	in.mustAWS("ecs", "stop-task", "--task", arn)

	in.registerTaskDef("maxfiles", img, nil, map[string]any{"ulimits": []any{
		map[string]any{"name": "nofile", "softLimit": 1048576, "hardLimit": 1048576}}})
	arn = in.runTask("maxfiles")
	if ceiling >= 1048576 {
		url = "http://" + taskIP(t, in.waitTaskStatus(arn, "RUNNING", 60*time.Second)) + ":8080"
		if body := waitHTTP(t, url+"/limits", 20*time.Second); !strings.Contains(body, `"nofileHard":1048576`) || !strings.Contains(body, `"nofileSoft":1048576`) {
			t.Errorf("nofile 1048576: %s", body)
		}
		in.mustAWS("ecs", "stop-task", "--task", arn)
	} else {
		t.Logf("this host gives containers nofile up to %d only (no CAP_SYS_RESOURCE)", ceiling)
		deadline := time.Now().Add(60 * time.Second)
		for {
			task := in.describeTask(arn)
			if task["lastStatus"] == "STOPPED" {
				reason, _ := task["stoppedReason"].(string)
				if !strings.Contains(reason, "above what this host allows") || strings.Contains(reason, in.dataDir) {
					t.Errorf("stoppedReason %q, want the host's nofile ceiling named (and no host path)", reason)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("task with nofile 1048576 on a host allowing %d: %v", ceiling, task)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
}

// TestUnsupportedSettingsAWSErrors: the AWS CLI gets AWS-shaped errors for
// systemControls that are not namespaced (ClientException at
// registration) and for settings fargo would not apply (pidMode,
// ipcMode, dockerSecurityOptions: InvalidParameterException at run).
func TestUnsupportedSettingsAWSErrors(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	cdefs := func(extra string) string {
		return `[{"name":"app","image":"app","memory":64` + extra + `}]`
	}
	_, err := in.aws("ecs", "register-task-definition", "--family", "badsysctl",
		"--container-definitions", cdefs(`,"systemControls":[{"namespace":"kernel.panic","value":"1"}]`))
	if err == nil || !strings.Contains(err.Error(), "ClientException") || !strings.Contains(err.Error(), "'kernel.panic' is not a namespaced kernel parameter") {
		t.Errorf("systemControls kernel.panic: %v", err)
	}
	for _, tc := range []struct{ family, args, extra, want string }{
		{"pidhost", "--pid-mode=host", "", "pidMode 'host' is not supported by fargo"},
		{"ipchost", "--ipc-mode=host", "", "ipcMode 'host' is not supported by fargo"},
		{"apparmor", "", `,"dockerSecurityOptions":["apparmor:unconfined"]`, "dockerSecurityOptions 'apparmor:unconfined' of container 'app' is not supported by fargo"},
	} {
		args := []string{"ecs", "register-task-definition", "--family", tc.family, "--container-definitions", cdefs(tc.extra)}
		if tc.args != "" {
			args = append(args, tc.args)
		}
		in.mustAWS(args...)
		_, err := in.aws("ecs", "run-task", "--launch-type", "EC2", "--task-definition", tc.family)
		if err == nil || !strings.Contains(err.Error(), "InvalidParameterException") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("run-task %s: %v, want InvalidParameterException %q", tc.family, err, tc.want)
		}
	}
}

// registerTaskDefSized is registerTaskDef with the task's cpu and memory.
func (in *instance) registerTaskDefSized(family, image, cpu, memory string, extra map[string]any) {
	in.t.Helper()
	c := map[string]any{"name": "app", "image": image, "essential": true,
		"portMappings": []any{map[string]any{"containerPort": 8080, "protocol": "tcp"}}}
	for k, v := range extra {
		c[k] = v
	}
	cdefs, _ := json.Marshal([]any{c})
	in.mustAWS("ecs", "register-task-definition", "--family", family,
		"--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc",
		"--cpu", cpu, "--memory", memory, "--container-definitions", string(cdefs),
		"--execution-role-arn", "arn:aws:iam::000000000000:role/ecsTaskExecutionRole")
}

// TestStopReasonsHideHostPaths: a container that cannot start because of
// its mounts (a volume over a file of the image) stops with a reason that
// names no path of the host (fargo's data directory, /run, /sys, /proc).
func TestStopReasonsHideHostPaths(t *testing.T) {
	awsCLI(t)
	in := newAgentInstance(t)
	img := in.pushTaskImage("paths")
	c := map[string]any{"name": "app", "image": img, "essential": true,
		"mountPoints": []any{map[string]any{"sourceVolume": "scratch", "containerPath": "/taskapp/sub"}}}
	cdefs, _ := json.Marshal([]any{c})
	in.mustAWS("ecs", "register-task-definition", "--family", "paths",
		"--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc",
		"--cpu", "256", "--memory", "512", "--container-definitions", string(cdefs),
		"--volumes", `[{"name":"scratch"}]`,
		"--execution-role-arn", "arn:aws:iam::000000000000:role/ecsTaskExecutionRole")
	arn := in.runTask("paths")
	deadline := time.Now().Add(60 * time.Second)
	for {
		task := in.describeTask(arn)
		if task["lastStatus"] == "STOPPED" {
			reasons := []string{fmt.Sprint(task["stoppedReason"]), fmt.Sprint(path(containerOf(task), "reason"))}
			for _, r := range reasons {
				for _, p := range []string{in.dataDir, "/run/", "/sys/", "/proc/", "/var/", "/tmp/"} {
					if strings.Contains(r, p) {
						t.Errorf("reason %q names the host path %s", r, p)
					}
				}
			}
			if !strings.HasPrefix(reasons[0], "CannotStartContainerError") && !strings.HasPrefix(reasons[0], "ResourceInitializationError") {
				t.Errorf("stoppedReason %q", reasons[0])
			}
			t.Logf("reasons: %q", reasons)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("task with a volume over a file: %v", task)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
