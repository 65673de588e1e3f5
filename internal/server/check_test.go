package server

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/store/bolt"
)

// TestCheckStore: `fargo check` passes a sound store and reports an index
// entry without its record; a directory without a store is an error.
func TestCheckStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if err := CheckStore(ctx, dir); err == nil {
		t.Fatal("CheckStore of a directory without a store: nil error")
	}
	st, err := bolt.Open(filepath.Join(dir, "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "nodes/n1", []byte(`{"id":"n1"}`)); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if err := CheckStore(ctx, dir); err != nil {
		t.Fatalf("CheckStore of a sound store: %v", err)
	}
	st, err = bolt.Open(filepath.Join(dir, "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "serviceindex/123456789012/us-east-1/default/ghost", nil); err != nil {
		t.Fatal(err)
	}
	_ = st.Close()
	if err := CheckStore(ctx, dir); err == nil || !strings.Contains(err.Error(), "ghost does not exist") {
		t.Fatalf("CheckStore of a dangling service index entry: %v", err)
	}
}
