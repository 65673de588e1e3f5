// Package hostlock takes the exclusive locks that keep two fargo processes
// off what only one of them may own: a data directory (its store, network
// state and containers) and, on a host, a network prefix (the links, netns
// files and nftables table whose names start with it, which a fargo sweeps
// as orphans when no record of its own claims them).
//
// A lock is a flock(2) on a small file that records its holder's pid and a
// description of it. The kernel drops the lock when the holder exits, even
// on SIGKILL, so a crash never leaves a stale lock behind; the file itself
// stays and is reused. The file descriptor is close-on-exec, so child
// processes (container monitors) never hold it.
package hostlock

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Dir is where host-wide locks live: on tmpfs in most systems, one
// directory for every fargo of the host whatever its data directory.
const Dir = "/run/fargo"

// NetworkPrefixPath is the lock file of a network prefix.
func NetworkPrefixPath(prefix string) string {
	return filepath.Join(Dir, "network-"+prefix+".lock")
}

// HeldError says that another process holds the lock.
type HeldError struct {
	Path string
	// PID is the holder's pid (0 when it could not be read), Holder what
	// it wrote about itself.
	PID    int
	Holder string
}

func (e *HeldError) Error() string {
	who := "another process"
	if e.PID > 0 {
		who = fmt.Sprintf("another process (pid %d)", e.PID)
	}
	if e.Holder != "" {
		who += ": " + e.Holder
	}
	return fmt.Sprintf("%s is locked by %s", e.Path, who)
}

// Lock is a held lock.
type Lock struct {
	f *os.File
}

// Acquire takes the lock of path without waiting, creating the file and
// its directory if needed, and records this process's pid and holder (one
// line, such as "fargo, data directory /var/lib/fargo"). It fails with a
// *HeldError when another process holds it.
func Acquire(path, holder string) (*Lock, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("lock dir: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, held(path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	line := strconv.Itoa(os.Getpid()) + " " + strings.ReplaceAll(holder, "\n", " ") + "\n"
	if err := f.Truncate(0); err == nil {
		_, err = f.WriteAt([]byte(line), 0)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: record the holder: %w", path, err)
	}
	return &Lock{f: f}, nil
}

// held reads who holds path. The holder writes its line just after it
// takes the lock, so an empty file is given a moment to fill.
func held(path string) *HeldError {
	e := &HeldError{Path: path}
	for range 10 {
		b, err := os.ReadFile(path)
		if err == nil && len(b) > 0 {
			pid, rest, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
			e.PID, _ = strconv.Atoi(pid)
			e.Holder = rest
			return e
		}
		time.Sleep(20 * time.Millisecond)
	}
	return e
}

// Release drops the lock (the file stays). Release of a nil Lock is a
// no-op.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}
