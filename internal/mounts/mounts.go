// Package mounts provides the mount-table helpers that the image store,
// the task filesystems and the network namespaces share: unmounting every
// mount stacked on a path, and reading /proc/self/mountinfo's escaped
// paths.
package mounts

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// UnmountAll unmounts everything stacked on target. A mount kept busy for
// over a second (a process with its cwd inside, a stray bind mount below)
// is detached lazily: it leaves the namespace now and goes away in the
// kernel when its last user does. Nothing mounted there is no error.
func UnmountAll(ctx context.Context, target string) error {
	deadline := time.Now().Add(time.Second)
	for {
		err := unix.Unmount(target, 0)
		switch {
		case err == nil:
			continue // maybe something else is stacked there
		case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOENT):
			return nil // not a mount point (any more)
		case errors.Is(err, unix.EBUSY) && time.Now().Before(deadline):
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
		case errors.Is(err, unix.EBUSY):
			if err := unix.Unmount(target, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) {
				return fmt.Errorf("detach %s: %w", target, err)
			}
		default:
			return fmt.Errorf("umount %s: %w", target, err)
		}
	}
}

// Unescape undoes the kernel's \ooo escaping of space, tab, newline and
// backslash in mountinfo's path fields.
func Unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+4 <= len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}
