package registry

import (
	"context"
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
	reg  *Registry
	srv  *httptest.Server
	host string // host:port of srv
	dir  string
}

func newEnv(t *testing.T, mods ...func(*Config)) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := bolt.Open(filepath.Join(dir, "store.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg := Config{
		DataDir:      filepath.Join(dir, "data"),
		DefaultScope: testScope,
		Auth:         StaticToken{Token: testToken, Account: testAccount},
	}
	for _, m := range mods {
		m(&cfg)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	reg, err := New(cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v2/", reg.Handler())
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

func (e *env) createRepo(name string, mods ...func(*Repository)) Repository {
	e.t.Helper()
	r := Repository{Name: name}
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
