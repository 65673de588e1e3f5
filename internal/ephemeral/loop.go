package ephemeral

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// format makes an ext4 filesystem of size bytes in the sparse file img:
// no journal (a task's storage does not outlive a host crash), no blocks
// reserved for root, inode tables initialised lazily and no discard of
// the (sparse, empty) file: a few MiB written. In the background (a
// spare), mkfs runs at the lowest CPU priority: it is made while a task
// starts, and must not take CPU from that start.
func format(ctx context.Context, img string, size int64, background bool) error {
	f, err := os.OpenFile(img, os.O_RDWR|os.O_CREATE|os.O_TRUNC|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	args := []string{"mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", "-E", "lazy_itable_init=1,nodiscard", img}
	if background {
		if nice, err := exec.LookPath("nice"); err == nil {
			args = append([]string{nice, "-n", "19"}, args...)
		}
	}
	cmd := exec.CommandContext(ctx, args[0], args[1:]...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("mkfs.ext4: %w: %s", err, out)
	}
	return nil
}

// mountImage attaches img to a free loop device (autoclear: the device is
// released when the filesystem is unmounted, or now if the mount fails)
// and mounts it on target.
func mountImage(img, target string) error {
	dev, closeDev, err := attachLoop(img)
	if err != nil {
		return err
	}
	defer closeDev()
	// noinit_itable: the kernel does not zero the inode tables behind the
	// task's back (the sparse file stays small); discard: deleted blocks
	// are punched out of the image.
	if err := unix.Mount(dev, target, "ext4", unix.MS_NOATIME, "discard,noinit_itable"); err != nil {
		return fmt.Errorf("mount %s on %s: %w", filepath.Base(img), target, err)
	}
	return nil
}

// attachLoop binds img to a free loop device. The returned function
// closes the device (autoclear then releases it unless it is mounted).
func attachLoop(img string) (string, func(), error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, fmt.Errorf("loop control: %w", err)
	}
	defer ctl.Close()
	backing, err := os.OpenFile(img, os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", nil, err
	}
	defer backing.Close()
	for range 32 { // another process may take the free device first
		n, err := unix.IoctlRetInt(int(ctl.Fd()), unix.LOOP_CTL_GET_FREE)
		if err != nil {
			return "", nil, fmt.Errorf("free loop device: %w", err)
		}
		dev := "/dev/loop" + strconv.Itoa(n)
		lf, err := openDevice(dev)
		if err != nil {
			return "", nil, err
		}
		err = configureLoop(int(lf.Fd()), int(backing.Fd()), img)
		if errors.Is(err, unix.EBUSY) {
			lf.Close()
			continue
		}
		if err != nil {
			lf.Close()
			return "", nil, fmt.Errorf("attach %s to %s: %w", filepath.Base(img), dev, err)
		}
		return dev, func() { lf.Close() }, nil
	}
	return "", nil, errors.New("no free loop device")
}

// openDevice opens a loop device node, waiting briefly for it to appear
// (devtmpfs makes it when the device is created).
func openDevice(dev string) (*os.File, error) {
	deadline := time.Now().Add(time.Second)
	for {
		f, err := os.OpenFile(dev, os.O_RDWR|unix.O_CLOEXEC, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// configureLoop sets the backing file and autoclear in one ioctl
// (LOOP_CONFIGURE, Linux 5.8), or in two on older kernels.
func configureLoop(loopFd, backingFd int, img string) error {
	var info unix.LoopInfo64
	info.Flags = unix.LO_FLAGS_AUTOCLEAR
	copy(info.File_name[:len(info.File_name)-1], img)
	err := unix.IoctlLoopConfigure(loopFd, &unix.LoopConfig{Fd: uint32(backingFd), Info: info})
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOTTY) {
		return err
	}
	if err := unix.IoctlSetInt(loopFd, unix.LOOP_SET_FD, backingFd); err != nil {
		return err
	}
	if err := unix.IoctlLoopSetStatus64(loopFd, &info); err != nil {
		_ = unix.IoctlSetInt(loopFd, unix.LOOP_CLR_FD, 0)
		return err
	}
	return nil
}

// isMountPoint reports whether dir is the root of a mount: its device
// differs from its parent's (a bind mount of a directory of the same
// filesystem is not told apart: fargo makes none on task directories).
func isMountPoint(dir string) (bool, error) {
	var st, parent unix.Stat_t
	if err := unix.Lstat(dir, &st); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &parent); err != nil {
		return false, err
	}
	return st.Dev != parent.Dev, nil
}
