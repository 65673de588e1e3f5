package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

const (
	testAccount = "123456789012"
	testRegion  = "us-east-1"
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
	t   *testing.T
	reg *Registry
	dir string
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
	return &env{t: t, reg: reg, dir: cfg.DataDir}
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

func sha(b string) string {
	s := sha256.Sum256([]byte(b))
	return "sha256:" + hex.EncodeToString(s[:])
}
