package agent

import (
	"os/exec"
	"strings"
	"testing"
)

// TestImportsNodeProtocolOnly checks the node seam: the agent speaks the
// node protocol (internal/node) and imports neither the control plane, nor
// any store, nor the API's wire types, so that it can run on another host.
func TestImportsNodeProtocolOnly(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go toolchain")
	}
	out, err := exec.Command("go", "list", "-deps", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps: %v\n%s", err, out)
	}
	const mod = "github.com/fargo-run/fargo/internal/"
	sawNode := false
	for _, pkg := range strings.Fields(string(out)) {
		rel, ok := strings.CutPrefix(pkg, mod)
		if !ok {
			continue
		}
		switch {
		case rel == "node":
			sawNode = true
		case rel == "control" || strings.HasPrefix(rel, "control/"),
			rel == "store" || strings.HasPrefix(rel, "store/"),
			rel == "api" || strings.HasPrefix(rel, "api/"):
			t.Errorf("internal/agent depends on %s", pkg)
		}
	}
	if !sawNode {
		t.Errorf("internal/agent does not import internal/node:\n%s", out)
	}
}
