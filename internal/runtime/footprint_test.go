package runtime

import (
	"os"
	"strconv"
	"strings"
	"testing"
)

// TestMonitorFootprint measures the memory of monitors parenting idle
// containers: RSS; PSS, where the pages of the binary shared by the
// monitors count once in all; and Private_Dirty, what each monitor costs
// on its own (heap, stacks, written data). Set FARGO_RUNTIME_MONITOR_CMD
// (space-separated) to measure another monitor binary, e.g. fargo itself.
func TestMonitorFootprint(t *testing.T) {
	e := newTestEnv(t)
	if c := os.Getenv("FARGO_RUNTIME_MONITOR_CMD"); c != "" {
		e.rt.cfg.MonitorCommand = strings.Fields(c)
	}
	const n = 5
	var rss, pss, dirty, threads int
	for i := range n {
		s := e.spec("idle"+strconv.Itoa(i), "sleep")
		e.start(s)
		e.waitOutput(s.ID, "ready")
	}
	for i := range n {
		var mon monitorRecord
		if err := readJSON(e.rt.file(e.spec("idle"+strconv.Itoa(i)).ID, fileMonitor), &mon); err != nil {
			t.Fatal(err)
		}
		proc := "/proc/" + strconv.Itoa(mon.PID)
		rss += procKB(t, proc+"/status", "VmRSS")
		threads += procKB(t, proc+"/status", "Threads")
		pss += procKB(t, proc+"/smaps_rollup", "Pss")
		dirty += procKB(t, proc+"/smaps_rollup", "Private_Dirty")
	}
	t.Logf("monitor %v, mean of %d: RSS %d KiB, PSS %d KiB, Private_Dirty %d KiB, %d threads",
		e.rt.cfg.MonitorCommand, n, rss/n, pss/n, dirty/n, threads/n)
}

// procKB reads "Key:  N kB" (or a bare number) from a /proc file.
func procKB(t *testing.T, file, key string) int {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if ok && k == key {
			n, _ := strconv.Atoi(strings.Fields(v)[0])
			return n
		}
	}
	return 0
}
