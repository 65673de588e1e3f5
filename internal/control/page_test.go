package control

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// pageThrough pages a list with first being the items before paging
// starts; between pages (the first maxChanges), change adds or removes
// items and returns those it removed. Every item of first that change never removed must come exactly
// once, no item may come twice, and no token may go invalid.
const maxChanges = 4

func pageThrough(t *testing.T, name string, first []string, list func(token string) ([]string, string, error), change func(step int) []string) {
	t.Helper()
	always := map[string]bool{}
	for _, a := range first {
		always[a] = true
	}
	seen := map[string]int{}
	tok := ""
	for step := 0; ; step++ {
		if step > 100 {
			t.Fatalf("%s: no last page", name)
		}
		page, next, err := list(tok)
		if err != nil {
			t.Errorf("%s: page %d: %v", name, step+1, err)
			return
		}
		for _, a := range page {
			seen[a]++
		}
		if next == "" {
			break
		}
		tok = next
		if step >= maxChanges {
			continue // let the list end
		}
		for _, a := range change(step) {
			delete(always, a)
		}
	}
	for a := range always {
		if seen[a] != 1 {
			t.Errorf("%s: %s, present throughout, came %d times", name, a, seen[a])
		}
	}
	for a, n := range seen {
		if n > 1 {
			t.Errorf("%s: %s came %d times", name, a, n)
		}
	}
}

// TestPagingUnderChanges: each ECS list keeps its tokens valid, and skips
// or repeats nothing, while items are added and removed between pages.
func TestPagingUnderChanges(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "fam")
	run := func() *Task {
		res, err := c.RunTask(ctx, svcScope, fargateRun(td.TaskDefinitionArn))
		if err != nil || len(res.Tasks) != 1 {
			t.Fatalf("RunTask: %+v %v", res, err)
		}
		return res.Tasks[0]
	}

	var tasks []string
	for range 7 {
		tasks = append(tasks, run().ARN)
	}
	pageThrough(t, "ListTasks", tasks, func(tok string) ([]string, string, error) {
		return c.ListTasks(ctx, svcScope, "", ListTasksFilter{}, Page{MaxResults: 2, Token: tok})
	}, func(step int) []string {
		run()
		run()
		// Stop a task: whether or not it was listed already, it is not
		// present throughout.
		victim := tasks[(step*3+1)%len(tasks)]
		if _, err := c.StopTask(ctx, svcScope, "", victim, ""); err != nil {
			t.Fatal(err)
		}
		return []string{victim}
	})

	var revs []string
	for range 5 {
		revs = append(revs, registerFargate(t, c, "fam").TaskDefinitionArn)
	}
	revs = append(revs, td.TaskDefinitionArn)
	for _, desc := range []bool{false, true} {
		pageThrough(t, fmt.Sprintf("ListTaskDefinitions desc=%v", desc), revs, func(tok string) ([]string, string, error) {
			return c.ListTaskDefinitions(ctx, svcScope, "", "", desc, Page{MaxResults: 2, Token: tok})
		}, func(int) []string {
			registerFargate(t, c, "fam")
			registerFargate(t, c, "a-first")
			return nil
		})
	}

	var fams []string
	for i := range 5 {
		fams = append(fams, registerFargate(t, c, fmt.Sprintf("f%d", i*2)).Family)
	}
	n := 0
	pageThrough(t, "ListTaskDefinitionFamilies", fams, func(tok string) ([]string, string, error) {
		return c.ListTaskDefinitionFamilies(ctx, svcScope, "f", "", Page{MaxResults: 2, Token: tok})
	}, func(int) []string {
		n++
		registerFargate(t, c, fmt.Sprintf("f%d", n*2-1)) // between existing ones
		registerFargate(t, c, "f")
		return nil
	})

	var clusters []string
	for i := range 5 {
		cl, err := c.CreateCluster(ctx, svcScope, ClusterSpec{Name: fmt.Sprintf("c%d", i*2)})
		if err != nil {
			t.Fatal(err)
		}
		clusters = append(clusters, cl.ARN)
	}
	n = 0
	pageThrough(t, "ListClusters", clusters, func(tok string) ([]string, string, error) {
		return c.ListClusters(ctx, svcScope, Page{MaxResults: 2, Token: tok})
	}, func(step int) []string {
		n++
		if _, err := c.CreateCluster(ctx, svcScope, ClusterSpec{Name: fmt.Sprintf("c%d", n*2-1)}); err != nil {
			t.Fatal(err)
		}
		gone, err := c.DeleteCluster(ctx, svcScope, fmt.Sprintf("c%d", step*2))
		if err != nil {
			t.Fatal(err)
		}
		return []string{gone.ARN}
	})

	var services []string
	for i := range 5 {
		spec := ServiceSpec{Name: fmt.Sprintf("s%d", i*2), TaskDefinition: td.TaskDefinitionArn, DesiredCount: ptr(0), LaunchType: "FARGATE",
			NetworkConfiguration: &NetworkConfiguration{Subnets: []string{"subnet-1"}}}
		svc, err := c.CreateService(ctx, svcScope, spec)
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, svc.ARN)
	}
	n = 0
	pageThrough(t, "ListServices", services, func(tok string) ([]string, string, error) {
		return c.ListServices(ctx, svcScope, "", ListServicesFilter{}, Page{MaxResults: 2, Token: tok})
	}, func(step int) []string {
		n++
		spec := ServiceSpec{Name: fmt.Sprintf("s%d", n*2-1), TaskDefinition: td.TaskDefinitionArn, DesiredCount: ptr(0), LaunchType: "FARGATE",
			NetworkConfiguration: &NetworkConfiguration{Subnets: []string{"subnet-1"}}}
		if _, err := c.CreateService(ctx, svcScope, spec); err != nil {
			t.Fatal(err)
		}
		gone, err := c.DeleteService(ctx, svcScope, "", fmt.Sprintf("s%d", step*2), true)
		if err != nil {
			t.Fatal(err)
		}
		return []string{gone.ARN}
	})

	var instances []string
	for i := range 4 {
		id := fmt.Sprintf("node-%c", 'b'+i)
		if err := c.RegisterNode(ctx, Node{ID: id, CPU: 1024, Memory: 1024, MaxTaskCPU: 1024, MaxTaskMemory: 1024}); err != nil {
			t.Fatal(err)
		}
		instances = append(instances, ContainerInstanceARN(svcScope, "default", id))
	}
	instances = append(instances, ContainerInstanceARN(svcScope, "default", "node-a"))
	n = 0
	pageThrough(t, "ListContainerInstances", instances, func(tok string) ([]string, string, error) {
		return c.ListContainerInstances(ctx, svcScope, "", "", Page{MaxResults: 2, Token: tok})
	}, func(int) []string {
		n++
		if err := c.RegisterNode(ctx, Node{ID: fmt.Sprintf("node-new%d", n), CPU: 1024, Memory: 1024, MaxTaskCPU: 1024, MaxTaskMemory: 1024}); err != nil {
			t.Fatal(err)
		}
		return nil
	})
}

// TestPagingRejectsForeignTokens: garbage, and a token of another list,
// are "Invalid nextToken." (InvalidParameterException).
func TestPagingRejectsForeignTokens(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	for i := range 3 {
		registerFargate(t, c, fmt.Sprintf("f%d", i))
	}
	_, tok, err := c.ListTaskDefinitionFamilies(ctx, svcScope, "", "", Page{MaxResults: 1})
	if err != nil || tok == "" {
		t.Fatalf("first page: %q %v", tok, err)
	}
	for _, bad := range []string{"garbage", "e30", tok + "x"} {
		if _, _, err := c.ListTaskDefinitionFamilies(ctx, svcScope, "", "", Page{MaxResults: 1, Token: bad}); !isInvalidToken(err) {
			t.Errorf("token %q: %v", bad, err)
		}
	}
	if _, _, err := c.ListTaskDefinitions(ctx, svcScope, "", "", false, Page{MaxResults: 1, Token: tok}); !isInvalidToken(err) {
		t.Errorf("a ListTaskDefinitionFamilies token in ListTaskDefinitions: %v", err)
	}
}

func isInvalidToken(err error) bool {
	return err != nil && err.Error() == InvalidParameterf("Invalid nextToken.").Error()
}

// TestServiceDeploymentsPagingUnderChanges: new deployments (newest
// first, so before the position) between pages move nothing.
func TestServiceDeploymentsPagingUnderChanges(t *testing.T) {
	c, _, clock := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "fam")
	svc, err := c.CreateService(ctx, svcScope, ServiceSpec{Name: "s", TaskDefinition: td.TaskDefinitionArn, DesiredCount: ptr(0), LaunchType: "FARGATE",
		NetworkConfiguration: &NetworkConfiguration{Subnets: []string{"subnet-1"}}})
	if err != nil {
		t.Fatal(err)
	}
	deploy := func() {
		clock.Add(time.Second)
		if _, err := c.UpdateService(ctx, svcScope, ServiceUpdate{Service: "s", ForceNewDeployment: true}); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		deploy()
	}
	list := func(tok string) ([]string, string, error) {
		infos, next, err := c.ListServiceDeployments(ctx, svcScope, "", "s", ServiceDeploymentFilter{}, Page{MaxResults: 2, Token: tok})
		var arns []string
		for _, i := range infos {
			arns = append(arns, ServiceDeploymentARN(svcScope, svc, i.Deployment))
		}
		return arns, next, err
	}
	first, _, err := c.ListServiceDeployments(ctx, svcScope, "", "s", ServiceDeploymentFilter{}, Page{})
	if err != nil || len(first) < 3 {
		t.Fatalf("deployments: %d, %v", len(first), err)
	}
	var arns []string
	for _, i := range first {
		arns = append(arns, ServiceDeploymentARN(svcScope, svc, i.Deployment))
	}
	pageThrough(t, "ListServiceDeployments", arns, list, func(int) []string {
		deploy()
		return nil
	})
}
