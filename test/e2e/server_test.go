package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const webTaskDef = `{
  "family": "web",
  "executionRoleArn": "arn:aws:iam::000000000000:role/ecsTaskExecutionRole",
  "requiresCompatibilities": ["FARGATE"],
  "networkMode": "awsvpc",
  "cpu": "1 vCPU",
  "memory": "2GB",
  "containerDefinitions": [{
    "name": "web",
    "image": "localhost:4566/web:v1",
    "portMappings": [{"containerPort": 8080}],
    "logConfiguration": {"logDriver": "awslogs", "options": {
      "awslogs-group": "/ecs/web", "awslogs-region": "us-east-1", "awslogs-stream-prefix": "ecs"}}
  }]
}`

// TestCLIFirstSessionAndKill9 is the README's first session: start fargo,
// use the profile it wrote, kill -9 it, start it again, find everything.
func TestCLIFirstSessionAndKill9(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	if !strings.Contains(in.out.String(), "aws --profile fargo") {
		t.Fatalf("fargo did not say how to use it:\n%s", in.out)
	}

	cl := in.mustAWS("ecs", "create-cluster", "--cluster-name", "e2e", "--tags", "key=team,value=blue")
	if path(cl, "cluster", "clusterArn") != "arn:aws:ecs:us-east-1:000000000000:cluster/e2e" {
		t.Fatalf("create-cluster: %v", cl)
	}
	tdFile := filepath.Join(t.TempDir(), "td.json")
	if err := os.WriteFile(tdFile, []byte(webTaskDef), 0o644); err != nil {
		t.Fatal(err)
	}
	reg := in.mustAWS("ecs", "register-task-definition", "--cli-input-json", "file://"+tdFile)
	if path(reg, "taskDefinition", "revision") != 1.0 || path(reg, "taskDefinition", "cpu") != "1024" || path(reg, "taskDefinition", "memory") != "2048" {
		t.Fatalf("register: %v", reg)
	}
	in.mustAWS("ecs", "register-task-definition", "--cli-input-json", "file://"+tdFile)
	in.mustAWS("ecs", "tag-resource", "--resource-arn", "arn:aws:ecs:us-east-1:000000000000:task-definition/web:1", "--tags", "key=v,value=1")
	in.mustAWS("ecs", "deregister-task-definition", "--task-definition", "web:1")
	if _, err := in.aws("ecs", "deregister-task-definition", "--task-definition", "web"); err == nil || !strings.Contains(err.Error(), "ClientException") {
		t.Fatalf("bare family deregister: %v", err)
	}

	in.kill()
	in.start()

	d := in.mustAWS("ecs", "describe-clusters", "--clusters", "e2e", "--include", "TAGS")
	if path(d, "clusters", 0, "status") != "ACTIVE" || path(d, "clusters", 0, "tags", 0, "value") != "blue" {
		t.Fatalf("cluster after kill -9: %v", d)
	}
	td := in.mustAWS("ecs", "describe-task-definition", "--task-definition", "web:1", "--include", "TAGS")
	if path(td, "taskDefinition", "status") != "INACTIVE" || path(td, "tags", 0, "key") != "v" {
		t.Fatalf("web:1 after kill -9: %v", td)
	}
	l := in.mustAWS("ecs", "list-task-definitions", "--family-prefix", "web")
	if arns, _ := path(l, "taskDefinitionArns").([]any); len(arns) != 1 || arns[0] != "arn:aws:ecs:us-east-1:000000000000:task-definition/web:2" {
		t.Fatalf("list after kill -9: %v", l)
	}
	reg = in.mustAWS("ecs", "register-task-definition", "--cli-input-json", "file://"+tdFile)
	if path(reg, "taskDefinition", "revision") != 3.0 {
		t.Fatalf("revision after kill -9: %v", reg)
	}
	if !strings.Contains(in.out.String(), "Administrator access key") {
		t.Fatalf("second start should not mint a new key:\n%s", in.out)
	}
	if _, err := in.aws("ecs", "describe-clusters", "--clusters", "e2e"); err != nil {
		t.Fatal(err)
	}
}

// TestGracefulShutdown: SIGTERM ends fargo cleanly and promptly.
func TestGracefulShutdown(t *testing.T) {
	in := newInstance(t)
	in.start()
	if err := in.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- in.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v\n%s", err, in.out)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("fargo did not exit within 15s of SIGTERM")
	}
	in.cmd = nil
	if !strings.Contains(in.out.String(), "shutting down") {
		t.Fatalf("no shutdown log:\n%s", in.out)
	}
}

// TestSecondInstanceOnSameDataDirFails: the store's file lock refuses a
// second fargo instead of corrupting the first one's state.
func TestSecondInstanceOnSameDataDirFails(t *testing.T) {
	in := newInstance(t)
	in.start()
	second := newInstance(t, "FARGO_DATA_DIR="+in.dataDir)
	second.out = nil
	cmd := second.cmdServer()
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "another fargo") {
		t.Fatalf("second instance: %v\n%s", err, out)
	}
}

func TestDevModeTestKeys(t *testing.T) {
	awsCLI(t)
	in := newInstance(t, "FARGO_DEV=1", "FARGO_ACCOUNT_ID=123456789012")
	in.start()
	in.env = append(in.env, "AWS_ACCESS_KEY_ID=test", "AWS_SECRET_ACCESS_KEY=test", "AWS_DEFAULT_REGION=us-east-1")
	out, err := in.awsRaw("--endpoint-url", "http://"+in.listen, "ecs", "list-clusters")
	if err != nil || !strings.Contains(out, "arn:aws:ecs:us-east-1:123456789012:cluster/default") {
		t.Fatalf("dev keys: %v %s", err, out)
	}
}
