package agent

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
)

// A task's data volumes become bind mounts (the volumes hook, hook_volumes.go).
//
//	task definition volume              host directory                        lives
//	{name} or {name, host: {}}          <state>/tasks/<task>/volumes/<name>   as long as the task
//	{name, host: {sourcePath: P}}       P (EC2 launch type only)              on the host
//	docker, EFS, FSx, S3 Files, EBS     none: the task stops before it starts (ResourceInitializationError)
//
// A container's mounts are its mountPoints (readOnly honoured), then the
// mounts of each container it names in volumesFrom: read-only when that
// entry says so, else in the source container's own mode (Docker's rule,
// which the ECS agent leans on). A task-scoped volume that is still empty
// when a container mounting it starts is filled with what the container's
// image has at the mount path: on Fargate only where the image declares a
// VOLUME at exactly that path (the documented Fargate rule), on EC2
// whenever the image has content there (Docker's named-volume copy).

const volumesDir = "volumes"

// checkVolumes reports why the task's volumes cannot be provided, before
// anything of the task is made.
func (r *runner) checkVolumes() error {
	for i := range r.td.Volumes {
		v := &r.td.Volumes[i]
		if kind := volumeKind(v); kind != "" {
			return fmt.Errorf("volume '%s': fargo cannot provide %s volumes (bind mounts only: a volume without configuration is a task-scoped directory; host.sourcePath a host directory on the EC2 launch type)", v.Name, kind)
		}
		if v.Host == nil || v.Host.SourcePath == "" {
			continue
		}
		if r.task.LaunchType == node.LaunchTypeFargate {
			return fmt.Errorf("volume '%s': host.sourcePath is not supported on the Fargate launch type", v.Name)
		}
		if !filepath.IsAbs(v.Host.SourcePath) {
			return fmt.Errorf("volume '%s': host.sourcePath %q is not an absolute path", v.Name, v.Host.SourcePath)
		}
	}
	return nil
}

// volumeKind names the configuration of a volume fargo cannot provide, ""
// for a bind mount.
func volumeKind(v *node.Volume) string {
	switch {
	case v.DockerVolumeConfiguration != nil:
		return "dockerVolumeConfiguration"
	case v.EFSVolumeConfiguration != nil:
		return "efsVolumeConfiguration"
	case v.FSxWindowsFileServerVolumeConfiguration != nil:
		return "fsxWindowsFileServerVolumeConfiguration"
	case v.S3FilesVolumeConfiguration != nil:
		return "s3filesVolumeConfiguration"
	case v.ConfiguredAtLaunch != nil && *v.ConfiguredAtLaunch:
		return "configuredAtLaunch (Amazon EBS)"
	}
	return ""
}

func (r *runner) volume(name string) *node.Volume {
	for i := range r.td.Volumes {
		if r.td.Volumes[i].Name == name {
			return &r.td.Volumes[i]
		}
	}
	return nil
}

// volumeSource returns the host directory of a volume, making it when
// missing (Docker makes a missing bind source too), and whether it is
// task-scoped.
func (r *runner) volumeSource(name string) (string, bool, error) {
	v := r.volume(name)
	if v == nil {
		return "", false, fmt.Errorf("unknown volume '%s'", name)
	}
	if v.Host != nil && v.Host.SourcePath != "" {
		if err := os.MkdirAll(v.Host.SourcePath, 0o755); err != nil {
			return "", false, fmt.Errorf("volume '%s': %w", name, err)
		}
		return v.Host.SourcePath, false, nil
	}
	dir := filepath.Join(r.dir, volumesDir, name)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", false, fmt.Errorf("volume '%s': %w", name, err)
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", false, fmt.Errorf("volume '%s': %w", name, err)
	}
	return dir, true, nil
}

// volumeMount is one of a container's mounts and the volume behind it.
type volumeMount struct {
	runtime.Mount
	scoped bool // a task-scoped directory (may be filled from the image)
	own    bool // from the container's own mountPoints
}

// bindMount is a bind mount of src at dest, read-only when ro.
func bindMount(src, dest string, ro bool) runtime.Mount {
	m := runtime.Mount{Source: src, Destination: dest}
	if ro {
		m.Options = []string{"ro"}
	}
	return m
}

// readOnly reports whether a mount is read-only.
func readOnly(m runtime.Mount) bool { return slices.Contains(m.Options, "ro") }

// containerMounts returns the container's volume mounts, parents before
// the mounts below them.
func (r *runner) containerMounts(cd *node.ContainerDefinition) ([]volumeMount, error) {
	var out []volumeMount
	seen := map[string]bool{} // containers already visited (volumesFrom may loop)
	var add func(c *node.ContainerDefinition, forceRO, own bool) error
	add = func(c *node.ContainerDefinition, forceRO, own bool) error {
		if seen[c.Name] {
			return nil
		}
		seen[c.Name] = true
		for _, mp := range c.MountPoints {
			if !filepath.IsAbs(mp.ContainerPath) {
				return fmt.Errorf("mount point %q of container %s is not an absolute path", mp.ContainerPath, c.Name)
			}
			dest := filepath.Clean(mp.ContainerPath)
			if slices.ContainsFunc(out, func(m volumeMount) bool { return m.Destination == dest }) {
				continue // the container's own mount (or the first) wins
			}
			src, scoped, err := r.volumeSource(mp.SourceVolume)
			if err != nil {
				return err
			}
			ro := forceRO || (mp.ReadOnly != nil && *mp.ReadOnly)
			out = append(out, volumeMount{Mount: bindMount(src, dest, ro), scoped: scoped, own: own})
		}
		for _, vf := range c.VolumesFrom {
			from := r.containerDef(vf.SourceContainer)
			if from == nil {
				return fmt.Errorf("volumesFrom of container %s: unknown container %s", c.Name, vf.SourceContainer)
			}
			if err := add(from, forceRO || (vf.ReadOnly != nil && *vf.ReadOnly), false); err != nil {
				return err
			}
		}
		return nil
	}
	if err := add(cd, false, true); err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, func(a, b volumeMount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
	return out, nil
}

// seedVolumes fills the container's empty task-scoped volumes from its
// image (see the rules above), or finishes a fill a crash cut off
// (seedVolume). rootfs is the container's mounted root.
func (r *runner) seedVolumes(mounts []volumeMount, img image.RunConfig, rootfs string) error {
	for _, m := range mounts {
		if !m.scoped || !m.own {
			continue
		}
		if r.task.LaunchType == node.LaunchTypeFargate && !slices.ContainsFunc(img.Volumes, func(v string) bool {
			return filepath.Clean(v) == m.Destination
		}) {
			continue
		}
		if err := seedVolume(rootfs, m.Destination, m.Source); err != nil {
			return fmt.Errorf("copying the image's %s into its volume: %w", m.Destination, err)
		}
	}
	return nil
}

// seedVolume fills the empty volume directory dst with the image's dest,
// so that a crash at any point leaves no half-filled volume behind for
// good (a non-empty volume is never filled again):
//
//	.<vol>.seeding   the copy, made beside the volume (names of volumes
//	                 have no dot); found after a crash: removed, redone
//	.<vol>.seeded    the complete copy, renamed from .seeding; its entries
//	                 are then renamed into the volume one by one (each
//	                 atomic; what the volume has meanwhile stays) and it is
//	                 removed; found after a crash: moved in, not redone
//
// The volume itself stays the same directory: a running container may
// have it mounted already.
func seedVolume(rootfs, dest, dst string) error {
	parent, name := filepath.Split(dst)
	seeding := filepath.Join(parent, "."+name+".seeding")
	seeded := filepath.Join(parent, "."+name+".seeded")
	if _, err := os.Lstat(seeded); err == nil {
		return moveInto(seeded, dst)
	}
	if err := os.RemoveAll(seeding); err != nil {
		return err
	}
	if empty, err := dirEmpty(dst); err != nil || !empty {
		return nil
	}
	// The copy starts as the volume is (mode, owner), which it keeps
	// when the image has nothing at dest.
	fi, err := os.Lstat(dst)
	if err != nil {
		return err
	}
	if err := os.Mkdir(seeding, 0o700); err != nil {
		return err
	}
	if err := chownMode(seeding, fi); err != nil {
		return err
	}
	if err := copyImageDir(rootfs, dest, seeding); err != nil {
		return err
	}
	if err := os.Rename(seeding, seeded); err != nil {
		return err
	}
	return moveInto(seeded, dst)
}

// moveInto moves the complete copy src into the volume dst: dst takes
// src's mode and owner, entries dst lacks are renamed in, directories
// both have are merged, and what dst has stays; then src is removed.
// dst's content is resolved by descriptor, never by path: a running
// container may have put symlinks there.
func moveInto(src, dst string) error {
	fi, err := os.Lstat(src)
	if err != nil {
		return err
	}
	if err := chownMode(dst, fi); err != nil {
		return err
	}
	fd, err := unix.Open(dst, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dst, err)
	}
	err = mergeDir(src, fd)
	unix.Close(fd)
	if err != nil {
		return err
	}
	return os.RemoveAll(src)
}

// mergeDir renames the entries of the directory src into the directory
// open as dstfd, without replacing any.
func mergeDir(src string, dstfd int) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range ents {
		from := filepath.Join(src, e.Name())
		err := unix.Renameat2(unix.AT_FDCWD, from, dstfd, e.Name(), unix.RENAME_NOREPLACE)
		if errors.Is(err, unix.EINVAL) { // a file system without RENAME_NOREPLACE
			var st unix.Stat_t
			if err = unix.Fstatat(dstfd, e.Name(), &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
				err = unix.EEXIST
			} else if errors.Is(err, unix.ENOENT) {
				err = unix.Renameat(unix.AT_FDCWD, from, dstfd, e.Name())
			}
		}
		if err == nil {
			continue
		}
		if !errors.Is(err, unix.EEXIST) && !errors.Is(err, unix.ENOTEMPTY) {
			return fmt.Errorf("move %s into the volume: %w", e.Name(), err)
		}
		if !e.IsDir() {
			continue // theirs stays
		}
		sub, err := unix.Openat(dstfd, e.Name(), unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			continue // theirs is no directory: it stays
		}
		if err != nil {
			return fmt.Errorf("open %s in the volume: %w", e.Name(), err)
		}
		err = mergeDir(from, sub)
		unix.Close(sub)
		if err != nil {
			return err
		}
	}
	return nil
}

// chownMode gives the directory p (fargo's own, not a container's) the
// owner and mode of fi.
func chownMode(p string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := os.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	return os.Chmod(p, modeOf(fi))
}

func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if errors.Is(err, io.EOF) {
		return true, nil
	}
	return len(names) == 0, err
}

// copyImageDir copies the directory at dest inside rootfs (resolved as
// the container would: symlinks stay inside rootfs) into dst, keeping
// modes, owners and symlinks; the volume's own directory takes the
// image directory's mode and owner. Devices, fifos and sockets are left
// out. Nothing is written outside dst, whatever dst holds meanwhile (a
// running container may share the volume). A missing or non-directory
// dest copies nothing.
func copyImageDir(rootfs, dest, dst string) error {
	rootfd, err := unix.Open(rootfs, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", rootfs, err)
	}
	defer unix.Close(rootfd)
	fd, err := unix.Openat2(rootfd, dest, &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS})
	if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open %s in the image: %w", dest, err)
	}
	srcDir := os.NewFile(uintptr(fd), dest)
	defer srcDir.Close()
	src, err := os.OpenRoot(fmt.Sprintf("/proc/self/fd/%d", fd))
	if err != nil {
		return err
	}
	defer src.Close()
	out, err := os.OpenRoot(dst)
	if err != nil {
		return err
	}
	defer out.Close()
	return fs.WalkDir(src.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := src.Lstat(p)
		if err != nil {
			return err
		}
		switch mode := fi.Mode(); {
		case p == ".":
		case mode.IsDir():
			if err := out.Mkdir(p, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		case mode.IsRegular():
			if err := copyFile(src, out, p); err != nil {
				return err
			}
		case mode&fs.ModeSymlink != 0:
			target, err := src.Readlink(p)
			if err != nil {
				return err
			}
			if err := out.Symlink(target, p); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		default:
			return nil
		}
		return setOwnerMode(out, p, fi)
	})
}

func copyFile(src, out *os.Root, p string) error {
	in, err := src.Open(p)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := out.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil // written by a container sharing the volume: theirs stays
	}
	if err != nil {
		return err
	}
	_, err = io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// setOwnerMode gives p the owner and mode of fi (after the chown, which
// clears set-id bits).
func setOwnerMode(out *os.Root, p string, fi fs.FileInfo) error {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		if err := out.Lchown(p, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil
	}
	return out.Chmod(p, modeOf(fi))
}

// modeOf is fi's permission, set-id and sticky bits.
func modeOf(fi fs.FileInfo) fs.FileMode {
	mode := fi.Mode().Perm()
	if fi.Mode()&fs.ModeSetuid != 0 {
		mode |= os.ModeSetuid
	}
	if fi.Mode()&fs.ModeSetgid != 0 {
		mode |= os.ModeSetgid
	}
	if fi.Mode()&fs.ModeSticky != 0 {
		mode |= os.ModeSticky
	}
	return mode
}
