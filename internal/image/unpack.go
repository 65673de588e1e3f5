package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
)

const (
	whiteoutPrefix = ".wh."
	whiteoutMeta   = ".wh..wh." // aufs bookkeeping prefix
	whiteoutOpaque = ".wh..wh..opq"
	opaqueXattr    = "trusted.overlay.opaque"
	// overlayXattrs may only come from whiteout conversion, never from
	// the image: they steer overlayfs (redirect_dir, metacopy, origin).
	overlayXattrs = "trusted.overlay."
	paxXattr      = "SCHILY.xattr."
)

// unpacker applies one layer tarball to an empty directory. Every path is
// resolved by the kernel inside the directory (openat2 RESOLVE_IN_ROOT), so
// symlinks that the layer itself creates are followed as they would be in
// the container, and can never lead out of the directory.
type unpacker struct {
	rootfd   int
	log      *slog.Logger
	dirTimes []dirTime
	buf      []byte
}

// dirTime is a directory mtime to set once all entries are written, since
// writing a child changes its parent's mtime.
type dirTime struct {
	rel          string
	atime, mtime time.Time
}

// unpack extracts the layer tar stream r into dir, converting OCI whiteouts
// to overlayfs whiteouts.
func unpack(ctx context.Context, dir string, r io.Reader, log *slog.Logger) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer unix.Close(fd)
	u := &unpacker{rootfd: fd, log: log, buf: make([]byte, 128<<10)}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read tar: %w", err)
		}
		if err := u.entry(hdr, tr); err != nil {
			return fmt.Errorf("tar entry %q: %w", hdr.Name, err)
		}
	}
	for _, dt := range u.dirTimes {
		if err := u.setTimes(dt.rel, dt.atime, dt.mtime); err != nil {
			return fmt.Errorf("set times of %q: %w", dt.rel, err)
		}
	}
	return nil
}

// entryPath turns a tar name into a clean path relative to the layer root
// ("." for the root itself), rejecting names that climb out of it.
func entryPath(name string) (string, error) {
	p := strings.TrimPrefix(path.Clean(name), "/")
	if p == "" {
		p = "."
	}
	if p == ".." || strings.HasPrefix(p, "../") {
		return "", errdefs.Invalidf("path %q escapes the layer", name)
	}
	return p, nil
}

func (u *unpacker) entry(hdr *tar.Header, r io.Reader) error {
	rel, err := entryPath(hdr.Name)
	if err != nil {
		return err
	}
	if rel == "." {
		return u.root(hdr)
	}
	dir, base := path.Split(rel)
	dir = path.Clean(dir + ".")
	if strings.HasPrefix(base, whiteoutPrefix) {
		return u.whiteout(dir, base)
	}

	pfd, err := u.mkdirAll(dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)

	// Replace whatever an earlier entry left here, unless both are
	// directories (a directory entry then only updates metadata).
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if !isDir || hdr.Typeflag != tar.TypeDir {
			if err := removeAt(pfd, base, isDir); err != nil {
				return err
			}
		}
	} else if !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("stat: %w", err)
	}

	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeGNUSparse: // the tar reader expands sparse files
		if err := u.writeFile(pfd, base, r); err != nil {
			return err
		}
	case tar.TypeDir:
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("mkdir: %w", err)
		}
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("symlink: %w", err)
		}
	case tar.TypeLink:
		// A hardlink shares its target's inode, metadata included.
		return u.hardlink(pfd, base, hdr.Linkname)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		mode := uint32(unix.S_IFIFO)
		switch hdr.Typeflag {
		case tar.TypeChar:
			mode = unix.S_IFCHR
		case tar.TypeBlock:
			mode = unix.S_IFBLK
		}
		dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
		if err := unix.Mknodat(pfd, base, mode|0o600, int(dev)); err != nil {
			return fmt.Errorf("mknod: %w", err)
		}
	case tar.TypeXGlobalHeader:
		return nil
	default:
		u.log.Warn("skipping unsupported tar entry", "name", hdr.Name, "type", string(hdr.Typeflag))
		return nil
	}
	return u.metadata(pfd, base, rel, hdr)
}

// root applies a tar entry for the layer root itself.
func (u *unpacker) root(hdr *tar.Header) error {
	if hdr.Typeflag != tar.TypeDir {
		return errdefs.Invalidf("layer root is not a directory")
	}
	return u.metadata(u.rootfd, ".", ".", hdr)
}

// whiteout converts an OCI whiteout entry into its overlayfs form.
func (u *unpacker) whiteout(dir, base string) error {
	pfd, err := u.mkdirAll(dir)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	switch {
	case base == whiteoutOpaque:
		// Opaque: hide everything below this directory in lower layers.
		// It must not hide this layer's own entries, and it does not:
		// overlayfs only consults the flag when looking further down.
		if err := unix.Fsetxattr(pfd, opaqueXattr, []byte("y"), 0); err != nil {
			return fmt.Errorf("set opaque: %w", err)
		}
		return nil
	case strings.HasPrefix(base, whiteoutMeta):
		return nil
	}
	name := strings.TrimPrefix(base, whiteoutPrefix)
	if name == "" || name == "." || name == ".." {
		return errdefs.Invalidf("invalid whiteout %q", base)
	}
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err == nil {
		if err := removeAt(pfd, name, st.Mode&unix.S_IFMT == unix.S_IFDIR); err != nil {
			return err
		}
	}
	if err := unix.Mknodat(pfd, name, unix.S_IFCHR|0o000, 0); err != nil {
		return fmt.Errorf("whiteout: %w", err)
	}
	return nil
}

func (u *unpacker) writeFile(pfd int, base string, r io.Reader) error {
	fd, err := unix.Openat(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	_, err = io.CopyBuffer(f, r, u.buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

func (u *unpacker) hardlink(pfd int, base, target string) error {
	trel, err := entryPath(target)
	if err != nil {
		return err
	}
	if trel == "." {
		return errdefs.Invalidf("hardlink to the layer root")
	}
	tdir, tbase := path.Split(trel)
	tfd, err := u.openDir(path.Clean(tdir + "."))
	if err != nil {
		return fmt.Errorf("hardlink target %q: %w", target, err)
	}
	defer unix.Close(tfd)
	// No AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("hardlink to %q: %w", target, err)
	}
	return nil
}

// metadata applies ownership, mode, xattrs and times to pfd/base. rel is
// the path from the root, for deferring directory times.
func (u *unpacker) metadata(pfd int, base, rel string, hdr *tar.Header) error {
	// Ownership before mode and xattrs: chown clears set-id bits and file
	// capabilities.
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if hdr.Typeflag != tar.TypeSymlink { // Linux has no lchmod; symlinks are 0777
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := u.xattrs(pfd, base, hdr); err != nil {
		return err
	}
	atime := hdr.AccessTime
	if atime.IsZero() {
		atime = hdr.ModTime
	}
	if hdr.Typeflag == tar.TypeDir {
		u.dirTimes = append(u.dirTimes, dirTime{rel: rel, atime: atime, mtime: hdr.ModTime})
		return nil
	}
	return utimesAt(pfd, base, atime, hdr.ModTime)
}

func (u *unpacker) xattrs(pfd int, base string, hdr *tar.Header) error {
	for k, v := range hdr.PAXRecords {
		attr, ok := strings.CutPrefix(k, paxXattr)
		if !ok {
			continue
		}
		if strings.HasPrefix(attr, overlayXattrs) {
			u.log.Warn("dropping overlay xattr from layer", "name", hdr.Name, "xattr", attr)
			continue
		}
		// Through the parent's fd, without following base if it is a
		// symlink (lsetxattr).
		p := "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
		if err := unix.Lsetxattr(p, attr, []byte(v), 0); err != nil {
			if errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
				u.log.Warn("skipping unsupported xattr", "name", hdr.Name, "xattr", attr, "err", err)
				continue
			}
			return fmt.Errorf("setxattr %s: %w", attr, err)
		}
	}
	return nil
}

func (u *unpacker) setTimes(rel string, atime, mtime time.Time) error {
	if rel == "." {
		return utimesAt(u.rootfd, ".", atime, mtime)
	}
	dir, base := path.Split(rel)
	pfd, err := u.openDir(path.Clean(dir + "."))
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	return utimesAt(pfd, base, atime, mtime)
}

func utimesAt(dfd int, name string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	if err := unix.UtimesNanoAt(dfd, name, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("utimes: %w", err)
	}
	return nil
}

// openDir opens the directory rel inside the layer, resolving every
// component (symlinks and ".." included) as if the layer were "/".
func (u *unpacker) openDir(rel string) (int, error) {
	how := unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_XDEV,
	}
	for {
		fd, err := unix.Openat2(u.rootfd, rel, &how)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue // a concurrent rename elsewhere in the tree; retry
		}
		if err != nil {
			return -1, fmt.Errorf("open dir %q: %w", rel, err)
		}
		return fd, nil
	}
}

// mkdirAll opens directory rel, creating missing components (0755, as
// docker does for parents a layer does not list).
func (u *unpacker) mkdirAll(rel string) (int, error) {
	fd, err := u.openDir(rel)
	if err == nil || !errors.Is(err, unix.ENOENT) || rel == "." {
		return fd, err
	}
	dir, base := path.Split(rel)
	pfd, err := u.mkdirAll(path.Clean(dir + "."))
	if err != nil {
		return -1, err
	}
	err = unix.Mkdirat(pfd, base, 0o755)
	unix.Close(pfd)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return -1, fmt.Errorf("mkdir %q: %w", rel, err)
	}
	return u.openDir(rel)
}

// removeAt removes pfd/base, recursively if it is a directory.
func removeAt(pfd int, base string, isDir bool) error {
	if !isDir {
		if err := unix.Unlinkat(pfd, base, 0); err != nil {
			return fmt.Errorf("remove: %w", err)
		}
		return nil
	}
	// os.RemoveAll opens the magic link (our directory fd) and works
	// below it with *at calls that never follow symlinks.
	if err := os.RemoveAll("/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base); err != nil {
		return fmt.Errorf("remove: %w", err)
	}
	return nil
}
