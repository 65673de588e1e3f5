package control

import (
	"context"
	"testing"
)

// TestStartTaskOnInstances: each registered node is a container instance
// of every cluster, with an id of its own per account; StartTask puts one
// task on each named instance, and reports full and unknown ones as
// failures.
func TestStartTaskOnInstances(t *testing.T) {
	c, _ := newServiceControl(t)
	ctx := context.Background()
	for _, n := range []Node{
		{ID: "node-a", CPU: 1024, Memory: 2048, MaxTaskCPU: 1024, MaxTaskMemory: 2048},
		{ID: "node-b", CPU: 256, Memory: 2048, MaxTaskCPU: 256, MaxTaskMemory: 2048},
	} {
		if err := c.RegisterNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	td, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{
		Family: "ec2", NetworkMode: "bridge", RequiresCompatibilities: []string{"EC2"}, Cpu: "512", Memory: "256",
		ContainerDefinitions: []ContainerDefinition{{Name: "app", Image: "app"}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	arns, _, err := c.ListContainerInstances(ctx, svcScope, "", "", Page{})
	if err != nil || len(arns) != 2 {
		t.Fatalf("ListContainerInstances: %v, %v", arns, err)
	}
	other := svcScope
	other.Account = "210987654321"
	if ContainerInstanceID(other, "default", "node-a") == ContainerInstanceID(svcScope, "default", "node-a") {
		t.Errorf("two accounts share a container instance id")
	}
	cis, _, err := c.DescribeContainerInstances(ctx, svcScope, "", arns)
	if err != nil {
		t.Fatal(err)
	}
	onA, onB := "", ""
	for _, ci := range cis {
		switch ci.Node {
		case "node-a":
			onA = ci.ARN
		case "node-b":
			onB = ci.ARN
		}
	}
	res, err := c.StartTask(ctx, svcScope, StartTaskInput{
		RunTaskInput:       RunTaskInput{TaskDefinition: td.TaskDefinitionArn},
		ContainerInstances: []string{onA, onB, "ffffffffffffffffffffffffffffffff"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Tasks) != 1 || res.Tasks[0].Node != "node-a" || res.Tasks[0].ContainerInstanceARN != onA || res.Tasks[0].LaunchType != LaunchTypeEC2 {
		t.Fatalf("StartTask tasks: %+v", res.Tasks)
	}
	reasons := map[string]bool{}
	for _, f := range res.Failures {
		reasons[f.Reason] = true
	}
	if !reasons["RESOURCE:CPU"] || !reasons["MISSING"] || len(res.Failures) != 2 {
		t.Errorf("StartTask failures %+v, want RESOURCE:CPU (node-b is too small) and MISSING", res.Failures)
	}
	cis, _, _ = c.DescribeContainerInstances(ctx, svcScope, "", []string{onA})
	if len(cis) != 1 || cis[0].PendingTasks != 1 || cis[0].RemainingCPU != 512 {
		t.Errorf("node-a after StartTask: %+v", cis)
	}
}
