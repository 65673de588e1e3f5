package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	"golang.org/x/sys/unix"
)

// awsDev runs the AWS CLI as account acct with dev mode's test keys (no
// profile) and decodes its JSON output (raw: the output as it is).
func (in *instance) awsDev(acct string, raw bool, args ...string) (map[string]any, string) {
	in.t.Helper()
	if raw {
		out, err := in.awsRun(acct, "test", args...)
		if err != nil {
			in.t.Fatal(err)
		}
		return nil, strings.TrimSpace(string(out))
	}
	out, err := in.awsAs(acct, "test", args...)
	if err != nil {
		in.t.Fatal(err)
	}
	return out, ""
}

// diskTask runs, in account acct, a Fargate task of the test image with a
// task-scoped volume at /scratch (overrides: RunTask's --overrides, "" for
// none) and returns its ARN and IP once it runs.
func (in *instance) diskTask(acct, overrides string) (string, string) {
	t := in.t
	t.Helper()
	repo, _ := in.awsDev(acct, false, "ecr", "create-repository", "--repository-name", "disk")
	uri, _ := path(repo, "repository", "repositoryUri").(string)
	_, pw := in.awsDev(acct, true, "ecr", "get-login-password")
	if err := crane.Push(taskImage(t), uri+":v1", craneAuth(pw)...); err != nil {
		t.Fatalf("push %s: %v", uri, err)
	}
	cdefs, _ := json.Marshal([]any{map[string]any{"name": "app", "image": uri + ":v1", "essential": true,
		"portMappings": []any{map[string]any{"containerPort": 8080}},
		"mountPoints":  []any{map[string]any{"sourceVolume": "scratch", "containerPath": "/scratch"}}}})
	in.awsDev(acct, false, "ecs", "register-task-definition", "--family", "disk", "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "256", "--memory", "512", "--container-definitions", string(cdefs),
		"--volumes", `[{"name":"scratch"}]`)
	args := []string{"ecs", "run-task", "--launch-type", "FARGATE", "--task-definition", "disk", "--network-configuration", awsvpcConfig}
	if overrides != "" {
		args = append(args, "--overrides", overrides)
	}
	out, _ := in.awsDev(acct, false, args...)
	arn, _ := path(out, "tasks", 0, "taskArn").(string)
	if arn == "" {
		t.Fatalf("run-task: %v", out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, _ := in.awsDev(acct, false, "ecs", "describe-tasks", "--tasks", arn)
		task, _ := path(out, "tasks", 0).(map[string]any)
		if task["lastStatus"] == "RUNNING" {
			ip := taskIP(t, task)
			waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)
			return arn, ip
		}
		if task["lastStatus"] == "STOPPED" || time.Now().After(deadline) {
			t.Fatalf("task %s: %v %v\n%s", arn, task["lastStatus"], task["stoppedReason"], in.out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// taskJSON GETs a taskapp URL of the task and decodes it.
func taskJSON(t *testing.T, u string) map[string]any {
	t.Helper()
	body, err := httpGet(u)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	out := map[string]any{}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("GET %s: %q: %v", u, body, err)
	}
	return out
}

// TestTaskEphemeralStorage: a task's ephemeral storage is a filesystem of
// its size (RunTask's 21 GiB override for account A's task, the 20 GiB
// default for account B's): `df /` and `df` of its volume show that size,
// not the host's disk; what the task writes shows in the metadata
// endpoint's EphemeralStorageMetrics; reserving more than the size fails
// with ENOSPC; and the task's stop leaves no mount or image behind.
func TestTaskEphemeralStorage(t *testing.T) {
	in := newAgentInstance(t, "FARGO_DEV=1")
	const acctA, acctB = "111111111111", "222222222222"
	arnA, ipA := in.diskTask(acctA, `{"ephemeralStorage":{"sizeInGiB":21}}`)
	arnB, ipB := in.diskTask(acctB, "")

	var host unix.Statfs_t
	if err := unix.Statfs(in.dataDir, &host); err != nil {
		t.Fatal(err)
	}
	hostSize := float64(host.Blocks) * float64(host.Bsize)
	for _, tc := range []struct {
		ip  string
		gib float64
	}{{ipA, 21}, {ipB, 20}} {
		for _, p := range []string{"/", "/scratch"} {
			size, _ := taskJSON(t, "http://"+tc.ip+":8080/df?path="+url.QueryEscape(p))["size"].(float64)
			if size > tc.gib*(1<<30) || size < (tc.gib-1)*(1<<30) {
				t.Errorf("task of %v GiB: df %s shows %.2f GiB (the host's disk: %.2f GiB)", tc.gib, p, size/(1<<30), hostSize/(1<<30))
			}
		}
	}

	es := func(ip string) (float64, float64) {
		md := taskJSON(t, "http://"+ip+":8080/meta")
		if errs, ok := md["Errors"]; ok {
			t.Errorf("metadata Errors: %v", errs)
		}
		u, _ := path(md, "EphemeralStorageMetrics", "Utilized").(float64)
		r, _ := path(md, "EphemeralStorageMetrics", "Reserved").(float64)
		return u, r
	}
	usedA, reservedA := es(ipA)
	usedB, reservedB := es(ipB)
	if reservedA != 21*1024 || reservedB != 20*1024 {
		t.Errorf("Reserved %v and %v MiB, want 21504 and 20480", reservedA, reservedB)
	}
	// Writes through the root filesystem (the container's writable layer)
	// and through the volume both count.
	for _, q := range []string{"path=/data.bin&mib=48", "path=/scratch/data.bin&mib=16"} {
		if body, err := httpGet("http://" + ipA + ":8080/fill?" + q); err != nil || !strings.Contains(body, "ok") {
			t.Fatalf("fill %s: %q %v", q, body, err)
		}
	}
	if u, _ := es(ipA); u < usedA+64 {
		t.Errorf("Utilized after writing 64 MiB: %v MiB (was %v)", u, usedA)
	}
	if u, _ := es(ipB); u > usedB+8 {
		t.Errorf("account B's task's Utilized grew with A's writes: %v MiB (was %v)", u, usedB)
	}
	// Reserving more than the task's size fails inside the task; 1 GiB
	// fits and counts.
	body, _ := httpGet("http://" + ipA + ":8080/fill?path=/huge&alloc=1&mib=" + fmt.Sprint(22*1024))
	if !strings.Contains(body, "no space left on device") {
		t.Errorf("fallocate of 22 GiB in a 21 GiB task: %q, want ENOSPC", body)
	}
	if body, err := httpGet("http://" + ipA + ":8080/fill?path=/scratch/gig&alloc=1&mib=1024"); err != nil || !strings.Contains(body, "ok") {
		t.Errorf("fallocate of 1 GiB: %q %v", body, err)
	}
	if u, _ := es(ipA); u < usedA+64+1024 {
		t.Errorf("Utilized after reserving 1 GiB more: %v MiB", u)
	}

	in.awsDev(acctA, false, "ecs", "stop-task", "--task", arnA)
	in.awsDev(acctB, false, "ecs", "stop-task", "--task", arnB)
	deadline := time.Now().Add(30 * time.Second)
	for {
		imgs, _ := filepath.Glob(filepath.Join(in.dataDir, "ephemeral", "[0-9a-f]*.img"))
		mounts, _ := os.ReadFile("/proc/self/mountinfo")
		if len(imgs) == 0 && !strings.Contains(string(mounts), filepath.Join(in.dataDir, "agent", "tasks")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the stops: images %v, mounts left under %s", imgs, in.dataDir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTaskEphemeralStorageOff: with --ephemeral-storage=off (the fallback
// where loop devices are unavailable) a task runs on the host's disk and
// its metadata says its storage is not bounded.
func TestTaskEphemeralStorageOff(t *testing.T) {
	in := newAgentInstance(t, "FARGO_EPHEMERAL_STORAGE=off")
	in.registerTaskDef("web", in.pushTaskImage("web"), nil, nil)
	arn := in.runTask("web")
	ip := taskIP(t, in.waitTaskStatus(arn, "RUNNING", 60*time.Second))
	waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)
	md := taskJSON(t, "http://"+ip+":8080/meta")
	if code := path(md, "Errors", 0, "ErrorCode"); code != "EphemeralStorageNotEnforced" {
		t.Errorf("metadata Errors %v, want EphemeralStorageNotEnforced", md["Errors"])
	}
	if r := path(md, "EphemeralStorageMetrics", "Reserved"); r != 20480.0 {
		t.Errorf("EphemeralStorageMetrics %v", md["EphemeralStorageMetrics"])
	}
	if !strings.Contains(in.out.String(), "ephemeral storage is not bounded") {
		t.Errorf("no warning in fargo's log:\n%s", in.out)
	}
	if imgs, _ := filepath.Glob(filepath.Join(in.dataDir, "ephemeral", "*")); len(imgs) != 0 {
		t.Errorf("images made with ephemeral-storage=off: %v", imgs)
	}
}
