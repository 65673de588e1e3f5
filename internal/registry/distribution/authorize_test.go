package distribution

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
)

const (
	otherAccount = "222222222222"
	otherToken   = "other-token"
)

// accountTokens authenticates Basic AWS:<token> as the token's account.
type accountTokens map[string]string

func (a accountTokens) Authenticate(r *http.Request) (registry.Principal, error) {
	user, pass, ok := r.BasicAuth()
	if !ok || user != "AWS" || a[pass] == "" {
		return registry.Principal{}, errdefs.New(registry.ErrUnauthenticated, "Not Authorized")
	}
	return registry.Principal{Account: a[pass]}, nil
}

func twoAccounts(_ *registry.Config, h *Config) {
	h.Auth = accountTokens{testToken: testAccount, otherToken: otherAccount}
}

// crossRef names repo:tag in the test account's registry host
// (<acct>.dkr.ecr.<region>.localhost:<port>), which crossOpts dial.
func (e *env) crossRef(s string) name.Reference {
	e.t.Helper()
	_, port, _ := net.SplitHostPort(e.host)
	r, err := name.ParseReference(testAccount+".dkr.ecr."+testRegion+".localhost:"+port+"/"+s, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// crossOpts are the options of the other account's client, with every
// connection going to the test server whatever the host name.
func (e *env) crossOpts() []remote.Option {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, e.host)
	}
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: "AWS", Password: otherToken}), remote.WithTransport(tr)}
}

func (e *env) setPolicy(repo, text string) {
	e.t.Helper()
	if _, err := e.reg.UpdateRepository(context.Background(), testScope, repo, func(r *registry.Repository) error {
		r.Policy = text
		return nil
	}); err != nil {
		e.t.Fatal(err)
	}
}

func wantHTTPStatus(t *testing.T, err error, status int) {
	t.Helper()
	var te *transport.Error
	if !errors.As(err, &te) || te.StatusCode != status {
		t.Fatalf("error %v, want HTTP %d", err, status)
	}
}

// pullAll fetches the manifest, config and every layer.
func pullAll(ref name.Reference, opts []remote.Option) (v1.Hash, error) {
	img, err := remote.Image(ref, opts...)
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return v1.Hash{}, err
	}
	layers, err := img.Layers()
	if err != nil {
		return v1.Hash{}, err
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			return v1.Hash{}, err
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return v1.Hash{}, err
		}
	}
	return img.Digest()
}

const pullPolicy = `{"Version":"2012-10-17","Statement":[{"Sid":"CrossAccountPull","Effect":"Allow",
	"Principal":{"AWS":"arn:aws:iam::222222222222:root"},
	"Action":["ecr:BatchGetImage","ecr:GetDownloadUrlForLayer","ecr:BatchCheckLayerAvailability"]}]}`

func TestCrossAccountPullWithPolicy(t *testing.T) {
	e := newEnv(t, twoAccounts)
	e.createRepo("shared")
	img, err := random.Image(512, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(e.ref("shared:v1"), img, e.opts()...); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()

	// No policy: the other account is denied.
	_, err = pullAll(e.crossRef("shared:v1"), e.crossOpts())
	wantHTTPStatus(t, err, http.StatusForbidden)

	// A policy for a third account changes nothing.
	e.setPolicy("shared", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"333333333333"},"Action":"ecr:*"}}`)
	_, err = pullAll(e.crossRef("shared:v1"), e.crossOpts())
	wantHTTPStatus(t, err, http.StatusForbidden)

	e.setPolicy("shared", pullPolicy)
	got, err := pullAll(e.crossRef("shared:v1"), e.crossOpts())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("pulled %s, want %s", got, want)
	}

	// Pull rights are not push rights.
	img2, _ := random.Image(256, 1)
	err = remote.Write(e.crossRef("shared:v2"), img2, e.crossOpts()...)
	wantHTTPStatus(t, err, http.StatusForbidden)
	// Nor do they open other repositories of the account.
	e.createRepo("private")
	if err := remote.Write(e.ref("private:v1"), img, e.opts()...); err != nil {
		t.Fatal(err)
	}
	_, err = pullAll(e.crossRef("private:v1"), e.crossOpts())
	wantHTTPStatus(t, err, http.StatusForbidden)

	// An explicit Deny wins over the Allow.
	e.setPolicy("shared", `{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"ecr:*"},
		{"Effect":"Deny","Principal":"*","Action":"ecr:BatchGetImage"}]}`)
	_, err = pullAll(e.crossRef("shared:v1"), e.crossOpts())
	wantHTTPStatus(t, err, http.StatusForbidden)
	// ... but does not restrict the repository's own account.
	if _, err := pullAll(e.ref("shared:v1"), e.opts()); err != nil {
		t.Fatal(err)
	}
}

func TestCrossAccountPushWithPolicy(t *testing.T) {
	e := newEnv(t, twoAccounts)
	e.createRepo("inbox")
	img, _ := random.Image(300, 2)
	err := remote.Write(e.crossRef("inbox:v1"), img, e.crossOpts()...)
	wantHTTPStatus(t, err, http.StatusForbidden)

	// A wildcard principal with exactly ECR's documented push actions: the
	// blob HEADs of a push need BatchCheckLayerAvailability, not a download
	// right.
	e.setPolicy("inbox", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":[
		"ecr:PutImage","ecr:InitiateLayerUpload","ecr:UploadLayerPart","ecr:CompleteLayerUpload",
		"ecr:BatchCheckLayerAvailability"]}]}`)
	if err := remote.Write(e.crossRef("inbox:v1"), img, e.crossOpts()...); err != nil {
		t.Fatal(err)
	}
	imgs, err := e.reg.DescribeImages(context.Background(), testScope, "inbox", nil)
	if err != nil || len(imgs) != 1 || len(imgs[0].Tags) != 1 || imgs[0].Tags[0] != "v1" {
		t.Fatalf("images %+v, %v", imgs, err)
	}
	// The policy grants no pull.
	_, err = pullAll(e.crossRef("inbox:v1"), e.crossOpts())
	wantHTTPStatus(t, err, http.StatusForbidden)
}

// TestRegistryBlobActions: GET of a blob is ecr:GetDownloadUrlForLayer and
// HEAD is ecr:BatchCheckLayerAvailability, as in ECR.
func TestRegistryBlobActions(t *testing.T) {
	e := newEnv(t, twoAccounts)
	e.createRepo("blobs")
	pushTiny(t, e.reg, "blobs", "v1", "some layer")
	layer := sha("some layer")
	path := "/v2/blobs/blobs/" + layer
	cross := map[string]string{
		"Host":          testAccount + ".dkr.ecr." + testRegion + ".localhost",
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("AWS:"+otherToken)),
	}
	tests := []struct {
		action    string
		get, head int
	}{
		{"", http.StatusForbidden, http.StatusForbidden},
		{"ecr:GetDownloadUrlForLayer", http.StatusOK, http.StatusForbidden},
		{"ecr:BatchCheckLayerAvailability", http.StatusForbidden, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			pol := ""
			if tt.action != "" {
				pol = `{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"` + tt.action + `"}}`
			}
			e.setPolicy("blobs", pol)
			wantStatus(t, e.do("GET", path, nil, cross), tt.get, "")
			wantStatus(t, e.do("HEAD", path, nil, cross), tt.head, "")
		})
	}
}
