package runtime

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// benchEnv is newTestEnv for benchmarks.
func benchEnv(b *testing.B) *testEnv {
	b.Helper()
	if os.Geteuid() != 0 || testRootfs == "" {
		b.Skip("needs root and runc")
	}
	base := b.TempDir()
	cfg := Config{Root: filepath.Join(base, "runc"), StateDir: filepath.Join(base, "state"), MonitorCommand: monitorCommand()}
	if c := os.Getenv("FARGO_RUNTIME_MONITOR_CMD"); c != "" {
		cfg.MonitorCommand = []string{c}
	}
	rt, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	cg := "/fargo-bench-" + strconv.Itoa(os.Getpid())
	b.Cleanup(func() { _ = rt.RemoveTaskCgroup(cg) })
	return &testEnv{rt: rt, cfg: cfg, cgTop: cg, cgParent: cg + "/task"}
}

// BenchmarkStartStop is one container's whole life through the runtime:
// Start (monitor, runc create, runc start), Stop (SIGTERM, handled), Wait,
// Delete.
func BenchmarkStartStop(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		s := ContainerSpec{ID: "bench-" + strconv.Itoa(i), Rootfs: testRootfs,
			Args: []string{"/bin/probe", "sleep"}, CgroupParent: e.cgParent}
		if err := e.rt.Start(ctx, s); err != nil {
			b.Fatal(err)
		}
		if err := e.rt.Stop(ctx, s.ID, 0, 10*time.Second); err != nil {
			b.Fatal(err)
		}
		if _, err := e.rt.Wait(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		if err := e.rt.Delete(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRuncRun is the baseline: bare `runc run` of the same bundle, a
// container that exits at once (probe exit 0), removed with runc delete.
func BenchmarkRuncRun(b *testing.B) {
	e := benchEnv(b)
	bundle := b.TempDir()
	s := ContainerSpec{ID: "bundle", Rootfs: testRootfs, Args: []string{"/bin/probe", "sleepexit", "0", "0"},
		CgroupParent: e.cgParent}
	spec, err := ociSpec(&s, "")
	if err != nil {
		b.Fatal(err)
	}
	data, _ := json.Marshal(spec)
	if err := os.WriteFile(filepath.Join(bundle, "config.json"), data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := range b.N {
		id := "bare-" + strconv.Itoa(i)
		if out, err := exec.Command(e.rt.cfg.RuncPath, "--root", e.cfg.Root, "run", "--bundle", bundle, id).CombinedOutput(); err != nil {
			b.Fatalf("runc run: %v: %s", err, out)
		}
		if out, err := exec.Command(e.rt.cfg.RuncPath, "--root", e.cfg.Root, "delete", "--force", id).CombinedOutput(); err != nil {
			b.Fatalf("runc delete: %v: %s", err, out)
		}
	}
}

// BenchmarkStartExit is the runtime's equivalent of BenchmarkRuncRun: a
// container that exits at once, waited for and deleted.
func BenchmarkStartExit(b *testing.B) {
	e := benchEnv(b)
	ctx := context.Background()
	b.ResetTimer()
	for i := range b.N {
		s := ContainerSpec{ID: "exit-" + strconv.Itoa(i), Rootfs: testRootfs,
			Args: []string{"/bin/probe", "sleepexit", "0", "0"}, CgroupParent: e.cgParent}
		if err := e.rt.Start(ctx, s); err != nil {
			b.Fatal(err)
		}
		if _, err := e.rt.Wait(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
		if err := e.rt.Delete(ctx, s.ID); err != nil {
			b.Fatal(err)
		}
	}
}
