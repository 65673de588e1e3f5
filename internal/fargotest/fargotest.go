// Package fargotest starts real fargo servers for tests, in-process on a
// free loopback port with a temporary data directory, and hands out AWS SDK
// clients configured for them (as httptest does for plain handlers).
package fargotest

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/server"
)

// Server is a fargo server running in this test process.
type Server struct {
	// URL is the endpoint, e.g. http://127.0.0.1:40123.
	URL string
	// DataDir is the server's data directory.
	DataDir string
	// Config is what the server was started with.
	Config config.Server

	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
}

// Option changes the configuration of a test server.
type Option func(*config.Server)

// WithAccount sets the server's account id.
func WithAccount(id string) Option { return func(c *config.Server) { c.AccountID = id } }

// WithDataDir reuses a data directory (for restart tests).
func WithDataDir(dir string) Option { return func(c *config.Server) { c.DataDir = dir } }

// WithoutDev turns dev mode off.
func WithoutDev() Option { return func(c *config.Server) { c.Dev = false } }

// Start starts a server in dev mode on 127.0.0.1:0 and stops it when the
// test ends.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := config.DefaultServer()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Dev = true
	cfg.WriteProfile = false
	// In-process servers run the control plane alone: this host's agent
	// (runc, netns, the metadata address) is exercised by test/e2e through
	// the fargo binary, one server at a time.
	cfg.NoAgent = true
	for _, o := range opts {
		o(&cfg)
	}
	s := &Server{DataDir: cfg.DataDir, Config: cfg}
	s.start(t)
	t.Cleanup(func() { s.Stop(t) })
	return s
}

func (s *Server) start(t testing.TB) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("FARGO_TEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	srv, err := server.New(context.Background(), s.Config, server.Options{Logger: log, Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatalf("start fargo: %v", err)
	}
	if err := srv.Listen(); err != nil {
		_ = srv.Close()
		t.Fatalf("listen: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.srv, s.cancel, s.done = srv, cancel, make(chan error, 1)
	s.URL = srv.Endpoint()
	// Keep the same address across restarts.
	s.Config.Listen = srv.Addr()
	go func() { s.done <- srv.Run(ctx) }()
}

// Stop stops the server gracefully (idempotent).
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	if s.cancel == nil {
		return
	}
	s.cancel()
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("fargo stopped with: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Errorf("fargo did not stop within 15s")
	}
	s.cancel = nil
}

// Restart stops the server and starts a new one on the same data directory
// and address.
func (s *Server) Restart(t testing.TB) {
	t.Helper()
	s.Stop(t)
	s.start(t)
}

// Handler is the server's http.Handler, for in-process benchmarks.
func (s *Server) Handler() http.Handler { return s.srv.Handler() }

// Admin returns the administrator key pair.
func (s *Server) Admin() (id, secret string) {
	k := s.srv.AdminKey()
	return k.AccessKeyID, k.SecretAccessKey
}

// AWSConfig returns an SDK configuration for the given keys (retries off,
// so tests see each answer).
func (s *Server) AWSConfig(accessKeyID, secret string) aws.Config {
	return aws.Config{
		Region:           s.Config.Region,
		Credentials:      credentials.NewStaticCredentialsProvider(accessKeyID, secret, ""),
		BaseEndpoint:     aws.String(s.URL),
		RetryMaxAttempts: 1,
	}
}

// ECS returns an ECS client acting with the administrator key.
func (s *Server) ECS() *ecs.Client {
	id, secret := s.Admin()
	return ecs.NewFromConfig(s.AWSConfig(id, secret))
}

// ECSAs returns an ECS client acting as a dev-mode account (12 digits).
func (s *Server) ECSAs(account string) *ecs.Client {
	return ecs.NewFromConfig(s.AWSConfig(account, config.DevSecretAccessKey))
}

// TempFile returns a path in a fresh temporary directory.
func TempFile(t testing.TB, name string) string { return filepath.Join(t.TempDir(), name) }
