package distribution

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
	testToken   = "test-token"
)

var testScope = tenant.Scope{Account: testAccount, Region: testRegion}

// testClock is a movable clock for GC tests.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type env struct {
	t    *testing.T
	reg  *registry.Registry
	srv  *httptest.Server
	host string // host:port of srv
	dir  string
}

// newEnv starts a registry and its /v2/ handler on a test server; mods
// may change the configuration of both.
func newEnv(t *testing.T, mods ...func(*registry.Config, *Config)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "store.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := registry.Config{
		DataDir:      filepath.Join(dir, "data"),
		DefaultScope: testScope,
	}
	hcfg := Config{Auth: StaticToken{Token: testToken, Account: testAccount}}
	for _, m := range mods {
		m(&cfg, &hcfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	reg, err := registry.New(cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	hcfg.Logger = log
	h, err := New(reg, hcfg)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", h)
	srv := httptest.NewServer(mux) // mounted as the server will
	t.Cleanup(srv.Close)
	u, _ := url.Parse(srv.URL)
	return &env{t: t, reg: reg, srv: srv, host: u.Host, dir: cfg.DataDir}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func (e *env) createRepo(name string, mods ...func(*registry.Repository)) registry.Repository {
	e.t.Helper()
	r := registry.Repository{Name: name}
	for _, m := range mods {
		m(&r)
	}
	repo, err := e.reg.CreateRepository(context.Background(), testScope, r)
	if err != nil {
		e.t.Fatal(err)
	}
	return repo
}

// ref parses "repo:tag" or "repo@digest" on the test server.
func (e *env) ref(s string) name.Reference {
	e.t.Helper()
	r, err := name.ParseReference(e.host+"/"+s, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func (e *env) repo(s string) name.Repository {
	e.t.Helper()
	r, err := name.NewRepository(e.host+"/"+s, name.Insecure)
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// opts are the go-containerregistry options of an authenticated client.
func (e *env) opts() []remote.Option {
	return []remote.Option{remote.WithAuth(&authn.Basic{Username: "AWS", Password: testToken})}
}

// do sends a raw request with credentials (unless auth is false).
func (e *env) do(method, path string, body io.Reader, hdr map[string]string) *http.Response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth("AWS", testToken)
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		if v == "" {
			req.Header.Del(k)
			continue
		}
		req.Header.Set(k, v)
	}
	if hdr["Authorization"] == "-" {
		req.Header.Del("Authorization")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantStatus checks the status and, when code is set, the OCI error code.
func wantStatus(t *testing.T, resp *http.Response, status int, code string) string {
	t.Helper()
	body := readAll(t, resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d; body %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, body)
	}
	if code != "" && !strings.Contains(body, `"code":"`+code+`"`) {
		t.Fatalf("%s %s: body %s, want code %s", resp.Request.Method, resp.Request.URL.Path, body, code)
	}
	return body
}

func newRequest(e *env, method, path string, body io.Reader) (*http.Request, error) {
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth("AWS", testToken)
	return req, nil
}

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return "sha256:" + hex.EncodeToString(s[:])
}

// pushTiny pushes a config and one layer and a manifest naming them.
func pushTiny(t *testing.T, r *registry.Registry, repo, ref, layer string) registry.PutManifestResult {
	t.Helper()
	ctx := context.Background()
	cfg := `{"layer":"` + layer + `"}`
	for _, b := range []string{cfg, layer} {
		if _, err := r.PutBlob(ctx, testScope, repo, sha(b), int64(len(b)), strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	man := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + sha(cfg) + `","size":` + itoa(len(cfg)) + `},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"` + sha(layer) + `","size":` + itoa(len(layer)) + `}]}`
	res, err := r.PutManifest(ctx, testScope, repo, ref, "", []byte(man))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func itoa(i int) string { return itoa64(int64(i)) }
