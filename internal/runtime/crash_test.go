package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// startSteps are the steps of Start the Fault hook is called at, in order.
var startSteps = []string{"mkdir", "config", "meta", "commit", "monitor", "started"}

// TestStartCrashRecovery kills the process running Start (as kill -9 does
// to fargo) at each step of the start, and its monitor at each step of
// the monitor's own start, then does what the agent does after a restart:
// a new Runtime reads the container's state; a start that was cut off is
// started again, one that went through is adopted. The container must end
// up running exactly once, with nothing left of a cut-off attempt, and
// State must never say running without a live process.
func TestStartCrashRecovery(t *testing.T) {
	cases := []struct {
		starter, monitor string
		redo             bool // the start was cut off: recovery starts it again
	}{
		{"mkdir", "", true},
		{"config", "", true},
		{"meta", "", true},
		{"commit", "", true},
		{"monitor", "", false}, // the monitor finishes the start on its own
		{"started", "", false},
		{"monitor", "monitor.record", true},
		{"monitor", "monitor.run", true}, // runc ran it, but the start was never recorded
		{"monitor", "monitor.started", false},
	}
	for _, c := range cases {
		name := c.starter
		if c.monitor != "" {
			name += "+" + c.monitor
		}
		t.Run(name, func(t *testing.T) { testStartCrash(t, c.starter, c.monitor, c.redo) })
	}
}

func testStartCrash(t *testing.T, starterStep, monitorStep string, redo bool) {
	e := newTestEnv(t)
	// Silent: a container whose monitor died is killed by SIGPIPE at its
	// first line of output.
	s := e.spec("c", "sleepexit", "600000", "0")
	t.Cleanup(func() {
		e.deleteAndCheck(s.ID)
		if left, _ := os.ReadDir(e.cfg.StateDir); len(left) > 0 {
			t.Errorf("left in the state directory: %v", left)
		}
	})
	cfg := e.cfg
	cfg.Logger = nil
	req, _ := json.Marshal(map[string]any{"Config": cfg, "Spec": s})
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envStarter+"=1", "FARGO_RUNTIME_TEST_REQUEST="+string(req),
		envStarterCrash+"="+starterStep, envMonitorCrash+"="+monitorStep)
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("the starter was to crash at %s: %v: %s", starterStep, err, out)
	}
	if monitorStep != "" { // wait for the monitor's own crash
		deadline := time.Now().Add(10 * time.Second)
		for {
			var mon monitorRecord
			if readJSON(e.rt.file(s.ID, fileMonitor), &mon) == nil && !mon.alive() {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the monitor did not crash at %s", monitorStep)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	// A new fargo.
	rt2, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	st, err := settledState(t, rt2, s.ID)
	if redo {
		if !errors.Is(err, errdefs.ErrNotFound) && (err != nil || st.Status != StatusNotStarted) {
			t.Fatalf("a cut-off start: State = %+v, %v; want not found or %s", st, err, StatusNotStarted)
		}
		if err := rt2.Start(ctx, s); err != nil {
			t.Fatalf("starting a cut-off start again: %v", err)
		}
	} else {
		if err != nil || st.Status != StatusRunning {
			t.Fatalf("a start that went through: State = %+v, %v; want running", st, err)
		}
		if err := rt2.Start(ctx, s); !errors.Is(err, errdefs.ErrAlreadyExists) {
			t.Errorf("Start of a running container = %v, want AlreadyExists", err)
		}
	}
	checkRunningOnce(t, rt2, s.ID)

	// Its end is recorded as it really was when a monitor watches it.
	var mon monitorRecord
	_ = readJSON(rt2.file(s.ID, fileMonitor), &mon)
	if !mon.alive() {
		return // the monitor that crashed after the start: runc's alone
	}
	// A SIGTERM before the probe's Go runtime has its handlers is ignored
	// (it is PID 1): stop it once it catches SIGTERM.
	if st, err := rt2.State(ctx, s.ID); err == nil {
		waitCatches(t, st.Pid, syscall.SIGTERM)
	}
	if err := rt2.Stop(ctx, s.ID, syscall.SIGTERM, 10*time.Second); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	// 2: a Go program as PID 1 re-raises SIGTERM, which PID 1 ignores,
	// and exits 2.
	if st, err := rt2.State(ctx, s.ID); err != nil || st.Status != StatusStopped || st.ExitCode != 2 {
		t.Errorf("after Stop: %+v, %v", st, err)
	}
}

// settledState reads the container's state until no start is in progress,
// checking at each read that running means a live process.
func settledState(t *testing.T, rt *Runtime, id string) (State, error) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := rt.State(context.Background(), id)
		if err == nil {
			checkProcess(t, rt, st)
		}
		if err != nil || st.Status != StatusCreated || time.Now().After(deadline) {
			return st, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkProcess fails the test when st says running without the process
// runc runs as the container's init.
func checkProcess(t *testing.T, rt *Runtime, st State) {
	t.Helper()
	if st.Status != StatusRunning {
		return
	}
	if _, alive := procStartTime(st.Pid); st.Pid <= 0 || !alive {
		t.Fatalf("State says running with no process: %+v", st)
	}
	rs, err := rt.runcState(context.Background(), st.ID)
	if err != nil || rs.Status != "running" || rs.Pid != st.Pid {
		t.Fatalf("State says running (pid %d), runc: %+v, %v", st.Pid, rs, err)
	}
}

// checkRunningOnce checks that id runs, once: one runc container, one
// process in its cgroup, and no other container or directory.
func checkRunningOnce(t *testing.T, rt *Runtime, id string) {
	t.Helper()
	ctx := context.Background()
	st, err := rt.State(ctx, id)
	if err != nil || st.Status != StatusRunning {
		t.Fatalf("State = %+v, %v; want running", st, err)
	}
	checkProcess(t, rt, st)
	list, err := rt.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != id || list[0].Status != StatusRunning {
		t.Errorf("List = %+v, %v; want %s running, alone", list, err, id)
	}
	entries, _ := os.ReadDir(rt.cfg.StateDir)
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{id}) {
		t.Errorf("state directory holds %v, want [%s]", names, id)
	}
	var meta metaRecord
	if err := readJSON(rt.file(id, fileMeta), &meta); err != nil {
		t.Fatal(err)
	}
	procs := filepath.Join(cgroupRoot, "pids", meta.Cgroup, "cgroup.procs")
	if cgroupV2() {
		procs = filepath.Join(cgroupRoot, meta.Cgroup, "cgroup.procs")
	}
	b, err := os.ReadFile(procs)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(st.Pid) {
		t.Errorf("%s = %q, %v; want the one init, %d", procs, b, err, st.Pid)
	}
}

// TestStartFaultAborts makes each step of Start fail: Start returns the
// error and leaves nothing behind.
func TestStartFaultAborts(t *testing.T) {
	for _, step := range startSteps {
		t.Run(step, func(t *testing.T) {
			e := newTestEnv(t)
			boom := errors.New("boom")
			e.cfg.Fault = func(s string) error {
				if s == step {
					return boom
				}
				return nil
			}
			rt, err := New(e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			e.rt = rt
			s := e.spec("c", "sleep")
			if err := rt.Start(context.Background(), s); !errors.Is(err, boom) {
				t.Errorf("Start = %v, want the fault", err)
			}
			e.deleteAndCheck(s.ID)
			if left, _ := os.ReadDir(e.cfg.StateDir); len(left) > 0 {
				t.Errorf("left in the state directory: %v", left)
			}
			if list, err := rt.List(context.Background()); err != nil || len(list) != 0 {
				t.Errorf("List = %+v, %v", list, err)
			}
		})
	}
}

// TestStartRedoesLeftovers: what a crash leaves of a start in the layout
// of an older fargo (a directory without meta.json; meta.json without a
// monitor's record) or a host crash (a torn meta.json) is a start that
// never ran: State says so, List shows it, and Start does it again.
func TestStartRedoesLeftovers(t *testing.T) {
	for name, files := range map[string]map[string]string{
		"empty directory": {},
		"meta only":       {fileConfig: "{}", fileMeta: `{"id":"x","cgroup":"/nowhere"}`},
		"torn meta":       {fileMeta: ""},
	} {
		t.Run(name, func(t *testing.T) {
			e := newTestEnv(t)
			s := e.spec("c", "sleepexit", "600000", "0")
			if err := os.Mkdir(e.rt.dir(s.ID), 0o700); err != nil {
				t.Fatal(err)
			}
			for f, content := range files {
				if err := os.WriteFile(e.rt.file(s.ID, f), []byte(content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { e.deleteAndCheck(s.ID) })
			ctx := context.Background()
			if st, err := e.rt.State(ctx, s.ID); err != nil || st.Status != StatusNotStarted {
				t.Fatalf("State = %+v, %v; want %s", st, err, StatusNotStarted)
			}
			if list, err := e.rt.List(ctx); err != nil || len(list) != 1 || list[0].Status != StatusNotStarted {
				t.Errorf("List = %+v, %v", list, err)
			}
			if err := e.rt.Start(ctx, s); err != nil {
				t.Fatalf("Start: %v", err)
			}
			checkRunningOnce(t, e.rt, s.ID)
		})
	}
}

// waitCatches waits until process pid has a handler for sig (SigCgt in
// /proc/<pid>/status), for at most 10 s.
func waitCatches(t *testing.T, pid int, sig syscall.Signal) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			return // gone: Stop will say so
		}
		for _, line := range strings.Split(string(b), "\n") {
			if hex, ok := strings.CutPrefix(line, "SigCgt:"); ok {
				if mask, err := strconv.ParseUint(strings.TrimSpace(hex), 16, 64); err == nil && mask&(1<<(uint(sig)-1)) != 0 {
					return
				}
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process %d never caught %v", pid, sig)
}
