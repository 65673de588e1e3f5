package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestSecondInstanceRefused: a second fargo with the network prefix of a
// running one (another data directory), or with its data directory
// (another prefix), exits non-zero before it touches anything, naming the
// first one's pid and the setting to change; the first one's task keeps
// running and answering.
func TestSecondInstanceRefused(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("lock")
	in.registerTaskDef("web", image, nil, nil)
	arn := in.runTask("web")
	ip := taskIP(t, in.waitTaskStatus(arn, "RUNNING", 60*time.Second))
	waitHTTP(t, "http://"+ip+":8080/", 10*time.Second)
	pid := fmt.Sprintf("pid %d", in.cmd.Process.Pid)

	for _, tc := range []struct {
		name string
		env  []string
		want []string
	}{
		{"same prefix", []string{"FARGO_NO_AGENT=0", "FARGO_ALLOW_HOST_ACCESS=1"},
			[]string{`network prefix "` + e2eNetPrefix + `"`, pid, "FARGO_NETWORK_PREFIX"}},
		{"same data dir", []string{"FARGO_NO_AGENT=0", "FARGO_ALLOW_HOST_ACCESS=1", "FARGO_DATA_DIR=" + in.dataDir,
			"FARGO_NETWORK_PREFIX=" + e2eNetPrefix + "x", "FARGO_TASK_POOL=10.216.0.0/16", "FARGO_METADATA_IP=169.254.170.9"},
			[]string{"data directory " + in.dataDir, pid, "FARGO_DATA_DIR"}},
	} {
		second := newInstance(t, tc.env...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, fargoBin, "server")
		cmd.Env = second.env
		out, err := cmd.CombinedOutput()
		timedOut := ctx.Err() != nil
		cancel()
		if err == nil || timedOut {
			t.Errorf("%s: second fargo: %v (want a prompt non-zero exit)\n%s", tc.name, err, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(string(out), w) {
				t.Errorf("%s: output lacks %q:\n%s", tc.name, w, out)
			}
		}
		if body, err := httpGet("http://" + ip + ":8080/"); err != nil || !strings.HasPrefix(body, "hello") {
			t.Fatalf("%s: the first fargo's task stopped answering: %v %q", tc.name, err, body)
		}
		in.waitTaskStatus(arn, "RUNNING", time.Second)
	}
}
