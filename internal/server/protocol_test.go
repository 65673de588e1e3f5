package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/fargo-run/fargo/internal/fargotest"
)

const ecsTarget = "AmazonEC2ContainerServiceV20141113."

type rawAnswer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
}

// call sends a signed (unless akid is empty) awsJson request and decodes
// the answer.
func call(t *testing.T, s *fargotest.Server, target, body, akid, secret, service string, at time.Time) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if akid != "" {
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret},
			req, hex.EncodeToString(sum[:]), service, "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := rawAnswer{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func (a rawAnswer) want(t *testing.T, status int, code, msg string) {
	t.Helper()
	if a.status != status || a.body["__type"] != code || !strings.Contains(a.body["message"].(string), msg) {
		t.Fatalf("got %d %s, want %d %s %q", a.status, a.raw, status, code, msg)
	}
	if a.header.Get("x-amzn-RequestId") == "" {
		t.Fatalf("no x-amzn-RequestId")
	}
}

func TestSigV4Negatives(t *testing.T) {
	s := fargotest.Start(t)
	id, secret := s.Admin()
	now := time.Now()
	list := ecsTarget + "ListClusters"
	call(t, s, list, "{}", "", "", "", now).want(t, 400, "MissingAuthenticationTokenException", "Missing Authentication Token")
	call(t, s, list, "{}", "AKIANOTAKEY000000000", "x", "ecs", now).want(t, 400, "UnrecognizedClientException", "The security token included in the request is invalid.")
	call(t, s, list, "{}", id, secret+"x", "ecs", now).want(t, 400, "InvalidSignatureException", "The request signature we calculated does not match")
	call(t, s, list, "{}", id, secret, "ecs", now.Add(-16*time.Minute)).want(t, 400, "InvalidSignatureException", "Signature expired")
	call(t, s, list, "{}", id, secret, "ecs", now.Add(16*time.Minute)).want(t, 400, "InvalidSignatureException", "Signature not yet current")
	call(t, s, list, "{}", id, secret, "ecr", now).want(t, 400, "InvalidSignatureException", "Credential should be scoped to correct service: 'ecs'")
	// Within the skew window is fine.
	if a := call(t, s, list, "{}", id, secret, "ecs", now.Add(-4*time.Minute)); a.status != 200 {
		t.Fatalf("4 minutes of skew refused: %s", a.raw)
	}
	// Dev keys only in dev mode.
	if a := call(t, s, list, "{}", "test", "test", "ecs", now); a.status != 200 {
		t.Fatalf("dev keys refused in dev mode: %s", a.raw)
	}
	strict := fargotest.Start(t, fargotest.WithoutDev())
	call(t, strict, list, "{}", "test", "test", "ecs", now).want(t, 400, "UnrecognizedClientException", "invalid")
}

func TestStatusCodesOfSigV4Errors(t *testing.T) {
	// The statuses asserted in TestSigV4Negatives come from the sigv4
	// package; this documents that they are not 500s.
	s := fargotest.Start(t)
	a := call(t, s, ecsTarget+"ListClusters", "{}", "AKIANOTAKEY000000000", "x", "ecs", time.Now())
	if a.status >= 500 {
		t.Fatalf("sigv4 failure answered %d", a.status)
	}
}

func TestBadInput(t *testing.T) {
	s := fargotest.Start(t)
	id, secret := s.Admin()
	now := time.Now()
	for _, tc := range []struct {
		name, target, body string
		status             int
		code, msg          string
	}{
		{"malformed json", ecsTarget + "CreateCluster", `{"clusterName":`, 400, "SerializationException", ""},
		{"not an object", ecsTarget + "CreateCluster", `[1,2]`, 400, "SerializationException", ""},
		{"wrong type", ecsTarget + "CreateCluster", `{"clusterName": 5}`, 400, "SerializationException", "clusterName"},
		{"wrong nested type", ecsTarget + "RegisterTaskDefinition", `{"family":"x","containerDefinitions":[{"name":"a","memory":"lots"}]}`, 400, "SerializationException", ""},
		{"trailing garbage", ecsTarget + "ListClusters", `{} {}`, 400, "SerializationException", ""},
		{"unknown operation", ecsTarget + "Frobnicate", `{}`, 400, "UnknownOperationException", "Frobnicate"},
		{"unknown service", "NoSuchService_2020.Do", `{}`, 400, "UnknownOperationException", ""},
		{"missing task definition", ecsTarget + "DescribeTaskDefinition", `{}`, 400, "ClientException", "Unable to describe task definition."},
		{"register without containers", ecsTarget + "RegisterTaskDefinition", `{"family":"x"}`, 400, "ClientException", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			service := "ecs"
			if strings.HasPrefix(tc.target, "NoSuch") {
				service = "nosuch"
			}
			call(t, s, tc.target, tc.body, id, secret, service, now).want(t, tc.status, tc.code, tc.msg)
		})
	}
	// Known operations of services fargo does not implement yet.
	req := call(t, s, "AmazonEC2ContainerRegistry_V20150921.DescribePullThroughCacheRules", `{}`, id, secret, "ecr", now)
	req.want(t, 400, "UnknownOperationException", "DescribePullThroughCacheRules")

	// An oversized body is refused before it is read whole.
	big := `{"family":"` + strings.Repeat("a", 33<<20) + `"}`
	call(t, s, ecsTarget+"RegisterTaskDefinition", big, id, secret, "ecs", now).want(t, 413, "RequestEntityTooLargeException", "limit")
}

func TestTenancyIsolation(t *testing.T) {
	s := fargotest.Start(t)
	ctx := context.Background()
	a, b := s.ECSAs("111111111111"), s.ECSAs("222222222222")
	if _, err := a.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("secret")}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.RegisterTaskDefinition(ctx, fargateWeb("private")); err != nil {
		t.Fatal(err)
	}
	lb, err := b.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(lb.ClusterArns, []string{"arn:aws:ecs:us-east-1:222222222222:cluster/default"}) {
		t.Fatalf("account b sees %v", lb.ClusterArns)
	}
	d, err := b.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"secret", "arn:aws:ecs:us-east-1:111111111111:cluster/secret"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Clusters) != 0 || len(d.Failures) != 2 {
		t.Fatalf("account b described a's cluster: %+v", d)
	}
	for _, ref := range []string{"private", "private:1", "arn:aws:ecs:us-east-1:111111111111:task-definition/private:1"} {
		_, err = b.DescribeTaskDefinition(ctx, &ecs.DescribeTaskDefinitionInput{TaskDefinition: aws.String(ref)})
		wantAPIError(t, err, "ClientException", "Unable to describe task definition.")
	}
	_, err = b.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String("arn:aws:ecs:us-east-1:111111111111:cluster/secret"),
		Tags: []types.Tag{{Key: aws.String("x"), Value: aws.String("y")}}})
	if err == nil {
		t.Fatal("account b tagged a's cluster")
	}
	fams, err := b.ListTaskDefinitionFamilies(ctx, &ecs.ListTaskDefinitionFamiliesInput{})
	if err != nil || len(fams.Families) != 0 {
		t.Fatalf("account b families: %v %v", fams, err)
	}
	// Regions are separate too.
	cfg := s.AWSConfig("111111111111", "test")
	cfg.Region = "eu-west-1"
	eu := ecs.NewFromConfig(cfg)
	le, err := eu.ListClusters(ctx, &ecs.ListClustersInput{})
	if err != nil || !slices.Equal(le.ClusterArns, []string{"arn:aws:ecs:eu-west-1:111111111111:cluster/default"}) {
		t.Fatalf("eu-west-1: %v %v", le, err)
	}
}

func TestRestartKeepsState(t *testing.T) {
	s := fargotest.Start(t)
	ctx := context.Background()
	c := s.ECS()
	if _, err := c.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("durable")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.RegisterTaskDefinition(ctx, fargateWeb("durable")); err != nil {
		t.Fatal(err)
	}
	id, _ := s.Admin()
	s.Restart(t)
	if id2, _ := s.Admin(); id2 != id {
		t.Fatalf("admin key changed across restart: %s -> %s", id, id2)
	}
	c = s.ECS()
	d, err := c.DescribeClusters(ctx, &ecs.DescribeClustersInput{Clusters: []string{"durable"}})
	if err != nil || len(d.Clusters) != 1 {
		t.Fatalf("cluster lost: %+v %v", d, err)
	}
	r, err := c.RegisterTaskDefinition(ctx, fargateWeb("durable"))
	if err != nil || r.TaskDefinition.Revision != 2 {
		t.Fatalf("revision after restart: %+v %v", r, err)
	}
}

func TestHealthMetricsAndSTS(t *testing.T) {
	s := fargotest.Start(t)
	resp, err := http.Get(s.URL + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	if _, err := s.ECS().ListClusters(context.Background(), &ecs.ListClustersInput{}); err != nil {
		t.Fatal(err)
	}
	resp, err = http.Get(s.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(body, []byte(`fargo_api_requests_total{code="200",operation="ListClusters",service="ecs"} 1`)) ||
		!bytes.Contains(body, []byte(`fargo_api_request_duration_seconds_bucket{operation="ListClusters",service="ecs"`)) {
		t.Fatalf("metrics lack the ListClusters call:\n%s", body)
	}
	id, secret := s.Admin()
	out, err := sts.NewFromConfig(s.AWSConfig(id, secret)).GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Account) != "000000000000" {
		t.Fatalf("GetCallerIdentity: %+v %v", out, err)
	}
}
