package ephemeral

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Spares are mounted ahead as well, as detached mounts (fsopen(2),
// fsmount(2)): mounts attached nowhere, held by a file descriptor of this
// process, with the spare's lost+found already removed. A task's Attach
// attaches one to the task's directory (move_mount(2)): no loop device,
// no mount and no write on the task's path. A detached mount is in no
// mount table and dies with its descriptor, so a Close, or a fargo that
// is killed, leaves nothing mounted: the next process mounts its spares
// again. Where the kernel lacks the mount API (Linux < 5.2), or Open's
// probe finds it unusable, spares are only formatted and Attach mounts
// them.
//
// A spare is mounted before its image gets its spare-X.img name, and
// Attach renames the image to the task's name (which claims it) before it
// attaches the mount, so no image is ever mounted twice.

// detachedMount mounts the ext4 image img as a detached mount (noatime,
// discard, noinit_itable, as mountImage) and returns its descriptor.
func detachedMount(img string) (int, error) {
	dev, closeDev, err := attachLoop(img)
	if err != nil {
		return -1, err
	}
	// The mount holds the device; autoclear releases it with the mount.
	defer closeDev()
	fs, err := unix.Fsopen("ext4", unix.FSOPEN_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("fsopen: %w", err)
	}
	defer unix.Close(fs)
	for _, step := range []func() error{
		func() error { return unix.FsconfigSetString(fs, "source", dev) },
		func() error { return unix.FsconfigSetFlag(fs, "discard") },
		func() error { return unix.FsconfigSetFlag(fs, "noinit_itable") },
		func() error { return unix.FsconfigCreate(fs) },
	} {
		if err := step(); err != nil {
			return -1, fmt.Errorf("fsconfig %s: %w", filepath.Base(img), err)
		}
	}
	mfd, err := unix.Fsmount(fs, unix.FSMOUNT_CLOEXEC, unix.MOUNT_ATTR_NOATIME)
	if err != nil {
		return -1, fmt.Errorf("fsmount %s: %w", filepath.Base(img), err)
	}
	return mfd, nil
}

// premount mounts the spare image img ahead and removes its lost+found.
func premount(img string) (int, error) {
	mfd, err := detachedMount(img)
	if err != nil {
		return -1, err
	}
	if err := unix.Unlinkat(mfd, "lost+found", unix.AT_REMOVEDIR); err != nil && err != unix.ENOENT {
		unix.Close(mfd)
		return -1, fmt.Errorf("remove lost+found: %w", err)
	}
	return mfd, nil
}

// publishSpare renames a spare image from tmp to img, with its mount made
// ahead (mfd, -1 for none): from then on Attach may take it.
func (m *Manager) publishSpare(tmp, img string, mfd int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := os.Rename(tmp, img); err != nil {
		if mfd >= 0 {
			unix.Close(mfd)
		}
		return err
	}
	if mfd >= 0 {
		if m.mounted == nil {
			m.mounted = map[string]int{}
		}
		m.mounted[img] = mfd
	}
	return nil
}

// takeSpare makes the spare image s the task's image img, unless it is
// mounted ahead (takeMountedSpare's): it reports whether it did.
func (m *Manager) takeSpare(s, img string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.mounted[s]; ok {
		return false
	}
	return os.Rename(s, img) == nil
}

// closeMounted drops every spare's mount (Close).
func (m *Manager) closeMounted() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for img, mfd := range m.mounted {
		unix.Close(mfd)
		delete(m.mounted, img)
	}
}

// premountSpares mounts ahead the spares that are not (made by an
// earlier process): each is claimed by a rename to .tmp first, so that no
// Attach takes it meanwhile.
func (m *Manager) premountSpares() {
	if !m.premount.Load() {
		return
	}
	spares, _ := filepath.Glob(filepath.Join(m.cfg.Dir, "spare-*.img"))
	for _, img := range spares {
		m.mu.Lock()
		_, ok := m.mounted[img]
		m.mu.Unlock()
		if ok {
			continue
		}
		tmp := strings.TrimSuffix(img, ".img") + ".tmp"
		if !m.takeSpare(img, tmp) {
			continue // taken by a task meanwhile
		}
		mfd, err := premount(tmp)
		if err != nil {
			m.log.Warn("mounting a spare task filesystem ahead", "err", err)
		}
		if err := m.publishSpare(tmp, img, mfd); err != nil {
			_ = os.Remove(tmp)
		}
	}
}

// takeMountedSpare gives the task a spare that is mounted ahead: its
// image becomes the task's (img) and its mount is attached to target. It
// reports whether it did; false: no spare is mounted ahead (or the size
// is not the spares').
func (m *Manager) takeMountedSpare(img, target string, size int64) (bool, error) {
	if !m.premount.Load() || size != m.cfg.SpareSize || m.cfg.Spares <= 0 {
		return false, nil
	}
	m.mu.Lock()
	mfd := -1
	for s, fd := range m.mounted {
		delete(m.mounted, s)
		if os.Rename(s, img) == nil {
			mfd = fd
			break
		}
		unix.Close(fd) // its image is gone (cannot happen: spares are taken under mu)
	}
	m.mu.Unlock()
	if mfd < 0 {
		return false, nil
	}
	m.kickSpares()
	err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH)
	unix.Close(mfd)
	if err == nil {
		return true, nil
	}
	// Not attachable after all: mount the image on target instead.
	m.log.Warn("attaching a spare task filesystem mounted ahead; spares will be mounted by Attach", "err", err)
	m.premount.Store(false)
	m.closeMounted()
	if err := mountImage(img, target); err != nil {
		_ = os.Remove(img)
		return false, err
	}
	return true, nil
}

// probeDetached reports whether a detached mount of img can be made and
// attached to target (the probe's mount, left there for probe to
// unmount).
func probeDetached(img, target string) bool {
	mfd, err := detachedMount(img)
	if err != nil {
		return false
	}
	defer unix.Close(mfd)
	if err := unix.MoveMount(mfd, "", unix.AT_FDCWD, target, unix.MOVE_MOUNT_F_EMPTY_PATH); err != nil {
		return false
	}
	return true
}
