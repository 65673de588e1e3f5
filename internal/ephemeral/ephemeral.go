// Package ephemeral enforces tasks' ephemeral storage: each task gets a
// filesystem of its own, of the task's size, mounted on the task's state
// directory. The task's writable layers (overlay upper and work dirs), its
// task-scoped volumes and its generated files live there, so a task that
// writes past its size gets ENOSPC while the host's disk (and fargo.db on
// it) is not touched, and `df /` inside the task shows the task's size, as
// on Fargate, where each task has a volume of its own.
//
// The filesystem is ext4 without a journal, in a sparse image file
// (<dir>/<task>.img) attached to a loop device with autoclear (the loop
// device goes away with the mount) and mounted with discard (what the task
// deletes is given back to the host). It needs root, loop devices and
// mkfs.ext4 (e2fsprogs), and nothing of the host's filesystem: no project
// quota (the ext4 and XFS quota code is not in every kernel) and no btrfs.
//
// Formatting costs tens of milliseconds, too much for a task's start:
// Spares images of the common size (Fargate's 20 GiB default) are kept
// formatted, and mounted, ahead (a detached mount held by this process:
// premount.go), and a task of that size takes one by a rename and a
// move_mount; other sizes are formatted when the task starts.
//
// The mounts outlive fargo (a restarted fargo adopts its tasks with their
// storage); an image without its mount (after a reboot) is mounted again.
// Detach unmounts and deletes a task's filesystem.
package ephemeral

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/mounts"
)

// ErrNotEmpty is returned by Attach when the task's directory holds files
// already (a task started by a fargo that did not enforce its storage):
// they are not hidden under a new filesystem.
var ErrNotEmpty = errors.New("the task directory is not empty")

// ErrNotAttached is returned by Usage for a directory that is no task
// filesystem.
var ErrNotAttached = errors.New("no task filesystem is mounted there")

// Config configures a Manager.
type Config struct {
	// Dir holds the image files: <task>.img and spare-*.img.
	Dir string
	// Spares is how many images of SpareSize bytes are kept formatted
	// ahead (0: none).
	Spares    int
	SpareSize int64
	Logger    *slog.Logger
}

// Manager attaches and detaches tasks' filesystems.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	ctx    context.Context // ends with Close: stops a spare's mkfs
	cancel context.CancelFunc
	kick   chan chan struct{}
	wg     sync.WaitGroup
	// premount: spares are mounted ahead, detached, and attached to a
	// task's directory (premount.go). Set by Open's probe, cleared by the
	// first failed attach.
	premount atomic.Bool
	mu       sync.Mutex
	mounted  map[string]int // spare image -> its detached mount's fd
}

const ext4Magic = 0xEF53

// Available reports why tasks' filesystems cannot be made on this host
// (nil: they can): not root, no loop devices, no mkfs.ext4.
func Available() error {
	if os.Geteuid() != 0 {
		return errors.New("ephemeral storage: loop-mounted filesystems need root")
	}
	f, err := os.OpenFile("/dev/loop-control", os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("ephemeral storage: no loop devices: %w", err)
	}
	f.Close()
	if _, err := exec.LookPath("mkfs.ext4"); err != nil {
		return fmt.Errorf("ephemeral storage: mkfs.ext4 (e2fsprogs) is missing: %w", err)
	}
	return nil
}

// Open checks that the mechanism works here (it formats, mounts and
// removes a small probe filesystem) and starts keeping spares.
func Open(cfg Config) (*Manager, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ephemeral storage: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, kick: make(chan chan struct{}, 1)}
	// Half-made images of an earlier process.
	tmps, _ := filepath.Glob(filepath.Join(cfg.Dir, "*.tmp"))
	for _, p := range tmps {
		_ = os.Remove(p)
	}
	if err := m.probe(ctx); err != nil {
		cancel()
		return nil, fmt.Errorf("ephemeral storage: %w", err)
	}
	m.wg.Add(1)
	go m.keepSpares()
	m.kickSpares()
	return m, nil
}

// probe makes, mounts and removes a small filesystem.
func (m *Manager) probe(ctx context.Context) error {
	target := filepath.Join(m.cfg.Dir, "probe.mnt")
	img := filepath.Join(m.cfg.Dir, "probe.img")
	_ = unix.Unmount(target, unix.MNT_DETACH)
	defer os.Remove(img)
	defer os.Remove(target)
	if err := format(ctx, img, 16<<20, false); err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	if probeDetached(img, target) {
		m.premount.Store(true)
		return mounts.UnmountAll(ctx, target)
	}
	if err := mountImage(img, target); err != nil {
		return err
	}
	return mounts.UnmountAll(ctx, target)
}

// Close stops making spares and drops those mounted ahead. Tasks' mounts
// and all images stay.
func (m *Manager) Close() {
	m.cancel()
	m.wg.Wait()
	m.closeMounted()
}

func (m *Manager) image(id string) string { return filepath.Join(m.cfg.Dir, id+".img") }

func validID(id string) error {
	if id == "" || strings.ContainsAny(id, "/\x00") || id == "." || id == ".." || strings.HasPrefix(id, "spare-") || strings.HasPrefix(id, "probe") {
		return fmt.Errorf("ephemeral storage: invalid task id %q", id)
	}
	return nil
}

// Attach mounts task id's filesystem of size bytes on target, making it
// when the task has none (a spare when size is the spare size). A target
// that is mounted already is left as it is (a restarted fargo adopting its
// task); an image without its mount is mounted again. A target that holds
// files is refused with ErrNotEmpty.
func (m *Manager) Attach(ctx context.Context, id, target string, size int64) error {
	if err := validID(id); err != nil {
		return err
	}
	if err := os.MkdirAll(target, 0o700); err != nil {
		return err
	}
	if mp, err := isMountPoint(target); err != nil {
		return err
	} else if mp {
		return os.Chmod(target, 0o700) // a crash may have come between mount and chmod
	}
	if empty, err := dirEmpty(target); err != nil {
		return err
	} else if !empty {
		return ErrNotEmpty
	}
	start := time.Now()
	img := m.image(id)
	fresh := false
	if _, err := os.Stat(img); errors.Is(err, os.ErrNotExist) {
		if ok, err := m.takeMountedSpare(img, target, size); err != nil {
			return fmt.Errorf("ephemeral storage of task %s: %w", id, err)
		} else if ok {
			m.log.Debug("task filesystem attached (a spare mounted ahead)", "task", id, "took", time.Since(start))
			return os.Chmod(target, 0o700)
		}
		if err := m.create(ctx, img, size); err != nil {
			return fmt.Errorf("ephemeral storage of task %s: %w", id, err)
		}
		fresh = true
	} else if err != nil {
		return err
	}
	if err := mountImage(img, target); err != nil {
		if fresh {
			_ = os.Remove(img)
		}
		return fmt.Errorf("ephemeral storage of task %s: %w", id, err)
	}
	if fresh {
		_ = os.Remove(filepath.Join(target, "lost+found"))
	}
	if err := os.Chmod(target, 0o700); err != nil {
		return err
	}
	m.log.Debug("task filesystem attached", "task", id, "size", size, "fresh", fresh, "took", time.Since(start))
	return nil
}

// create makes img: a spare renamed when size is the spare size and one
// is ready, else a new filesystem.
func (m *Manager) create(ctx context.Context, img string, size int64) error {
	if size == m.cfg.SpareSize && m.cfg.Spares > 0 {
		spares, _ := filepath.Glob(filepath.Join(m.cfg.Dir, "spare-*.img"))
		for _, s := range spares {
			if m.takeSpare(s, img) {
				m.kickSpares()
				return nil
			}
		}
		m.kickSpares()
	}
	tmp := img + ".tmp"
	if err := format(ctx, tmp, size, false); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, img)
}

// Detach unmounts task id's filesystem from target and deletes it. A
// mount kept busy (a container's overlay still on it) is detached lazily
// after a second. Detaching what is not attached does nothing.
func (m *Manager) Detach(ctx context.Context, id, target string) error {
	if err := validID(id); err != nil {
		return err
	}
	if err := mounts.UnmountAll(ctx, target); err != nil {
		return fmt.Errorf("ephemeral storage of task %s: %w", id, err)
	}
	if err := os.Remove(m.image(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("ephemeral storage of task %s: %w", id, err)
	}
	return nil
}

// Usage returns the bytes used and the size of the task filesystem
// mounted on target.
func (m *Manager) Usage(target string) (used, size int64, err error) {
	if mp, err := isMountPoint(target); err != nil {
		return 0, 0, err
	} else if !mp {
		return 0, 0, ErrNotAttached
	}
	var st unix.Statfs_t
	if err := unix.Statfs(target, &st); err != nil {
		return 0, 0, err
	}
	if st.Type != ext4Magic {
		return 0, 0, ErrNotAttached
	}
	return int64(st.Blocks-st.Bfree) * st.Bsize, int64(st.Blocks) * st.Bsize, nil
}

// Tasks lists the tasks that have a filesystem image.
func (m *Manager) Tasks() ([]string, error) {
	ents, err := os.ReadDir(m.cfg.Dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".img")
		if ok && validID(id) == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// keepSpares formats spares when kicked, until Close.
func (m *Manager) keepSpares() {
	defer m.wg.Done()
	for {
		select {
		case <-m.ctx.Done():
			return
		case reply := <-m.kick:
			m.fillSpares()
			if reply != nil {
				close(reply)
			}
		}
	}
}

func (m *Manager) kickSpares() {
	select {
	case m.kick <- nil:
	default:
	}
}

// WaitSpares returns once the spares are made (for tests).
func (m *Manager) WaitSpares() {
	reply := make(chan struct{})
	select {
	case m.kick <- reply:
	case <-m.ctx.Done():
		return
	}
	select {
	case <-reply:
	case <-m.ctx.Done():
	}
}

func (m *Manager) fillSpares() {
	if m.cfg.Spares <= 0 || m.cfg.SpareSize <= 0 {
		return
	}
	m.premountSpares()
	for m.ctx.Err() == nil {
		spares, _ := filepath.Glob(filepath.Join(m.cfg.Dir, "spare-*.img"))
		if len(spares) >= m.cfg.Spares {
			return
		}
		var raw [8]byte
		_, _ = rand.Read(raw[:])
		name := filepath.Join(m.cfg.Dir, "spare-"+hex.EncodeToString(raw[:]))
		start := time.Now()
		if err := format(m.ctx, name+".tmp", m.cfg.SpareSize, true); err != nil {
			_ = os.Remove(name + ".tmp")
			if m.ctx.Err() == nil {
				m.log.Warn("formatting a spare task filesystem", "err", err)
			}
			return
		}
		mfd := -1
		if m.premount.Load() {
			var err error
			if mfd, err = premount(name + ".tmp"); err != nil {
				m.log.Warn("mounting a spare task filesystem ahead", "err", err)
			}
		}
		if err := m.publishSpare(name+".tmp", name+".img", mfd); err != nil {
			m.log.Warn("formatting a spare task filesystem", "err", err)
			return
		}
		m.log.Debug("spare task filesystem made", "took", time.Since(start))
	}
}

func dirEmpty(dir string) (bool, error) {
	f, err := os.Open(dir)
	if err != nil {
		return false, err
	}
	defer f.Close()
	names, _ := f.Readdirnames(1)
	return len(names) == 0, nil
}
