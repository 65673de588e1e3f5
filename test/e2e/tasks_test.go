package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/nftables"
	"github.com/vishvananda/netlink"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// These tests run real tasks: fargo's own agent with runc, an awsvpc netns
// per task, images pulled from fargo's registry. They need root (CI runs as
// root) and runc (make deps installs it).

// newAgentInstance starts fargo with this host's agent. On cleanup it stops
// fargo gracefully (which stops its tasks) and checks that nothing of the
// tasks is left on the host.
func newAgentInstance(t *testing.T, extraEnv ...string) *instance {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running tasks needs root (runc, netns, cgroups)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("runc is missing (make deps installs it)")
		}
		t.Skip("no runc on this machine")
	}
	// The tests run host-mode, host-volume and privileged EC2 tasks
	// (TestHostAccessRefused checks the default).
	in := newInstance(t, append([]string{"FARGO_NO_AGENT=0", "FARGO_ALLOW_HOST_ACCESS=1"}, extraEnv...)...)
	t.Cleanup(func() {
		in.stop()
		in.checkNoLeftovers()
		in.checkStore()
	})
	in.start()
	return in
}

// stop ends fargo with SIGTERM and waits for it (a graceful shutdown stops
// the tasks first).
func (in *instance) stop() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			in.t.Errorf("fargo exited with %v after SIGTERM:\n%s", err, in.out)
		}
	case <-time.After(90 * time.Second):
		in.t.Errorf("fargo did not stop within 90s of SIGTERM:\n%s", in.out)
		_ = in.cmd.Process.Kill()
		<-done
	}
	in.cmd = nil
}

// checkNoLeftovers asserts that fargo left no container, netns, mount,
// link, nftables table or task cgroup behind.
func (in *instance) checkNoLeftovers() {
	for _, p := range in.leftovers() {
		in.t.Error(p)
	}
}

// leftovers lists what fargo left on the host: containers, netns, mounts,
// links (bridge, veths, metadata link), its nftables table, and the
// cgroups of the tasks it logged.
func (in *instance) leftovers() []string {
	var found []string
	out, err := exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "list", "-q").CombinedOutput()
	if err != nil && !strings.Contains(string(out), "no such file") {
		found = append(found, fmt.Sprintf("runc list: %v: %s", err, out))
	}
	if ids := strings.TrimSpace(string(out)); ids != "" && err == nil {
		found = append(found, "containers left after shutdown: "+ids)
	}
	if ents, _ := os.ReadDir("/run/netns"); ents != nil {
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), e2eNetPrefix+"-") {
				found = append(found, "netns left after shutdown: "+e.Name())
			}
		}
	}
	mounts, _ := os.ReadFile("/proc/self/mountinfo")
	if strings.Contains(string(mounts), in.dataDir) {
		found = append(found, fmt.Sprintf("mounts under %s left after shutdown", in.dataDir))
	}
	// A running fargo keeps its bridge, metadata link and table; only its
	// tasks' veths are leftovers then.
	running := in.cmd != nil
	if links, err := netlink.LinkList(); err == nil {
		for _, l := range links {
			name := l.Attrs().Name
			if strings.HasPrefix(name, e2eNetPrefix+"v") || (!running && strings.HasPrefix(name, e2eNetPrefix)) {
				found = append(found, "link left after shutdown: "+name)
			}
		}
	}
	if c, err := nftables.New(); err == nil && !running {
		tables, _ := c.ListTables()
		for _, tb := range tables {
			if tb.Name == "fargo_"+e2eNetPrefix {
				found = append(found, "nftables table left after shutdown: "+tb.Name)
			}
		}
	}
	for _, id := range in.loggedTasks() {
		for _, ctrl := range []string{"memory", "cpu", "pids"} {
			if _, err := os.Stat(filepath.Join("/sys/fs/cgroup", ctrl, "fargo", id)); err == nil {
				found = append(found, fmt.Sprintf("%s cgroup of task %s left after shutdown", ctrl, id))
			}
		}
	}
	return found
}

var loggedTask = regexp.MustCompile(`task=([0-9a-f]{32})\b`)

// loggedTasks lists the task IDs in the instance's log (the agent logs
// each task it runs): the cgroups to look for, without touching those of
// another fargo on the host.
func (in *instance) loggedTasks() []string {
	log := in.past.String()
	if in.out != nil {
		log += in.out.String()
	}
	seen := map[string]bool{}
	var ids []string
	for _, m := range loggedTask.FindAllStringSubmatch(log, -1) {
		if !seen[m[1]] {
			seen[m[1]] = true
			ids = append(ids, m[1])
		}
	}
	return ids
}

var taskAppImage struct {
	once sync.Once
	img  v1.Image
	err  error
}

// taskImage builds the test image (once per run): the static taskapp
// binary as /taskapp, entrypoint ["/taskapp"], command ["serve"].
func taskImage(t *testing.T) v1.Image {
	t.Helper()
	taskAppImage.once.Do(func() {
		dir, err := os.MkdirTemp("", "fargo-taskapp")
		if err != nil {
			taskAppImage.err = err
			return
		}
		defer os.RemoveAll(dir)
		taskAppImage.img, taskAppImage.err = buildTaskImage(dir)
	})
	if taskAppImage.err != nil {
		t.Fatal(taskAppImage.err)
	}
	return taskAppImage.img
}

func buildTaskImage(dir string) (v1.Image, error) {
	bin := filepath.Join(dir, "taskapp")
	build := exec.Command("go", "build", "-o", bin, "./testdata/taskapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build taskapp: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return fargotest.TaskAppImage(data)
}

// pushTaskImage creates the repository and pushes the test image to the
// repositoryUri fargo answers; it returns the image reference.
func (in *instance) pushTaskImage(repo string) string {
	t := in.t
	t.Helper()
	out := in.mustAWS("ecr", "create-repository", "--repository-name", repo)
	uri, _ := path(out, "repository", "repositoryUri").(string)
	if uri == "" {
		t.Fatalf("create-repository: no repositoryUri in %v", out)
	}
	ref := uri + ":v1"
	if err := crane.Push(taskImage(t), ref, craneAuth(in.loginPassword())...); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// registerTaskDef registers a Fargate awsvpc task definition of one
// container "app" running image with the given command (nil: the image's).
func (in *instance) registerTaskDef(family, image string, command []string, extra map[string]any) {
	in.t.Helper()
	c := map[string]any{
		"name": "app", "image": image, "essential": true,
		"portMappings": []any{map[string]any{"containerPort": 8080, "protocol": "tcp"}},
		"environment":  []any{map[string]any{"name": "GREETING", "value": "hi"}},
		"logConfiguration": map[string]any{"logDriver": "awslogs", "options": map[string]any{
			"awslogs-group": "/ecs/" + family, "awslogs-region": "us-east-1",
			"awslogs-stream-prefix": "ecs", "awslogs-create-group": "true",
		}},
	}
	if command != nil {
		c["command"] = command
	}
	for k, v := range extra {
		c[k] = v
	}
	cdefs, _ := json.Marshal([]any{c})
	in.mustAWS("ecs", "register-task-definition", "--family", family,
		"--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc",
		"--cpu", "256", "--memory", "512", "--container-definitions", string(cdefs),
		"--execution-role-arn", "arn:aws:iam::000000000000:role/ecsTaskExecutionRole")
}

const awsvpcConfig = "awsvpcConfiguration={subnets=[subnet-0123456789abcdef0],assignPublicIp=DISABLED}"

// runTask runs one task of family and returns its ARN.
func (in *instance) runTask(family string) string {
	in.t.Helper()
	out := in.mustAWS("ecs", "run-task", "--launch-type", "FARGATE", "--task-definition", family,
		"--network-configuration", awsvpcConfig)
	arn, _ := path(out, "tasks", 0, "taskArn").(string)
	if arn == "" {
		in.t.Fatalf("run-task: %v", out)
	}
	return arn
}

// describeTask returns the task as describe-tasks shows it.
func (in *instance) describeTask(arn string) map[string]any {
	in.t.Helper()
	out := in.mustAWS("ecs", "describe-tasks", "--tasks", arn)
	task, _ := path(out, "tasks", 0).(map[string]any)
	if task == nil {
		in.t.Fatalf("describe-tasks %s: %v", arn, out)
	}
	return task
}

// waitTaskStatus polls until the task's lastStatus is want.
func (in *instance) waitTaskStatus(arn, want string, timeout time.Duration) map[string]any {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task := in.describeTask(arn)
		if task["lastStatus"] == want {
			return task
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("task %s is %v, want %s after %v: %v\nfargo:\n%s", arn, task["lastStatus"], want, timeout, task, in.out)
		}
		if task["lastStatus"] == "STOPPED" {
			in.t.Fatalf("task %s STOPPED, want %s: %v", arn, want, task)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// taskIP is the private IPv4 address of the task's ENI attachment.
func taskIP(t *testing.T, task map[string]any) string {
	t.Helper()
	atts, _ := task["attachments"].([]any)
	for _, a := range atts {
		for _, d := range path(a, "details").([]any) {
			if path(d, "name") == "privateIPv4Address" {
				return path(d, "value").(string)
			}
		}
	}
	t.Fatalf("no privateIPv4Address in %v", task["attachments"])
	return ""
}

func httpGet(url string) (string, error) {
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return string(b), fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return string(b), err
}

// waitHTTP polls url until it answers 200.
func waitHTTP(t *testing.T, url string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		body, err := httpGet(url)
		if err == nil {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func containerOf(task map[string]any) map[string]any {
	c, _ := path(task, "containers", 0).(map[string]any)
	return c
}
