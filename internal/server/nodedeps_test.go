package server

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// The agent finds these optional methods by type assertion: a changed
// signature must not silently switch a statistic off. (Their tests are
// with their packages: runtime's TestParseBlkio, image's
// TestDiskUsageCountsUpperDir.)
var (
	_ interface {
		BlkioStats(context.Context, string) (runtime.BlkioStats, error)
	} = (*runtime.Runtime)(nil)
	_ interface {
		LinkStats(context.Context, string) (map[string]network.LinkCounts, error)
	} = (*network.Manager)(nil)
	_ interface {
		DiskUsage(context.Context, string) (int64, error)
	} = imagesAdapter{}
)

// TestRegistryCredentialsForeignHosts: pulls from registries other than
// fargo's own use the host's docker credentials (DOCKER_CONFIG's
// config.json, as docker and crane read it), anonymous where it has none
// or cannot be read.
func TestRegistryCredentialsForeignHosts(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	write := func(s string) {
		if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"auths":{"registry.example:5000":{"auth":"` + auth + `"}}}`)
	creds := registryCredentials(nil, func(host string) bool { return host == "own.localhost:4566" }, tenant.Scope{})
	ctx := context.Background()

	a, err := creds.Resolve(ctx, "registry.example:5000")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil || cfg.Username != "alice" || cfg.Password != "s3cret" {
		t.Errorf("registry.example:5000: %+v, %v; want config.json's alice", cfg, err)
	}
	if a, err := creds.Resolve(ctx, "elsewhere.example"); err != nil || a != authn.Anonymous {
		t.Errorf("a registry config.json does not name: %v, %v; want anonymous", a, err)
	}
	// fargo's own registry without a task scope: anonymous, never the
	// host's credentials.
	if a, err := creds.Resolve(ctx, "own.localhost:4566"); err != nil || a != authn.Anonymous {
		t.Errorf("own registry without a scope: %v, %v; want anonymous", a, err)
	}
	write(`{"auths":`)
	if a, err := creds.Resolve(ctx, "registry.example:5000"); err != nil || a != authn.Anonymous {
		t.Errorf("a broken config.json: %v, %v; want anonymous", a, err)
	}
}
