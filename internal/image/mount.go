package image

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/mounts"
)

// ContainerFS is the state of one container's root filesystem on disk.
type ContainerFS struct {
	ID      string
	Rootfs  string
	Mounted bool
}

func (s *Store) containerDir(id string) string { return filepath.Join(s.containersDir(), id) }

// validID keeps container IDs to one safe path component.
func validID(id string) error {
	if id == "" || id == "." || id == ".." || len(id) > 255 {
		return errdefs.Invalidf("invalid container id %q", id)
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.'
		if !ok {
			return errdefs.Invalidf("invalid container id %q", id)
		}
	}
	return nil
}

// Mount assembles the root filesystem for containerID from img's layers
// and returns its path. It is idempotent: mounting a mounted container
// returns the existing rootfs; mounting one whose directory survived a
// reboot remounts it over its old upper dir, keeping its writes.
func (s *Store) Mount(ctx context.Context, img *Image, containerID string) (string, error) {
	return s.MountScratch(ctx, img, containerID, "")
}

// scratchLink, in a container's directory, points at the directory that
// holds its upper and work dirs when they are not in the store.
const scratchLink = "scratch"

// MountScratch is Mount with the container's writable layer (the overlay
// upper and work dirs) in the directory scratch instead of the store: a
// task's own filesystem, which bounds what the container can write.
// Unmount removes scratch. "" is Mount.
func (s *Store) MountScratch(ctx context.Context, img *Image, containerID, scratch string) (string, error) {
	if err := validID(containerID); err != nil {
		return "", err
	}
	if scratch != "" && !filepath.IsAbs(scratch) {
		return "", errdefs.Invalidf("scratch dir %q is not absolute", scratch)
	}
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	s.gcMu.RLock() // the layers must not go away while we link them
	defer s.gcMu.RUnlock()

	cdir := s.containerDir(containerID)
	rootfs := filepath.Join(cdir, "rootfs")
	if m, err := isMountpoint(rootfs); err != nil {
		return "", err
	} else if m {
		return rootfs, nil
	}
	lowers, err := s.lowerDirs(img)
	if err != nil {
		return "", err
	}

	_, statErr := os.Stat(cdir)
	fresh := errors.Is(statErr, os.ErrNotExist)
	ok := false
	defer func() {
		if !ok && fresh {
			os.RemoveAll(cdir) // nothing is mounted: safe
		}
	}()
	dirs := []string{filepath.Join(cdir, "upper"), filepath.Join(cdir, "work"), filepath.Join(cdir, "rootfs")}
	if scratch != "" {
		dirs = []string{filepath.Join(scratch, "upper"), filepath.Join(scratch, "work"), filepath.Join(cdir, "rootfs")}
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return "", fmt.Errorf("mount %s: %w", containerID, err)
		}
	}
	if scratch != "" {
		link := filepath.Join(cdir, scratchLink)
		if old, err := os.Readlink(link); err != nil || old != scratch {
			_ = os.Remove(link)
			if err := os.Symlink(scratch, link); err != nil {
				return "", fmt.Errorf("mount %s: %w", containerID, err)
			}
		}
	}
	// l/ holds one short symlink per lower layer, top first: the mount
	// option then lists "0:1:2:..." instead of absolute paths.
	ldir := filepath.Join(cdir, "l")
	if err := os.RemoveAll(ldir); err != nil {
		return "", fmt.Errorf("mount %s: %w", containerID, err)
	}
	if err := os.Mkdir(ldir, 0o700); err != nil {
		return "", fmt.Errorf("mount %s: %w", containerID, err)
	}
	names := make([]string, len(lowers))
	for i, dir := range lowers {
		names[i] = strconv.Itoa(i)
		target, err := filepath.Rel(ldir, dir)
		if err != nil {
			return "", fmt.Errorf("mount %s: %w", containerID, err)
		}
		if err := os.Symlink(target, filepath.Join(ldir, names[i])); err != nil {
			return "", fmt.Errorf("mount %s: %w", containerID, err)
		}
	}
	upper, work := "../upper", "../work"
	if scratch != "" {
		// Relative to l/ as well: the option then holds no part of the
		// data dir's path, which may have commas or colons.
		for _, p := range []*string{&upper, &work} {
			rel, err := filepath.Rel(ldir, filepath.Join(scratch, filepath.Base(*p)))
			if err != nil {
				return "", fmt.Errorf("mount %s: %w", containerID, err)
			}
			if strings.ContainsAny(rel, ",:\\") {
				return "", errdefs.Invalidf("mount %s: scratch dir %q has a character overlayfs options cannot hold", containerID, scratch)
			}
			*p = rel
		}
	}
	opts := "lowerdir=" + strings.Join(names, ":") + ",upperdir=" + upper + ",workdir=" + work
	if overlayIndexParam() {
		// Lower layers are shared by many mounts; the inode index would
		// tie them to the first upper dir that used them.
		opts += ",index=off"
	}
	if len(opts) >= os.Getpagesize() {
		return "", errdefs.Newf(errdefs.ErrLimitExceeded, "mount %s: %d layers exceed the overlay mount option limit", containerID, len(lowers))
	}
	if err := mountIn(ldir, "overlay", rootfs, "overlay", 0, opts); err != nil {
		return "", fmt.Errorf("mount %s: overlay with %d layers: %w", containerID, len(lowers), err)
	}
	ok = true
	s.log.Debug("rootfs mounted", "container", containerID, "layers", len(lowers), "rootfs", rootfs)
	return rootfs, nil
}

// lowerDirs returns the layer directories of img, top first, each once.
func (s *Store) lowerDirs(img *Image) ([]string, error) {
	if img == nil {
		return nil, errdefs.Invalidf("no image")
	}
	seen := map[string]bool{}
	var out []string
	for i := len(img.Layers) - 1; i >= 0; i-- {
		dir, ok := s.LayerDir(img.Layers[i])
		if !ok {
			return nil, errdefs.NotFoundf("layer %s of image %s is not in the local store", img.Layers[i], img.Digest)
		}
		// A layer listed twice is fully shadowed below its topmost use,
		// and overlayfs may refuse the same lowerdir twice.
		if seen[dir] {
			continue
		}
		seen[dir] = true
		out = append(out, dir)
	}
	if len(out) == 0 {
		// overlayfs needs a lowerdir; an image without layers gets an
		// empty one.
		dir := filepath.Join(s.root, "layers", "empty")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("empty layer: %w", err)
		}
		out = append(out, dir)
	}
	return out, nil
}

// mountIn calls mount(2) with dir as the working directory, so relative
// paths in data resolve there. It runs on a throwaway OS thread that
// unshared its cwd: chdir there is invisible to the rest of the process.
func mountIn(dir, source, target, fstype string, flags uintptr, data string) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// Never unlocked: the goroutine exits with the thread locked, so
		// the runtime kills the thread rather than reuse its odd cwd.
		if err := unix.Unshare(unix.CLONE_FS); err != nil {
			errc <- fmt.Errorf("unshare fs: %w", err)
			return
		}
		if err := unix.Chdir(dir); err != nil {
			errc <- fmt.Errorf("chdir %s: %w", dir, err)
			return
		}
		if err := unix.Mount(source, target, fstype, flags, data); err != nil {
			errc <- fmt.Errorf("mount %s: %w", target, err)
			return
		}
		errc <- nil
	}()
	return <-errc
}

func overlayIndexParam() bool {
	_, err := os.Stat("/sys/module/overlay/parameters/index")
	return err == nil
}

// Mounted reports whether containerID's rootfs is mounted (by this process
// or an earlier one).
func (s *Store) Mounted(containerID string) bool {
	if validID(containerID) != nil {
		return false
	}
	m, err := isMountpoint(filepath.Join(s.containerDir(containerID), "rootfs"))
	return err == nil && m
}

// Unmount unmounts containerID's rootfs and removes its upper, work and
// link directories. It is idempotent and works on mounts made by an
// earlier process.
func (s *Store) Unmount(ctx context.Context, containerID string) error {
	if err := validID(containerID); err != nil {
		return err
	}
	s.mountMu.Lock()
	defer s.mountMu.Unlock()
	cdir := s.containerDir(containerID)
	rootfs := filepath.Join(cdir, "rootfs")
	if err := mounts.UnmountAll(ctx, rootfs); err != nil {
		return fmt.Errorf("unmount %s: %w", containerID, err)
	}
	// Never remove through a mount: that would delete lower-layer files
	// from the merged view (as whiteouts) or worse.
	if m, err := isMountpoint(rootfs); err != nil {
		return fmt.Errorf("unmount %s: %w", containerID, err)
	} else if m {
		return errdefs.Conflictf("unmount %s: %s is still mounted", containerID, rootfs)
	}
	if scratch, err := os.Readlink(filepath.Join(cdir, scratchLink)); err == nil && filepath.IsAbs(scratch) {
		if err := os.RemoveAll(scratch); err != nil {
			return fmt.Errorf("unmount %s: %w", containerID, err)
		}
	}
	if err := os.RemoveAll(cdir); err != nil {
		return fmt.Errorf("unmount %s: %w", containerID, err)
	}
	s.log.Debug("rootfs unmounted", "container", containerID)
	return nil
}

// Recover reports the containers that have a root filesystem on disk,
// mounted or not, for an agent reconciling after a restart: it Unmounts
// the ones it no longer runs.
func (s *Store) Recover(ctx context.Context) ([]ContainerFS, error) {
	ents, err := os.ReadDir(s.containersDir())
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	mounts, err := mountPoints()
	if err != nil {
		return nil, fmt.Errorf("recover: %w", err)
	}
	var out []ContainerFS
	for _, e := range ents {
		if !e.IsDir() || validID(e.Name()) != nil {
			continue
		}
		rootfs := filepath.Join(s.containerDir(e.Name()), "rootfs")
		out = append(out, ContainerFS{ID: e.Name(), Rootfs: rootfs, Mounted: mounts[rootfs]})
	}
	return out, nil
}

func isMountpoint(p string) (bool, error) {
	m, err := mountPoints()
	if err != nil {
		return false, err
	}
	return m[p], nil
}

// mountPoints returns the mount points of this process's mount namespace,
// from /proc/self/mountinfo (field 5, octal-escaped).
func mountPoints() (map[string]bool, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20) // overlay lines with many layers are long
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		out[mounts.Unescape(fields[4])] = true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read mountinfo: %w", err)
	}
	return out, nil
}
