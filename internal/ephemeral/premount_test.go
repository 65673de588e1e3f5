package ephemeral

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// aheadOf reports whether the spare image img is mounted ahead.
func aheadOf(m *Manager, img string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.mounted[img]
	return ok
}

// TestSpareMountedAhead: a spare is mounted ahead (a detached mount, in
// no mount table) and a task of the spare size gets that mount attached
// to its directory (empty, 0700, the task's image under the task's
// name); Close drops the spares' mounts, and the next Open mounts them
// ahead again.
func TestSpareMountedAhead(t *testing.T) {
	const size = 32 << 20
	m, dir := newTestManager(t, 1, size)
	if !m.premount.Load() {
		t.Skip("this kernel cannot mount ahead (no fsmount/move_mount)")
	}
	m.WaitSpares()
	spares, _ := filepath.Glob(filepath.Join(dir, "images", "spare-*.img"))
	if len(spares) != 1 || !aheadOf(m, spares[0]) {
		t.Fatalf("spares %v: want one, mounted ahead", spares)
	}
	if info, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(info), dir) {
		t.Errorf("a mount under %s before any task: a spare mounted ahead must be in no mount table", dir)
	}
	target := filepath.Join(dir, "tasks", "t7")
	if err := m.Attach(context.Background(), "t7", target, size); err != nil {
		t.Fatal(err)
	}
	if !mounted(t, target) || aheadOf(m, spares[0]) {
		t.Errorf("after Attach: target mounted %v, the spare still held %v", mounted(t, target), aheadOf(m, spares[0]))
	}
	if _, err := os.Stat(filepath.Join(dir, "images", "t7.img")); err != nil {
		t.Errorf("the task's image: %v", err)
	}
	if ents, err := os.ReadDir(target); err != nil || len(ents) != 0 {
		t.Errorf("the task's new filesystem holds %v (%v), want nothing", ents, err)
	}
	if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("target mode: %v %v", fi, err)
	}
	if used, got, err := m.Usage(target); err != nil || got < size*9/10 || got > size {
		t.Errorf("Usage = %d of %d, %v; want a filesystem of about %d", used, got, err, size)
	}
	if err := writeFile(filepath.Join(target, "f"), 1<<20); err != nil {
		t.Errorf("write to the task's filesystem: %v", err)
	}
	if err := m.Detach(context.Background(), "t7", target); err != nil {
		t.Fatal(err)
	}
	if mounted(t, target) {
		t.Error("Detach left the task's filesystem mounted")
	}

	// A new spare is mounted ahead; Close drops it, a new Open mounts the
	// same image ahead again.
	m.WaitSpares()
	spares, _ = filepath.Glob(filepath.Join(dir, "images", "spare-*.img"))
	if len(spares) != 1 || !aheadOf(m, spares[0]) {
		t.Fatalf("spares after a take %v: want a new one, mounted ahead", spares)
	}
	m.Close()
	if len(loopOf(spares[0])) != 0 {
		t.Errorf("Close left a loop device on %s: %v", spares[0], loopOf(spares[0]))
	}
	m2, err := Open(Config{Dir: filepath.Join(dir, "images"), Spares: 1, SpareSize: size})
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	m2.WaitSpares()
	if again, _ := filepath.Glob(filepath.Join(dir, "images", "spare-*.img")); len(again) != 1 || again[0] != spares[0] || !aheadOf(m2, spares[0]) {
		t.Errorf("after a new Open: spares %v, want %s mounted ahead again", again, spares[0])
	}
}
