package network

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/mounts"
)

// createNetNS creates a network namespace and pins it by bind-mounting it
// on path (as `ip netns add` does), so it outlives every process in it.
//
// The namespace is made by unshare on a locked OS thread that is never
// unlocked: when the goroutine returns, the Go runtime throws the thread
// (now in the wrong namespace) away instead of reusing it.
func createNetNS(path string) error {
	if err := shareNetNSDir(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return fmt.Errorf("network: netns file: %w", err)
	}
	f.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("network: unshare netns: %w", err)
			return
		}
		src := fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid())
		if err := unix.Mount(src, path, "none", unix.MS_BIND, ""); err != nil {
			errc <- fmt.Errorf("network: pin netns on %s: %w", path, err)
			return
		}
		errc <- nil
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// shareNetNSDir makes dir a mount point with shared propagation before a
// namespace is pinned in it, as `ip netns add` does (iproute2's netns_add):
// make it shared, and if it is not a mount point (EINVAL) bind it on itself
// recursively first. Without this, the first `ip netns add` on the host
// binds the directory on itself over the namespaces pinned before, whose
// mounts are then hidden below it and cannot be unmounted through their
// path (their files answer EBUSY). The steps run under a flock of the
// directory, so that two fargo doing them at once do not stack binds.
func shareNetNSDir(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("network: netns dir: %w", err)
	}
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("network: open netns dir: %w", err)
	}
	defer unix.Close(fd) // drops the lock
	if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
		return fmt.Errorf("network: lock netns dir: %w", err)
	}
	for bound := false; ; bound = true {
		err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return nil
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			return fmt.Errorf("network: make %s a shared mount: %w", dir, err)
		}
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("network: bind %s on itself: %w", dir, err)
		}
	}
}

// deleteNetNS unpins and removes a netns file; a missing file is fine. The
// namespace itself goes away with its last process.
//
// It copes with a directory that was bound on itself after the namespace
// was pinned (by `ip netns add` before fargo made it a mount point): the
// recursive bind copied the pin, so the path may carry several mounts, and
// the original lies hidden below the directory's own mount, where it keeps
// the file busy. Each mount at the path is detached, and if the file is
// still busy, removeHiddenNetNS reaches below.
func deleteNetNS(path string) error {
	if err := unmountAll(path); err != nil {
		return err
	}
	err := unix.Unlink(path)
	if errors.Is(err, unix.EBUSY) {
		err = removeHiddenNetNS(path)
	}
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("network: remove netns %s: %w", path, err)
	}
	return nil
}

// maxStacked bounds the mounts unmountAll expects on one path.
const maxStacked = 64

// unmountAll detaches every mount stacked on path.
func unmountAll(path string) error {
	for range maxStacked {
		err := unix.Unmount(path, unix.MNT_DETACH)
		if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOENT) {
			return nil // not (or no longer) a mount point
		}
		if err != nil {
			return fmt.Errorf("network: unmount netns %s: %w", path, err)
		}
	}
	return fmt.Errorf("network: unmount netns %s: more than %d mounts on it", path, maxStacked)
}

// removeHiddenNetNS removes a netns file whose pin is hidden below a mount
// of its directory. Unlinking a file detaches the mounts on it in every
// mount namespace, but the kernel refuses (EBUSY) while the file is a mount
// point in the caller's own namespace. So the unlink is done from a private
// copy of the mount namespace, on a locked OS thread that is never
// unlocked (the runtime discards it): there, after propagation is made
// private so that nothing done there reaches the host, the directory's
// mounts and the copies of the pin are detached until the file is no
// longer a mount point, and the unlink, which the kernel applies to the
// file itself, frees the host's hidden pin too. The host's own mounts of
// the directory are never touched.
func removeHiddenNetNS(path string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			errc <- fmt.Errorf("unshare mount namespace: %w", err)
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			errc <- fmt.Errorf("make the private mount namespace private: %w", err)
			return
		}
		dir := filepath.Dir(path)
		for range maxStacked {
			if err := unmountAll(path); err != nil {
				errc <- err
				return
			}
			err := unix.Unlink(path)
			if !errors.Is(err, unix.EBUSY) {
				errc <- err
				return
			}
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				errc <- fmt.Errorf("still busy, and %s has no mount left to look below: %w", dir, err)
				return
			}
		}
		errc <- fmt.Errorf("still busy below %d mounts of %s", maxStacked, dir)
	}()
	return <-errc
}

// isNetNS reports whether path is a pinned network namespace. A pin hidden
// below a later mount of its directory (bound on itself, not recursively,
// by another program) is found in mountinfo and pinned again where it can
// be seen, so that a task's namespace is not taken for gone.
func isNetNS(path string) bool {
	if isNSFS(path) {
		return true
	}
	if !mountedOn(path) {
		return false
	}
	return revealNetNS(path) == nil && isNSFS(path)
}

func isNSFS(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	return st.Type == unix.NSFS_MAGIC
}

// mountedOn reports whether mountinfo lists an nsfs mount on path, seen
// or not.
func mountedOn(path string) bool {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		// id parent major:minor root mountpoint options... - fstype ...
		f := strings.Fields(line)
		if len(f) < 5 || mounts.Unescape(f[4]) != path {
			continue
		}
		if i := slices.Index(f, "-"); i > 0 && i+1 < len(f) && f[i+1] == "nsfs" {
			return true
		}
	}
	return false
}

// revealNetNS pins again, visibly, a namespace whose pin on path is hidden
// below mounts of its directory: from a private copy of the mount
// namespace (as in removeHiddenNetNS), with the directory's mounts
// detached there, it opens the hidden pin, then binds that file on path in
// fargo's own mount namespace (the kernel allows a namespace file from
// another mount namespace as a bind source).
func revealNetNS(path string) error {
	type opened struct {
		fd  int
		err error
	}
	c := make(chan opened, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread is discarded
		if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
			c <- opened{-1, fmt.Errorf("unshare mount namespace: %w", err)}
			return
		}
		if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
			c <- opened{-1, fmt.Errorf("make the private mount namespace private: %w", err)}
			return
		}
		dir := filepath.Dir(path)
		for range maxStacked {
			if isNSFS(path) {
				fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
				c <- opened{fd, err}
				return
			}
			if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil {
				c <- opened{-1, fmt.Errorf("no pin found below the mounts of %s: %w", dir, err)}
				return
			}
		}
		c <- opened{-1, fmt.Errorf("no pin found below %d mounts of %s", maxStacked, dir)}
	}()
	o := <-c
	if o.err != nil {
		return fmt.Errorf("network: reveal netns %s: %w", path, o.err)
	}
	defer unix.Close(o.fd)
	if err := unix.Mount(fmt.Sprintf("/proc/self/fd/%d", o.fd), path, "none", unix.MS_BIND, ""); err != nil {
		return fmt.Errorf("network: pin netns %s again: %w", path, err)
	}
	return nil
}

// inNetNS runs fn on a locked OS thread inside the namespace at path.
// Sockets fn opens stay in that namespace after it returns. If the thread
// cannot be moved back it is left locked, so the runtime discards it.
func inNetNS(path string, fn func() error) error {
	ns, err := netns.GetFromPath(path)
	if err != nil {
		return fmt.Errorf("network: open netns %s: %w", path, err)
	}
	defer ns.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			errc <- fmt.Errorf("network: current netns: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(ns); err != nil {
			errc <- fmt.Errorf("network: enter netns %s: %w", path, err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("network: leave netns %s: %w", path, err))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
