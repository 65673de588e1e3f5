package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Delete removes everything the container has on the host: it lets a
// start in progress finish, kills the container if it still runs, waits
// for the monitor to record the exit, then removes
// runc's state, the container's cgroup and its state directory. Deleting
// an unknown container is a no-op.
func (r *Runtime) Delete(ctx context.Context, id string) error {
	if err := validID(id); err != nil {
		return err
	}
	// A start in progress is let finish (runc run is short): what it makes
	// is then killed and removed, not raced.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if st, err := r.State(ctx, id); err != nil || st.Status != StatusCreated {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var meta metaRecord
	_ = readJSON(r.file(id, fileMeta), &meta)
	var mon monitorRecord
	_ = readJSON(r.file(id, fileMonitor), &mon)

	if _, err := os.Stat(r.file(id, fileExit)); err != nil { // may still run
		if rs, err := r.runcState(ctx, id); err == nil && rs.Status != "stopped" {
			_ = r.runc(ctx, "kill", id, "KILL").Run()
		}
	}
	// Whatever is left in its cgroup (the pid namespace's teardown may be
	// slow under the task's CPU quota) is killed too.
	if meta.Cgroup != "" {
		kctx, cancel := context.WithTimeout(ctx, killTimeout)
		if err := killCgroup(kctx, meta.Cgroup); err != nil {
			r.log.Warn("killing the container's cgroup", "container", id, "err", err)
		}
		cancel()
	}
	// The monitor writes the exit file (and reads the OOM counter) before
	// it ends; give it the time to, so the cgroup is not removed under it.
	deadline := time.Now().Add(10 * time.Second)
	for mon.alive() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(20 * time.Millisecond)
	}
	if mon.alive() { // a monitor stuck in runc create: end it
		_ = syscall.Kill(mon.PID, syscall.SIGKILL)
	}
	var errs []error
	if out, err := r.runc(ctx, "delete", "--force", id).CombinedOutput(); err != nil &&
		!bytes.Contains(out, []byte("does not exist")) && !bytes.Contains(out, []byte("not exist")) {
		errs = append(errs, fmt.Errorf("runc delete %s: %w: %s", id, err, bytes.TrimSpace(out)))
	}
	if meta.Cgroup != "" {
		if err := removeCgroup(meta.Cgroup); err != nil {
			errs = append(errs, err)
		}
	}
	if err := os.RemoveAll(r.dir(id)); err != nil {
		errs = append(errs, err)
	}
	// A staging directory its starter left (a start in progress keeps it).
	if held, _ := lockHeld(filepath.Join(r.stageDir(id), fileLock)); !held {
		if err := os.RemoveAll(r.stageDir(id)); err != nil {
			errs = append(errs, err)
		}
	}
	r.mu.Lock()
	delete(r.exited, id)
	r.mu.Unlock()
	return errors.Join(errs...)
}

// List returns every container this runtime owns: each directory in
// StateDir, and any container runc knows in Root without one (left by a
// crash between the two; Status unknown, for Delete to clean up).
func (r *Runtime) List(ctx context.Context) ([]State, error) {
	entries, err := os.ReadDir(r.cfg.StateDir)
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var out []State
	for _, e := range entries {
		if id, ok := strings.CutPrefix(e.Name(), ".start~"); ok && e.IsDir() && validID(id) == nil {
			// A staging directory whose starter died, alone.
			if st, err := r.State(ctx, id); err == nil && st.Status == StatusNotStarted && !exists(r.dir(id)) {
				out = append(out, st)
			}
			continue
		}
		if !e.IsDir() || validID(e.Name()) != nil {
			continue
		}
		st, err := r.State(ctx, e.Name())
		if errors.Is(err, errdefs.ErrNotFound) {
			st = State{ID: e.Name(), Status: StatusUnknown}
		} else if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	b, err := r.runc(ctx, "list", "--format", "json").Output()
	if err != nil {
		return nil, fmt.Errorf("runc list: %w", err)
	}
	var rl []runcStateJSON
	if len(bytes.TrimSpace(b)) > 0 && !bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		if err := json.Unmarshal(b, &rl); err != nil {
			return nil, fmt.Errorf("runc list: %w", err)
		}
	}
	for _, c := range rl {
		if !slices.ContainsFunc(out, func(s State) bool { return s.ID == c.ID }) {
			out = append(out, State{ID: c.ID, Status: StatusUnknown, Pid: c.Pid})
		}
	}
	return out, nil
}

// maxExecOutput bounds what Exec keeps of a command's output.
const maxExecOutput = 64 << 10

// Exec runs args in the running container (runc exec: same namespaces,
// cgroup, user, environment and security settings as its init) and
// returns its exit code and combined output (the first 64 KiB). After
// timeout the process is killed and the error wraps
// context.DeadlineExceeded: a health check counts that as a failure.
func (r *Runtime) Exec(ctx context.Context, id string, args []string, timeout time.Duration) (int, []byte, error) {
	if len(args) == 0 {
		return -1, nil, errdefs.Invalidf("exec: no command")
	}
	st, err := r.State(ctx, id)
	if err != nil {
		return -1, nil, err
	}
	if st.Status != StatusRunning {
		return -1, nil, errdefs.Conflictf("container %s is not running (%s)", id, st.Status)
	}
	pidFile, err := os.CreateTemp(r.dir(id), "exec-*.pid")
	if err != nil {
		return -1, nil, err
	}
	pidFile.Close()
	defer os.Remove(pidFile.Name())

	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := r.runc(tctx, append([]string{"exec", "--pid-file", pidFile.Name(), id}, args...)...)
	out := &capWriter{max: maxExecOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// On timeout end the process in the container first: runc exec would
	// leave it running if only runc were killed.
	cmd.Cancel = func() error {
		if pid, err := readPID(pidFile.Name()); err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = 2 * time.Second // a background child may hold the pipe
	err = cmd.Run()
	if tctx.Err() != nil && ctx.Err() == nil {
		return -1, out.buf.Bytes(), fmt.Errorf("exec in %s: timed out after %s: %w", id, timeout, context.DeadlineExceeded)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.buf.Bytes(), nil
	}
	if err != nil {
		return -1, out.buf.Bytes(), fmt.Errorf("exec in %s: %w", id, err)
	}
	return 0, out.buf.Bytes(), nil
}

// capWriter keeps the first max bytes written to it.
type capWriter struct {
	buf bytes.Buffer
	max int
}

func (w *capWriter) Write(p []byte) (int, error) {
	if room := w.max - w.buf.Len(); room > 0 {
		w.buf.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

// Stats are a container's resource usage, from its cgroup, shaped like
// the fields of Docker's stats JSON (cpu_stats, memory_stats, pids_stats).
type Stats struct {
	Read           time.Time
	CPUTotalNanos  uint64   // cpu_usage.total_usage
	CPUPerCPUNanos []uint64 // cpu_usage.percpu_usage (v1 only)
	SystemCPUNanos uint64   // system_cpu_usage: the host's CPU time (/proc/stat)
	OnlineCPUs     int
	MemoryUsage    uint64 // memory_stats.usage
	MemoryMaxUsage uint64 // memory_stats.max_usage
	MemoryLimit    uint64 // memory_stats.limit (the host's memory when unlimited)
	MemoryStats    map[string]uint64
	PIDs           uint64 // pids_stats.current
}

// Stats reads the container's cgroup.
func (r *Runtime) Stats(ctx context.Context, id string) (Stats, error) {
	var meta metaRecord
	if err := readJSON(r.file(id, fileMeta), &meta); err != nil {
		if isNotExist(err) {
			return Stats{}, errdefs.NotFoundf("container %s not found", id)
		}
		return Stats{}, err
	}
	if cgroupV2() {
		return statsV2(meta.Cgroup)
	}
	mounts, _, err := v1Mounts()
	if err != nil {
		return Stats{}, err
	}
	at := func(controller, file string) string { return filepath.Join(mounts[controller], meta.Cgroup, file) }
	s := Stats{Read: time.Now().UTC(), SystemCPUNanos: systemCPUNanos(), OnlineCPUs: onlineCPUs()}
	var err1 error
	if s.CPUTotalNanos, err1 = readUint(at("cpuacct", "cpuacct.usage")); err1 != nil {
		return Stats{}, fmt.Errorf("stats %s: %w", id, err1)
	}
	if b, err := os.ReadFile(at("cpuacct", "cpuacct.usage_percpu")); err == nil {
		for _, f := range strings.Fields(string(b)) {
			var n uint64
			fmt.Sscan(f, &n)
			s.CPUPerCPUNanos = append(s.CPUPerCPUNanos, n)
		}
	}
	s.MemoryUsage, _ = readUint(at("memory", "memory.usage_in_bytes"))
	s.MemoryMaxUsage, _ = readUint(at("memory", "memory.max_usage_in_bytes"))
	s.MemoryLimit, _ = readUint(at("memory", "memory.limit_in_bytes"))
	s.MemoryStats = keyedValues(at("memory", "memory.stat"))
	s.PIDs, _ = readUint(at("pids", "pids.current"))
	// A container without a limit of its own is bounded by its task's
	// cgroup: report the tighter of the two, as the kernel enforces it.
	if h, ok := s.MemoryStats["hierarchical_memory_limit"]; ok && h > 0 && (s.MemoryLimit == 0 || h < s.MemoryLimit) {
		s.MemoryLimit = h
	}
	if hostMem := hostMemory(); hostMem > 0 && (s.MemoryLimit == 0 || s.MemoryLimit > hostMem) {
		s.MemoryLimit = hostMem // v1 reports "unlimited" as a huge number; Docker shows the host's
	}
	return s, nil
}

func statsV2(cg string) (Stats, error) {
	at := func(file string) string { return filepath.Join(cgroupRoot, cg, file) }
	s := Stats{Read: time.Now().UTC(), SystemCPUNanos: systemCPUNanos(), OnlineCPUs: onlineCPUs()}
	cpu := keyedValues(at("cpu.stat"))
	if len(cpu) == 0 {
		return Stats{}, errdefs.NotFoundf("cgroup %s not found", cg)
	}
	s.CPUTotalNanos = cpu["usage_usec"] * 1000
	s.MemoryUsage, _ = readUint(at("memory.current"))
	s.MemoryMaxUsage, _ = readUint(at("memory.peak"))
	s.MemoryLimit, _ = readUint(at("memory.max")) // "max" fails to parse: 0
	s.MemoryStats = keyedValues(at("memory.stat"))
	s.PIDs, _ = readUint(at("pids.current"))
	if hostMem := hostMemory(); s.MemoryLimit == 0 || s.MemoryLimit > hostMem {
		s.MemoryLimit = hostMem
	}
	return s, nil
}

func readUint(file string) (uint64, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, err
	}
	var n uint64
	_, err = fmt.Sscan(string(b), &n)
	return n, err
}

// systemCPUNanos is the host's total CPU time (the first line of
// /proc/stat, in USER_HZ = 100 ticks a second), as Docker computes
// system_cpu_usage.
func systemCPUNanos() uint64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0
	}
	var ticks uint64
	for _, v := range f[1:8] { // user nice system idle iowait irq softirq
		var n uint64
		fmt.Sscan(v, &n)
		ticks += n
	}
	return ticks * (uint64(time.Second) / 100)
}

func onlineCPUs() int {
	n := 0
	b, err := os.ReadFile("/sys/devices/system/cpu/online")
	if err != nil {
		return 0
	}
	for _, r := range strings.Split(strings.TrimSpace(string(b)), ",") {
		var lo, hi int
		if c, _ := fmt.Sscanf(r, "%d-%d", &lo, &hi); c == 2 {
			n += hi - lo + 1
		} else if c == 1 {
			n++
		}
	}
	return n
}

func hostMemory() uint64 {
	var si syscall.Sysinfo_t
	if syscall.Sysinfo(&si) != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}
