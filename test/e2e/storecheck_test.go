package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
)

// checkStore runs `fargo check` on the instance's store while fargo is
// down: every secondary index (node tasks, service index, task-definition
// status, families, client tokens) must agree with its records, whatever
// moment a kill -9 hit. start runs it before every restart, and
// newAgentInstance after the last stop.
func (in *instance) checkStore() {
	in.t.Helper()
	if in.cmd != nil {
		in.t.Error("checkStore: fargo is running (its store is locked)")
		return
	}
	if _, err := os.Stat(filepath.Join(in.dataDir, "fargo.db")); err != nil {
		return // never started
	}
	cmd := exec.Command(fargoBin, "check", "--data-dir", in.dataDir)
	cmd.Env = in.env
	if out, err := cmd.CombinedOutput(); err != nil {
		// Not Fatal: the test goes on, so that its tasks are stopped
		// and cleaned up.
		in.t.Errorf("fargo check: %v\n%s", err, out)
	}
}
