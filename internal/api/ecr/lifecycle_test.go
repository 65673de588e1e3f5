package ecr_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecr/types"
	"github.com/aws/smithy-go"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-run/fargo/internal/api"
	ecrapi "github.com/fargo-run/fargo/internal/api/ecr"
	"github.com/fargo-run/fargo/internal/api/sigv4"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/registry/distribution"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

// These tests drive the adapter with the AWS SDK through the real router,
// over a registry whose clock they move (images of a given age), with a
// verifier that trusts the access key as the account id.

const (
	account = "123456789012"
	region  = "us-east-1"
)

var scope = tenant.Scope{Account: account, Region: region}

// keyIsAccount accepts every request as the account its access key names.
type keyIsAccount struct{}

func (keyIsAccount) Verify(r *http.Request, _ []byte) (sigv4.Identity, error) {
	// Credential=<key>/<date>/<region>/ecr/aws4_request
	_, cred, _ := strings.Cut(r.Header.Get("Authorization"), "Credential=")
	key, _, _ := strings.Cut(cred, "/")
	return sigv4.Identity{AccessKeyID: key, Account: key, Region: region, Service: "ecr"}, nil
}

// clock is a movable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

type apiEnv struct {
	t     *testing.T
	reg   *registry.Registry
	clock *clock
	now   time.Time
	c     *ecr.Client
}

func newAPIEnv(t *testing.T) *apiEnv {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "store.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clk := &clock{t: now}
	reg, err := registry.New(registry.Config{
		DataDir:      filepath.Join(dir, "registry"),
		DefaultScope: scope,
		Now:          clk.Now,
	}, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := api.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	v2, err := distribution.New(reg, distribution.Config{Auth: distribution.StaticToken{Token: "t", Account: account}})
	if err != nil {
		t.Fatal(err)
	}
	svc := ecrapi.New(ecrapi.Config{Registry: reg, RegistryHost: func() string { return "localhost:4566" }, DefaultRegion: region})
	srv := httptest.NewServer(api.NewRouter(api.Config{MaxBodyBytes: 10 << 20, Verifier: keyIsAccount{}, Registry: v2}, m,
		[]*api.JSONService{svc}, nil))
	t.Cleanup(srv.Close)
	c := ecr.NewFromConfig(aws.Config{
		Region:           region,
		Credentials:      credentials.NewStaticCredentialsProvider(account, "secret", ""),
		BaseEndpoint:     aws.String(srv.URL),
		RetryMaxAttempts: 1,
	})
	return &apiEnv{t: t, reg: reg, clock: clk, now: now, c: c}
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// push puts an image named name, ageDays days old, into repo with PutImage
// once per tag (untagged when there are none), and returns its digest.
func (e *apiEnv) push(repo, name string, ageDays int, tags ...string) string {
	e.t.Helper()
	ctx := context.Background()
	e.clock.Set(e.now.Add(-time.Duration(ageDays) * 24 * time.Hour))
	defer e.clock.Set(e.now)
	cfg, layer := `{"image":"`+name+`"}`, "layer of "+name
	for _, b := range []string{cfg, layer} {
		if _, err := e.reg.PutBlob(ctx, scope, repo, sha(b), int64(len(b)), strings.NewReader(b)); err != nil {
			e.t.Fatal(err)
		}
	}
	man := fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}`,
		sha(cfg), len(cfg), sha(layer), len(layer))
	refs := []*string{nil}
	if len(tags) > 0 {
		refs = nil
		for _, t := range tags {
			refs = append(refs, aws.String(t))
		}
	}
	var digest string
	for _, tag := range refs {
		out, err := e.c.PutImage(ctx, &ecr.PutImageInput{RepositoryName: aws.String(repo), ImageManifest: aws.String(man), ImageTag: tag})
		if err != nil {
			e.t.Fatalf("PutImage %s: %v", name, err)
		}
		digest = aws.ToString(out.Image.ImageId.ImageDigest)
	}
	return digest
}

func wantAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || !strings.Contains(ae.ErrorMessage(), msg) {
		t.Fatalf("got %s: %q, want %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}

// lifecycleRules covers every selection in priority order: a tag prefix
// list with a count, a tag pattern list with an age, untagged images with a
// count, and the catch-all "any" with an age, which cannot take images an
// earlier rule selected.
const lifecycleRules = `{"rules":[
 {"rulePriority":4,"description":"anything older than 30 days","selection":{"tagStatus":"any","countType":"sinceImagePushed","countUnit":"days","countNumber":30},"action":{"type":"expire"}},
 {"rulePriority":1,"description":"keep the newest prod image","selection":{"tagStatus":"tagged","tagPrefixList":["prod"],"countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}},
 {"rulePriority":2,"description":"release candidates older than a week","selection":{"tagStatus":"tagged","tagPatternList":["v*-rc*"],"countType":"sinceImagePushed","countUnit":"days","countNumber":7},"action":{"type":"expire"}},
 {"rulePriority":3,"description":"keep one untagged image","selection":{"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1},"action":{"type":"expire"}}]}`

func TestLifecyclePreviewAndRun(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	repo := aws.String("app")
	if _, err := e.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	names := map[string]string{} // digest -> name
	for _, img := range []struct {
		name string
		age  int
		tags []string
	}{
		{"misc", 60, []string{"misc"}},
		{"prod1", 50, []string{"prod-1"}},
		{"prod2", 40, []string{"prod-2"}},
		{"u-old", 35, nil},
		{"rel", 25, []string{"v1.0"}},
		{"rc1", 20, []string{"v1.0-rc1"}},
		{"u-mid", 10, nil},
		{"rc2", 5, []string{"v1.1-rc1"}},
		{"prod3", 2, []string{"prod-3", "latest"}},
		{"u-new", 1, nil},
	} {
		names[e.push("app", img.name, img.age, img.tags...)] = img.name
	}
	// name@appliedRulePriority, oldest first.
	wantExpired := []string{"misc@4", "prod1@1", "prod2@1", "u-old@3", "rc1@2", "u-mid@3"}
	expired := func(results []types.LifecyclePolicyPreviewResult) []string {
		var out []string
		for _, r := range results {
			if r.Action == nil || r.Action.Type != types.ImageActionTypeExpire || r.ImagePushedAt == nil {
				t.Fatalf("preview result %+v", r)
			}
			out = append(out, fmt.Sprintf("%s@%d", names[aws.ToString(r.ImageDigest)], aws.ToInt32(r.AppliedRulePriority)))
		}
		return out
	}

	// Preview a policy that is not the repository's (it has none).
	st, err := e.c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo, LifecyclePolicyText: aws.String(lifecycleRules)})
	if err != nil || st.Status != types.LifecyclePolicyPreviewStatusComplete {
		t.Fatalf("start preview: %+v %v", st, err)
	}
	pv, err := e.c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil {
		t.Fatal(err)
	}
	if got := expired(pv.PreviewResults); !slices.Equal(got, wantExpired) {
		t.Fatalf("preview expires %v, want %v", got, wantExpired)
	}
	if aws.ToInt32(pv.Summary.ExpiringImageTotalCount) != int32(len(wantExpired)) || aws.ToString(pv.LifecyclePolicyText) != lifecycleRules {
		t.Fatalf("preview summary %+v, text %q", pv.Summary, aws.ToString(pv.LifecyclePolicyText))
	}
	pv, err = e.c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo,
		Filter: &types.LifecyclePolicyPreviewFilter{TagStatus: types.TagStatusUntagged}})
	if got := expired(pv.PreviewResults); err != nil || !slices.Equal(got, []string{"u-old@3", "u-mid@3"}) {
		t.Fatalf("untagged preview %v %v", got, err)
	}
	// The preview expired nothing.
	if d, err := e.c.DescribeImages(ctx, &ecr.DescribeImagesInput{RepositoryName: repo}); err != nil || len(d.ImageDetails) != 10 {
		t.Fatalf("images after preview: %v %v", d, err)
	}

	// The stored policy: never evaluated yet.
	_, err = e.c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo})
	wantAPIError(t, err, "LifecyclePolicyNotFoundException", "Lifecycle policy does not exist for the repository with name 'app' in the registry with id '123456789012'")
	if _, err := e.c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(lifecycleRules)}); err != nil {
		t.Fatal(err)
	}
	gl, err := e.c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: repo})
	if err != nil || gl.LastEvaluatedAt != nil || aws.ToString(gl.LifecyclePolicyText) != lifecycleRules {
		t.Fatalf("get lifecycle policy before a run: %+v %v", gl, err)
	}

	// RunLifecycle (the server's background loop) applies it.
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		e.reg.RunLifecycle(runCtx, time.Hour)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		gl, err = e.c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: repo})
		if err != nil {
			t.Fatal(err)
		}
		if gl.LastEvaluatedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the lifecycle policy was never applied")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	if !gl.LastEvaluatedAt.Equal(e.now) {
		t.Fatalf("lastEvaluatedAt %v, want %v", gl.LastEvaluatedAt, e.now)
	}
	ls, err := e.c.ListImages(ctx, &ecr.ListImagesInput{RepositoryName: repo})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, id := range ls.ImageIds {
		left = append(left, names[aws.ToString(id.ImageDigest)]+":"+aws.ToString(id.ImageTag))
	}
	if want := []string{"prod3:latest", "prod3:prod-3", "rel:v1.0", "rc2:v1.1-rc1", "u-new:"}; !slices.Equal(left, want) {
		t.Fatalf("images left %v, want %v", left, want)
	}
	bg, err := e.c.BatchGetImage(ctx, &ecr.BatchGetImageInput{RepositoryName: repo, ImageIds: []types.ImageIdentifier{{ImageTag: aws.String("prod-1")}}})
	if err != nil || len(bg.Images) != 0 || len(bg.Failures) != 1 || bg.Failures[0].FailureCode != types.ImageFailureCodeImageNotFound {
		t.Fatalf("expired tag: %+v %v", bg, err)
	}
	// A new preview of the same policy finds nothing more.
	if _, err := e.c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	pv, err = e.c.GetLifecyclePolicyPreview(ctx, &ecr.GetLifecyclePolicyPreviewInput{RepositoryName: repo})
	if err != nil || len(pv.PreviewResults) != 0 || aws.ToInt32(pv.Summary.ExpiringImageTotalCount) != 0 {
		t.Fatalf("second preview %+v %v", pv, err)
	}

	if _, err := e.c.DeleteLifecyclePolicy(ctx, &ecr.DeleteLifecyclePolicyInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	_, err = e.c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: repo})
	wantAPIError(t, err, "LifecyclePolicyNotFoundException", "'app'")
}

// lcText is a one-rule policy with a selection, padded past ECR's
// 100-character minimum.
func lcText(selection string) string {
	return `{"rules":[{"rulePriority":1,"description":"a rule under test, long enough for the minimum length",` +
		`"selection":{` + selection + `},"action":{"type":"expire"}}]}`
}

func TestInvalidPolicyText(t *testing.T) {
	e := newAPIEnv(t)
	ctx := context.Background()
	repo := aws.String("app")
	if _, err := e.c.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: repo}); err != nil {
		t.Fatal(err)
	}
	const lcPrefix = "Invalid parameter at 'LifecyclePolicyText' failed to satisfy constraint: 'Lifecycle policy validation failure: "
	lifecycle := []struct {
		name, text, msg string
	}{
		{"not JSON", "{" + strings.Repeat(" ", 120), lcPrefix + "Could not map policyString into LifecyclePolicy.'"},
		{"too short", `{"rules":[]}`, "Invalid parameter at 'lifecyclePolicyText' failed to satisfy constraint: 'Member must have length between 100 and 30720'"},
		{"no rules", `{"rules":[]` + strings.Repeat(" ", 100) + `}`, lcPrefix + "array is too short: must have at least 1 elements but instance has 0 elements'"},
		{"tagged without list", lcText(`"tagStatus":"tagged","countType":"imageCountMoreThan","countNumber":1`),
			lcPrefix + "tagPrefixList or tagPatternList must be specified when tagStatus is tagged.'"},
		{"untagged with list", lcText(`"tagStatus":"untagged","tagPrefixList":["v"],"countType":"imageCountMoreThan","countNumber":1`),
			lcPrefix + "tagPrefixList and tagPatternList can only be specified when tagStatus is tagged.'"},
		{"age without unit", lcText(`"tagStatus":"any","countType":"sinceImagePushed","countNumber":1`),
			lcPrefix + "instance failed to match exactly one schema (matched 0 out of 2)'"},
		{"zero count", lcText(`"tagStatus":"any","countType":"imageCountMoreThan","countNumber":0`),
			lcPrefix + "numeric instance is lower than the required minimum (minimum: 1, found: 0)'"},
		{"bad tagStatus", lcText(`"tagStatus":"some","countType":"imageCountMoreThan","countNumber":1`),
			lcPrefix + `instance value ("some") not found in enum (possible values: ["any","tagged","untagged"])'`},
		{"too many wildcards", lcText(`"tagStatus":"tagged","tagPatternList":["a*b*c*d*e*"],"countType":"imageCountMoreThan","countNumber":1`),
			lcPrefix + "tagPatternList entry 'a*b*c*d*e*' has more than 4 wildcards (*).'"},
	}
	for _, tt := range lifecycle {
		t.Run("lifecycle/"+tt.name, func(t *testing.T) {
			_, err := e.c.PutLifecyclePolicy(ctx, &ecr.PutLifecyclePolicyInput{RepositoryName: repo, LifecyclePolicyText: aws.String(tt.text)})
			wantExactAPIError(t, err, "InvalidParameterException", tt.msg)
			_, err = e.c.StartLifecyclePolicyPreview(ctx, &ecr.StartLifecyclePolicyPreviewInput{RepositoryName: repo, LifecyclePolicyText: aws.String(tt.text)})
			wantExactAPIError(t, err, "InvalidParameterException", tt.msg)
		})
	}
	_, err := e.c.GetLifecyclePolicy(ctx, &ecr.GetLifecyclePolicyInput{RepositoryName: repo})
	wantAPIError(t, err, "LifecyclePolicyNotFoundException", "")

	const policyMsg = "Invalid parameter at 'PolicyText' failed to satisfy constraint: 'Invalid repository policy provided'"
	for name, text := range map[string]string{
		"not JSON":       `{not json`,
		"no statement":   `{"Version":"2012-10-17"}`,
		"bad effect":     `{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"ecr:BatchGetImage"}]}`,
		"no principal":   `{"Statement":[{"Effect":"Allow","Action":"ecr:BatchGetImage"}]}`,
		"resource":       `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Resource":"*"}]}`,
		"bad account":    `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"1234"},"Action":"ecr:BatchGetImage"}]}`,
		"unknown member": `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"ecr:BatchGetImage","Colour":"red"}]}`,
	} {
		t.Run("policy/"+name, func(t *testing.T) {
			_, err := e.c.SetRepositoryPolicy(ctx, &ecr.SetRepositoryPolicyInput{RepositoryName: repo, PolicyText: aws.String(text)})
			wantExactAPIError(t, err, "InvalidParameterException", policyMsg)
		})
	}
	_, err = e.c.GetRepositoryPolicy(ctx, &ecr.GetRepositoryPolicyInput{RepositoryName: repo})
	wantAPIError(t, err, "RepositoryPolicyNotFoundException", "")
}

func wantExactAPIError(t *testing.T, err error, code, msg string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("got %v, want %s", err, code)
	}
	if ae.ErrorCode() != code || ae.ErrorMessage() != msg {
		t.Fatalf("got %s: %q\nwant %s: %q", ae.ErrorCode(), ae.ErrorMessage(), code, msg)
	}
}
