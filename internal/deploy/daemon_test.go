package deploy_test

import (
	"context"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/control"
)

// TestDaemonOnePerNode: a DAEMON service runs exactly one task on every
// node, on the nodes that register later too, and rolls a new revision
// node by node (the old task stops before the new one starts: DAEMON's
// maximumPercent is 100).
func TestDaemonOnePerNode(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	reg := func(image string) *control.TaskDefinition {
		td, err := e.ctl.RegisterTaskDefinition(ctx, scope, &control.TaskDefinition{
			Family: "agent", NetworkMode: "bridge", RequiresCompatibilities: []string{"EC2"}, Cpu: "128", Memory: "128",
			ContainerDefinitions: []control.ContainerDefinition{{Name: "agent", Image: image}},
		}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return td
	}
	td1 := reg("agent:1")
	e.startController()
	if _, err := e.ctl.CreateService(ctx, scope, control.ServiceSpec{
		Name: "agent", TaskDefinition: td1.TaskDefinitionArn, LaunchType: "EC2", SchedulingStrategy: control.SchedulingDaemon,
	}); err != nil {
		t.Fatal(err)
	}
	// perNode lists the service's tasks on each node that are not STOPPED
	// yet (stopping ones included), by task definition.
	perNode := func() map[string][]string {
		out := map[string][]string{}
		for _, tk := range e.tasks() {
			if tk.Group == "service:agent" && tk.LastStatus != control.TaskStopped {
				out[tk.Node] = append(out[tk.Node], tk.TaskDefinitionARN)
			}
		}
		return out
	}
	onEach := func(nodes []string, tdARN string) func() bool {
		return func() bool {
			got := perNode()
			if len(got) != len(nodes) {
				return false
			}
			for _, n := range nodes {
				if len(got[n]) != 1 || got[n][0] != tdARN {
					return false
				}
			}
			return true
		}
	}
	e.waitFor("one task on node-1", 10*time.Second, onEach([]string{"node-1"}, td1.TaskDefinitionArn))

	// A second node joins: the daemon follows it there.
	if err := e.ctl.RegisterNode(ctx, control.Node{ID: "node-2", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	startFakeNode(t, e.ctl, "node-2")
	e.waitFor("one task on each node", 10*time.Second, onEach([]string{"node-1", "node-2"}, td1.TaskDefinitionArn))
	if svc := e.describe("agent"); svc.DesiredCount != 2 {
		t.Errorf("DAEMON desiredCount %d, want the 2 nodes", svc.DesiredCount)
	}

	// A new revision replaces each node's task; never two on a node.
	td2 := reg("agent:2")
	if _, err := e.ctl.UpdateService(ctx, scope, control.ServiceUpdate{Service: "agent", TaskDefinition: &td2.TaskDefinitionArn}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !onEach([]string{"node-1", "node-2"}, td2.TaskDefinitionArn)() {
		for n, tds := range perNode() {
			if len(tds) > 1 {
				t.Fatalf("node %s runs %d tasks of the daemon at once: %v", n, len(tds), tds)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon not rolled to revision 2: %v", perNode())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
