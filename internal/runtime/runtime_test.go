package runtime

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
)

func TestExitCodeAndLogs(t *testing.T) {
	e := newTestEnv(t)
	for _, code := range []int{0, 3, 255} {
		s := e.spec(itoa(code), "exit", itoa(code))
		s.Labels = map[string]string{"com.amazonaws.ecs.container-name": "app"}
		e.start(s)
		st := e.wait(s.ID)
		if st.Code != code || st.OOMKilled || st.Signal != 0 {
			t.Errorf("exit %d: got %+v", code, st)
		}
		state, err := e.rt.State(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if state.Status != StatusStopped || state.ExitCode != code || state.StartedAt.IsZero() ||
			state.CreatedAt.IsZero() || state.StartedAt.Before(state.CreatedAt) ||
			state.FinishedAt.Before(state.StartedAt) || state.Pid == 0 ||
			state.Labels["com.amazonaws.ecs.container-name"] != "app" {
			t.Errorf("State = %+v", state)
		}
		recs := e.records(s.ID)
		var stdout, stderr []string
		for _, r := range recs {
			if r.Time.IsZero() {
				t.Errorf("record without time: %+v", r)
			}
			if r.Stream == "stdout" {
				stdout = append(stdout, r.Line)
			} else {
				stderr = append(stderr, r.Line)
			}
		}
		if !slices.Contains(stdout, "args: /bin/probe exit "+itoa(code)) || !slices.Contains(stdout, "env: FOO=bar") ||
			!slices.Contains(stdout, "env: HOME=/root") || !slices.Contains(stderr, "bye") {
			t.Errorf("stdout %q, stderr %q", stdout, stderr)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestStartErrors(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	s := e.spec("missing")
	s.Args = []string{"/bin/nope"}
	err := e.rt.Start(ctx, s)
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("Start of a missing binary: %v", err)
	}
	if _, err := os.Stat(e.rt.dir(s.ID)); !os.IsNotExist(err) {
		t.Errorf("failed Start left its state dir")
	}
	if _, err := e.rt.State(ctx, s.ID); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("State after failed Start: %v", err)
	}
	bad := e.spec("bad/id", "exit", "0")
	if err := e.rt.Start(ctx, bad); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("bad id: %v", err)
	}
	nouser := e.spec("nouser", "exit", "0")
	nouser.User = "nobody"
	if err := e.rt.Start(ctx, nouser); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("unknown user: %v", err)
	}
	dup := e.spec("dup", "sleep")
	e.start(dup)
	if err := e.rt.Start(ctx, dup); !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Errorf("duplicate: %v", err)
	}
}

func TestSignalExitAndStop(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()

	// Killed by a signal: the kernel's status is the signal, the code
	// 128+signal. (A PID namespace's init only dies of signals it
	// handles, and a Go program handles none by dying, so SIGKILL.)
	s := e.spec("kill", "sleep")
	e.start(s)
	e.waitOutput(s.ID, "ready")
	if err := e.rt.Kill(ctx, s.ID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if st := e.wait(s.ID); st.Code != 137 || st.Signal != syscall.SIGKILL {
		t.Errorf("SIGKILL: %+v", st)
	}
	if err := e.rt.Kill(ctx, s.ID, syscall.SIGTERM); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("Kill of a stopped container: %v", err)
	}

	// Stop: SIGTERM handled, exit 0, well before the timeout.
	s = e.spec("term", "sleep")
	e.start(s)
	e.waitOutput(s.ID, "ready")
	t0 := time.Now()
	if err := e.rt.Stop(ctx, s.ID, 0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := e.wait(s.ID); st.Code != 0 || time.Since(t0) > 5*time.Second {
		t.Errorf("Stop with SIGTERM: %+v after %s", st, time.Since(t0))
	}
	e.waitOutput(s.ID, "got SIGTERM")

	// Stop: SIGTERM ignored, SIGKILL after the timeout: 137.
	s = e.spec("ignore", "ignore")
	e.start(s)
	e.waitOutput(s.ID, "ready")
	t0 = time.Now()
	if err := e.rt.Stop(ctx, s.ID, syscall.SIGTERM, 500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	took := time.Since(t0)
	if st := e.wait(s.ID); st.Code != 137 || st.Signal != syscall.SIGKILL || st.OOMKilled {
		t.Errorf("Stop of a SIGTERM-ignoring container: %+v", st)
	}
	if took < 500*time.Millisecond || took > 5*time.Second {
		t.Errorf("Stop took %s with a 500ms timeout", took)
	}
	if err := e.rt.Stop(ctx, s.ID, 0, time.Second); err != nil {
		t.Errorf("Stop of a stopped container: %v", err)
	}

	// Under an init (tini): Stop's SIGTERM reaches the program, and the
	// init exits with the program's own code.
	needInit(t)
	s = e.spec("initterm", "sleep")
	s.Init = true
	e.start(s)
	e.waitOutput(s.ID, "ready")
	if err := e.rt.Stop(ctx, s.ID, 0, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if st := e.wait(s.ID); st.Code != 0 {
		t.Errorf("Stop under an init: %+v, want the program's exit 0", st)
	}
	e.waitOutput(s.ID, "got SIGTERM")
}

func TestProcessSettings(t *testing.T) {
	e := newTestEnv(t)
	tests := []struct {
		name   string
		mod    func(*ContainerSpec)
		expect func(t *testing.T, r map[string]any)
	}{
		{"defaults", func(*ContainerSpec) {}, func(t *testing.T, r map[string]any) {
			want := map[string]any{"uid": 0.0, "gid": 0.0, "cwd": "/", "rootWritable": true,
				"noNewPrivs": "1", "seccomp": "2", "capEff": "00000000a80425fb", "timerListMasked": "true"}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%s = %v, want %v", k, r[k], v)
				}
			}
			if !strings.Contains(r["unshareErr"].(string), "not permitted") {
				t.Errorf("unshare(CLONE_NEWNS) without CAP_SYS_ADMIN: %v", r["unshareErr"])
			}
		}},
		{"user name", func(s *ContainerSpec) { s.User = "app" }, func(t *testing.T, r map[string]any) {
			if r["uid"] != 1000.0 || r["gid"] != 1000.0 || !slices.Contains(r["groups"].([]any), any(2000.0)) {
				t.Errorf("user app: uid %v gid %v groups %v", r["uid"], r["gid"], r["groups"])
			}
			if !slices.Contains(r["env"].([]any), any("HOME=/home/app")) {
				t.Errorf("HOME: %v", r["env"])
			}
			if r["capEff"] != "0000000000000000" {
				t.Errorf("non-root capEff = %v (%v)", r["capEff"], r["statusErr"])
			}
		}},
		{"uid:group", func(s *ContainerSpec) { s.User = "4242:other" }, func(t *testing.T, r map[string]any) {
			if r["uid"] != 4242.0 || r["gid"] != 3000.0 {
				t.Errorf("uid %v gid %v", r["uid"], r["gid"])
			}
		}},
		{"cwd env hostname", func(s *ContainerSpec) {
			s.Cwd, s.Hostname = "/work", "web-1"
			s.Env = []string{"A=1", "PATH=/bin"}
		}, func(t *testing.T, r map[string]any) {
			env := r["env"].([]any)
			if r["cwd"] != "/work" || r["hostname"] != "web-1" || !slices.Contains(env, any("A=1")) ||
				!slices.Contains(env, any("PATH=/bin")) {
				t.Errorf("cwd %v hostname %v env %v", r["cwd"], r["hostname"], env)
			}
		}},
		{"capabilities", func(s *ContainerSpec) {
			s.CapAdd, s.CapDrop = []string{"SYS_PTRACE"}, []string{"CAP_NET_RAW"}
		}, func(t *testing.T, r map[string]any) {
			// The default set a80425fb, plus SYS_PTRACE (bit 19), less NET_RAW (bit 13).
			if r["capEff"] != "00000000a80c05fb" {
				t.Errorf("capEff = %v, want 00000000a80c05fb", r["capEff"])
			}
		}},
		{"privileged", func(s *ContainerSpec) { s.Privileged = true }, func(t *testing.T, r map[string]any) {
			// Every capability fargo holds (its bounding set), no seccomp,
			// no no_new_privs, nothing masked, the host's devices.
			want := map[string]any{"noNewPrivs": "0", "seccomp": "0", "timerListMasked": "false",
				"capEff": capBounding(t), "unshareErr": "<nil>", "hasKmsg": true}
			for k, v := range want {
				if r[k] != v {
					t.Errorf("%s = %v, want %v", k, r[k], v)
				}
			}
		}},
		{"init", func(s *ContainerSpec) { s.Init = true }, func(t *testing.T, r map[string]any) {
			if r["pid"] == 1.0 || !strings.HasPrefix(r["pid1"].(string), "/sbin/docker-init -- /bin/probe") {
				t.Errorf("with an init: probe is pid %v, pid 1 is %q", r["pid"], r["pid1"])
			}
		}},
		{"readonly ulimits", func(s *ContainerSpec) {
			s.ReadonlyRootfs = true
			s.Ulimits = []Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}, {Name: "core", Soft: 1000, Hard: 2000}}
		}, func(t *testing.T, r map[string]any) {
			// Go raises its own soft nofile limit to the hard one at
			// start, so only the hard limit shows what runc set.
			if r["rootWritable"] != false || r["nofileHard"] != 4096.0 || r["coreSoft"] != 1000.0 || r["coreHard"] != 2000.0 {
				t.Errorf("rootWritable %v nofile hard %v core %v/%v", r["rootWritable"], r["nofileHard"], r["coreSoft"], r["coreHard"])
			}
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "init" {
				needInit(t)
			}
			s := e.spec("p"+itoa(i), "report")
			tc.mod(&s)
			e.start(s)
			if st := e.wait(s.ID); st.Code != 0 {
				t.Fatalf("probe exited %+v: %v", st, e.records(s.ID))
			}
			var report map[string]any
			for _, rec := range e.records(s.ID) {
				if strings.HasPrefix(rec.Line, "{") {
					if err := json.Unmarshal([]byte(rec.Line), &report); err != nil {
						t.Fatal(err)
					}
				}
			}
			if report == nil {
				t.Fatalf("no report: %v", e.records(s.ID))
			}
			tc.expect(t, report)
		})
	}
	_ = os.Remove(testRootfs + "/probe-write-test")
}

func TestOOMKilled(t *testing.T) {
	e := newTestEnv(t)
	// The container's own limit, and the task's limit shared by its
	// containers (the container has none): both are the container's OOM.
	if err := e.rt.CreateTaskCgroup(e.cgParent, TaskResources{CPUUnits: 256, MemoryBytes: 64 << 20}); err != nil {
		t.Fatal(err)
	}
	for _, limit := range []int64{32 << 20, 0} {
		s := e.spec("oom"+itoa(int(limit>>20)), "oom")
		s.MemoryLimitBytes = limit
		e.start(s)
		st := e.wait(s.ID)
		if st.Code != 137 || !st.OOMKilled {
			t.Errorf("OOM with container limit %d: %+v", limit, st)
		}
		state, _ := e.rt.State(context.Background(), s.ID)
		if !state.OOMKilled || state.ExitCode != 137 {
			t.Errorf("State after OOM: %+v", state)
		}
	}
}

func TestLogsStreamsLongAndPartialLines(t *testing.T) {
	e := newTestEnv(t)
	s := e.spec("spam", "spam", "2000")
	e.start(s)
	if st := e.wait(s.ID); st.Code != 0 {
		t.Fatalf("exit %+v", st)
	}
	recs := e.records(s.ID)
	var out, errs, long int
	var tail OutputRecord
	for _, r := range recs {
		switch {
		case r.Stream == "stdout" && strings.HasPrefix(r.Line, "out "):
			out++
		case r.Stream == "stderr" && strings.HasPrefix(r.Line, "err "):
			errs++
		case strings.HasPrefix(r.Line, "xxx"):
			long += len(r.Line)
			if len(r.Line) > maxRecord {
				t.Errorf("record of %d bytes", len(r.Line))
			}
		}
		if r.Stream == "stdout" {
			tail = r
		}
	}
	if out != 2000 || errs != 2000 || long != 40<<10 {
		t.Errorf("stdout lines %d, stderr lines %d, long line bytes %d", out, errs, long)
	}
	if tail.Line != "no newline" || !tail.Partial {
		t.Errorf("last record %+v", tail)
	}
}

func TestExecAndStats(t *testing.T) {
	e := newTestEnv(t)
	ctx := context.Background()
	if err := e.rt.CreateTaskCgroup(e.cgParent, TaskResources{CPUUnits: 512, MemoryBytes: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	s := e.spec("svc", "sleep")
	s.MemoryLimitBytes = 256 << 20
	e.start(s)
	e.waitOutput(s.ID, "ready")

	code, out, err := e.rt.Exec(ctx, s.ID, []string{"/bin/probe", "exit", "4"}, 5*time.Second)
	if err != nil || code != 4 || !strings.Contains(string(out), "env: FOO=bar") {
		t.Errorf("Exec: code %d err %v out %q", code, err, out)
	}
	code, _, err = e.rt.Exec(ctx, s.ID, []string{"/bin/probe", "exit", "0"}, 5*time.Second)
	if err != nil || code != 0 {
		t.Errorf("Exec exit 0: code %d err %v", code, err)
	}
	t0 := time.Now()
	_, _, err = e.rt.Exec(ctx, s.ID, []string{"/bin/probe", "ignore"}, 300*time.Millisecond)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 3*time.Second {
		t.Errorf("Exec timeout: %v after %s", err, time.Since(t0))
	}

	st, err := e.rt.Stats(ctx, s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.CPUTotalNanos == 0 || st.MemoryUsage == 0 || st.MemoryLimit != 256<<20 || st.PIDs == 0 ||
		st.SystemCPUNanos == 0 || st.OnlineCPUs == 0 || len(st.MemoryStats) == 0 {
		t.Errorf("Stats = %+v", st)
	}
	// The task cgroup's limits.
	for file, want := range map[string]string{
		"/sys/fs/cgroup/memory" + e.cgParent + "/memory.limit_in_bytes": "1073741824",
		"/sys/fs/cgroup/cpu" + e.cgParent + "/cpu.cfs_quota_us":         "50000",
		"/sys/fs/cgroup/cpu" + e.cgParent + "/cpu.shares":               "512",
	} {
		if b, _ := os.ReadFile(file); strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q, want %s", file, b, want)
		}
	}
	if err := e.rt.Stop(ctx, s.ID, 0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.rt.Exec(ctx, s.ID, []string{"/bin/probe"}, time.Second); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("Exec in a stopped container: %v", err)
	}
}

// TestMonitorOutlivesStarter starts a container from a child process,
// SIGKILLs the child, and checks that a new Runtime sees the container
// running and then its real exit code.
func TestMonitorOutlivesStarter(t *testing.T) {
	e := newTestEnv(t)
	s := e.spec("survivor", "sleepexit", "1500", "7")
	cfg := e.cfg
	cfg.Logger = nil
	req, _ := json.Marshal(map[string]any{"Config": cfg, "Spec": s})
	child := exec.Command(os.Args[0], "-test.run=^$")
	child.Env = append(os.Environ(), envStarter+"=1", "FARGO_RUNTIME_TEST_REQUEST="+string(req))
	child.Stderr = os.Stderr
	stdout, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.deleteAndCheck(s.ID) })
	buf := make([]byte, 64)
	n, _ := stdout.Read(buf)
	if !strings.Contains(string(buf[:n]), "started") {
		_ = child.Process.Kill()
		_ = child.Wait()
		t.Fatalf("starter: %q", buf[:n])
	}
	if err := child.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = child.Wait()

	rt2, err := New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	state, err := rt2.State(ctx, s.ID)
	if err != nil || state.Status != StatusRunning {
		t.Fatalf("after the starter died: %+v, %v", state, err)
	}
	list, err := rt2.List(ctx)
	if err != nil || len(list) != 1 || list[0].ID != s.ID {
		t.Errorf("List = %+v, %v", list, err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	st, err := rt2.Wait(wctx, s.ID)
	if err != nil || st.Code != 7 {
		t.Errorf("Wait = %+v, %v", st, err)
	}
}

// capBounding is the test process's bounding set as /proc shows it.
func capBounding(t *testing.T) string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "CapBnd:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatal("no CapBnd in /proc/self/status")
	return ""
}
