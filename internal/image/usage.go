package image

import (
	"context"
	"io/fs"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// DiskUsage is what a container wrote to its root filesystem, in bytes:
// the blocks of its overlay upper dir in the store (hard links once).
func (s *Store) DiskUsage(ctx context.Context, containerID string) (int64, error) {
	if strings.ContainsAny(containerID, "/") || containerID == "" || containerID == "." || containerID == ".." {
		return 0, errdefs.Invalidf("invalid container id %q", containerID)
	}
	var total int64
	seen := map[uint64]bool{} // hard links count once
	err := filepath.WalkDir(filepath.Join(s.containerDir(containerID), "upper"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if st.Nlink > 1 && !d.IsDir() {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
			}
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}
