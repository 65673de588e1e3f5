package network

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// iprouteShareDir does to dir what `ip netns add` does to /run/netns
// before it pins a namespace (iproute2's netns_add): make it a shared
// mount, binding it recursively on itself first if it is not a mount point.
func iprouteShareDir(t *testing.T, dir string) {
	t.Helper()
	for bound := false; ; bound = true {
		err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		if err == nil {
			return
		}
		if !errors.Is(err, unix.EINVAL) || bound {
			t.Fatalf("make-shared %s: %v", dir, err)
		}
		if err := unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			t.Fatalf("rbind %s: %v", dir, err)
		}
	}
}

// scratchNetNSDir is a netns directory of the test's own, not a mount
// point; on cleanup the mounts of it (and below it) are detached.
func scratchNetNSDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "netns")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Detaching the directory's own mounts reveals what they hid.
		for range 10 {
			ms := mountsUnder(t, dir)
			if len(ms) == 0 {
				return
			}
			for _, m := range ms {
				_ = unix.Unmount(m, unix.MNT_DETACH)
			}
		}
		t.Errorf("mounts left under %s: %v", dir, mountsUnder(t, dir))
	})
	return dir
}

// mountsUnder lists the mount points at or below dir in mountinfo, hidden
// ones included.
func mountsUnder(t *testing.T, dir string) []string {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
			out = append(out, f[4])
		}
	}
	return out
}

// TestNetNSSurvivesForeignSelfBind: namespaces pinned by fargo, then the
// directory gets iproute2's treatment, then teardown: no EBUSY, no mount
// or file left (fargo made the directory a shared mount point first, so
// iproute2 had nothing to bind).
func TestNetNSSurvivesForeignSelfBind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := scratchNetNSDir(t)
	cfg := testConfig(t.TempDir())
	cfg.NetNSDir = dir
	m, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ids := []string{"selfbind1", "selfbind2"}
	for _, id := range ids {
		setup(t, m, id, acctA)
	}
	iprouteShareDir(t, dir)
	for _, id := range ids {
		if err := m.Teardown(context.Background(), id); err != nil {
			t.Errorf("Teardown %s: %v", id, err)
		}
	}
	for _, mp := range mountsUnder(t, dir) {
		if mp != dir {
			t.Errorf("mount left: %s", mp)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) > 0 {
		t.Errorf("%d netns files left", len(ents))
	}
}

// TestDeleteNetNSHiddenBelowSelfBind: the state an older fargo leaves
// (pinned in a directory that was not a mount point, then bound over by
// `ip netns add`) is still torn down: the pin hidden below the bind too.
func TestDeleteNetNSHiddenBelowSelfBind(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := scratchNetNSDir(t)
	path := filepath.Join(dir, testPrefix+"-hidden")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	// Pinned as before the fix: directly, the directory no mount point.
	if err := unix.Mount(fmt.Sprintf("/proc/%d/ns/net", os.Getpid()), path, "none", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	iprouteShareDir(t, dir)
	if n := len(mountsUnder(t, path)); n != 2 {
		t.Fatalf("%d mounts on %s, want 2 (the hidden pin and its copy)", n, path)
	}
	if err := deleteNetNS(path); err != nil {
		t.Fatalf("deleteNetNS: %v", err)
	}
	if got := mountsUnder(t, path); len(got) > 0 {
		t.Errorf("mounts left on %s: %v", path, got)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("file left: %v", err)
	}
	if got := mountsUnder(t, dir); len(got) != 1 {
		t.Errorf("the directory's own mount must stay as it was: %v", got)
	}
}

// TestIPNetnsAddWhileRunning: the real `ip netns add` (a name of the
// test's own) while the manager holds namespaces in /run/netns; teardown
// then leaves no EBUSY, no mount and no file.
func TestIPNetnsAddWhileRunning(t *testing.T) {
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no iproute2")
	}
	m, _ := newTestManager(t)
	ids := []string{"ipadd1", "ipadd2"}
	for _, id := range ids {
		setup(t, m, id, acctA)
	}
	name := fmt.Sprintf("fargotest-ipadd-%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		t.Fatalf("ip netns add: %v: %s", err, out)
	}
	defer func() {
		if out, err := exec.Command("ip", "netns", "del", name).CombinedOutput(); err != nil {
			t.Errorf("ip netns del: %v: %s", err, out)
		}
	}()
	setup(t, m, "ipadd3", acctB) // pinned after ip's
	for _, id := range append(ids, "ipadd3") {
		if err := m.Teardown(context.Background(), id); err != nil {
			t.Errorf("Teardown %s: %v", id, err)
		}
	}
	for _, mp := range mountsUnder(t, DefaultNetNSDir) {
		if strings.HasPrefix(filepath.Base(mp), testPrefix+"-") {
			t.Errorf("mount left: %s", mp)
		}
	}
	// newTestManager's cleanup checks /run/netns for files.
}

// TestHiddenNetNSFoundAgain: a pin hidden below a non-recursive self-bind
// of its directory (the file is there, the mount is not to be seen) is
// still a namespace to isNetNS, which pins it again where it is seen (same
// namespace), and deleteNetNS removes both pins.
func TestHiddenNetNSFoundAgain(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := scratchNetNSDir(t)
	path := filepath.Join(dir, testPrefix+"-hidden")
	if err := os.WriteFile(path, nil, 0o444); err != nil {
		t.Fatal(err)
	}
	self := fmt.Sprintf("/proc/%d/ns/net", os.Getpid())
	if err := unix.Mount(self, path, "none", unix.MS_BIND, ""); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(dir, dir, "none", unix.MS_BIND, ""); err != nil { // not MS_REC: hides the pin
		t.Fatal(err)
	}
	if isNSFS(path) {
		t.Fatal("the pin is not hidden")
	}
	if !isNetNS(path) {
		t.Fatal("isNetNS: the hidden pin was not found")
	}
	var got, want unix.Stat_t
	if err := unix.Stat(path, &got); err != nil {
		t.Fatal(err)
	}
	if err := unix.Stat(self, &want); err != nil {
		t.Fatal(err)
	}
	if got.Ino != want.Ino {
		t.Errorf("pinned again: inode %d, want the namespace's %d", got.Ino, want.Ino)
	}
	if err := deleteNetNS(path); err != nil {
		t.Fatalf("deleteNetNS: %v", err)
	}
	if got := mountsUnder(t, path); len(got) > 0 {
		t.Errorf("mounts left on %s: %v", path, got)
	}
	if isNetNS(path) {
		t.Error("isNetNS after delete")
	}
}
