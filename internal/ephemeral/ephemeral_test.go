package ephemeral

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// newTestManager returns a Manager over a temporary directory, or skips
// where the mechanism is unavailable (not root, no loop devices, no
// mkfs.ext4). Its cleanup detaches whatever a test left attached.
func newTestManager(t *testing.T, spares int, spareSize int64) (*Manager, string) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	dir := t.TempDir()
	m, err := Open(Config{Dir: filepath.Join(dir, "images"), Spares: spares, SpareSize: spareSize})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ids, _ := m.Tasks()
		for _, id := range ids {
			_ = m.Detach(context.Background(), id, filepath.Join(dir, "tasks", id))
		}
		m.Close()
	})
	return m, dir
}

// mounted reports whether p is a mount point of this mount namespace.
func mounted(t *testing.T, p string) bool {
	t.Helper()
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 4 && f[4] == p {
			return true
		}
	}
	return false
}

// loopOf returns the loop devices whose backing file is img.
func loopOf(img string) []string {
	var out []string
	ents, _ := filepath.Glob("/sys/block/loop*/loop/backing_file")
	for _, e := range ents {
		b, _ := os.ReadFile(e)
		if strings.HasPrefix(strings.TrimSpace(string(b)), img) {
			out = append(out, e)
		}
	}
	return out
}

// TestAttachEnforcesSize: a task's directory becomes a filesystem of the
// task's size: statfs reports that size, writing past it fails with
// ENOSPC, Usage grows with what was written, and Detach leaves no mount,
// no loop device and no image behind.
func TestAttachEnforcesSize(t *testing.T) {
	m, dir := newTestManager(t, 0, 0)
	ctx := context.Background()
	target := filepath.Join(dir, "tasks", "t1")
	const size = 32 << 20
	if err := m.Attach(ctx, "t1", target, size); err != nil {
		t.Fatal(err)
	}
	if !mounted(t, target) {
		t.Fatalf("%s is not a mount point after Attach", target)
	}
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		t.Fatal(err)
	}
	if total := int64(st.Blocks) * st.Bsize; total > size || total < size*3/4 {
		t.Errorf("statfs size %d, want about %d", total, size)
	}
	used0, total, err := m.Usage(target)
	if err != nil || total > size || total < size*3/4 {
		t.Fatalf("Usage: %d of %d, %v", used0, total, err)
	}

	// 8 MiB fit; the used space grows by about as much.
	if err := writeFile(filepath.Join(target, "a"), 8<<20); err != nil {
		t.Fatal(err)
	}
	used1, _, err := m.Usage(target)
	if err != nil || used1-used0 < 8<<20 {
		t.Errorf("Usage after writing 8 MiB: %d (was %d), %v", used1, used0, err)
	}
	// 64 MiB do not: the write fails with ENOSPC, the host's disk is
	// not touched.
	err = writeFile(filepath.Join(target, "big"), 64<<20)
	if !errors.Is(err, unix.ENOSPC) && !errors.Is(err, unix.EDQUOT) {
		t.Errorf("writing 64 MiB into a 32 MiB task: %v, want ENOSPC", err)
	}

	// Attach again (a restarted fargo adopting the task) keeps the data.
	if err := m.Attach(ctx, "t1", target, size); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(target, "a")); err != nil || fi.Size() != 8<<20 {
		t.Errorf("after a second Attach: %v %v", fi, err)
	}
	img := filepath.Join(dir, "images", "t1.img")
	if len(loopOf(img)) != 1 {
		t.Errorf("loop devices of %s: %v, want one", img, loopOf(img))
	}

	if err := m.Detach(ctx, "t1", target); err != nil {
		t.Fatal(err)
	}
	if mounted(t, target) {
		t.Error("still mounted after Detach")
	}
	if _, err := os.Stat(img); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("image after Detach: %v", err)
	}
	if l := loopOf(img); len(l) != 0 {
		t.Errorf("loop devices left after Detach: %v", l)
	}
	if err := m.Detach(ctx, "t1", target); err != nil {
		t.Errorf("second Detach: %v", err)
	}
}

// TestAttachRemountsImage: after a reboot (the image is there, nothing is
// mounted) Attach mounts the task's image again, with its data.
func TestAttachRemountsImage(t *testing.T) {
	m, dir := newTestManager(t, 0, 0)
	ctx := context.Background()
	target := filepath.Join(dir, "tasks", "t2")
	if err := m.Attach(ctx, "t2", target, 32<<20); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "kept"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Unmount(target, 0); err != nil {
		t.Fatal(err)
	}
	if err := m.Attach(ctx, "t2", target, 32<<20); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(target, "kept")); err != nil || string(b) != "x" {
		t.Errorf("after remount: %q %v", b, err)
	}
	if ids, err := m.Tasks(); err != nil || len(ids) != 1 || ids[0] != "t2" {
		t.Errorf("Tasks() = %v, %v", ids, err)
	}
}

// TestAttachRefusesNonEmptyDir: a task directory that already holds files
// (a task started by a fargo without enforcement) is not hidden under a
// new filesystem.
func TestAttachRefusesNonEmptyDir(t *testing.T) {
	m, dir := newTestManager(t, 0, 0)
	target := filepath.Join(dir, "tasks", "t3")
	if err := os.MkdirAll(target, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "hosts"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	err := m.Attach(context.Background(), "t3", target, 32<<20)
	if !errors.Is(err, ErrNotEmpty) {
		t.Errorf("Attach over a non-empty directory: %v, want ErrNotEmpty", err)
	}
	if mounted(t, target) {
		t.Error("mounted over a non-empty directory")
	}
}

// TestSpareIsTaken: a task of the spare size takes a formatted spare image
// (no mkfs on the task's path) and a new spare is made behind it.
func TestSpareIsTaken(t *testing.T) {
	const size = 32 << 20
	m, dir := newTestManager(t, 1, size)
	m.WaitSpares()
	spares, _ := filepath.Glob(filepath.Join(dir, "images", "spare-*.img"))
	if len(spares) != 1 {
		t.Fatalf("spares %v, want one", spares)
	}
	target := filepath.Join(dir, "tasks", "t4")
	if err := m.Attach(context.Background(), "t4", target, size); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(spares[0]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the spare %s was not taken: %v", spares[0], err)
	}
	m.WaitSpares()
	if again, _ := filepath.Glob(filepath.Join(dir, "images", "spare-*.img")); len(again) != 1 {
		t.Errorf("spares after a take: %v, want a new one", again)
	}
}

func writeFile(p string, n int) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i*7 + 1)
	}
	for w := 0; w < n; w += len(buf) {
		if _, err := f.Write(buf); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// BenchmarkAttachDetach: a task's filesystem set up from a spare (the
// part on a task's start: rename, loop device, mount) and taken down.
// The spare of the next round is made outside the timer.
func BenchmarkAttachDetach(b *testing.B) {
	if err := Available(); err != nil {
		b.Skip(err)
	}
	const size = 20 << 30
	dir := b.TempDir()
	m, err := Open(Config{Dir: filepath.Join(dir, "images"), Spares: 1, SpareSize: size})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	var attach, detach time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		m.WaitSpares()
		target := filepath.Join(dir, "tasks", "t")
		b.StartTimer()
		start := time.Now()
		if err := m.Attach(ctx, "t", target, size); err != nil {
			b.Fatal(err)
		}
		attach += time.Since(start)
		start = time.Now()
		if err := m.Detach(ctx, "t", target); err != nil {
			b.Fatal(err)
		}
		detach += time.Since(start)
	}
	b.ReportMetric(float64(attach.Microseconds())/float64(b.N)/1000, "attach-ms")
	b.ReportMetric(float64(detach.Microseconds())/float64(b.N)/1000, "detach-ms")
}
