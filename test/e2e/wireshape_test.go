package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestEmptyListsCLI (issue 17, finding 12): the AWS CLI sees every list of
// an empty answer as [], so `--query 'length(taskArns)'` and boto3's
// resp["taskArns"] work on a fresh account.
func TestEmptyListsCLI(t *testing.T) {
	in := newInstance(t)
	in.start()
	in.mustAWS("ecs", "create-cluster", "--cluster-name", "default")
	in.mustAWS("ecr", "create-repository", "--repository-name", "empty")
	for _, c := range []struct {
		args []string
		key  string
	}{
		{[]string{"ecs", "list-tasks"}, "taskArns"},
		{[]string{"ecs", "list-services"}, "serviceArns"},
		{[]string{"ecs", "list-task-definitions"}, "taskDefinitionArns"},
		{[]string{"ecr", "list-images", "--repository-name", "empty"}, "imageIds"},
		{[]string{"ecr", "describe-images", "--repository-name", "empty"}, "imageDetails"},
		{[]string{"logs", "describe-log-groups"}, "logGroups"},
	} {
		out := in.mustAWS(c.args...)
		l, ok := out[c.key].([]any)
		if !ok || len(l) != 0 {
			t.Errorf("aws %s: %s = %#v, want []", strings.Join(c.args, " "), c.key, out[c.key])
		}
	}
	n, err := in.awsRaw("--profile", "fargo", "--endpoint-url", "http://"+in.listen, "--output", "text",
		"ecs", "list-tasks", "--query", "length(taskArns)")
	if err != nil || strings.TrimSpace(n) != "0" {
		t.Errorf("--query 'length(taskArns)': %q %v", n, err)
	}
}

// peakRSS is a process's peak resident set size (VmHWM) in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM")
	return 0
}

// TestOversizedRequestsCLI (issue 17, finding 3): a 30 MB environment value
// in RegisterTaskDefinition, sent by the AWS CLI, is refused with an AWS
// error before fargo reads it (its peak memory does not grow by the
// request's size), and a task definition over 64 KiB gets ECS's own
// ClientException; neither is stored.
func TestOversizedRequestsCLI(t *testing.T) {
	in := newInstance(t)
	in.start()
	dir := t.TempDir()
	write := func(name string, n int) string {
		p := filepath.Join(dir, name)
		body := fmt.Sprintf(`{"family":%q,"containerDefinitions":[{"name":"c","image":"busybox","memory":64,"environment":[{"name":"BIG","value":%q}]}]}`,
			name, strings.Repeat("x", n))
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return "file://" + p
	}
	before := peakRSS(t, in.cmd.Process.Pid)
	_, err := in.aws("ecs", "register-task-definition", "--cli-input-json", write("huge", 30<<20))
	if err == nil || !strings.Contains(err.Error(), "RequestEntityTooLargeException") {
		t.Errorf("a 30 MB task definition: %v", err)
	}
	if grew := peakRSS(t, in.cmd.Process.Pid) - before; grew > 24<<20 {
		t.Errorf("fargo's peak RSS grew by %d MiB refusing a 30 MB request", grew>>20)
	}
	_, err = in.aws("ecs", "register-task-definition", "--cli-input-json", write("big", 70<<10))
	if err == nil || !strings.Contains(err.Error(), "ClientException") || !strings.Contains(err.Error(), "Max allowed length is '65536' bytes.") {
		t.Errorf("a 70 KiB task definition: %v", err)
	}
	if l, _ := in.mustAWS("ecs", "list-task-definitions")["taskDefinitionArns"].([]any); len(l) != 0 {
		t.Errorf("refused task definitions were stored: %v", l)
	}
}

// TestForeignSessionTokenCLI (issue 17, finding 7): the CLI with a session
// token fargo never issued gets UnrecognizedClientException; the same keys
// without it work.
func TestForeignSessionTokenCLI(t *testing.T) {
	in := newInstance(t)
	in.start()
	// The fargo profile's keys, given as environment variables so that a
	// session token can go with them.
	keys := []string{
		"AWS_ACCESS_KEY_ID=" + in.profileValue("credentials", "fargo", "aws_access_key_id"),
		"AWS_SECRET_ACCESS_KEY=" + in.profileValue("credentials", "fargo", "aws_secret_access_key"),
		"AWS_DEFAULT_REGION=us-east-1",
	}
	run := func(extra ...string) (string, error) {
		saved := in.env
		defer func() { in.env = saved }()
		in.env = append(append(append([]string{}, in.env...), keys...), extra...)
		return in.awsRaw("--endpoint-url", "http://"+in.listen, "ecs", "list-clusters")
	}
	if out, err := run(); err != nil {
		t.Fatalf("dev keys without a token: %v %s", err, out)
	}
	out, err := run("AWS_SESSION_TOKEN=FwoGZXIvYXdzEForged")
	if err == nil || !strings.Contains(out, "UnrecognizedClientException") || !strings.Contains(out, "The security token included in the request is invalid") {
		t.Errorf("a forged session token: %v %s", err, out)
	}
}
