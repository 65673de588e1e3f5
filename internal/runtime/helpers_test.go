package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the monitor (and as a process that starts a
// container and is then killed): TestMain dispatches on these variables.
const (
	envMonitor = "FARGO_RUNTIME_TEST_MONITOR"
	envStarter = "FARGO_RUNTIME_TEST_STARTER"
	// The step of Start at which the starter, and of the monitor's start
	// at which the monitor, SIGKILLs itself (crash_test.go).
	envStarterCrash = "FARGO_RUNTIME_TEST_STARTER_CRASH"
	envMonitorCrash = "FARGO_RUNTIME_TEST_MONITOR_CRASH"
)

// crashAt is a fault hook that SIGKILLs the process at step: a crash with
// no deferred cleanup, as kill -9 does it. Nil when step is "".
func crashAt(step string) func(string) error {
	if step == "" {
		return nil
	}
	return func(s string) error {
		if s == step {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
}

// testRootfs is the shared test image, built once by TestMain.
var testRootfs string

func TestMain(m *testing.M) {
	if os.Getenv(envMonitor) == "1" {
		os.Exit(monitorMain(os.Args[1:], crashAt(os.Getenv(envMonitorCrash))))
	}
	if os.Getenv(envStarter) == "1" {
		os.Exit(starterMain())
	}
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() == 0 {
		if _, err := exec.LookPath("runc"); err == nil {
			dir, err := os.MkdirTemp("", "fargo-runtime-rootfs-")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer os.RemoveAll(dir)
			if err := buildRootfs(dir); err != nil {
				fmt.Fprintln(os.Stderr, "building the test image:", err)
				return 1
			}
			testRootfs = dir
		}
	}
	return m.Run()
}

// buildRootfs makes a minimal image: the static probe program as
// /bin/probe, and passwd/group files.
func buildRootfs(dir string) error {
	if err := os.Chmod(dir, 0o755); err != nil { // MkdirTemp's 0700 would lock out non-root users
		return err
	}
	for _, d := range []string{"bin", "etc", "proc", "sys", "dev", "tmp", "home/app", "work"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	files := map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
		"etc/group":  "root:x:0:\napp:x:1000:\nextra:x:2000:app\nother:x:3000:\n",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "bin", "probe"), "./testdata/probe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%w: %s", err, out)
	}
	return nil
}

// testEnv is one test's runtime, directories and cgroup parent.
type testEnv struct {
	t        *testing.T
	rt       *Runtime
	cfg      Config
	cgTop    string // this test's top cgroup, removed at cleanup
	cgParent string // the "task" cgroup below it
}

func monitorCommand() []string {
	return []string{"/usr/bin/env", envMonitor + "=1", os.Args[0]}
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("runtime tests need root (runc, cgroups, namespaces)")
	}
	if testRootfs == "" {
		t.Skip("runc not found in PATH (apt-get install -y runc)")
	}
	base := t.TempDir()
	cfg := Config{
		Root:           filepath.Join(base, "runc"),
		StateDir:       filepath.Join(base, "state"),
		MonitorCommand: monitorCommand(),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	rt, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e := &testEnv{t: t, rt: rt, cfg: cfg,
		cgTop: fmt.Sprintf("/fargo-test-%d-%s", os.Getpid(), sanitize(t.Name()))}
	e.cgParent = e.cgTop + "/task"
	t.Cleanup(func() {
		if err := rt.RemoveTaskCgroup(e.cgTop); err != nil {
			t.Errorf("removing test cgroup: %v", err)
		}
	})
	return e
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

func sanitize(s string) string { return strings.ToLower(unsafeChars.ReplaceAllString(s, "-")) }

// spec is a container of the test image running probe with args.
func (e *testEnv) spec(name string, args ...string) ContainerSpec {
	return ContainerSpec{
		ID:           sanitize(e.t.Name()) + "-" + name,
		Rootfs:       testRootfs,
		Args:         append([]string{"/bin/probe"}, args...),
		Env:          []string{"FOO=bar"},
		CgroupParent: e.cgParent,
	}
}

// start starts s and deletes it at cleanup, checking nothing is left.
func (e *testEnv) start(s ContainerSpec) {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.rt.Start(ctx, s); err != nil {
		e.t.Fatalf("Start %s: %v", s.ID, err)
	}
	e.t.Cleanup(func() { e.deleteAndCheck(s.ID) })
}

// deleteAndCheck deletes the container and checks that no runc state,
// cgroup, file or process is left.
func (e *testEnv) deleteAndCheck(id string) {
	t := e.t
	var mon monitorRecord
	_ = readJSON(e.rt.file(id, fileMonitor), &mon)
	var started startedRecord
	_ = readJSON(e.rt.file(id, fileStarted), &started)
	var meta metaRecord
	_ = readJSON(e.rt.file(id, fileMeta), &meta)
	if err := e.rt.Delete(context.Background(), id); err != nil {
		t.Errorf("Delete %s: %v", id, err)
	}
	if _, err := os.Stat(filepath.Join(e.cfg.Root, id)); !os.IsNotExist(err) {
		t.Errorf("runc state of %s left behind", id)
	}
	if _, err := os.Stat(e.rt.dir(id)); !os.IsNotExist(err) {
		t.Errorf("state dir of %s left behind", id)
	}
	if meta.Cgroup != "" {
		for _, c := range []string{"memory", "cpu", "pids", "cpuset", "freezer"} {
			if _, err := os.Stat(filepath.Join(cgroupRoot, c, meta.Cgroup)); !os.IsNotExist(err) {
				t.Errorf("cgroup %s:%s left behind", c, meta.Cgroup)
			}
		}
	}
	for _, pid := range []int{mon.PID, started.PID} {
		if pid <= 0 {
			continue
		}
		if _, alive := procStartTime(pid); alive {
			t.Errorf("process %d of %s still running after Delete", pid, id)
		}
	}
}

func (e *testEnv) wait(id string) ExitStatus {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := e.rt.Wait(ctx, id)
	if err != nil {
		e.t.Fatalf("Wait %s: %v", id, err)
	}
	return st
}

// records reads the container's output records.
func (e *testEnv) records(id string) []OutputRecord {
	e.t.Helper()
	f, err := os.Open(e.rt.LogPath(id))
	if err != nil {
		e.t.Fatal(err)
	}
	defer f.Close()
	var out []OutputRecord
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var r OutputRecord
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			e.t.Fatalf("bad record %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

// waitOutput waits until the container printed line on stdout.
func (e *testEnv) waitOutput(id, line string) {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range e.records(id) {
			if r.Line == line {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("%s never printed %q", id, line)
}

// starterMain is a process that starts a container and then waits to be
// killed: the monitor must outlive it.
func starterMain() int {
	var req struct {
		Config Config
		Spec   ContainerSpec
	}
	if err := json.Unmarshal([]byte(os.Getenv("FARGO_RUNTIME_TEST_REQUEST")), &req); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	req.Config.Fault = crashAt(os.Getenv(envStarterCrash))
	rt, err := New(req.Config)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := rt.Start(context.Background(), req.Spec); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("started")
	select {}
}

// needInit skips a test of Init without tini on the host (make deps
// installs it; CI must have it).
func needInit(t *testing.T) {
	t.Helper()
	if _, err := findInit(""); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}
