package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cgroupPids lists the processes of a cgroup and of its descendants, as
// the pids hierarchy (v1) or the unified one (v2) sees them.
func cgroupPids(t *testing.T, cg string) []int {
	t.Helper()
	dir := filepath.Join(cgroupRoot, "pids", cg)
	if cgroupV2() {
		dir = filepath.Join(cgroupRoot, cg)
	}
	var pids []int
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "cgroup.procs" {
			return nil
		}
		b, _ := os.ReadFile(p)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				pids = append(pids, n)
			}
		}
		return nil
	})
	return pids
}

func cgroupFile(cg, v1Controller, file string) string {
	if cgroupV2() {
		return filepath.Join(cgroupRoot, cg, file)
	}
	return filepath.Join(cgroupRoot, v1Controller, cg, file)
}

func readInt(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatalf("%s: %q", file, b)
	}
	return n
}

// TestForkBombHeldAtPidsLimit: the task cgroup's pids.max holds a fork
// bomb at the limit.
func TestForkBombHeldAtPidsLimit(t *testing.T) {
	e := newTestEnv(t)
	const limit = 64
	if err := e.rt.CreateTaskCgroup(e.cgParent, TaskResources{CPUUnits: 256, MemoryBytes: 256 << 20, PidsMax: limit}); err != nil {
		t.Fatal(err)
	}
	if got := readInt(t, cgroupFile(e.cgParent, "pids", "pids.max")); got != limit {
		t.Fatalf("pids.max = %d, want %d", got, limit)
	}
	s := e.spec("bomb", "bomb")
	e.start(s)
	e.waitOutput(s.ID, "ready")
	time.Sleep(2 * time.Second)
	if cur := readInt(t, cgroupFile(e.cgParent, "pids", "pids.current")); cur > limit || cur < limit/2 {
		t.Errorf("pids.current = %d under a fork bomb, want ≤ %d (and the bomb near it)", cur, limit)
	}
	if n := len(cgroupPids(t, e.cgParent)); n > limit {
		t.Errorf("%d processes in the task cgroup, limit %d", n, limit)
	}
}

// TestStopKillsEveryProcess: a fork bomb that ignores SIGTERM, starved by
// a small CPU quota, is stopped within its timeout plus a few seconds,
// and no process of it is left in its cgroup when Stop returns.
func TestStopKillsEveryProcess(t *testing.T) {
	e := newTestEnv(t)
	if err := e.rt.CreateTaskCgroup(e.cgParent, TaskResources{CPUUnits: 128, MemoryBytes: 512 << 20, PidsMax: 1024}); err != nil {
		t.Fatal(err)
	}
	s := e.spec("bomb", "bomb")
	e.start(s)
	e.waitOutput(s.ID, "ready")
	deadline := time.Now().Add(10 * time.Second)
	for len(cgroupPids(t, e.cgParent)) < 900 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	before := len(cgroupPids(t, e.cgParent))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	t0 := time.Now()
	const timeout = time.Second
	if err := e.rt.Stop(ctx, s.ID, syscall.SIGTERM, timeout); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	took := time.Since(t0)
	if left := cgroupPids(t, e.cgParent); len(left) > 0 {
		t.Errorf("%d processes left in the cgroup after Stop (of %d)", len(left), before)
	}
	if q := readInt(t, cgroupFile(e.cgParent, "cpu", "cpu.cfs_quota_us")); !cgroupV2() && q != 128*cfsPeriod/1024 {
		t.Errorf("task CPU quota %d after Stop, want it put back (%d)", q, 128*cfsPeriod/1024)
	}
	if took > timeout+5*time.Second {
		t.Errorf("Stop took %s with a %s timeout (%d processes)", took, timeout, before)
	}
	st := e.wait(s.ID)
	if st.Code != 137 {
		t.Errorf("exit: %+v, want 137 (SIGKILL)", st)
	}
	t.Logf("stopped %d processes in %s", before, took)
}

// TestKillCgroupForkingChildren: killCgroup ends every process of a
// container whose init is alive and whose children keep forking, and
// leaves the cgroup empty and thawed.
func TestKillCgroupForkingChildren(t *testing.T) {
	e := newTestEnv(t)
	if err := e.rt.CreateTaskCgroup(e.cgParent, TaskResources{PidsMax: 256}); err != nil {
		t.Fatal(err)
	}
	s := e.spec("bomb", "bomb")
	e.start(s)
	e.waitOutput(s.ID, "ready")
	time.Sleep(500 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := killCgroup(ctx, s.cgroupPath()); err != nil {
		t.Fatalf("killCgroup: %v", err)
	}
	if left := cgroupPids(t, s.cgroupPath()); len(left) > 0 {
		t.Errorf("%d processes left after killCgroup", len(left))
	}
	if !cgroupV2() {
		if b, _ := os.ReadFile(filepath.Join(cgroupRoot, "freezer", s.cgroupPath(), "freezer.state")); strings.TrimSpace(string(b)) != "THAWED" {
			t.Errorf("freezer.state = %q after killCgroup, want THAWED", b)
		}
	}
	if st := e.wait(s.ID); st.Code != 137 {
		t.Errorf("exit: %+v, want 137", st)
	}
}

// TestSysctls: namespaced sysctls are set in the container's own
// namespaces, not on the host.
func TestSysctls(t *testing.T) {
	e := newTestEnv(t)
	hostKeepalive, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_keepalive_time")
	s := e.spec("sysctl", "cat", "/proc/sys/net/ipv4/tcp_keepalive_time", "/proc/sys/kernel/shmmax", "/proc/sys/fs/mqueue/msg_max")
	s.Sysctls = map[string]string{"net.ipv4.tcp_keepalive_time": "617", "kernel.shmmax": "1234567", "fs.mqueue.msg_max": "21"}
	e.start(s)
	if st := e.wait(s.ID); st.Code != 0 {
		t.Fatalf("exit %+v", st)
	}
	all := e.output(s.ID)
	for _, want := range []string{"/proc/sys/net/ipv4/tcp_keepalive_time 617", "/proc/sys/kernel/shmmax 1234567", "/proc/sys/fs/mqueue/msg_max 21"} {
		if !strings.Contains(all, want) {
			t.Errorf("output lacks %q:\n%s", want, all)
		}
	}
	if now, _ := os.ReadFile("/proc/sys/net/ipv4/tcp_keepalive_time"); string(now) != string(hostKeepalive) {
		t.Errorf("the host's tcp_keepalive_time changed: %q -> %q", hostKeepalive, now)
	}
}

func (e *testEnv) output(id string) string {
	var out []string
	for _, r := range e.records(id) {
		out = append(out, r.Line)
	}
	return strings.Join(out, "\n")
}

// TestNofile: a nofile ulimit up to AWS's maximum (1048576) applies where
// the host allows it (CAP_SYS_RESOURCE, fs.nr_open), and is refused with
// a clear error where it does not; the default (Fargate's 65535) is
// lowered to what the host allows rather than failing the start.
func TestNofile(t *testing.T) {
	e := newTestEnv(t)
	ceiling := nofileCeiling()
	s := e.spec("max", "cat", "/proc/self/limits")
	s.Ulimits = []Ulimit{{Name: "nofile", Soft: 1048576, Hard: 1048576}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := e.rt.Start(ctx, s)
	if ceiling >= 1048576 {
		if err != nil {
			t.Fatalf("Start with nofile 1048576: %v", err)
		}
		t.Cleanup(func() { e.deleteAndCheck(s.ID) })
		e.wait(s.ID)
		if !regexpMatch(`Max open files\s+1048576\s+1048576`, e.output(s.ID)) {
			t.Errorf("nofile 1048576 not applied:\n%s", e.output(s.ID))
		}
	} else {
		t.Logf("this host allows nofile up to %d only (no CAP_SYS_RESOURCE)", ceiling)
		if err == nil || !strings.Contains(err.Error(), "above what this host allows") {
			t.Errorf("Start with nofile 1048576 on a host allowing %d: %v", ceiling, err)
		}
	}
	d := e.spec("default", "cat", "/proc/self/limits")
	d.Ulimits = []Ulimit{{Name: "nofile", Soft: 65535, Hard: 65535, Clamp: true}}
	e.start(d)
	e.wait(d.ID)
	want := min(65535, ceiling)
	if !regexpMatch(fmt.Sprintf(`Max open files\s+%d\s+%d`, want, want), e.output(d.ID)) {
		t.Errorf("default nofile: want %d:\n%s", want, e.output(d.ID))
	}
}

func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }

// TestDeleteKillsForkBomb: Delete of a running fork bomb (the agent's
// cleanup, the sweeper) ends every process and removes its cgroup, even
// under a small CPU quota.
func TestDeleteKillsForkBomb(t *testing.T) {
	e := newTestEnv(t)
	if err := e.rt.CreateTaskCgroup(e.cgParent, TaskResources{CPUUnits: 128, MemoryBytes: 512 << 20, PidsMax: 1024}); err != nil {
		t.Fatal(err)
	}
	s := e.spec("bomb", "bomb")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := e.rt.Start(ctx, s); err != nil {
		t.Fatal(err)
	}
	e.waitOutput(s.ID, "ready")
	deadline := time.Now().Add(10 * time.Second)
	for len(cgroupPids(t, e.cgParent)) < 900 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	t0 := time.Now()
	e.deleteAndCheck(s.ID)
	if took := time.Since(t0); took > 8*time.Second {
		t.Errorf("Delete of a fork bomb took %s", took)
	}
	if left := cgroupPids(t, e.cgParent); len(left) > 0 {
		t.Errorf("%d processes left after Delete", len(left))
	}
}
