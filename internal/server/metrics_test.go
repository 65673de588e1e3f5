package server_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// TestMetricsShowFargoAndNoTenant is finding 14 of issue 17: /metrics
// shows registry traffic, tasks per state, open files, the store's size and
// write latency and the agent's step latencies; and neither /metrics nor
// /healthz (both unauthenticated) shows anything of a tenant: no account
// ids, ARNs, repository, cluster or family names.
func TestMetricsShowFargoAndNoTenant(t *testing.T) {
	s := fargotest.Start(t, fargotest.WithAccount("333333333333"))
	ctx := context.Background()
	secrets := []string{"111111111111", "222222222222", "333333333333", "arn:", "secretrepo", "secretcluster", "secretfamily"}
	for _, acct := range []string{"111111111111", "222222222222"} {
		c := s.ECRAs(acct)
		repo := createRepo(t, c, "secretrepo-"+acct)
		pushRandom(t, aws.ToString(repo.RepositoryUri)+":v1", craneOpts(t, c))
		e := s.ECSAs(acct)
		if _, err := e.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("secretcluster-" + acct)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RegisterTaskDefinition(ctx, fargateWeb("secretfamily-"+acct)); err != nil {
			t.Fatal(err)
		}
		if _, err := e.RunTask(ctx, &ecs.RunTaskInput{Cluster: aws.String("secretcluster-" + acct), TaskDefinition: aws.String("secretfamily-" + acct),
			LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{Subnets: []string{"subnet-12345678"}}}}); err != nil {
			t.Fatal(err)
		}
	}

	metrics := get(t, s.URL+"/metrics")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^fargo_registry_requests_total\{code="201",method="PUT",route="manifest"\} [1-9]`),
		regexp.MustCompile(`(?m)^fargo_registry_received_bytes_total\{route="blob_upload"\} [1-9]`),
		regexp.MustCompile(`(?m)^fargo_registry_sent_bytes_total\{route="[a-z_]+"\} `),
		regexp.MustCompile(`(?m)^fargo_tasks\{last_status="PROVISIONING"\} [0-9]+$`),
		regexp.MustCompile(`(?m)^fargo_tasks\{last_status="RUNNING"\} 0$`),
		regexp.MustCompile(`(?m)^process_open_fds [1-9]`),
		regexp.MustCompile(`(?m)^process_max_fds [1-9]`),
		regexp.MustCompile(`(?m)^fargo_store_size_bytes\{store="control"\} [1-9]`),
		regexp.MustCompile(`(?m)^fargo_store_write_duration_seconds_count\{store="control"\} [1-9]`),
		regexp.MustCompile(`(?m)^fargo_agent_step_duration_seconds_count\{step="pull"\} `),
		regexp.MustCompile(`(?m)^fargo_agent_step_duration_seconds_count\{step="stop"\} `),
		regexp.MustCompile(`(?m)^fargo_connections_open\{listener="api"\} [1-9]`),
		regexp.MustCompile(`(?m)^fargo_connections_refused_total\{listener="api"\} 0$`),
	} {
		if !want.MatchString(metrics) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	health := get(t, s.URL+"/healthz")
	for _, secret := range secrets {
		for page, body := range map[string]string{"/metrics": metrics, "/healthz": health} {
			if i := strings.Index(body, secret); i >= 0 {
				t.Errorf("%s shows %q: ...%s...", page, secret, body[max(0, i-200):min(len(body), i+100)])
			}
		}
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %v", url, resp.Status, err)
	}
	return string(b)
}
