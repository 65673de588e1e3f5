package e2e

import (
	"strings"
	"testing"
)

// TestHostAccessRefused: by default fargo refuses EC2 tasks and services
// that reach the host (here the host network mode and a privileged
// container), with InvalidParameterException naming --allow-host-access;
// the AWS CLI shows it.
func TestHostAccessRefused(t *testing.T) {
	in := newInstance(t) // no agent: the refusal comes before placement
	in.start()
	for family, extra := range map[string]string{
		"hostnet": `"networkMode":"host"`,
		"priv":    `"networkMode":"bridge","containerDefinitions":[{"name":"app","image":"app","memory":64,"privileged":true}]`,
	} {
		td := `{"family":"` + family + `","requiresCompatibilities":["EC2"],` + extra
		if !strings.Contains(extra, "containerDefinitions") {
			td += `,"containerDefinitions":[{"name":"app","image":"app","memory":64}]`
		}
		td += "}"
		in.mustAWS("ecs", "register-task-definition", "--cli-input-json", td)
		_, err := in.aws("ecs", "run-task", "--launch-type", "EC2", "--task-definition", family)
		if err == nil || !strings.Contains(err.Error(), "InvalidParameterException") || !strings.Contains(err.Error(), "--allow-host-access") {
			t.Errorf("run-task %s: %v, want InvalidParameterException naming --allow-host-access", family, err)
		}
		_, err = in.aws("ecs", "create-service", "--service-name", family, "--launch-type", "EC2", "--task-definition", family, "--desired-count", "1")
		if err == nil || !strings.Contains(err.Error(), "--allow-host-access") {
			t.Errorf("create-service %s: %v, want the same refusal", family, err)
		}
	}
}
