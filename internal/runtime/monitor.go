package runtime

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// MonitorSubcommand is the name the fargo CLI gives MonitorMain; the
// default Config.MonitorCommand is [os.Executable(), MonitorSubcommand].
const MonitorSubcommand = "runtime-monitor"

// syncFD is the monitor's end of the pipe Start reads the outcome from;
// lockFD the start lock it holds for its whole life (see State).
const (
	syncFD = 3
	lockFD = 4
)

// maxRecord is the longest line one output record holds; longer lines are
// split into records marked partial (Docker splits at 16 KiB too).
const maxRecord = 16 << 10

// OutputRecord is one line of container output in the log file
// (LogPath): one JSON object per line. Partial is set on a piece of a
// line longer than 16 KiB and on a last line with no newline.
type OutputRecord struct {
	Time    time.Time `json:"t"`
	Stream  string    `json:"s"` // "stdout" | "stderr"
	Line    string    `json:"l"`
	Partial bool      `json:"p,omitempty"`
}

// syncMessage is what the monitor tells Start.
type syncMessage struct {
	PID       int       `json:"pid,omitempty"`
	StartedAt time.Time `json:"startedAt,omitzero"`
	Error     string    `json:"error,omitempty"`
}

// MonitorMain runs the monitor of one container and returns the process's
// exit code. The fargo CLI calls it for
//
//	fargo runtime-monitor --runc PATH --root DIR --bundle DIR --id ID --cgroup PATH
//
// with the pipe to Start as fd 3 and the container's start lock, flock'd,
// as fd 4 (held until the monitor ends). Only Runtime.Start runs it.
func MonitorMain(args []string) int { return monitorMain(args, nil) }

// monitorMain is MonitorMain with a fault hook, called at each step of the
// monitor's start (tests crash the monitor there).
func monitorMain(args []string, fault func(step string) error) int {
	// Keep the monitor small: one P, a collector that runs early, and a
	// soft limit well above what it needs (it holds one 16 KiB buffer per
	// stream).
	goruntime.GOMAXPROCS(1)
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(8 << 20)

	fs := flag.NewFlagSet(MonitorSubcommand, flag.ContinueOnError)
	m := monitor{fault: fault}
	fs.StringVar(&m.runc, "runc", "runc", "runc binary")
	fs.StringVar(&m.root, "root", "", "runc --root")
	fs.StringVar(&m.bundle, "bundle", "", "bundle and state directory")
	fs.StringVar(&m.id, "id", "", "container id")
	fs.StringVar(&m.cgroup, "cgroup", "", "the container's cgroup path")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if m.root == "" || m.bundle == "" || m.id == "" {
		fmt.Fprintln(os.Stderr, "runtime-monitor: --root, --bundle and --id are required")
		return 2
	}
	// Neither the pipe nor the lock may reach runc and the container: the
	// lock must be freed when the monitor ends. The lock fd is kept as a
	// number, never an *os.File, whose finalizer would close it.
	unix.CloseOnExec(syncFD)
	unix.CloseOnExec(lockFD)
	syncPipe := os.NewFile(syncFD, "sync")
	if err := m.run(syncPipe); err != nil {
		fmt.Fprintf(os.Stderr, "runtime-monitor %s: %v\n", m.id, err)
		return 1
	}
	return 0
}

type monitor struct {
	runc, root, bundle, id, cgroup string
	fault                          func(step string) error
}

// step runs the fault hook at a step of the start.
func (m *monitor) step(name string) error {
	if m.fault == nil {
		return nil
	}
	return m.fault(name)
}

func (m *monitor) path(name string) string { return filepath.Join(m.bundle, name) }

func (m *monitor) runcCmd(args ...string) *exec.Cmd {
	base := []string{"--root", m.root, "--log", m.path(fileRuncLog), "--log-format", "json"}
	cmd := exec.Command(m.runc, append(base, args...)...)
	// runc is a Go program too: it gets the Go settings fargo gave the
	// monitor (one P, an eager collector) taken back.
	cmd.Env = slices.DeleteFunc(os.Environ(), func(kv string) bool {
		return strings.HasPrefix(kv, "GOMAXPROCS=") || strings.HasPrefix(kv, "GOGC=")
	})
	return cmd
}

// run creates and starts the container, reports to Start through sync,
// then waits for the container's init and records how it ended.
func (m *monitor) run(syncPipe *os.File) error {
	report := func(msg syncMessage) {
		if syncPipe != nil {
			_ = json.NewEncoder(syncPipe).Encode(msg) // fargo may be gone: EPIPE is fine
			_ = syncPipe.Close()
			syncPipe = nil
		}
	}
	fail := func(err error) error {
		report(syncMessage{Error: err.Error()})
		_ = writeJSON(m.path(fileExit), ExitStatus{Code: -1, FinishedAt: time.Now().UTC(), Error: err.Error()})
		return err
	}
	self, ok := procStartTime(os.Getpid())
	if !ok {
		return fail(errors.New("cannot read own /proc/self/stat"))
	}
	if err := writeJSON(m.path(fileMonitor), monitorRecord{PID: os.Getpid(), StartTime: self}); err != nil {
		return fail(err)
	}
	if err := m.step("monitor.record"); err != nil {
		return fail(err)
	}
	// The container's init is runc create's grandchild: once runc create
	// exits it is reparented to us, and wait4 can see its real status.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		return fail(fmt.Errorf("become subreaper: %w", err))
	}
	out, err := os.OpenFile(m.path(fileOutput), os.O_CREATE|os.O_WRONLY|os.O_APPEND|syscall.O_CLOEXEC, 0o600)
	if err != nil {
		return fail(err)
	}
	defer out.Close()
	lw := &lockedWriter{w: out}
	var copiers sync.WaitGroup
	var writers []*os.File
	for _, stream := range []string{"stdout", "stderr"} {
		r, w, err := os.Pipe()
		if err != nil {
			return fail(err)
		}
		writers = append(writers, w)
		copiers.Add(1)
		go func() {
			defer copiers.Done()
			defer r.Close()
			copyRecords(r, stream, lw)
		}()
	}
	closeWriters := func() {
		for _, w := range writers {
			_ = w.Close()
		}
	}

	// One runc run --detach (create and start in one process: a runc
	// invocation less on every container start). Its init is reparented to
	// us, the subreaper, when runc exits.
	run := m.runcCmd("run", "--detach", "--bundle", m.bundle, "--pid-file", m.path(fileInitPID), m.id)
	run.Stdout, run.Stderr = writers[0], writers[1] // inherited by the container's init
	err = run.Run()
	closeWriters() // the container holds its own copies now
	if err != nil {
		copiers.Wait()
		return fail(fmt.Errorf("runc run: %s", runcError(m.path(fileRuncLog), err)))
	}
	pid, err := readPID(m.path(fileInitPID))
	if err == nil {
		err = m.step("monitor.run")
	}
	if err != nil {
		_ = m.runcCmd("delete", "--force", m.id).Run() // running, but unwatchable
		return fail(err)
	}
	started := startedRecord{PID: pid, StartedAt: time.Now().UTC()}
	if err := writeJSON(m.path(fileStarted), started); err != nil {
		report(syncMessage{Error: err.Error()})
	}
	if err := m.step("monitor.started"); err != nil {
		report(syncMessage{Error: err.Error()})
	}
	report(syncMessage{PID: pid, StartedAt: started.StartedAt})

	st := m.wait(pid)
	// When init dies the kernel kills the rest of the PID namespace, and
	// with them the last writers of the pipes; the bound is for a process
	// that got hold of a pipe from outside (runc exec's children do not).
	done := make(chan struct{})
	go func() { copiers.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
	}
	lw.mu.Lock() // no record may follow the exit file
	defer lw.mu.Unlock()
	return writeJSON(m.path(fileExit), st)
}

// wait reaps children until pid (the container's init) ends, and returns
// its status as the kernel reports it.
func (m *monitor) wait(pid int) ExitStatus {
	var st ExitStatus
	for {
		var ws unix.WaitStatus
		wpid, err := unix.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil { // ECHILD: init is not ours (cannot happen once created)
			st.Code, st.Error = -1, fmt.Sprintf("wait4: %v", err)
			break
		}
		if wpid != pid {
			continue // an orphan reparented to us
		}
		switch {
		case ws.Exited():
			st.Code = ws.ExitStatus()
		case ws.Signaled():
			st.Signal = ws.Signal()
			st.Code = 128 + int(ws.Signal())
		}
		break
	}
	st.FinishedAt = time.Now().UTC()
	st.OOMKilled = oomKilled(m.cgroup)
	return st
}

// lockedWriter serializes records from the two streams.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// copyRecords turns a stream into JSON-line records: one per line, lines
// longer than maxRecord split into partial records, a last line without a
// newline marked partial.
func copyRecords(r io.Reader, stream string, lw *lockedWriter) {
	br := bufio.NewReaderSize(r, maxRecord)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			rec := OutputRecord{Time: time.Now().UTC(), Stream: stream}
			if line[len(line)-1] == '\n' {
				rec.Line = string(line[:len(line)-1])
			} else {
				rec.Line, rec.Partial = string(line), true
			}
			buf.Reset()
			_ = enc.Encode(rec)
			lw.mu.Lock()
			_, _ = lw.w.Write(buf.Bytes()) // one write per record: readers never see half of one
			lw.mu.Unlock()
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return
		}
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0, fmt.Errorf("bad pid file %s: %q", path, b)
	}
	return pid, nil
}

// runcError is the message of runc's last error log record, or err.
func runcError(logPath string, err error) string {
	b, _ := os.ReadFile(logPath)
	msg := ""
	for _, line := range bytes.Split(b, []byte("\n")) {
		var rec struct{ Level, Msg string }
		if json.Unmarshal(line, &rec) == nil && (rec.Level == "error" || rec.Level == "fatal") {
			msg = rec.Msg
		}
	}
	if msg == "" {
		return err.Error()
	}
	return msg
}
