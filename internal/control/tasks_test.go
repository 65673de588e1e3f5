package control

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
)

// testClock is a settable clock for the control plane.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newTaskControl is a control plane on a fresh store with a clock of its
// own and one roomy node, and the store under it.
func newTaskControl(t *testing.T) (*Control, store.Store, *testClock) {
	t.Helper()
	st := openTestStore(t)
	clock := &testClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	c := New(Config{Now: clock.Now}, st)
	if err := c.RegisterNode(context.Background(), Node{ID: "node-a", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	return c, st, clock
}

func registerFargate(t *testing.T, c *Control, family string, cds ...ContainerDefinition) *TaskDefinition {
	t.Helper()
	if len(cds) == 0 {
		cds = []ContainerDefinition{{Name: "app", Image: "app"}}
	}
	td, err := c.RegisterTaskDefinition(context.Background(), svcScope, &TaskDefinition{
		Family: family, NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"}, Cpu: "256", Memory: "512",
		ContainerDefinitions: cds,
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func fargateRun(td string) RunTaskInput {
	return RunTaskInput{TaskDefinition: td, LaunchType: LaunchTypeFargate,
		NetworkConfiguration: &NetworkConfiguration{Subnets: []string{"subnet-0123456789abcdef0"}}}
}

func stopNow(t *testing.T, c *Control, task *Task) {
	t.Helper()
	_, err := c.UpdateTaskState(context.Background(), TaskRef{Scope: svcScope, Cluster: task.Cluster, ID: task.ID},
		TaskStateChange{LastStatus: TaskStopped, StopCode: StopUserInitiated, Reason: "test"})
	if err != nil {
		t.Fatal(err)
	}
}

// TestListTasksContainerInstance: the containerInstance filter takes an
// id or an ARN and keeps the tasks placed on that instance; Fargate tasks
// are on none.
func TestListTasksContainerInstance(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	if err := c.RegisterNode(ctx, Node{ID: "node-b", CPU: 8192, Memory: 16384, MaxTaskCPU: 4096, MaxTaskMemory: 8192}); err != nil {
		t.Fatal(err)
	}
	ec2, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{
		Family: "ec2", NetworkMode: "bridge", RequiresCompatibilities: []string{"EC2"}, Cpu: "256", Memory: "256",
		ContainerDefinitions: []ContainerDefinition{{Name: "app", Image: "app"}},
	}, "test")
	if err != nil {
		t.Fatal(err)
	}
	onA, onB := ContainerInstanceARN(svcScope, "default", "node-a"), ContainerInstanceARN(svcScope, "default", "node-b")
	started, err := c.StartTask(ctx, svcScope, StartTaskInput{RunTaskInput: RunTaskInput{TaskDefinition: ec2.TaskDefinitionArn},
		ContainerInstances: []string{onA, onB}})
	if err != nil || len(started.Tasks) != 2 {
		t.Fatalf("StartTask: %+v, %v", started, err)
	}
	taskOn := map[string]string{}
	for _, tk := range started.Tasks {
		taskOn[tk.ContainerInstanceARN] = tk.ARN
	}
	fg := registerFargate(t, c, "fg")
	if _, err := c.RunTask(ctx, svcScope, fargateRun(fg.TaskDefinitionArn)); err != nil {
		t.Fatal(err)
	}
	all, _, err := c.ListTasks(ctx, svcScope, "", ListTasksFilter{}, Page{})
	if err != nil || len(all) != 3 {
		t.Fatalf("ListTasks without a filter: %v, %v", all, err)
	}

	other := svcScope
	other.Account = "210987654321"
	for _, tc := range []struct {
		name, ref string
		want      []string
	}{
		{"ARN of A", onA, []string{taskOn[onA]}},
		{"id of A", ContainerInstanceID(svcScope, "default", "node-a"), []string{taskOn[onA]}},
		{"ARN of B", onB, []string{taskOn[onB]}},
		{"unknown id", "ffffffffffffffffffffffffffffffff", nil},
		{"instance of another cluster", ContainerInstanceARN(svcScope, "other", "node-a"), nil},
		{"instance of another account", ContainerInstanceARN(other, "default", "node-a"), nil},
	} {
		got, _, err := c.ListTasks(ctx, svcScope, "", ListTasksFilter{ContainerInstance: tc.ref}, Page{})
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: ListTasks(containerInstance=%s) = %v, %v; want %v", tc.name, tc.ref, got, err, tc.want)
		}
	}
	_, _, err = c.ListTasks(ctx, svcScope, "", ListTasksFilter{ContainerInstance: fg.TaskDefinitionArn}, Page{})
	if !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("containerInstance = a task definition ARN: err %v, want invalid argument", err)
	}
}

// TestRunTaskClientTokenOutlivesPurge: a replayed token returns the same
// tasks, other parameters conflict, and once the tasks are purged the
// token goes with them in the same transaction, so reusing it runs new
// tasks instead of failing.
func TestRunTaskClientTokenOutlivesPurge(t *testing.T) {
	c, st, clock := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "tok")
	in := fargateRun(td.TaskDefinitionArn)
	in.ClientToken, in.Count = "token-1", 2
	first, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(first.Tasks) != 2 {
		t.Fatalf("RunTask: %+v, %v", first, err)
	}
	again, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(again.Tasks) != 2 || again.Tasks[0].ARN != first.Tasks[0].ARN || again.Tasks[1].ARN != first.Tasks[1].ARN {
		t.Fatalf("replay: %+v, %v; want the first tasks", again, err)
	}
	changed := in
	changed.StartedBy = "someone-else"
	if _, err := c.RunTask(ctx, svcScope, changed); !errors.Is(err, ErrClientTokenConflict) {
		t.Fatalf("token reused with other parameters: err %v, want ErrClientTokenConflict", err)
	}

	// One task stops and ages out; the other stops later.
	stopNow(t, c, first.Tasks[0])
	clock.Add(time.Hour)
	stopNow(t, c, first.Tasks[1])
	clock.Add(StoppedTaskRetention - 30*time.Minute)
	if n, err := c.PurgeStoppedTasks(ctx); err != nil || n != 1 {
		t.Fatalf("first purge: %d, %v; want 1", n, err)
	}
	if _, err := st.Get(ctx, tokenKey(svcScope, "token-1")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the token outlived a purged task of its own: %v", err)
	}
	// Reusing it now runs new tasks (no 500, no replay of half a result).
	fresh, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(fresh.Tasks) != 2 || fresh.Tasks[0].ARN == first.Tasks[0].ARN || fresh.Tasks[0].ARN == first.Tasks[1].ARN {
		t.Fatalf("token reused after purge: %+v, %v; want two new tasks", fresh, err)
	}
	// The second purge takes the last old task and must leave the token,
	// which now names the new tasks.
	clock.Add(time.Hour)
	if n, err := c.PurgeStoppedTasks(ctx); err != nil || n != 1 {
		t.Fatalf("second purge: %d, %v; want 1", n, err)
	}
	replay, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(replay.Tasks) != 2 || replay.Tasks[0].ARN != fresh.Tasks[0].ARN {
		t.Fatalf("replay after the second purge: %+v, %v; want the new tasks", replay, err)
	}
}

// TestRunTaskTokenOfMissingTasks: a token record whose tasks are gone
// (written before tokens were purged with their tasks) counts as expired.
func TestRunTaskTokenOfMissingTasks(t *testing.T) {
	c, st, _ := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "tok")
	in := fargateRun(td.TaskDefinitionArn)
	in.ClientToken = "legacy"
	first, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(first.Tasks) != 1 {
		t.Fatalf("RunTask: %+v, %v", first, err)
	}
	// The task is gone as a purge removes one: STOPPED first (which
	// takes it off its node), then deleted, its token left behind.
	stopNow(t, c, first.Tasks[0])
	if _, err := st.Delete(ctx, taskKey(svcScope, "default", first.Tasks[0].ID)); err != nil {
		t.Fatal(err)
	}
	again, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(again.Tasks) != 1 || again.Tasks[0].ARN == first.Tasks[0].ARN {
		t.Fatalf("token of a missing task: %+v, %v; want a new task", again, err)
	}
}

// TestRunTaskContainerSizeOverrides: a task's containers show the cpu
// and memory their overrides set, the definition's otherwise.
func TestRunTaskContainerSizeOverrides(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "sized",
		ContainerDefinition{Name: "app", Image: "app", Cpu: 128, Memory: ptr(256), MemoryReservation: ptr(64)},
		ContainerDefinition{Name: "side", Image: "side", Cpu: 64, Memory: ptr(128)})
	in := fargateRun(td.TaskDefinitionArn)
	in.Overrides = &TaskOverride{Cpu: "512", Memory: "1024", ContainerOverrides: []ContainerOverride{
		{Name: "app", Cpu: ptr(200), Memory: ptr(300), MemoryReservation: ptr(100)},
	}}
	res, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %+v, %v", res, err)
	}
	tk := res.Tasks[0]
	if tk.Cpu != "512" || tk.Memory != "1024" {
		t.Errorf("task size %s/%s, want the overrides' 512/1024", tk.Cpu, tk.Memory)
	}
	app, side := tk.Container("app"), tk.Container("side")
	if app.Cpu != "200" || app.Memory != "300" || app.MemoryReservation != "100" {
		t.Errorf("app: cpu %s memory %s reservation %s, want the override's 200/300/100", app.Cpu, app.Memory, app.MemoryReservation)
	}
	if side.Cpu != "64" || side.Memory != "128" || side.MemoryReservation != "" {
		t.Errorf("side: cpu %s memory %s reservation %q, want the definition's 64/128/none", side.Cpu, side.Memory, side.MemoryReservation)
	}
}

// TestRunTaskEphemeralStorageOverride: a Fargate task's ephemeral storage
// is 20 GiB, the definition's, or the override's (21-200 GiB).
func TestRunTaskEphemeralStorageOverride(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "disk", ContainerDefinition{Name: "app", Image: "app"})
	for _, tc := range []struct {
		size int
		want int
		err  bool
	}{{0, 20, false}, {50, 50, false}, {20, 0, true}, {201, 0, true}} {
		in := fargateRun(td.TaskDefinitionArn)
		if tc.size > 0 {
			in.Overrides = &TaskOverride{EphemeralStorage: &EphemeralStorage{SizeInGiB: tc.size}}
		}
		res, err := c.RunTask(ctx, svcScope, in)
		if tc.err {
			if !errors.Is(err, ErrInvalidParameter) {
				t.Errorf("override %d GiB: %v, want InvalidParameter", tc.size, err)
			}
			continue
		}
		if err != nil || len(res.Tasks) != 1 || res.Tasks[0].EphemeralStorageGiB != tc.want {
			t.Errorf("override %d GiB: %+v, %v, want %d GiB", tc.size, res, err, tc.want)
		}
	}
}

// TestRunTaskRepositoryCredentialsWarned: fargo has no Secrets Manager, so
// a container's repositoryCredentials cannot be used; the task runs (its
// image is pulled with the host's credentials) and the log says so.
func TestRunTaskRepositoryCredentialsWarned(t *testing.T) {
	c, _, _ := newTaskControl(t)
	var logs bytes.Buffer
	c.log = slog.New(slog.NewTextHandler(&logs, nil))
	td := registerFargate(t, c, "private", ContainerDefinition{Name: "app", Image: "registry.example/private:1",
		RepositoryCredentials: &RepositoryCredentials{CredentialsParameter: "arn:aws:secretsmanager:us-east-1:123456789012:secret:hub"}})
	res, err := c.RunTask(context.Background(), svcScope, fargateRun(td.TaskDefinitionArn))
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %+v, %v", res, err)
	}
	if !strings.Contains(logs.String(), "repositoryCredentials ignored") || !strings.Contains(logs.String(), "secret:hub") {
		t.Errorf("no warning about the ignored repositoryCredentials:\n%s", logs.String())
	}
}

// TestRunTaskNetworkConfiguration: awsvpc needs a network configuration
// with well-formed subnet and security group ids; other modes take none.
func TestRunTaskNetworkConfiguration(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "net")
	bridge, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{Family: "bridged", NetworkMode: "bridge",
		RequiresCompatibilities: []string{"EC2"}, Cpu: "256", Memory: "256", ContainerDefinitions: []ContainerDefinition{{Name: "app", Image: "app"}}}, "test")
	if err != nil {
		t.Fatal(err)
	}
	nc := func(subnets, sgs []string) *NetworkConfiguration {
		return &NetworkConfiguration{Subnets: subnets, SecurityGroups: sgs}
	}
	for _, tc := range []struct {
		name, td, launch string
		nc               *NetworkConfiguration
		want             string // "" = accepted
	}{
		{"awsvpc without one", td.TaskDefinitionArn, LaunchTypeFargate, nil, "Network Configuration must be provided when networkMode 'awsvpc' is specified."},
		{"no subnets", td.TaskDefinitionArn, LaunchTypeFargate, nc(nil, nil), "subnets can not be empty."},
		{"malformed subnet", td.TaskDefinitionArn, LaunchTypeFargate, nc([]string{"net-1"}, nil), "Error retrieving subnet information for [net-1]: The subnet ID 'net-1' is malformed"},
		{"malformed security group", td.TaskDefinitionArn, LaunchTypeFargate, nc([]string{"subnet-1"}, []string{"group-1"}),
			`Error retrieving security group information for [group-1]: Invalid id: "group-1" (expecting "sg-...")`},
		{"well formed", td.TaskDefinitionArn, LaunchTypeFargate, nc([]string{"subnet-1"}, []string{"sg-0123456789abcdef0"}), ""},
		{"bridge with one", bridge.TaskDefinitionArn, LaunchTypeEC2, nc([]string{"subnet-1"}, nil), "Network Configuration is not valid for the given networkMode of this task definition."},
	} {
		_, err := c.RunTask(ctx, svcScope, RunTaskInput{TaskDefinition: tc.td, LaunchType: tc.launch, NetworkConfiguration: tc.nc})
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (!errors.Is(err, errdefs.ErrInvalidArgument) || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: err %v, want invalid argument %q", tc.name, err, tc.want)
		}
	}
}

// TestRunTaskHostPorts: tasks that bind a fixed host port (bridge with a
// hostPort, host mode) never share a node; the one that does not fit is a
// RESOURCE:PORTS failure, and the port is free again once its holder has
// stopped. Dynamic host ports (0) and awsvpc tasks take no fixed port.
func TestRunTaskHostPorts(t *testing.T) {
	c, _, _ := newTaskControl(t)
	c.allowHostAccess = true // host network mode
	ctx := context.Background()
	reg := func(family, mode string, pm PortMapping) string {
		td, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{Family: family, NetworkMode: mode,
			RequiresCompatibilities: []string{"EC2"}, Cpu: "256", Memory: "256",
			ContainerDefinitions: []ContainerDefinition{{Name: "app", Image: "app", PortMappings: []PortMapping{pm}}}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return td.TaskDefinitionArn
	}
	fixed := reg("fixed", "bridge", PortMapping{ContainerPort: ptr(80), HostPort: ptr(8080)})
	dynamic := reg("dynamic", "bridge", PortMapping{ContainerPort: ptr(80), HostPort: ptr(0)})
	host := reg("host", "host", PortMapping{ContainerPort: ptr(8080)})
	udp := reg("udp", "host", PortMapping{ContainerPort: ptr(8080), Protocol: "udp"})
	run := func(td string, count int) *RunTaskResult {
		t.Helper()
		res, err := c.RunTask(ctx, svcScope, RunTaskInput{TaskDefinition: td, Count: count, LaunchType: LaunchTypeEC2})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	portFailures := func(res *RunTaskResult) int {
		n := 0
		for _, f := range res.Failures {
			if f.Reason == "RESOURCE:PORTS" {
				n++
			}
		}
		return n
	}
	res := run(fixed, 2)
	if len(res.Tasks) != 1 || portFailures(res) != 1 || !strings.Contains(res.Failures[0].Detail, "tcp/8080") {
		t.Fatalf("two tasks on host port 8080 of one node: %d tasks, failures %+v", len(res.Tasks), res.Failures)
	}
	holder := res.Tasks[0]
	if res := run(host, 1); len(res.Tasks) != 0 || portFailures(res) != 1 {
		t.Errorf("host mode on the taken port 8080: %d tasks, failures %+v", len(res.Tasks), res.Failures)
	}
	if res := run(udp, 1); len(res.Tasks) != 1 {
		t.Errorf("udp/8080 beside tcp/8080: failures %+v", res.Failures)
	}
	if res := run(dynamic, 3); len(res.Tasks) != 3 {
		t.Errorf("dynamic host ports: %d tasks, failures %+v", len(res.Tasks), res.Failures)
	}
	stopNow(t, c, holder)
	if res := run(host, 1); len(res.Tasks) != 1 {
		t.Errorf("host port 8080 after its holder stopped: failures %+v", res.Failures)
	}
}

// TestTaskTags: TagResource, UntagResource and ListTagsForResource take a
// task's ARN; a task of another cluster is not found.
func TestTaskTags(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	td := registerFargate(t, c, "tagged")
	in := fargateRun(td.TaskDefinitionArn)
	in.Tags = []Tag{{Key: "team", Value: "web"}}
	res, err := c.RunTask(ctx, svcScope, in)
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("RunTask: %+v, %v", res, err)
	}
	arn := res.Tasks[0].ARN
	if err := c.TagResource(ctx, svcScope, arn, []Tag{{Key: "env", Value: "ci"}, {Key: "team", Value: "api"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.UntagResource(ctx, svcScope, arn, []string{"env"}); err != nil {
		t.Fatal(err)
	}
	tags, err := c.ListTagsForResource(ctx, svcScope, arn)
	if err != nil || len(tags) != 1 || tags[0] != (Tag{Key: "team", Value: "api"}) {
		t.Fatalf("tags %+v, %v", tags, err)
	}
	tasks, _, err := c.DescribeTasks(ctx, svcScope, "", []string{arn})
	if err != nil || len(tasks) != 1 || len(tasks[0].Tags) != 1 || tasks[0].Tags[0].Value != "api" {
		t.Fatalf("DescribeTasks after tagging: %+v, %v", tasks, err)
	}
	other := strings.Replace(arn, "/default/", "/elsewhere/", 1)
	if _, err := c.ListTagsForResource(ctx, svcScope, other); !errors.Is(err, ErrResourceNotFound) {
		t.Errorf("tags of a task in another cluster: %v, want not found", err)
	}
}

// TestHostAccess: EC2 tasks that reach the host (host network mode, host
// volumes, privileged, added capabilities, devices) run only where the
// operator allowed it; bridge tasks with Fargate's SYS_PTRACE always run.
func TestHostAccess(t *testing.T) {
	c, _, _ := newTaskControl(t)
	ctx := context.Background()
	yes := true
	reg := func(family, mode string, vols []Volume, cd ContainerDefinition) string {
		t.Helper()
		cd.Name, cd.Image = "app", "app"
		td, err := c.RegisterTaskDefinition(ctx, svcScope, &TaskDefinition{Family: family, NetworkMode: mode,
			RequiresCompatibilities: []string{"EC2"}, Cpu: "256", Memory: "256", Volumes: vols,
			ContainerDefinitions: []ContainerDefinition{cd}}, "test")
		if err != nil {
			t.Fatal(err)
		}
		return td.TaskDefinitionArn
	}
	refused := map[string]string{
		"networkMode host": reg("hostnet", "host", nil, ContainerDefinition{}),
		"host.sourcePath":  reg("hostvol", "bridge", []Volume{{Name: "etc", Host: &HostVolumeProperties{SourcePath: "/etc"}}}, ContainerDefinition{}),
		"privileged":       reg("priv", "bridge", nil, ContainerDefinition{Privileged: &yes}),
		"capability ALL": reg("caps", "bridge", nil, ContainerDefinition{LinuxParameters: &LinuxParameters{
			Capabilities: &KernelCapabilities{Add: []string{"SYS_PTRACE", "ALL"}}}}),
	}
	fine := reg("ptrace", "bridge", []Volume{{Name: "scratch"}}, ContainerDefinition{LinuxParameters: &LinuxParameters{
		Capabilities: &KernelCapabilities{Add: []string{"sys_ptrace"}}}})
	run := func(td string) (*RunTaskResult, error) {
		return c.RunTask(ctx, svcScope, RunTaskInput{TaskDefinition: td, LaunchType: LaunchTypeEC2})
	}
	for what, td := range refused {
		_, err := run(td)
		if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), what) || !strings.Contains(err.Error(), "--allow-host-access") {
			t.Errorf("%s without --allow-host-access: %v", what, err)
		}
	}
	if res, err := run(fine); err != nil || len(res.Tasks) != 1 {
		t.Errorf("bridge task with SYS_PTRACE and a task volume: %+v, %v", res, err)
	}
	c.allowHostAccess = true
	for what, td := range refused {
		if res, err := run(td); err != nil || len(res.Tasks) != 1 {
			t.Errorf("%s with --allow-host-access: %+v, %v", what, res, err)
		}
	}
}

// TestUnsupportedSettingsRefused: settings fargo does not apply are
// refused when a task would run, never ignored: pidMode and ipcMode
// (host, task, none) and dockerSecurityOptions other than
// no-new-privileges (which every fargo container has).
func TestUnsupportedSettingsRefused(t *testing.T) {
	c, _, _ := newTaskControl(t)
	c.allowHostAccess = true // not a matter of host access: refused anyway
	ctx := context.Background()
	reg := func(family string, mutate func(*TaskDefinition)) string {
		t.Helper()
		td := &TaskDefinition{Family: family, NetworkMode: "bridge", RequiresCompatibilities: []string{"EC2"},
			Cpu: "256", Memory: "256", ContainerDefinitions: []ContainerDefinition{{Name: "app", Image: "app"}}}
		mutate(td)
		out, err := c.RegisterTaskDefinition(ctx, svcScope, td, "test")
		if err != nil {
			t.Fatalf("register %s: %v", family, err)
		}
		return out.TaskDefinitionArn
	}
	refused := map[string]string{
		"pidMode 'host'": reg("pidhost", func(td *TaskDefinition) { td.PidMode = "host" }),
		"pidMode 'task'": reg("pidtask", func(td *TaskDefinition) { td.PidMode = "task" }),
		"ipcMode 'host'": reg("ipchost", func(td *TaskDefinition) { td.IpcMode = "host" }),
		"ipcMode 'task'": reg("ipctask", func(td *TaskDefinition) { td.IpcMode = "task" }),
		"ipcMode 'none'": reg("ipcnone", func(td *TaskDefinition) { td.IpcMode = "none" }),
		"'apparmor:x'":   reg("apparmor", func(td *TaskDefinition) { td.ContainerDefinitions[0].DockerSecurityOptions = []string{"apparmor:x"} }),
		"'label:disable'": reg("label", func(td *TaskDefinition) {
			td.ContainerDefinitions[0].DockerSecurityOptions = []string{"no-new-privileges", "label:disable"}
		}),
	}
	for what, td := range refused {
		_, err := c.RunTask(ctx, svcScope, RunTaskInput{TaskDefinition: td, LaunchType: LaunchTypeEC2})
		if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), what) || !strings.Contains(err.Error(), "not supported by fargo") {
			t.Errorf("RunTask with %s: %v, want InvalidParameterException", what, err)
		}
		one := 1
		_, err = c.CreateService(ctx, svcScope, ServiceSpec{Name: "svc-" + sanitizeName(what),
			TaskDefinition: td, LaunchType: LaunchTypeEC2, DesiredCount: &one})
		if !errors.Is(err, ErrInvalidParameter) || !strings.Contains(err.Error(), what) {
			t.Errorf("CreateService with %s: %v, want InvalidParameterException", what, err)
		}
	}
	// Fargate's pidMode task is refused too (fargo does not share one
	// process namespace between a task's containers).
	fg := registerFargate(t, c, "fgpid")
	fgTD := *fg
	fgTD.PidMode = "task"
	fgTD.Family = "fgpidtask"
	out, err := c.RegisterTaskDefinition(ctx, svcScope, &fgTD, "test")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.RunTask(ctx, svcScope, fargateRun(out.TaskDefinitionArn)); !errors.Is(err, ErrInvalidParameter) {
		t.Errorf("Fargate RunTask with pidMode task: %v", err)
	}
	fine := reg("nnp", func(td *TaskDefinition) {
		td.ContainerDefinitions[0].DockerSecurityOptions = []string{"no-new-privileges", "no-new-privileges:true"}
	})
	if res, err := c.RunTask(ctx, svcScope, RunTaskInput{TaskDefinition: fine, LaunchType: LaunchTypeEC2}); err != nil || len(res.Tasks) != 1 {
		t.Errorf("no-new-privileges: %+v, %v", res, err)
	}
}

func sanitizeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, s)
}
