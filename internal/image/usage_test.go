package image

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestDiskUsageCountsUpperDir: a container's ephemeral storage use is what
// its overlay upper dir holds, and only that.
func TestDiskUsageCountsUpperDir(t *testing.T) {
	root := t.TempDir()
	st, err := New(Config{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
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
	n, err := st.DiskUsage(context.Background(), "task-app")
	if err != nil {
		t.Fatal(err)
	}
	if n < 3<<20 || n > 4<<20 {
		t.Errorf("DiskUsage = %d, want about 3 MiB", n)
	}
	if _, err := st.DiskUsage(context.Background(), "../x"); err == nil {
		t.Error("DiskUsage accepted a path as a container id")
	}
	if _, err := st.DiskUsage(context.Background(), "nosuch"); err == nil {
		t.Error("DiskUsage of a container with no upper dir: no error")
	}
}
