package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/fargo-run/fargo/internal/fargotest"
)

// BenchmarkDescribeTaskDefinition measures the server side of one signed
// call (routing, SigV4, decode, store read, encode), in process.
func BenchmarkDescribeTaskDefinition(b *testing.B) {
	s := fargotest.Start(b)
	if _, err := s.ECS().RegisterTaskDefinition(context.Background(), fargateWeb("bench")); err != nil {
		b.Fatal(err)
	}
	body := []byte(`{"taskDefinition":"bench"}`)
	req := httptest.NewRequest(http.MethodPost, s.URL+"/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", ecsTarget+"DescribeTaskDefinition")
	sum := sha256.Sum256(body)
	id, secret := s.Admin()
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: id, SecretAccessKey: secret}, req,
		hex.EncodeToString(sum[:]), "ecs", "us-east-1", time.Now()); err != nil {
		b.Fatal(err)
	}
	h := s.Handler()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req.Body = http.NoBody
		r := req.Clone(context.Background())
		r.Body = nopCloser{bytes.NewReader(body)}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code != 200 {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	_ = ecs.DescribeTaskDefinitionInput{}
}

type nopCloser struct{ *bytes.Reader }

func (nopCloser) Close() error { return nil }
