package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
)

// These tests check who may pull what: a task pulls only what its account
// may read (BatchGetImage, repository policies included), cache or not,
// and only from fargo's own registry unless the operator allows others.

// newPullInstance starts fargo with its agent, dev mode on (so that a
// second account, 222222222222/test, can call it) and env added.
func newPullInstance(t *testing.T, env ...string) *instance {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("running tasks needs root (runc, netns, cgroups)")
	}
	if _, err := exec.LookPath("runc"); err != nil {
		t.Skip("no runc on this machine")
	}
	in := newInstance(t, append([]string{"FARGO_NO_AGENT=0", "FARGO_DEV=1"}, env...)...)
	t.Cleanup(func() {
		in.stop()
		in.checkNoLeftovers()
	})
	in.start()
	return in
}

// mustAWSAs runs the AWS CLI as account with dev mode's test keys.
func (in *instance) mustAWSAs(account string, args ...string) map[string]any {
	in.t.Helper()
	out, err := in.awsAs(account, "test", args...)
	if err != nil {
		in.t.Fatal(err)
	}
	return out
}

// runImageAs registers a one-container Fargate task definition of image
// for account and runs one task of it; it returns the task's ARN.
func (in *instance) runImageAs(account, family, image string) string {
	in.t.Helper()
	cdefs, _ := json.Marshal([]any{map[string]any{"name": "app", "image": image, "essential": true}})
	in.mustAWSAs(account, "ecs", "register-task-definition", "--family", family,
		"--requires-compatibilities", "FARGATE", "--network-mode", "awsvpc",
		"--cpu", "256", "--memory", "512", "--container-definitions", string(cdefs),
		"--execution-role-arn", "arn:aws:iam::"+account+":role/ecsTaskExecutionRole")
	out := in.mustAWSAs(account, "ecs", "run-task", "--launch-type", "FARGATE", "--task-definition", family,
		"--network-configuration", awsvpcConfig)
	arn, _ := path(out, "tasks", 0, "taskArn").(string)
	if arn == "" {
		in.t.Fatalf("run-task: %v", out)
	}
	return arn
}

// waitStatusAs polls the task (as account) until its lastStatus is want;
// a task that reaches RUNNING while STOPPED is wanted fails the test at
// once (it must never have run).
func (in *instance) waitStatusAs(account, arn, want string, timeout time.Duration) map[string]any {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		task, _ := path(in.mustAWSAs(account, "ecs", "describe-tasks", "--tasks", arn), "tasks", 0).(map[string]any)
		if task == nil {
			in.t.Fatalf("describe-tasks %s: no task", arn)
		}
		st := task["lastStatus"]
		if st == want {
			return task
		}
		if want == "STOPPED" && st == "RUNNING" {
			in.t.Fatalf("task %s RUNNING, it must never run: %v", arn, task)
		}
		if want != "STOPPED" && st == "STOPPED" {
			in.t.Fatalf("task %s STOPPED, want %s: %v", arn, want, task)
		}
		if time.Now().After(deadline) {
			in.t.Fatalf("task %s is %v, want %s after %v: %v\nfargo:\n%s", arn, st, want, timeout, task, in.out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// checkPullRefused asserts that a STOPPED task failed on its image pull
// and never started; the reason names one of wants.
func checkPullRefused(t *testing.T, label string, task map[string]any, wants ...string) string {
	t.Helper()
	reason, _ := task["stoppedReason"].(string)
	t.Logf("%s: %s", label, reason)
	if task["stopCode"] != "TaskFailedToStart" || !strings.HasPrefix(reason, "CannotPullContainerError") {
		t.Errorf("%s: stopCode %v stoppedReason %q, want TaskFailedToStart and CannotPullContainerError", label, task["stopCode"], reason)
	}
	if task["startedAt"] != nil || path(task, "containers", 0, "runtimeId") != nil {
		t.Errorf("%s: the task started: %v", label, task)
	}
	ok := false
	for _, w := range wants {
		ok = ok || strings.Contains(reason, w)
	}
	if !ok {
		t.Errorf("%s: stoppedReason %q names none of %q", label, reason, wants)
	}
	return reason
}

// TestImagePullCrossAccountByDigest: account A's private image, in the
// host's image cache since A ran it, does not run for account B by digest,
// neither through A's repository URI (ECR form) nor as B's own repository
// (localhost:PORT, where B may pull but the digest is not B's); once A's
// repository policy allows B, B's task runs.
func TestImagePullCrossAccountByDigest(t *testing.T) {
	const acctA, acctB = "000000000000", "222222222222"
	in := newPullInstance(t)

	// A pushes and runs its image: it is in the cache now.
	refA := in.pushTaskImage("web")
	digest, err := crane.Digest(refA, craneAuth(in.loginPassword())...)
	if err != nil {
		t.Fatal(err)
	}
	in.registerTaskDef("aweb", refA, nil, nil)
	arnA := in.runTask("aweb")
	in.waitTaskStatus(arnA, "RUNNING", 90*time.Second)

	// B has a repository of the same name, empty.
	in.mustAWSAs(acctB, "ecr", "create-repository", "--repository-name", "web")
	_, port, _ := net.SplitHostPort(in.listen)
	ecrForm := acctA + ".dkr.ecr.us-east-1.amazonaws.com/web@" + digest
	plainForm := "localhost:" + port + "/web@" + digest
	arnECR := in.runImageAs(acctB, "becr", ecrForm)
	arnPlain := in.runImageAs(acctB, "bplain", plainForm)
	checkPullRefused(t, "A's repository by digest", in.waitStatusAs(acctB, arnECR, "STOPPED", 60*time.Second), "access denied")
	checkPullRefused(t, "B's repository with A's digest", in.waitStatusAs(acctB, arnPlain, "STOPPED", 60*time.Second), "not found")

	// A shares the repository with B: B's task runs.
	pol := `{"Version":"2012-10-17","Statement":[{"Sid":"b","Effect":"Allow",` +
		`"Principal":{"AWS":"arn:aws:iam::` + acctB + `:root"},` +
		`"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer"]}]}`
	in.mustAWS("ecr", "set-repository-policy", "--repository-name", "web", "--policy-text", pol)
	arnShared := in.runImageAs(acctB, "becr", ecrForm)
	in.waitStatusAs(acctB, arnShared, "RUNNING", 90*time.Second)

	in.mustAWSAs(acctB, "ecs", "stop-task", "--task", arnShared)
	in.mustAWS("ecs", "stop-task", "--task", arnA)
	in.waitStatusAs(acctB, arnShared, "STOPPED", 60*time.Second)
	in.waitTaskStatus(arnA, "STOPPED", 60*time.Second)
}

// TestImagePullForeignRegistryRefused: an image on a registry fargo does
// not own (here a registry on the host's loopback) is refused by default
// before any request reaches it; allowed by the operator
// (FARGO_ALLOW_REGISTRIES), it is pulled from and runs, and what it
// answers when it fails stays out of the stop reason.
func TestImagePullForeignRegistryRefused(t *testing.T) {
	const secret = "INTERNAL-SECRET-7f3a: host-local service body"
	var hits atomic.Int64
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if strings.Contains(r.URL.Path, "/evil/") {
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, secret)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := srv.Listener.Addr().String()
	_, port, _ := net.SplitHostPort(host)
	good := host + "/good:v1"
	if err := crane.Push(taskImage(t), good, crane.Insecure); err != nil {
		t.Fatal(err)
	}
	hits.Store(0)

	in := newPullInstance(t)
	for i, img := range []string{
		"127.0.0.1:" + port + "/evil:tag",
		good,
		"localhost:" + port + "/evil@sha256:" + strings.Repeat("ab", 32),
		"[::1]:" + port + "/evil:tag",
	} {
		in.registerTaskDef(fmt.Sprintf("evil%d", i), img, nil, nil)
		task := in.waitTaskStatus(in.runTask(fmt.Sprintf("evil%d", i)), "STOPPED", 60*time.Second)
		reason := checkPullRefused(t, img, task, "registry not allowed")
		if strings.Contains(reason, "INTERNAL-SECRET") {
			t.Errorf("%s: the foreign server's body is in stoppedReason %q", img, reason)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the loopback registry got %d requests; a refused registry must get none", n)
	}

	// The operator allows it: its image runs; its error body stays out.
	in.stop()
	in.env = append(in.env, "FARGO_ALLOW_REGISTRIES=127.0.0.1:"+port)
	in.start()
	in.registerTaskDef("allowed", "127.0.0.1:"+port+"/evil:tag", nil, nil)
	task := in.waitTaskStatus(in.runTask("allowed"), "STOPPED", 90*time.Second)
	reason := checkPullRefused(t, "allowed registry", task, "unavailable", "not found", "access denied")
	if strings.Contains(reason, "INTERNAL-SECRET") {
		t.Errorf("allowed registry: the server's body is in stoppedReason %q", reason)
	}
	if hits.Load() == 0 {
		t.Errorf("the allowed registry got no request")
	}
	in.registerTaskDef("good", good, nil, nil)
	arn := in.runTask("good")
	in.waitTaskStatus(arn, "RUNNING", 90*time.Second)
	in.mustAWS("ecs", "stop-task", "--task", arn)
	in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
}
