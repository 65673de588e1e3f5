package image

import (
	"archive/tar"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/mounts"
)

// baseAndUpper is a two-layer image exercising every entry kind and both
// kinds of whiteout.
func baseAndUpper(t *testing.T) (base, upper v1.Layer) {
	base = layer(t,
		entry{name: "etc/", typ: tar.TypeDir},
		entry{name: "etc/hostname", body: "fargo\n"},
		entry{name: "etc/hardlink", typ: tar.TypeLink, link: "etc/hostname"},
		entry{name: "link", typ: tar.TypeSymlink, link: "etc/hostname"},
		entry{name: "abs-link", typ: tar.TypeSymlink, link: "/etc/hostname"},
		entry{name: "del.txt", body: "doomed"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/a", body: "a"},
		entry{name: "opq/b", body: "b"},
		entry{name: "bin/su", body: "#!", mode: 0o4755, uid: 0, gid: 0},
		entry{name: "home/app/", typ: tar.TypeDir, mode: 0o700, uid: 1000, gid: 1001},
		entry{name: "home/app/.profile", body: "x", mode: 0o600, uid: 1000, gid: 1001},
		entry{name: "dev/null", typ: tar.TypeChar, major: 1, minor: 3, mode: 0o666},
		entry{name: "run/fifo", typ: tar.TypeFifo, mode: 0o600},
		entry{name: "xattr.txt", body: "x", xattrs: map[string]string{
			"user.fargo":             "yes",
			"trusted.overlay.opaque": "y", // must be dropped: only whiteouts set it
		}},
	)
	upper = layer(t,
		entry{name: ".wh.del.txt"},
		entry{name: "opq/", typ: tar.TypeDir},
		entry{name: "opq/.wh..wh..opq"},
		entry{name: "opq/c", body: "c"},
		entry{name: "new.txt", body: "new"},
		entry{name: "etc/hostname", body: "changed\n"},
	)
	return base, upper
}

func TestPullMountMergedView(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	base, upper := baseAndUpper(t)
	cfg := v1.Config{
		Env:          []string{"PATH=/bin", "A=b"},
		Entrypoint:   []string{"/bin/app"},
		Cmd:          []string{"serve"},
		WorkingDir:   "/srv",
		User:         "1000:1001",
		StopSignal:   "SIGQUIT",
		ExposedPorts: map[string]struct{}{"8080/tcp": {}, "53/udp": {}},
		Labels:       map[string]string{"team": "fargo"},
		Healthcheck:  &v1.HealthConfig{Test: []string{"CMD", "true"}, Interval: 5 * time.Second, Retries: 3},
	}
	tagRef, digestRef := reg.push(t, "app", "v1", image(t, cfg, base, upper))

	root := t.TempDir()
	checkMounts(t, root)
	s := newStore(t, root, nil)
	img, err := s.Pull(t.Context(), tagRef)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	wantDigest := digestRef[len(reg.host+"/app@"):]
	if img.Digest != wantDigest || img.Manifest != wantDigest || img.Ref != tagRef || img.Platform != "linux/amd64" {
		t.Errorf("image = %+v, want digest %s", img, wantDigest)
	}
	wantCfg := RunConfig{
		Env: cfg.Env, Entrypoint: cfg.Entrypoint, Cmd: cfg.Cmd, WorkingDir: "/srv", User: "1000:1001",
		StopSignal: "SIGQUIT", ExposedPorts: []string{"53/udp", "8080/tcp"}, Labels: cfg.Labels,
		Healthcheck: &Healthcheck{Test: []string{"CMD", "true"}, Interval: 5 * time.Second, Retries: 3},
	}
	if !reflect.DeepEqual(img.Config, wantCfg) {
		t.Errorf("config = %+v\nwant     %+v", img.Config, wantCfg)
	}
	d0, _ := base.DiffID()
	d1, _ := upper.DiffID()
	if want := []string{d0.String(), d1.String()}; !slices.Equal(img.Layers, want) {
		t.Errorf("layers = %v, want %v", img.Layers, want)
	}
	if img.Size <= 0 {
		t.Errorf("size = %d", img.Size)
	}

	// The upper layer on disk holds overlayfs whiteouts.
	upperDir, ok := s.LayerDir(d1.String())
	if !ok {
		t.Fatal("upper layer not unpacked")
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(upperDir, "del.txt"), &st); err != nil {
		t.Fatalf("whiteout: %v", err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("whiteout mode %o rdev %d, want char 0/0", st.Mode, st.Rdev)
	}
	if v := getxattr(t, filepath.Join(upperDir, "opq"), opaqueXattr); v != "y" {
		t.Errorf("opaque xattr = %q, want y", v)
	}
	baseDir, _ := s.LayerDir(d0.String())
	if v := getxattr(t, filepath.Join(baseDir, "xattr.txt"), opaqueXattr); v != "" {
		t.Errorf("image-supplied overlay xattr survived: %q", v)
	}

	rootfs, err := s.Mount(t.Context(), img, "c1")
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() { s.Unmount(t.Context(), "c1") })
	if !s.Mounted("c1") {
		t.Error("Mounted(c1) = false")
	}
	if again, err := s.Mount(t.Context(), img, "c1"); err != nil || again != rootfs {
		t.Errorf("second Mount = %q, %v; want %q", again, err, rootfs)
	}

	if _, err := os.Lstat(filepath.Join(rootfs, "del.txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("deleted file visible: %v", err)
	}
	if got := dirEntries(t, filepath.Join(rootfs, "opq")); !slices.Equal(got, []string{"c"}) {
		t.Errorf("opaque dir = %v, want [c]", got)
	}
	if got := readFile(t, rootfs, "etc/hostname"); got != "changed\n" {
		t.Errorf("hostname = %q", got)
	}
	if got := readFile(t, rootfs, "new.txt"); got != "new" {
		t.Errorf("new.txt = %q", got)
	}
	if l, err := os.Readlink(filepath.Join(rootfs, "link")); err != nil || l != "etc/hostname" {
		t.Errorf("symlink = %q, %v", l, err)
	}
	if l, err := os.Readlink(filepath.Join(rootfs, "abs-link")); err != nil || l != "/etc/hostname" {
		t.Errorf("absolute symlink = %q, %v", l, err)
	}
	// The hardlink shares the base layer's inode (copy-up of hostname in
	// the upper layer does not change it).
	var a, b unix.Stat_t
	if err := unix.Lstat(filepath.Join(baseDir, "etc/hostname"), &a); err != nil {
		t.Fatal(err)
	}
	if err := unix.Lstat(filepath.Join(baseDir, "etc/hardlink"), &b); err != nil {
		t.Fatal(err)
	}
	if a.Ino != b.Ino || a.Nlink != 2 {
		t.Errorf("hardlink: inodes %d/%d nlink %d", a.Ino, b.Ino, a.Nlink)
	}
	if got := readFile(t, rootfs, "etc/hardlink"); got != "fargo\n" {
		t.Errorf("hardlink content = %q", got)
	}
	checkStat(t, filepath.Join(rootfs, "bin/su"), unix.S_IFREG|0o4755, 0, 0)
	checkStat(t, filepath.Join(rootfs, "home/app"), unix.S_IFDIR|0o700, 1000, 1001)
	checkStat(t, filepath.Join(rootfs, "home/app/.profile"), unix.S_IFREG|0o600, 1000, 1001)
	checkStat(t, filepath.Join(rootfs, "run/fifo"), unix.S_IFIFO|0o600, 0, 0)
	if err := unix.Lstat(filepath.Join(rootfs, "dev/null"), &st); err != nil || st.Mode != unix.S_IFCHR|0o666 || st.Rdev != unix.Mkdev(1, 3) {
		t.Errorf("dev/null: mode %o rdev %d, %v", st.Mode, st.Rdev, err)
	}
	if v := getxattr(t, filepath.Join(rootfs, "xattr.txt"), "user.fargo"); v != "yes" {
		t.Errorf("user.fargo = %q", v)
	}
	fi, err := os.Stat(filepath.Join(rootfs, "home/app"))
	if err != nil || !fi.ModTime().Equal(testTime) {
		t.Errorf("dir mtime = %v, want %v (%v)", fi.ModTime(), testTime, err)
	}

	// Writes land in the container's upper dir, never in a layer.
	if err := os.WriteFile(filepath.Join(rootfs, "opq/a"), []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(rootfs, "etc/hostname")); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, baseDir, "opq/a"); got != "a" {
		t.Errorf("lower layer changed: %q", got)
	}

	if err := s.Unmount(t.Context(), "c1"); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
	if s.Mounted("c1") {
		t.Error("still mounted")
	}
	if _, err := os.Stat(filepath.Join(root, "containers", "c1")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("container dir left: %v", err)
	}
	if err := s.Unmount(t.Context(), "c1"); err != nil {
		t.Errorf("second Unmount: %v", err)
	}
	if got := readFile(t, upperDir, "etc/hostname"); got != "changed\n" {
		t.Errorf("layer changed by container: %q", got)
	}
}

func checkStat(t *testing.T, p string, mode uint32, uid, gid uint32) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Errorf("%s: %v", p, err)
		return
	}
	if st.Mode != mode || st.Uid != uid || st.Gid != gid {
		t.Errorf("%s: mode %o uid %d gid %d, want %o %d %d", p, st.Mode, st.Uid, st.Gid, mode, uid, gid)
	}
}

func getxattr(t *testing.T, p, attr string) string {
	t.Helper()
	buf := make([]byte, 256)
	n, err := unix.Lgetxattr(p, attr, buf)
	if errors.Is(err, unix.ENODATA) {
		return ""
	}
	if err != nil {
		t.Fatalf("getxattr %s %s: %v", p, attr, err)
	}
	return string(buf[:n])
}

func TestMountManyLayers(t *testing.T) {
	requireRoot(t)
	const n = 200
	reg := newRegistry(t, nil)
	layers := make([]v1.Layer, n)
	for i := range layers {
		layers[i] = layer(t,
			entry{name: fmt.Sprintf("layers/f%03d", i), body: strconv.Itoa(i)},
			entry{name: "top", body: strconv.Itoa(i)},
		)
	}
	_, ref := reg.push(t, "many", "latest", image(t, v1.Config{}, layers...))

	root := t.TempDir()
	checkMounts(t, root)
	s := newStore(t, root, func(c *Config) { c.Jobs = 8; c.Logger = nil })
	img, err := s.Pull(t.Context(), ref)
	if err != nil {
		t.Fatalf("Pull: %v", err)
	}
	if len(img.Layers) != n {
		t.Fatalf("layers = %d", len(img.Layers))
	}
	rootfs, err := s.Mount(t.Context(), img, "many-layers")
	if err != nil {
		t.Fatalf("Mount: %v", err)
	}
	t.Cleanup(func() { s.Unmount(t.Context(), "many-layers") })
	if got := readFile(t, rootfs, "top"); got != strconv.Itoa(n-1) {
		t.Errorf("top = %q, want the top layer's", got)
	}
	if got := len(dirEntries(t, filepath.Join(rootfs, "layers"))); got != n {
		t.Errorf("merged layers/ has %d files, want %d", got, n)
	}
	if got := readFile(t, rootfs, "layers/f000"); got != "0" {
		t.Errorf("bottom file = %q", got)
	}
	if err := s.Unmount(t.Context(), "many-layers"); err != nil {
		t.Fatalf("Unmount: %v", err)
	}
}

func TestMountDuplicateLayerAndEmptyImage(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	a := layer(t, entry{name: "a", body: "1"})
	b := layer(t, entry{name: "a", body: "2"}, entry{name: "b", body: "b"})
	_, dup := reg.push(t, "dup", "latest", image(t, v1.Config{}, a, b, a))
	_, none := reg.push(t, "none", "latest", image(t, v1.Config{}))

	root := t.TempDir()
	checkMounts(t, root)
	s := newStore(t, root, nil)
	for _, tc := range []struct{ ref, id, wantA string }{
		{dup, "dup", "1"},
		{none, "none", ""},
	} {
		img, err := s.Pull(t.Context(), tc.ref)
		if err != nil {
			t.Fatalf("Pull %s: %v", tc.ref, err)
		}
		rootfs, err := s.Mount(t.Context(), img, tc.id)
		if err != nil {
			t.Fatalf("Mount %s: %v", tc.id, err)
		}
		t.Cleanup(func() { s.Unmount(t.Context(), tc.id) })
		if tc.wantA != "" {
			if got := readFile(t, rootfs, "a"); got != tc.wantA {
				t.Errorf("%s: a = %q, want %q", tc.id, got, tc.wantA)
			}
		} else if got := dirEntries(t, rootfs); len(got) != 0 {
			t.Errorf("%s: rootfs = %v, want empty", tc.id, got)
		}
		if err := s.Unmount(t.Context(), tc.id); err != nil {
			t.Fatal(err)
		}
	}
}

func TestMountSurvivesRestart(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	_, ref := reg.push(t, "app", "v1", image(t, v1.Config{}, layer(t, entry{name: "f", body: "x"})))
	root := t.TempDir()
	checkMounts(t, root)

	s1 := newStore(t, root, nil)
	img, err := s1.Pull(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	rootfs, err := s1.Mount(t.Context(), img, "survivor")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rootfs, "written"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Another container whose mount vanished (a reboot) but whose dir stayed.
	rebooted, err := s1.Mount(t.Context(), img, "rebooted")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(rebooted, "written"), []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := mounts.UnmountAll(t.Context(), filepath.Join(root, "containers", "rebooted", "rootfs")); err != nil {
		t.Fatal(err)
	}
	s1.Close() // as good as kill -9 for the store: nothing is in memory

	s2 := newStore(t, root, nil)
	t.Cleanup(func() {
		s2.Unmount(t.Context(), "survivor")
		s2.Unmount(t.Context(), "rebooted")
	})
	if !s2.Mounted("survivor") || s2.Mounted("rebooted") {
		t.Errorf("Mounted: survivor %v rebooted %v", s2.Mounted("survivor"), s2.Mounted("rebooted"))
	}
	got, err := s2.Recover(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []ContainerFS{
		{ID: "rebooted", Rootfs: filepath.Join(root, "containers", "rebooted", "rootfs")},
		{ID: "survivor", Rootfs: rootfs, Mounted: true},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Recover = %+v\nwant      %+v", got, want)
	}
	if again, err := s2.Mount(t.Context(), img, "survivor"); err != nil || again != rootfs {
		t.Errorf("Mount of mounted = %q, %v", again, err)
	}
	if got := readFile(t, rootfs, "written"); got != "w" {
		t.Errorf("written = %q", got)
	}
	// Remounting after the "reboot" keeps the container's writes.
	if again, err := s2.Mount(t.Context(), img, "rebooted"); err != nil || again != rebooted {
		t.Fatalf("remount = %q, %v", again, err)
	}
	if got := readFile(t, rebooted, "written"); got != "r" {
		t.Errorf("rebooted written = %q", got)
	}
	for _, id := range []string{"survivor", "rebooted"} {
		if err := s2.Unmount(t.Context(), id); err != nil {
			t.Errorf("Unmount %s: %v", id, err)
		}
	}
	if got := dirEntries(t, filepath.Join(root, "containers")); len(got) != 0 {
		t.Errorf("containers left: %v", got)
	}
}

func TestMountErrors(t *testing.T) {
	s := newStore(t, "", nil)
	for _, id := range []string{"", ".", "..", "a/b", "../x", "a b"} {
		if _, err := s.Mount(t.Context(), &Image{}, id); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Mount(%q) = %v, want invalid argument", id, err)
		}
		if err := s.Unmount(t.Context(), id); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("Unmount(%q) = %v, want invalid argument", id, err)
		}
	}
	missing := &Image{Digest: "sha256:" + fmt.Sprintf("%064x", 1), Layers: []string{"sha256:" + fmt.Sprintf("%064x", 2)}}
	if _, err := s.Mount(t.Context(), missing, "c"); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Mount with missing layer = %v, want not found", err)
	}
	if got := dirEntries(t, filepath.Join(s.Root(), "containers")); len(got) != 0 {
		t.Errorf("failed mount left %v", got)
	}
}

func TestUnescapeMountinfo(t *testing.T) {
	for in, want := range map[string]string{
		`/a/b`:           "/a/b",
		`/with\040space`: "/with space",
		`/tab\011x`:      "/tab\tx",
		`/back\134slash`: `/back\slash`,
		`/trailing\04`:   `/trailing\04`,
	} {
		if got := mounts.Unescape(in); got != want {
			t.Errorf("unescape(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestMountScratchDir: a container's writable layer (overlay upper and
// work dirs) can live in a directory the caller names (the task's own
// filesystem); what the container writes lands there, a second Mount is
// idempotent, and Unmount removes the directory.
func TestMountScratchDir(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	_, ref := reg.push(t, "scratch", "latest", image(t, v1.Config{}, layer(t, entry{name: "a", body: "1"})))
	root := t.TempDir()
	checkMounts(t, root)
	s := newStore(t, root, nil)
	img, err := s.Pull(t.Context(), ref)
	if err != nil {
		t.Fatal(err)
	}
	scratch := filepath.Join(t.TempDir(), "task", "containers", "app")
	rootfs, err := s.MountScratch(t.Context(), img, "scratch-app", scratch)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unmount(t.Context(), "scratch-app") })
	if err := os.WriteFile(filepath.Join(rootfs, "written"), []byte("w"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, scratch, "upper", "written"); got != "w" {
		t.Errorf("the container's write is not in the scratch upper dir: %q", got)
	}
	if _, err := os.Stat(filepath.Join(root, "containers", "scratch-app", "upper", "written")); err == nil {
		t.Error("the container's write landed in the image store")
	}
	if again, err := s.MountScratch(t.Context(), img, "scratch-app", scratch); err != nil || again != rootfs {
		t.Errorf("second MountScratch: %q, %v", again, err)
	}
	if err := s.Unmount(t.Context(), "scratch-app"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(scratch); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("scratch dir after Unmount: %v", err)
	}
	if _, err := s.MountScratch(t.Context(), img, "bad", "/tmp/a,lowerdir=/"); err == nil {
		t.Error("a scratch dir with a comma was accepted")
		s.Unmount(t.Context(), "bad")
	}
}
