package runtime

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// The files of one container, all in <StateDir>/<id>/ (also the OCI
// bundle). Start writes config.json and meta.json; the monitor writes the
// rest, each record atomically (temp file, fsync, rename, fsync of the
// directory) so that a crash leaves either the old state or the new one.
const (
	fileConfig  = "config.json"  // OCI runtime spec
	fileMeta    = "meta.json"    // metaRecord (Start)
	fileMonitor = "monitor.json" // monitorRecord (monitor, first thing)
	fileInitPID = "init.pid"     // runc create --pid-file
	fileStarted = "started.json" // startedRecord (monitor, after runc start)
	fileExit    = "exit.json"    // ExitStatus (monitor, last thing)
	fileOutput  = "output.log"   // JSON lines of stdout/stderr (monitor)
	fileRuncLog = "runc.log"     // runc's own log (JSON)
	fileMonLog  = "monitor.log"  // the monitor's stderr
	fileLock    = "start.lock"   // flock'd by Start, then by the monitor for its life
)

// takeStartLock creates the start lock and takes it (exclusive). The
// lock belongs to the open file, which the monitor inherits: it stays
// held while Start's process or the monitor lives, and the kernel frees
// it when both are gone, however they end.
func takeStartLock(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start lock: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("start lock %s: %w", path, err)
	}
	return f, nil
}

// lockHeld reports whether a start lock is held: a start in progress or a
// live monitor. A missing file is not held.
func lockHeld(path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		if isNotExist(err) {
			return false, nil
		}
		return false, fmt.Errorf("start lock: %w", err)
	}
	defer f.Close() // releases a probe that got it
	// Shared: probes do not hold each other off, the holder's exclusive
	// lock holds them all.
	switch err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); {
	case err == nil:
		return false, nil
	case errors.Is(err, unix.EWOULDBLOCK):
		return true, nil
	default:
		return false, fmt.Errorf("start lock %s: %w", path, err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// metaRecord is what Start knows of the container that later calls need.
type metaRecord struct {
	ID         string            `json:"id"`
	Cgroup     string            `json:"cgroup"`
	StopSignal int               `json:"stopSignal,omitempty"`
	CreatedAt  time.Time         `json:"createdAt"`
	Labels     map[string]string `json:"labels,omitempty"`
}

// monitorRecord identifies the monitor process; the start time (clock
// ticks since boot, /proc/<pid>/stat field 22) guards against PID reuse.
type monitorRecord struct {
	PID       int    `json:"pid"`
	StartTime uint64 `json:"startTime"`
}

// startedRecord is written once runc start has succeeded.
type startedRecord struct {
	PID       int       `json:"pid"`
	StartedAt time.Time `json:"startedAt"`
}

// writeFileAtomic writes path so that readers see all of b or nothing
// (temp file, rename). It does not fsync: the records describe processes,
// which a host crash ends anyway, and a crash of fargo or of the monitor
// leaves the page cache, and so the renamed file, intact. (An fsync here
// cost ~20 ms per record on a busy ext4: most of a container's start.)
func writeFileAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	err := os.WriteFile(tmp, b, 0o600)
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, b)
}

// readJSON reads a record; a missing file is fs.ErrNotExist.
func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}

// procStartTime is field 22 of /proc/<pid>/stat; ok is false when the
// process is gone or a zombie.
func procStartTime(pid int) (uint64, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state)
	if len(f) < 20 || f[0] == "Z" || f[0] == "X" {
		return 0, false
	}
	t, err := strconv.ParseUint(f[19], 10, 64)
	return t, err == nil
}

// alive reports whether the recorded monitor is still running.
func (m monitorRecord) alive() bool {
	if m.PID <= 0 {
		return false
	}
	t, ok := procStartTime(m.PID)
	return ok && t == m.StartTime
}

// procErr is the transient error (EMFILE...) that made alive answer
// false without knowing, or nil.
func (m monitorRecord) procErr() error {
	if m.PID <= 0 {
		return nil
	}
	if _, err := os.ReadFile("/proc/" + strconv.Itoa(m.PID) + "/stat"); errdefs.IsTransient(err) {
		return err
	}
	return nil
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }
