package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// cloudMapAWSv1 runs the pip AWS CLI (v1, botocore 1.43) with host prefix
// injection off: Debian's AWS CLI v2.9 always sends DiscoverInstances to
// data-<endpoint host>, which does not resolve for an IP endpoint.
func (in *instance) cloudMapAWSv1(args ...string) (string, error) {
	in.t.Helper()
	bin := ""
	for _, p := range []string{"/root/.pyenv/shims/aws", "/usr/local/bin/aws"} {
		if out, err := exec.Command(p, "--version").CombinedOutput(); err == nil && strings.HasPrefix(string(out), "aws-cli/1.") {
			bin = p
		}
	}
	if bin == "" {
		in.t.Skip("no AWS CLI v1 with a botocore that can switch host prefix injection off")
	}
	cmd := exec.Command(bin, append([]string{"--profile", "fargo", "--endpoint-url", "http://" + in.listen, "--output", "json"}, args...)...)
	cmd.Env = append(in.env, "AWS_DISABLE_HOST_PREFIX_INJECTION=true")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// TestCloudMapAPI is issue 12's API part with boto3 (testdata/
// cloudmap_session.py) and the AWS CLI: namespaces, services, instances,
// the asynchronous operations, DiscoverInstances and its filters, errors;
// then kill -9 of fargo and everything is still there.
func TestCloudMapAPI(t *testing.T) {
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skip("boto3 is not installed")
	}
	in := newInstance(t)
	in.start()
	cmd := exec.Command("python3", "testdata/cloudmap_session.py")
	cmd.Env = in.env
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "cloudmap session ok") {
		t.Fatalf("boto3 session: %v\n%s\nfargo:\n%s", err, out, in.out)
	}
	m := regexp.MustCompile(`IDS (ns-\S+) (srv-\S+)`).FindStringSubmatch(string(out))
	nsID, srvID := m[1], m[2]

	// The AWS CLI v2: an asynchronous call and its operation.
	op := in.mustAWS("servicediscovery", "create-http-namespace", "--name", "cli-http")
	opID, _ := op["OperationId"].(string)
	got := in.mustAWS("servicediscovery", "get-operation", "--operation-id", opID)
	if path(got, "Operation", "Status") != "SUCCESS" || path(got, "Operation", "Type") != "CREATE_NAMESPACE" {
		t.Fatalf("get-operation: %v", got)
	}
	if _, err := in.aws("servicediscovery", "delete-namespace", "--id", nsID); err == nil || !strings.Contains(err.Error(), "ResourceInUse") {
		t.Fatalf("delete-namespace with services: %v", err)
	}
	if _, err := in.aws("servicediscovery", "create-private-dns-namespace", "--name", "py.local", "--vpc", "vpc-1"); err == nil || !strings.Contains(err.Error(), "NamespaceAlreadyExists") {
		t.Fatalf("create-private-dns-namespace again: %v", err)
	}

	// kill -9: namespaces, services, instances, health and operations
	// survive.
	in.kill()
	in.start()
	got = in.mustAWS("servicediscovery", "get-namespace", "--id", nsID)
	if path(got, "Namespace", "Name") != "py.local" || path(got, "Namespace", "ServiceCount") != 1.0 {
		t.Fatalf("namespace after kill -9: %v", got)
	}
	got = in.mustAWS("servicediscovery", "get-instances-health-status", "--service-id", srvID)
	if h, _ := got["Status"].(map[string]any); len(h) != 2 || h["i-0"] != "HEALTHY" || h["i-2"] != "UNHEALTHY" {
		t.Fatalf("health after kill -9: %v", got)
	}
	if got = in.mustAWS("servicediscovery", "get-operation", "--operation-id", opID); path(got, "Operation", "Status") != "SUCCESS" {
		t.Fatalf("operation after kill -9: %v", got)
	}
	// DiscoverInstances through the data- host, with the CLI v1.
	text, err := in.cloudMapAWSv1("servicediscovery", "discover-instances", "--namespace-name", "py.local",
		"--service-name", "api", "--health-status", "ALL")
	if err != nil || !strings.Contains(text, `"i-0"`) || !strings.Contains(text, `"i-2"`) || strings.Contains(text, `"i-1"`) {
		t.Fatalf("discover-instances after kill -9: %v\n%s", err, text)
	}
	start := time.Now()
	in.mustAWS("servicediscovery", "deregister-instance", "--service-id", srvID, "--instance-id", "i-0")
	in.mustAWS("servicediscovery", "deregister-instance", "--service-id", srvID, "--instance-id", "i-2")
	in.mustAWS("servicediscovery", "delete-service", "--id", srvID)
	in.mustAWS("servicediscovery", "delete-namespace", "--id", nsID)
	if _, err := in.aws("servicediscovery", "get-namespace", "--id", nsID); err == nil || !strings.Contains(err.Error(), "NamespaceNotFound") {
		t.Fatalf("deleted namespace: %v", err)
	}
	t.Logf("cleanup took %v", time.Since(start))
}
