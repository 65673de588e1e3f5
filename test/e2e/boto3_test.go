package e2e

import (
	"os/exec"
	"strings"
	"testing"
)

// TestBoto3Session drives fargo with boto3 (testdata/boto3_session.py)
// through the AWS profile fargo writes: ECS, ECR, Logs and STS, a
// paginator, a waiter failing fast, and errors as botocore parses them.
func TestBoto3Session(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed (python3 -m pip install boto3)")
	}
	in := newInstance(t)
	in.start()
	cmd := exec.Command("python3", "testdata/boto3_session.py")
	cmd.Env = in.env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "boto3 session ok") {
		t.Fatalf("boto3 session: %v\n%s\nfargo:\n%s", err, out, in.out)
	}
}
