package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/elbv2"
	"github.com/fargo-run/fargo/internal/store/bolt"
)

// CheckStore verifies the control plane's store in dataDir offline (see
// control.Check): every secondary index against the records it indexes.
// The server must not be running (bbolt locks the file); the crash tests
// run it (`fargo check`) before every restart.
func CheckStore(ctx context.Context, dataDir string) error {
	path := filepath.Join(dataDir, "fargo.db")
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("no store to check: %w", err)
	}
	st, err := bolt.Open(path, bolt.Options{})
	if err != nil {
		return fmt.Errorf("open store: %w", err)
	}
	defer st.Close()
	if err := errors.Join(control.Check(ctx, st), elbv2.Check(ctx, st)); err != nil {
		return fmt.Errorf("store %s is inconsistent:\n%w", path, err)
	}
	return nil
}
