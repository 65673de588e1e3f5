package runtime

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"golang.org/x/sys/unix"
)

// cgroupRoot is where the cgroup hierarchies are mounted.
const cgroupRoot = "/sys/fs/cgroup"

// cgroupV2 reports whether the host runs the unified hierarchy only.
func cgroupV2() bool {
	var st unix.Statfs_t
	return unix.Statfs(cgroupRoot, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// v1Mounts maps each cgroup v1 controller (and named hierarchy) to its
// mount point, and lists every cgroup mount point (v1 and v2) once.
func v1Mounts() (byController map[string]string, all []string, err error) {
	f, err := os.Open("/proc/self/mounts")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	byController = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 4 || (fields[2] != "cgroup" && fields[2] != "cgroup2") {
			continue
		}
		if !slices.Contains(all, fields[1]) {
			all = append(all, fields[1])
		}
		if fields[2] == "cgroup" {
			for _, opt := range strings.Split(fields[3], ",") {
				byController[opt] = fields[1]
			}
		}
	}
	return byController, all, sc.Err()
}

// TaskResources are a task's Fargate size, enforced on its cgroup.
type TaskResources struct {
	// CPUUnits is the task's "cpu" (1024 = one vCPU): the cgroup's weight
	// and a CFS quota of CPUUnits/1024 CPUs. 0 = unlimited.
	CPUUnits int
	// MemoryBytes is the task's "memory": a hard limit shared by all its
	// containers (memory+swap too: Fargate has no swap). 0 = unlimited.
	MemoryBytes int64
	// PidsMax bounds the processes and threads of all the task's
	// containers together (pids.max). 0 = unlimited.
	PidsMax int64
}

// cfsPeriod is the CFS period the task quota is expressed in (100 ms).
const cfsPeriod = 100000

// CreateTaskCgroup creates the task-level cgroup at path (e.g.
// "/fargo/<taskid>"), the CgroupParent of the task's containers, with the
// task's CPU and memory limits. It is idempotent: limits are rewritten.
func (r *Runtime) CreateTaskCgroup(cgPath string, res TaskResources) error {
	cgPath = path.Join("/", cgPath)
	if cgPath == "/" {
		return errdefs.Invalidf("task cgroup path must not be the root")
	}
	if cgroupV2() {
		return createTaskCgroupV2(cgPath, res)
	}
	mounts, _, err := v1Mounts()
	if err != nil {
		return fmt.Errorf("task cgroup %s: %w", cgPath, err)
	}
	type setting struct{ controller, file, value string }
	var sets []setting
	if res.CPUUnits > 0 {
		sets = append(sets,
			setting{"cpu", "cpu.shares", strconv.Itoa(max(res.CPUUnits, 2))},
			setting{"cpu", "cpu.cfs_period_us", strconv.Itoa(cfsPeriod)},
			setting{"cpu", "cpu.cfs_quota_us", strconv.Itoa(max(res.CPUUnits*cfsPeriod/1024, 1000))})
	}
	if res.MemoryBytes > 0 {
		v := strconv.FormatInt(res.MemoryBytes, 10)
		sets = append(sets, setting{"memory", "memory.limit_in_bytes", v})
		if swapAccounting() {
			sets = append(sets, setting{"memory", "memory.memsw.limit_in_bytes", v})
		}
	}
	if res.PidsMax > 0 {
		sets = append(sets, setting{"pids", "pids.max", strconv.FormatInt(res.PidsMax, 10)})
	}
	for _, c := range []string{"cpu", "cpuacct", "memory", "pids", "freezer"} {
		mp, ok := mounts[c]
		if !ok {
			continue
		}
		if err := os.MkdirAll(filepath.Join(mp, cgPath), 0o755); err != nil {
			return fmt.Errorf("task cgroup %s: %w", cgPath, err)
		}
	}
	for _, s := range sets {
		mp, ok := mounts[s.controller]
		if !ok {
			return fmt.Errorf("task cgroup %s: controller %s: %w", cgPath, s.controller, errdefs.ErrUnsupported)
		}
		if err := os.WriteFile(filepath.Join(mp, cgPath, s.file), []byte(s.value), 0); err != nil {
			return fmt.Errorf("task cgroup %s: %w", cgPath, err)
		}
	}
	return nil
}

func createTaskCgroupV2(cgPath string, res TaskResources) error {
	// Delegate cpu, memory and pids down to the task's cgroup.
	parts := strings.Split(strings.Trim(cgPath, "/"), "/")
	dir := cgroupRoot
	for _, p := range parts {
		_ = os.WriteFile(filepath.Join(dir, "cgroup.subtree_control"), []byte("+cpu +memory +pids"), 0)
		dir = filepath.Join(dir, p)
		if err := os.Mkdir(dir, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("task cgroup %s: %w", cgPath, err)
		}
	}
	var sets [][2]string
	if res.CPUUnits > 0 {
		shares := uint64(max(res.CPUUnits, 2))
		weight := 1 + ((shares-2)*9999)/262142 // runc's shares→weight conversion
		sets = append(sets, [2]string{"cpu.weight", strconv.FormatUint(weight, 10)},
			[2]string{"cpu.max", fmt.Sprintf("%d %d", max(res.CPUUnits*cfsPeriod/1024, 1000), cfsPeriod)})
	}
	if res.MemoryBytes > 0 {
		sets = append(sets, [2]string{"memory.max", strconv.FormatInt(res.MemoryBytes, 10)},
			[2]string{"memory.swap.max", "0"})
	}
	if res.PidsMax > 0 {
		sets = append(sets, [2]string{"pids.max", strconv.FormatInt(res.PidsMax, 10)})
	}
	for _, s := range sets {
		err := os.WriteFile(filepath.Join(dir, s[0]), []byte(s[1]), 0)
		if err != nil && !(s[0] == "memory.swap.max" && os.IsNotExist(err)) {
			return fmt.Errorf("task cgroup %s: %w", cgPath, err)
		}
	}
	return nil
}

// RemoveTaskCgroup removes the task cgroup at path, and any cgroups left
// below it, from every hierarchy. The task's containers must be deleted.
func (r *Runtime) RemoveTaskCgroup(cgPath string) error {
	cgPath = path.Join("/", cgPath)
	if cgPath == "/" {
		return errdefs.Invalidf("task cgroup path must not be the root")
	}
	return removeCgroup(cgPath)
}

// removeCgroup rmdirs cgPath and its descendants in every hierarchy.
// Cgroup directories hold only kernel files, so rmdir is the way; a
// cgroup whose last process is still exiting is briefly EBUSY.
func removeCgroup(cgPath string) error {
	_, all, err := v1Mounts()
	if err != nil {
		return err
	}
	var errs []error
	for _, mp := range all {
		if err := rmdirTree(filepath.Join(mp, cgPath)); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func rmdirTree(dir string) error {
	entries, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			if err := rmdirTree(filepath.Join(dir, e.Name())); err != nil {
				return err
			}
		}
	}
	for i := 0; ; i++ {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) || i == 50 {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// oomKilled reports whether the kernel OOM-killed a process of the cgroup:
// the oom_kill counter of memory.oom_control (v1, kernel ≥ 4.13) or
// memory.events (v2). The counter is kept until the cgroup is removed,
// which runc delete does only after the monitor has written the exit
// file. Like Docker, any OOM kill in the container counts, not only
// init's.
func oomKilled(cgPath string) bool {
	if cgPath == "" {
		return false
	}
	file := filepath.Join(cgroupRoot, "memory", cgPath, "memory.oom_control")
	if cgroupV2() {
		file = filepath.Join(cgroupRoot, cgPath, "memory.events")
	}
	return keyedValue(file, "oom_kill") > 0
}

// keyedValue reads "key value" lines (memory.stat, memory.oom_control,
// cpu.stat) and returns key's value, 0 when absent.
func keyedValue(file, key string) uint64 {
	return keyedValues(file)[key]
}

func keyedValues(file string) map[string]uint64 {
	out := map[string]uint64{}
	b, err := os.ReadFile(file)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out
}
