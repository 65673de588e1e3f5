package server

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/fargo-run/fargo/internal/agent"
	"github.com/fargo-run/fargo/internal/image"
)

// The agent finds these optional methods by type assertion: a changed
// signature must not silently switch a statistic off.
var (
	_ interface {
		BlkioStats(context.Context, string) (agent.BlkioStats, error)
	} = runtimeAdapter{}
	_ interface {
		LinkStats(context.Context, string) (map[string]agent.NetworkCounts, error)
	} = networkAdapter{}
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
	creds := registryCredentials(nil, func(host string) bool { return host == "own.localhost:4566" })
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

func TestParseBlkio(t *testing.T) {
	v1 := "8:0 Read 4096\n8:0 Write 12288\n8:0 Sync 0\n8:0 Async 16384\n8:0 Discard 0\n8:0 Total 16384\n253:1 Read 512\nTotal 16896\n"
	got := parseBlkio(v1)
	if len(got) != 7 || got[1] != (agent.BlkioEntry{Major: 8, Minor: 0, Op: "Write", Value: 12288}) ||
		got[6] != (agent.BlkioEntry{Major: 253, Minor: 1, Op: "Read", Value: 512}) {
		t.Errorf("parseBlkio = %+v", got)
	}
	if got := parseBlkio("Total 0\n"); got == nil || len(got) != 0 {
		t.Errorf("no devices: %#v, want an empty list", got)
	}
	v2 := parseIOStat("8:16 rbytes=1024 wbytes=2048 rios=3 wios=4 dbytes=0 dios=0\n")
	want := agent.BlkioStats{
		ServiceBytes: []agent.BlkioEntry{{Major: 8, Minor: 16, Op: "read", Value: 1024}, {Major: 8, Minor: 16, Op: "write", Value: 2048}},
		Serviced:     []agent.BlkioEntry{{Major: 8, Minor: 16, Op: "read", Value: 3}, {Major: 8, Minor: 16, Op: "write", Value: 4}},
	}
	if !reflect.DeepEqual(v2, want) {
		t.Errorf("parseIOStat = %+v, want %+v", v2, want)
	}
}

// TestDiskUsageCountsUpperDir: a container's ephemeral storage use is what
// its overlay upper dir holds, and only that.
func TestDiskUsageCountsUpperDir(t *testing.T) {
	root := t.TempDir()
	st, err := image.New(image.Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	a := imagesAdapter{store: st}
	upper := filepath.Join(root, "containers", "task-app", "upper")
	if err := os.MkdirAll(filepath.Join(upper, "var", "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(upper, "var", "data", "blob"), make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	// A hard link is the same blocks.
	if err := os.Link(filepath.Join(upper, "var", "data", "blob"), filepath.Join(upper, "blob2")); err != nil {
		t.Fatal(err)
	}
	// The lower layers are not the container's writes.
	if err := os.WriteFile(filepath.Join(root, "containers", "task-app", "lower-junk"), make([]byte, 8<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	n, err := a.DiskUsage(context.Background(), "task-app")
	if err != nil {
		t.Fatal(err)
	}
	if n < 3<<20 || n > 4<<20 {
		t.Errorf("DiskUsage = %d, want about 3 MiB", n)
	}
	if _, err := a.DiskUsage(context.Background(), "../x"); err == nil {
		t.Error("DiskUsage accepted a path as a container id")
	}
	if _, err := a.DiskUsage(context.Background(), "nosuch"); err == nil {
		t.Error("DiskUsage of a container with no upper dir: no error")
	}
}
