package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// killCgroup ends every process of the cgroup at cgPath and of the
// cgroups below it, whatever they do: a fork bomb, processes that ignore
// every signal but SIGKILL, children of an init that is still alive. On
// cgroup v2 with cgroup.kill (Linux 5.14) the kernel does it; otherwise
// the cgroup is frozen (v1 freezer, v2 cgroup.freeze) so that nothing in
// it can fork while it is emptied, every process gets SIGKILL, and the
// cgroup is thawed for the signals to be delivered. It returns once the
// cgroup holds no process, or with ctx's error.
//
// Processes that die still need CPU time to exit, and a task's CPU quota
// (on the parent cgroup) makes thousands of them take many seconds: the
// parent's quota is lifted while the cgroup empties (its killed processes
// run no user code again) and put back after.
func killCgroup(ctx context.Context, cgPath string) error {
	cgPath = path.Join("/", cgPath)
	if cgPath == "/" {
		return errors.New("kill cgroup: refusing the root cgroup")
	}
	if cgroupV2() {
		return killCgroupV2(ctx, cgPath)
	}
	mounts, _, err := v1Mounts()
	if err != nil {
		return fmt.Errorf("kill cgroup %s: %w", cgPath, err)
	}
	procsDir := ""
	for _, c := range []string{"freezer", "pids", "memory", "cpu"} {
		if mp, ok := mounts[c]; ok {
			if _, err := os.Stat(filepath.Join(mp, cgPath)); err == nil {
				procsDir = filepath.Join(mp, cgPath)
				break
			}
		}
	}
	if procsDir == "" {
		return nil // no such cgroup: nothing runs in it
	}
	if mp, ok := mounts["cpu"]; ok {
		defer liftQuota(filepath.Join(mp, path.Dir(cgPath), "cpu.cfs_quota_us"), "-1")()
	}
	freezer := ""
	if mp, ok := mounts["freezer"]; ok {
		freezer = filepath.Join(mp, cgPath, "freezer.state")
		if _, err := os.Stat(freezer); err != nil {
			freezer = ""
		}
	}
	freeze := func(state string) error {
		if freezer == "" {
			return nil
		}
		return os.WriteFile(freezer, []byte(state), 0)
	}
	frozen := func() bool {
		if freezer == "" {
			return true
		}
		b, err := os.ReadFile(freezer)
		return err != nil || strings.TrimSpace(string(b)) == "FROZEN"
	}
	return emptyCgroup(ctx, cgPath, procsDir, freeze, frozen)
}

func killCgroupV2(ctx context.Context, cgPath string) error {
	dir := filepath.Join(cgroupRoot, cgPath)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	defer liftQuota(filepath.Join(cgroupRoot, path.Dir(cgPath), "cpu.max"), "max")()
	if err := os.WriteFile(filepath.Join(dir, "cgroup.kill"), []byte("1"), 0); err == nil {
		return waitEmpty(ctx, cgPath, dir)
	}
	freeze := func(state string) error {
		v := "0"
		if state == "FROZEN" {
			v = "1"
		}
		return os.WriteFile(filepath.Join(dir, "cgroup.freeze"), []byte(v), 0)
	}
	frozen := func() bool {
		v, ok := keyedValues(filepath.Join(dir, "cgroup.events"))["frozen"]
		return !ok || v == 1
	}
	return emptyCgroup(ctx, cgPath, dir, freeze, frozen)
}

// emptyCgroup freezes, kills and thaws until the cgroup in dir is empty.
// Once the cgroup is frozen, every process in it gets SIGKILL before any
// can run again, and a process with a fatal signal pending cannot fork:
// one round ends them all, the rest is waiting for them to exit (killed
// again every half second, which costs nothing). A cgroup that does not
// finish freezing in a second (a process stuck in the kernel) is killed
// anyway, and frozen again for the next round.
func emptyCgroup(ctx context.Context, cgPath, dir string, freeze func(string) error, frozen func() bool) error {
	defer func() { _ = freeze("THAWED") }() // never leave it frozen
	for round := 0; ; round++ {
		if len(cgroupProcs(dir)) == 0 {
			return nil
		}
		if err := freeze("FROZEN"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kill cgroup %s: freeze: %w", cgPath, err)
		}
		deadline := time.Now().Add(time.Second)
		for !frozen() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		all := frozen()
		for _, pid := range cgroupProcs(dir) {
			_ = unix.Kill(pid, unix.SIGKILL) // ESRCH: already gone
		}
		if err := freeze("THAWED"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("kill cgroup %s: thaw: %w", cgPath, err)
		}
		for wait := 0; ; wait++ {
			wctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			err := waitEmpty(wctx, cgPath, dir)
			cancel()
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return fmt.Errorf("kill cgroup %s: %d processes left: %w", cgPath, len(cgroupProcs(dir)), ctx.Err())
			}
			if !all || wait >= 10 {
				break // freeze again
			}
			for _, pid := range cgroupProcs(dir) {
				_ = unix.Kill(pid, unix.SIGKILL)
			}
		}
	}
}

// waitEmpty polls until the cgroup in dir and its descendants hold no
// process.
func waitEmpty(ctx context.Context, cgPath, dir string) error {
	for {
		if len(cgroupProcs(dir)) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("kill cgroup %s: %w", cgPath, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// cgroupProcs lists the processes of the cgroup in dir and of its
// descendants.
func cgroupProcs(dir string) []int {
	var pids []int
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			b, _ := os.ReadFile(filepath.Join(p, "cgroup.procs"))
			for _, f := range strings.Fields(string(b)) {
				if n, err := strconv.Atoi(f); err == nil && n > 0 {
					pids = append(pids, n)
				}
			}
		}
		return nil
	})
	return pids
}

// liftQuota writes unlimited to a CPU quota file (the root cgroup has
// none: nothing to do) and returns what puts the old value back.
func liftQuota(file, unlimited string) (restore func()) {
	old, err := os.ReadFile(file)
	if err != nil || strings.TrimSpace(string(old)) == unlimited || filepath.Dir(file) == cgroupRoot {
		return func() {}
	}
	if err := os.WriteFile(file, []byte(unlimited), 0); err != nil {
		return func() {}
	}
	return func() { _ = os.WriteFile(file, []byte(strings.TrimSpace(string(old))), 0) }
}
