package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// signedCall sends an awsJson (or, with a form body, awsQuery) request
// signed for region with creds, at time at.
func signedCall(t *testing.T, s *fargotest.Server, target, body string, creds aws.Credentials, service, region string, at time.Time) rawAnswer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if target != "" {
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", target)
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	// Hash the body in place: a copy would count in the allocation
	// figures of the request-size tests.
	sum := sha256.Sum256(unsafe.Slice(unsafe.StringData(body), len(body)))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, req, hex.EncodeToString(sum[:]), service, region, at); err != nil {
		t.Fatal(err)
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

// TestSigV4ScopeAndTokens: fargo accepts AWS's 15-minute clock skew, only
// real region names in the credential scope (a region like
// "us-east-1:111111111111" would end up in ARNs), and no session token it
// never issued.
func TestSigV4ScopeAndTokens(t *testing.T) {
	s := fargotest.Start(t)
	id, secret := s.Admin()
	creds := aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}
	list := ecsTarget + "ListClusters"
	now := time.Now()

	for _, skew := range []time.Duration{-14 * time.Minute, 14 * time.Minute} {
		if a := signedCall(t, s, list, "{}", creds, "ecs", "us-east-1", now.Add(skew)); a.status != 200 {
			t.Errorf("signed %v from now: %d %s", skew, a.status, a.raw)
		}
	}
	signedCall(t, s, list, "{}", creds, "ecs", "us-east-1", now.Add(-16*time.Minute)).want(t, 400, "InvalidSignatureException", "- 15 min.)")
	signedCall(t, s, list, "{}", creds, "ecs", "us-east-1", now.Add(16*time.Minute)).want(t, 400, "InvalidSignatureException", "+ 15 min.)")

	for _, region := range []string{"eu-west-3", "us-gov-west-1", "cn-north-1", "ap-southeast-5", "il-central-1"} {
		if a := signedCall(t, s, list, "{}", creds, "ecs", region, now); a.status != 200 {
			t.Errorf("region %s: %d %s", region, a.status, a.raw)
		}
	}
	for _, region := range []string{"us-east-1:111111111111", "US-EAST-1", "us-east", "local", "xx-east-1", "us-east-1a", "us-east-1-1"} {
		signedCall(t, s, list, "{}", creds, "ecs", region, now).want(t, 400, "InvalidSignatureException",
			"Credential should be scoped to a valid region")
	}
	// awsQuery (STS) answers with its own code.
	a := signedCall(t, s, "", "Action=GetCallerIdentity&Version=2011-06-15", creds, "sts", "us-east-1:111111111111", now)
	if a.status != 403 || !strings.Contains(a.raw, "<Code>SignatureDoesNotMatch</Code>") || !strings.Contains(a.raw, "valid region") {
		t.Errorf("STS with a bad region: %d %s", a.status, a.raw)
	}

	// A session token fargo never issued.
	withToken := creds
	withToken.SessionToken = "FwoGZXIvYXdzEXAMPLE"
	signedCall(t, s, list, "{}", withToken, "ecs", "us-east-1", now).want(t, 400, "UnrecognizedClientException",
		"The security token included in the request is invalid.")
	a = signedCall(t, s, "", "Action=GetCallerIdentity&Version=2011-06-15", withToken, "sts", "us-east-1", now)
	if a.status != 403 || !strings.Contains(a.raw, "<Code>InvalidClientTokenId</Code>") {
		t.Errorf("STS with a foreign token: %d %s", a.status, a.raw)
	}
}
