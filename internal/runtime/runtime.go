package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Config configures a Runtime.
type Config struct {
	// Root is runc's --root: its state directory, owned by fargo alone
	// (e.g. <data>/runc). Required.
	Root string
	// StateDir holds one directory per container: the OCI bundle
	// (config.json), the output log, the monitor's records. Required.
	StateDir string
	// RuncPath is the runc binary; "" looks up "runc" in PATH.
	RuncPath string
	// MonitorCommand starts the monitor: MonitorMain must run with the
	// arguments Start appends. "" = [os.Executable(), "runtime-monitor"].
	MonitorCommand []string
	// InitPath is the static init binary of containers with Init ("" =
	// tini-static or docker-init in PATH, looked up when one starts).
	InitPath string
	// Logger receives the runtime's logs; nil = slog.Default().
	Logger *slog.Logger
	// Fault, when set, is called at each step of Start with the step's
	// name (see Start); an error aborts Start there. Tests use it to crash
	// the process at a chosen step. Nil in production.
	Fault func(step string) error `json:"-"`
}

// Runtime runs containers with runc, each under its own monitor process.
// It keeps no state in memory that a new Runtime on the same directories
// could not read back: containers started by a previous fargo process are
// seen (List, State, Wait, Stop, Delete) just like new ones.
type Runtime struct {
	cfg Config
	log *slog.Logger

	mu sync.Mutex
	// exited has a channel per monitor this process started, closed when
	// it has been reaped: Wait's fast path.
	exited map[string]chan struct{}
}

// Status is where a container is in its life.
type Status string

// The statuses.
const (
	StatusCreated Status = "created" // the monitor is creating or starting it
	StatusRunning Status = "running"
	StatusStopped Status = "stopped" // the exit status is known
	// StatusUnknown: the monitor is gone without an exit record (killed,
	// or the host rebooted); runc may still know the container.
	StatusUnknown Status = "unknown"
	// StatusNotStarted: a start that was cut off (the process that ran
	// Start, or the monitor, died) before the container ran. Nothing of
	// it runs; Start redoes it, Delete removes it.
	StatusNotStarted Status = "notstarted"
)

// State is what the runtime knows of a container.
type State struct {
	ID         string
	Status     Status
	Pid        int // the container's init, in the host's PID namespace
	ExitCode   int // when stopped: the code, or 128+signal
	OOMKilled  bool
	CreatedAt  time.Time // when Start made the container's record
	StartedAt  time.Time
	FinishedAt time.Time
	Error      string // why the container failed to start, if it did
	Labels     map[string]string
}

// ExitStatus is how a container ended, as its monitor recorded it.
type ExitStatus struct {
	Code       int            `json:"code"` // exit code, or 128+signal; -1 if it never ran
	Signal     syscall.Signal `json:"signal,omitempty"`
	OOMKilled  bool           `json:"oomKilled,omitempty"`
	FinishedAt time.Time      `json:"finishedAt"`
	Error      string         `json:"error,omitempty"`
}

// New checks the configuration and makes the directories.
func New(cfg Config) (*Runtime, error) {
	if cfg.Root == "" || cfg.StateDir == "" {
		return nil, errdefs.Invalidf("runtime: Root and StateDir are required")
	}
	if cfg.RuncPath == "" {
		p, err := exec.LookPath("runc")
		if err != nil {
			return nil, fmt.Errorf("runtime: %w: %w", errdefs.ErrUnavailable, err)
		}
		cfg.RuncPath = p
	}
	if len(cfg.MonitorCommand) == 0 {
		self, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("runtime: monitor command: %w", err)
		}
		cfg.MonitorCommand = []string{self, MonitorSubcommand}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	for _, d := range []string{cfg.Root, cfg.StateDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("runtime: %w", err)
		}
	}
	return &Runtime{cfg: cfg, log: cfg.Logger, exited: map[string]chan struct{}{}}, nil
}

// fault runs the Fault hook at a step of Start.
func (r *Runtime) fault(step string) error {
	if r.cfg.Fault == nil {
		return nil
	}
	if err := r.cfg.Fault(step); err != nil {
		return fmt.Errorf("fault at %s: %w", step, err)
	}
	return nil
}

func (r *Runtime) dir(id string) string { return filepath.Join(r.cfg.StateDir, id) }

// stageDir is where Start makes the container's bundle before renaming
// it to dir: not a valid id, so List and State never take it for one.
func (r *Runtime) stageDir(id string) string { return filepath.Join(r.cfg.StateDir, ".start~"+id) }

func (r *Runtime) file(id, name string) string { return filepath.Join(r.cfg.StateDir, id, name) }

// LogPath is the container's output: JSON lines of OutputRecord, stdout
// and stderr interleaved in the order the monitor read them.
func (r *Runtime) LogPath(id string) string { return r.file(id, fileOutput) }

// Start creates and starts the container under a new monitor and returns
// once it runs (or failed to). On failure nothing is left behind.
//
// The steps, each of which a crash may cut off (see the package doc,
// "Starting"): the bundle is made in a staging directory under the start
// lock (mkdir, config, meta), renamed to the container's directory
// (commit), the monitor started with the lock (monitor), which runs the
// container and reports (started). A container whose start was cut off
// (StatusNotStarted) is removed and started again; any other that exists
// is an ErrAlreadyExists.
func (r *Runtime) Start(ctx context.Context, s ContainerSpec) (err error) {
	init := ""
	if s.Init {
		if init, err = findInit(r.cfg.InitPath); err != nil {
			return fmt.Errorf("container %s: %w", s.ID, err)
		}
	}
	spec, err := ociSpec(&s, init)
	if err != nil {
		return err
	}
	switch st, err := r.State(ctx, s.ID); {
	case errors.Is(err, errdefs.ErrNotFound):
	case err != nil:
		return err
	case st.Status == StatusNotStarted:
		r.log.Info("starting again a container whose start was cut off", "container", s.ID)
		if err := r.Delete(ctx, s.ID); err != nil {
			return fmt.Errorf("container %s: removing a cut-off start: %w", s.ID, err)
		}
	default:
		return errdefs.AlreadyExistsf("container %s already exists", s.ID)
	}

	dir, stage := r.dir(s.ID), r.stageDir(s.ID)
	if err := os.Mkdir(stage, 0o700); err != nil {
		if os.IsExist(err) {
			return errdefs.AlreadyExistsf("container %s is being started", s.ID)
		}
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	committed := false
	defer func() {
		if err == nil {
			return
		}
		if !committed {
			_ = os.RemoveAll(stage)
		} else if derr := r.Delete(context.WithoutCancel(ctx), s.ID); derr != nil {
			r.log.Warn("cleaning up a container that failed to start", "container", s.ID, "err", derr)
		}
	}()
	// The start lock: held from here by this process, then by the monitor
	// (which inherits it) for its whole life. Free means that neither
	// lives: what the files say then is final.
	lock, err := takeStartLock(filepath.Join(stage, fileLock))
	if err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	defer lock.Close()
	if err := r.fault("mkdir"); err != nil {
		return err
	}
	meta := metaRecord{ID: s.ID, Cgroup: s.cgroupPath(), StopSignal: int(s.StopSignal),
		CreatedAt: time.Now().UTC(), Labels: s.Labels}
	if err := writeJSON(filepath.Join(stage, fileConfig), spec); err != nil {
		return err
	}
	if err := r.fault("config"); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(stage, fileMeta), meta); err != nil {
		return err
	}
	if err := r.fault("meta"); err != nil {
		return err
	}
	if err := os.Rename(stage, dir); err != nil {
		if errors.Is(err, syscall.EEXIST) || errors.Is(err, syscall.ENOTEMPTY) {
			return errdefs.AlreadyExistsf("container %s already exists", s.ID)
		}
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	committed = true
	if err := r.fault("commit"); err != nil {
		return err
	}

	syncR, syncW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer syncR.Close()
	monLog, err := os.OpenFile(filepath.Join(dir, fileMonLog), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		syncW.Close()
		return err
	}
	defer monLog.Close()
	args := append(r.cfg.MonitorCommand[1:len(r.cfg.MonitorCommand):len(r.cfg.MonitorCommand)],
		"--runc", r.cfg.RuncPath, "--root", r.cfg.Root, "--bundle", dir, "--id", s.ID, "--cgroup", meta.Cgroup)
	cmd := exec.Command(r.cfg.MonitorCommand[0], args...)
	cmd.Dir = "/"
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=50")
	cmd.Stdout, cmd.Stderr = monLog, monLog
	cmd.ExtraFiles = []*os.File{syncW, lock} // fd 3, fd 4
	// Its own session: signals to fargo's process group (^C, kill -- -pgid)
	// do not reach it, and it has no controlling terminal.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	syncW.Close()
	if err != nil {
		return fmt.Errorf("container %s: start monitor: %w", s.ID, err)
	}
	exited := make(chan struct{})
	r.mu.Lock()
	r.exited[s.ID] = exited
	r.mu.Unlock()
	go func() { // reap it while this process lives; init adopts it after
		_ = cmd.Wait()
		close(exited)
	}()
	if err := r.fault("monitor"); err != nil {
		return err
	}

	msg, err := readSync(ctx, syncR)
	if err != nil {
		return fmt.Errorf("container %s: %w", s.ID, err)
	}
	if msg.Error != "" {
		return fmt.Errorf("container %s: %w", s.ID, errdefs.Invalidf("%s", msg.Error))
	}
	if err := r.fault("started"); err != nil {
		return err
	}
	r.log.Debug("container started", "container", s.ID, "pid", msg.PID)
	return nil
}

// readSync reads the monitor's one message, or fails with ctx.
func readSync(ctx context.Context, f *os.File) (syncMessage, error) {
	if dl, ok := ctx.Deadline(); ok {
		_ = f.SetReadDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = f.SetReadDeadline(time.Now()) })
	defer stop()
	var msg syncMessage
	line, err := bufio.NewReader(f).ReadBytes('\n')
	if ctx.Err() != nil {
		return msg, ctx.Err()
	}
	if err != nil {
		return msg, fmt.Errorf("monitor exited without reporting (see %s): %w", fileMonLog, err)
	}
	if err := json.Unmarshal(line, &msg); err != nil {
		return msg, fmt.Errorf("monitor: %w", err)
	}
	return msg, nil
}

// State reads the container's state from its files, and asks runc when
// the monitor is gone without a record. Running always means a live
// process: the monitor's (which reaps it), or runc's view of it when the
// monitor is gone. A start in progress is created; one that a crash cut
// off before the container ran is not-started.
func (r *Runtime) State(ctx context.Context, id string) (State, error) {
	if err := validID(id); err != nil {
		return State{}, err
	}
	// The lock first: once it is seen free, no process writes the files
	// any more, and what they say is final.
	held, err := lockHeld(r.file(id, fileLock))
	if err != nil {
		return State{}, err
	}
	var meta metaRecord
	if err := readJSON(r.file(id, fileMeta), &meta); err != nil {
		if errdefs.IsTransient(err) { // out of file descriptors: no verdict
			return State{}, fmt.Errorf("container %s: %w", id, err)
		}
		if _, serr := os.Stat(r.dir(id)); isNotExist(serr) {
			// A staging directory whose starter died is a cut-off start.
			if sheld, _ := lockHeld(filepath.Join(r.stageDir(id), fileLock)); !sheld && exists(r.stageDir(id)) {
				return State{ID: id, Status: StatusNotStarted}, nil
			}
			return State{}, errdefs.NotFoundf("container %s not found", id)
		}
		if held { // a start in progress (cannot be: the directory comes with its meta.json)
			return State{ID: id, Status: StatusCreated}, nil
		}
		// Cut off (a directory of an older fargo without meta.json), or
		// torn by a host crash: nothing of it can run.
		r.log.Debug("container without a readable meta.json", "container", id, "err", err)
		return State{ID: id, Status: StatusNotStarted}, nil
	}
	st := State{ID: id, Status: StatusCreated, Labels: meta.Labels, CreatedAt: meta.CreatedAt}
	var started startedRecord
	serr := readJSON(r.file(id, fileStarted), &started)
	if errdefs.IsTransient(serr) {
		return State{}, fmt.Errorf("container %s: %w", id, serr)
	}
	hasStarted := serr == nil
	if hasStarted {
		st.Pid, st.StartedAt = started.PID, started.StartedAt
	}
	var exit ExitStatus
	if err := readJSON(r.file(id, fileExit), &exit); err == nil {
		st.Status, st.ExitCode, st.OOMKilled = StatusStopped, exit.Code, exit.OOMKilled
		st.FinishedAt, st.Error = exit.FinishedAt, exit.Error
		return st, nil
	} else if errdefs.IsTransient(err) {
		// Out of file descriptors, say: no answer, and certainly not
		// "no exit record, no monitor: gone".
		return State{}, fmt.Errorf("container %s: %w", id, err)
	}
	if !exists(r.file(id, fileLock)) { // a container of an older fargo: its monitor's record
		var mon monitorRecord
		if err := readJSON(r.file(id, fileMonitor), &mon); errdefs.IsTransient(err) {
			return State{}, fmt.Errorf("container %s: %w", id, err)
		}
		if perr := mon.procErr(); perr != nil {
			return State{}, fmt.Errorf("container %s: %w", id, perr)
		}
		held = mon.alive()
		if !held && readJSON(r.file(id, fileExit), &exit) == nil {
			return r.State(ctx, id) // it wrote the exit file as it ended
		}
	}
	switch {
	case held && hasStarted:
		st.Status = StatusRunning
	case held:
		st.Status = StatusCreated
	case !hasStarted:
		// Its starter and monitor are gone and the start was never
		// recorded: cut off. runc may have run it; Delete ends that.
		st.Status = StatusNotStarted
	default:
		// Started, and its monitor is gone without an exit record (killed,
		// or the host rebooted): runc may still run it, unwatched.
		st.Status = StatusUnknown
		rs, err := r.runcState(ctx, id)
		switch {
		case errdefs.IsTransient(err):
			// runc could not run (out of file descriptors): no verdict.
			return State{}, fmt.Errorf("container %s: %w", id, err)
		case err == nil && rs.Status == "running":
			if _, alive := procStartTime(rs.Pid); alive {
				st.Status, st.Pid = StatusRunning, rs.Pid
			} else if perr := (monitorRecord{PID: rs.Pid}).procErr(); perr != nil {
				return State{}, fmt.Errorf("container %s: %w", id, perr)
			}
		}
	}
	return st, nil
}

// runcStateJSON is the part of `runc state` output used here.
type runcStateJSON struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Status string `json:"status"`
}

func (r *Runtime) runc(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, r.cfg.RuncPath, append([]string{"--root", r.cfg.Root}, args...)...)
}

func (r *Runtime) runcState(ctx context.Context, id string) (runcStateJSON, error) {
	var rs runcStateJSON
	out, err := r.runc(ctx, "state", id).Output()
	if err != nil {
		return rs, fmt.Errorf("runc state %s: %w", id, err)
	}
	return rs, json.Unmarshal(out, &rs)
}

// Wait blocks until the container has stopped and returns its exit
// status. It works for containers started by an earlier fargo process: the
// exit file is the source of truth, polled every 100 ms (a monitor this
// process started also wakes Wait as soon as it is reaped). A monitor that
// vanished without writing it gives an ErrUnavailable error.
func (r *Runtime) Wait(ctx context.Context, id string) (ExitStatus, error) {
	r.mu.Lock()
	var exited <-chan struct{} = r.exited[id]
	r.mu.Unlock()
	// A container this process started wakes Wait through exited (its
	// monitor is our child); one adopted after a restart through a pidfd of
	// its monitor. The tick is then only a safety net; without either
	// (no pidfd), every check reads the monitor's files, so the interval
	// is what an idle task costs.
	poll := 250 * time.Millisecond
	if exited == nil {
		exited = r.watchMonitor(ctx, id)
	}
	if exited != nil {
		poll = 30 * time.Second // the monitor's exit wakes us; this is paranoia
	}
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for {
		st, err := r.State(ctx, id)
		if errdefs.IsTransient(err) {
			// Not an answer (out of file descriptors): look again at
			// the next tick.
			r.log.Debug("container state unreadable for now", "container", id, "err", err)
			st.Status = StatusRunning
		} else if err != nil {
			return ExitStatus{}, err
		}
		switch st.Status {
		case StatusStopped:
			return ExitStatus{Code: st.ExitCode, OOMKilled: st.OOMKilled, FinishedAt: st.FinishedAt,
				Signal: exitSignal(st.ExitCode), Error: st.Error}, nil
		case StatusUnknown:
			return ExitStatus{}, errdefs.Newf(errdefs.ErrUnavailable,
				"container %s: its monitor is gone without recording an exit status", id)
		case StatusNotStarted:
			return ExitStatus{}, errdefs.Newf(errdefs.ErrUnavailable,
				"container %s: its start was cut off before it ran", id)
		}
		select {
		case <-ctx.Done():
			return ExitStatus{}, ctx.Err()
		case <-exited: // nil for adopted containers: never ready
			exited = nil
		case <-tick.C:
		}
	}
}

// watchMonitor returns a channel closed when the container's monitor
// process (not our child: adopted after a restart) exits, or nil when it
// cannot be watched. The pidfd is taken after checking the record's start
// time, and checked again, so a recycled PID is never watched.
func (r *Runtime) watchMonitor(ctx context.Context, id string) <-chan struct{} {
	var mon monitorRecord
	if err := readJSON(r.file(id, fileMonitor), &mon); err != nil || !mon.alive() {
		return nil
	}
	fd, err := unix.PidfdOpen(mon.PID, 0)
	if err != nil {
		return nil
	}
	if !mon.alive() {
		unix.Close(fd)
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer unix.Close(fd)
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		for ctx.Err() == nil {
			// A bounded timeout, so a cancelled Wait frees its poller.
			n, err := unix.Poll(fds, 1000)
			if n > 0 || (err != nil && err != unix.EINTR) {
				return
			}
		}
	}()
	return done
}

func exitSignal(code int) syscall.Signal {
	if code > 128 && code < 128+65 {
		return syscall.Signal(code - 128)
	}
	return 0
}

// Kill sends sig to the container's init. Killing a container that is not
// running is an ErrConflict.
func (r *Runtime) Kill(ctx context.Context, id string, sig syscall.Signal) error {
	st, err := r.State(ctx, id)
	if err != nil {
		return err
	}
	if st.Status != StatusRunning && st.Status != StatusCreated {
		return errdefs.Conflictf("container %s is not running (%s)", id, st.Status)
	}
	out, err := r.runc(ctx, "kill", id, fmt.Sprint(int(sig))).CombinedOutput()
	if err != nil {
		if st, serr := r.State(ctx, id); serr == nil && st.Status == StatusStopped {
			return errdefs.Conflictf("container %s is not running", id)
		}
		return fmt.Errorf("runc kill %s: %w: %s", id, err, out)
	}
	return nil
}

// Stop sends sig (0 = the spec's StopSignal, else SIGTERM), waits up to
// timeout for the container to exit, then sends SIGKILL and waits for the
// exit to be recorded. Stopping a stopped container is a no-op.
func (r *Runtime) Stop(ctx context.Context, id string, sig syscall.Signal, timeout time.Duration) error {
	if sig == 0 {
		var meta metaRecord
		if err := readJSON(r.file(id, fileMeta), &meta); err == nil && meta.StopSignal != 0 {
			sig = syscall.Signal(meta.StopSignal)
		} else {
			sig = syscall.SIGTERM
		}
	}
	if err := r.Kill(ctx, id, sig); err != nil {
		if errors.Is(err, errdefs.ErrConflict) {
			return nil
		}
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	_, err := r.Wait(wctx, id)
	cancel()
	if err == nil || ctx.Err() != nil {
		return ctx.Err()
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	r.log.Info("container did not stop in time; killing every process of it", "container", id, "signal", sig, "timeout", timeout)
	if err := r.killAll(ctx, id); err != nil {
		return err
	}
	_, err = r.Wait(ctx, id)
	return err
}

// killAll ends every process of the container: its cgroup is frozen,
// killed and thawed (killCgroup), so that neither a fork bomb nor a
// process starved under the task's CPU quota outlives it. A container
// without a recorded cgroup gets runc's SIGKILL to its init.
func (r *Runtime) killAll(ctx context.Context, id string) error {
	var meta metaRecord
	if err := readJSON(r.file(id, fileMeta), &meta); err == nil && meta.Cgroup != "" {
		kctx, cancel := context.WithTimeout(ctx, killTimeout)
		t0 := time.Now()
		err := killCgroup(kctx, meta.Cgroup)
		cancel()
		if err == nil {
			r.log.Info("every process of the container killed", "container", id, "took", time.Since(t0).Round(time.Millisecond))
			return nil
		}
		r.log.Warn("killing the container's cgroup", "container", id, "err", err)
	}
	if err := r.Kill(ctx, id, syscall.SIGKILL); err != nil && !errors.Is(err, errdefs.ErrConflict) {
		return err
	}
	return nil
}

// killTimeout bounds how long killAll waits for a container's cgroup to
// empty.
const killTimeout = 10 * time.Second
