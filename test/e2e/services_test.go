package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

// TestServiceLifecycle is issue 5's session with the AWS CLI and real
// containers: create a service of 3, wait services-stable, kill a task's
// container from the host and watch it replaced, roll to a new revision,
// trip the circuit breaker with a crashing revision and see it roll back,
// kill -9 fargo in the middle of a rollout and see it converge with no task
// lost, duplicated or orphaned, then delete the service.
func TestServiceLifecycle(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushTaskImage("svc")
	revision := func(greeting string, command []string) {
		in.registerTaskDef("web", image, command, map[string]any{
			"environment": []any{map[string]any{"name": "GREETING", "value": greeting}}})
	}
	revision("one", nil) // web:1

	in.mustAWS("ecs", "create-service", "--service-name", "web", "--task-definition", "web:1",
		"--desired-count", "3", "--launch-type", "FARGATE", "--network-configuration", awsvpcConfig,
		"--deployment-configuration", "deploymentCircuitBreaker={enable=true,rollback=true},maximumPercent=200,minimumHealthyPercent=100")
	in.mustAWS("ecs", "wait", "services-stable", "--services", "web")
	svc := in.describeService("web")
	if svc["runningCount"] != 3.0 || svc["desiredCount"] != 3.0 || len(svc["deployments"].([]any)) != 1 {
		t.Fatalf("after services-stable: running %v desired %v deployments %v", svc["runningCount"], svc["desiredCount"], svc["deployments"])
	}
	// The steady-state event follows once the tasks have stayed healthy.
	in.waitService("web", 30*time.Second, func(map[string]any) bool { return in.serviceEvent("web", "has reached a steady state") })
	tasks := in.serviceTasks("web", "RUNNING")
	if len(tasks) != 3 {
		t.Fatalf("service tasks: %d, want 3", len(tasks))
	}
	for _, task := range tasks {
		if task["group"] != "service:web" || !strings.HasPrefix(task["startedBy"].(string), "ecs-svc/") {
			t.Errorf("task group %v startedBy %v", task["group"], task["startedBy"])
		}
		waitHTTP(t, "http://"+taskIP(t, task)+":8080/", 10*time.Second)
	}

	// Kill one task's container from the host: the service replaces it.
	victim := tasks[0]
	runtimeID := containerOf(victim)["runtimeId"].(string)
	if out, err := exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "kill", runtimeID, "KILL").CombinedOutput(); err != nil {
		t.Fatalf("runc kill %s: %v: %s", runtimeID, err, out)
	}
	stopped := in.waitTaskStatus(victim["taskArn"].(string), "STOPPED", 60*time.Second)
	if stopped["stopCode"] != "EssentialContainerExited" || containerOf(stopped)["exitCode"] != 137.0 {
		t.Errorf("killed task: stopCode %v exitCode %v", stopped["stopCode"], containerOf(stopped)["exitCode"])
	}
	in.waitService("web", 90*time.Second, func(s map[string]any) bool {
		return s["runningCount"] == 3.0 && len(in.serviceTasks("web", "RUNNING")) == 3
	})
	if !in.serviceEvent("web", "has started 1 tasks") {
		t.Errorf("no event for the replacement: %v", in.describeService("web")["events"])
	}

	// A rolling update to web:2.
	revision("two", nil)
	in.mustAWS("ecs", "update-service", "--service", "web", "--task-definition", "web:2")
	in.waitRollout("web", "web:2", 180*time.Second)

	// A revision whose container crashes trips the circuit breaker, and the
	// service rolls back to web:2 by itself.
	revision("crash", []string{"exit", "1", "0.5"}) // web:3
	in.mustAWS("ecs", "update-service", "--service", "web", "--task-definition", "web:3")
	in.waitService("web", 300*time.Second, func(s map[string]any) bool {
		return strings.HasSuffix(path(s, "deployments", 0, "taskDefinition").(string), "web:2") &&
			path(s, "deployments", 0, "rolloutState") == "COMPLETED" && len(s["deployments"].([]any)) == 1
	})
	if !in.serviceEvent("web", "rolling back") && !in.serviceEvent("web", "circuit breaker") {
		t.Errorf("no rollback event: %v", in.describeService("web")["events"])
	}
	in.waitRollout("web", "web:2", 120*time.Second)

	// kill -9 fargo in the middle of a rollout to web:4; the restarted
	// fargo finishes it.
	revision("four", nil)
	in.mustAWS("ecs", "update-service", "--service", "web", "--task-definition", "web:4")
	time.Sleep(1500 * time.Millisecond)
	in.kill()
	in.start()
	in.waitRollout("web", "web:4", 180*time.Second)
	in.checkContainersMatchTasks("web")

	// The waiters fail fast on a service that does not exist (MISSING).
	start := time.Now()
	if _, err := in.aws("ecs", "wait", "services-stable", "--services", "no-such-service"); err == nil {
		t.Errorf("wait services-stable on a missing service succeeded")
	} else if d := time.Since(start); d > 30*time.Second {
		t.Errorf("wait services-stable on a missing service took %v to fail", d)
	}

	// Delete: ACTIVE -> DRAINING -> INACTIVE, tasks stopped.
	in.mustAWS("ecs", "delete-service", "--service", "web", "--force")
	in.mustAWS("ecs", "wait", "services-inactive", "--services", "web")
	if n := len(in.serviceTasks("web", "RUNNING")); n != 0 {
		t.Errorf("%d tasks still running after the service was deleted", n)
	}
}

func (in *instance) describeService(name string) map[string]any {
	in.t.Helper()
	out := in.mustAWS("ecs", "describe-services", "--services", name)
	s, _ := path(out, "services", 0).(map[string]any)
	if s == nil {
		in.t.Fatalf("describe-services %s: %v", name, out)
	}
	return s
}

func (in *instance) serviceEvent(name, substr string) bool {
	raw, _ := json.Marshal(in.describeService(name)["events"])
	return strings.Contains(string(raw), substr)
}

// serviceTasks describes the service's tasks of a desired status.
func (in *instance) serviceTasks(name, desired string) []map[string]any {
	in.t.Helper()
	out := in.mustAWS("ecs", "list-tasks", "--service-name", name, "--desired-status", desired)
	arns, _ := out["taskArns"].([]any)
	if len(arns) == 0 {
		return nil
	}
	args := []string{"ecs", "describe-tasks", "--tasks"}
	for _, a := range arns {
		args = append(args, a.(string))
	}
	var tasks []map[string]any
	for _, task := range in.mustAWS(args...)["tasks"].([]any) {
		tasks = append(tasks, task.(map[string]any))
	}
	return tasks
}

func (in *instance) waitService(name string, timeout time.Duration, ok func(map[string]any) bool) map[string]any {
	in.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		s := in.describeService(name)
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			raw, _ := json.MarshalIndent(map[string]any{"deployments": s["deployments"], "events": s["events"],
				"running": s["runningCount"], "pending": s["pendingCount"]}, "", " ")
			in.t.Fatalf("service %s did not get there in %v:\n%s\nfargo:\n%s", name, timeout, raw, in.out)
		}
		time.Sleep(time.Second)
	}
}

// waitRollout waits until the service runs exactly its desired count of
// taskDef's tasks, with one COMPLETED deployment, and every RUNNING
// container answers.
func (in *instance) waitRollout(name, taskDef string, timeout time.Duration) {
	in.t.Helper()
	in.waitService(name, timeout, func(s map[string]any) bool {
		deps, _ := s["deployments"].([]any)
		if len(deps) != 1 || path(deps[0], "rolloutState") != "COMPLETED" || s["runningCount"] != s["desiredCount"] {
			return false
		}
		tasks := in.serviceTasks(name, "RUNNING")
		if float64(len(tasks)) != s["desiredCount"] {
			return false
		}
		return !slices.ContainsFunc(tasks, func(t map[string]any) bool {
			return !strings.HasSuffix(t["taskDefinitionArn"].(string), taskDef) || t["lastStatus"] != "RUNNING"
		})
	})
	for _, task := range in.serviceTasks(name, "RUNNING") {
		waitHTTP(in.t, "http://"+taskIP(in.t, task)+":8080/", 10*time.Second)
	}
}

// checkContainersMatchTasks: every running container on the host belongs to
// a RUNNING task of the service and every such task has its container: no
// orphan, no duplicate.
func (in *instance) checkContainersMatchTasks(name string) {
	in.t.Helper()
	var running []string
	for _, c := range in.hostContainers() {
		if id, ok := strings.CutSuffix(c, "=running"); ok {
			running = append(running, id)
		}
	}
	var want []string
	for _, task := range in.serviceTasks(name, "RUNNING") {
		want = append(want, fmt.Sprint(containerOf(task)["runtimeId"]))
	}
	slices.Sort(running)
	slices.Sort(want)
	if !slices.Equal(running, want) {
		in.t.Errorf("running containers %v, want exactly the service's RUNNING tasks' %v", running, want)
	}
}

// TestServiceCrashLoop kills fargo with SIGKILL at random moments of a
// service's create, scale-out, rolling update, scale-in and circuit-breaker
// rollback, again and again (sometimes in the middle of the API call that
// starts the step), and checks, each time fargo is back and each time the
// service has converged:
//
//   - the service converges: runningCount == desiredCount, one PRIMARY
//     deployment COMPLETED, of the task definition the step settles on;
//   - no task lost: no task of a good revision ever stops on its own (a
//     kill of fargo must not stop tasks), and the RUNNING tasks are the
//     PRIMARY's, desiredCount of them;
//   - no task duplicated: no deployment ever starts more tasks than its
//     desired count (plus the ones that failed, for the crashing revision),
//     and at no moment are more tasks alive than maximumPercent allows;
//   - no orphan: the containers on the host are the RUNNING tasks'
//     containers, one to one.
//
// The kill moments come from a seed the test logs; FARGO_CRASH_SEED=N
// replays a run.
func TestServiceCrashLoop(t *testing.T) {
	in := newAgentInstance(t)
	seed := time.Now().UnixNano()
	if s := os.Getenv("FARGO_CRASH_SEED"); s != "" {
		var err error
		if seed, err = strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("FARGO_CRASH_SEED: %v", err)
		}
	}
	t.Logf("seed %d (FARGO_CRASH_SEED=%d replays these kill moments)", seed, seed)
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5eed))

	image := in.pushTaskImage("crash")
	revision := func(greeting string, command []string) {
		in.registerTaskDef("loop", image, command, map[string]any{
			"environment": []any{map[string]any{"name": "GREETING", "value": greeting}}})
	}
	revision("a", nil)                            // loop:1
	revision("b", nil)                            // loop:2
	revision("bad", []string{"exit", "2", "0.2"}) // loop:3: crashes, trips the circuit breaker
	const maxPercent, minPercent = 150, 50        // rolling updates in several waves
	c := in.ecsClient()
	w := &crashWatch{in: in, c: c, service: "loop", peak: map[string]int{}, firstDesired: map[string]int{},
		reported: map[string]bool{}, good: map[string]bool{"loop:1": true, "loop:2": true}}

	steps := []struct {
		name    string
		desired int
		td      string        // the task definition UpdateService sets ("": none)
		want    string        // the task definition the service settles on
		window  time.Duration // how long the step's work lasts: kill moments are drawn from it
	}{
		{"create", 2, "loop:1", "loop:1", 4 * time.Second},
		{"scale out", 5, "", "loop:1", 4 * time.Second},
		{"rolling update", 5, "loop:2", "loop:2", 14 * time.Second},
		{"scale in", 2, "", "loop:2", 3 * time.Second},
		{"rollback", 2, "loop:3", "loop:2", 10 * time.Second},
		{"rolling update and scale out", 4, "loop:1", "loop:1", 12 * time.Second},
		{"rollback", 4, "loop:3", "loop:1", 12 * time.Second},
		{"scale in", 1, "", "loop:1", 3 * time.Second},
	}
	kills, prev := 0, 0
	start := time.Now()
	for _, st := range steps {
		stepStart := time.Now()
		w.desired, w.bound = st.desired, max(prev, st.desired)*maxPercent/100
		prev = st.desired
		mutate := func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if st.name == "create" {
				_, err := c.CreateService(ctx, &ecs.CreateServiceInput{ServiceName: aws.String("loop"), TaskDefinition: aws.String(st.td),
					DesiredCount: aws.Int32(int32(st.desired)), LaunchType: types.LaunchTypeFargate,
					NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
						Subnets: []string{"subnet-0123456789abcdef0"}}},
					DeploymentConfiguration: &types.DeploymentConfiguration{MaximumPercent: aws.Int32(maxPercent), MinimumHealthyPercent: aws.Int32(minPercent),
						DeploymentCircuitBreaker: &types.DeploymentCircuitBreaker{Enable: true, Rollback: true}}})
				return err
			}
			u := &ecs.UpdateServiceInput{Service: aws.String("loop"), DesiredCount: aws.Int32(int32(st.desired))}
			if st.td != "" {
				u.TaskDefinition = aws.String(st.td)
			}
			_, err := c.UpdateService(ctx, u)
			return err
		}
		var moments []string
		stepKills := 0
		if rng.IntN(3) == 0 {
			// Kill fargo while the request that starts the step is in
			// flight: it happened entirely or not at all, and repeating it
			// is harmless (CreateService of the same spec is idempotent).
			errc := make(chan error, 1)
			go func() { errc <- mutate() }()
			d := time.Duration(rng.IntN(30_000)) * time.Microsecond
			time.Sleep(d)
			in.kill()
			err := <-errc
			in.start()
			kills, stepKills = kills+1, stepKills+1
			answer := "answered"
			if err != nil {
				answer = "failed"
			}
			moments = append(moments, fmt.Sprintf("+%v in the request (which %s)", d.Round(time.Millisecond), answer))
			if err != nil {
				if err := mutate(); err != nil {
					t.Fatalf("%s: repeating the request after the restart: %v", st.name, err)
				}
			}
			w.checkOwnedContainers(st.name)
		} else if err := mutate(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for n := 2 + rng.IntN(2); stepKills < n; stepKills++ {
			d := time.Duration(rng.Int64N(int64(st.window)))
			w.watch(st.name, d)
			in.kill()
			in.start()
			kills++
			moments = append(moments, "+"+d.Round(time.Millisecond).String())
			w.checkOwnedContainers(st.name)
		}
		w.converge(st.name, st.want, 150*time.Second)
		w.checkConverged(st.name)
		t.Logf("%s: killed at %s; converged %v after the step began", st.name, strings.Join(moments, ", "), time.Since(stepStart).Round(100*time.Millisecond))
	}
	if kills < 12 {
		t.Errorf("%d kills, want at least 12", kills)
	}
	t.Logf("%d kills -9 in %v", kills, time.Since(start).Round(time.Second))

	if _, err := c.DeleteService(context.Background(), &ecs.DeleteServiceInput{Service: aws.String("loop"), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	inactive := ecs.NewServicesInactiveWaiter(c, func(o *ecs.ServicesInactiveWaiterOptions) { o.MinDelay, o.MaxDelay = time.Second, 2*time.Second })
	if err := inactive.Wait(context.Background(), &ecs.DescribeServicesInput{Services: []string{"loop"}}, 2*time.Minute); err != nil {
		t.Fatalf("ServicesInactive: %v", err)
	}
}

// crashWatch samples a service through the Go SDK while fargo is killed
// and restarted under it, and keeps what the checks need across restarts.
type crashWatch struct {
	in      *instance
	c       *ecs.Client
	service string
	good    map[string]bool // task definitions (family:revision) whose tasks never fail

	desired int // the current step's desired count
	bound   int // the most tasks that may be alive at once in this step

	peak         map[string]int // deployment ID -> highest desiredCount seen
	firstDesired map[string]int // deployment ID -> the step's desired count when first seen
	reported     map[string]bool

	svc   types.Service
	tasks []types.Task // every task of the service, any status
}

// once reports a problem the first time it is seen (in whichever step).
func (w *crashWatch) once(step, format string, args ...any) {
	w.in.t.Helper()
	msg := fmt.Sprintf(format, args...)
	if !w.reported[msg] {
		w.reported[msg] = true
		w.in.t.Error(step + ": " + msg)
	}
}

// sample reads the service and all its tasks, and checks that no more
// tasks are alive (not STOPPED, stopping ones included) than
// maximumPercent allows.
func (w *crashWatch) sample(step string) {
	t := w.in.t
	t.Helper()
	out, err := w.c.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Services: []string{w.service}})
	if err != nil {
		t.Fatalf("%s: DescribeServices: %v", step, err)
	}
	if len(out.Services) != 1 {
		t.Fatalf("%s: DescribeServices: %+v", step, out.Failures)
	}
	w.svc = out.Services[0]
	for _, d := range w.svc.Deployments {
		id := aws.ToString(d.Id)
		w.peak[id] = max(w.peak[id], int(d.DesiredCount))
		if _, ok := w.firstDesired[id]; !ok {
			w.firstDesired[id] = w.desired
		}
	}
	// A task asked to stop between the two lists is in both: keep its
	// later description.
	w.tasks = w.tasks[:0]
	seen := map[string]int{}
	for _, task := range append(sdkServiceTasks(t, w.c, w.service, types.DesiredStatusRunning), sdkServiceTasks(t, w.c, w.service, types.DesiredStatusStopped)...) {
		if i, ok := seen[aws.ToString(task.TaskArn)]; ok {
			w.tasks[i] = task
			continue
		}
		seen[aws.ToString(task.TaskArn)] = len(w.tasks)
		w.tasks = append(w.tasks, task)
	}
	var alive []string
	for _, task := range w.tasks {
		if id := aws.ToString(task.StartedBy); id != "" {
			if _, ok := w.firstDesired[id]; !ok {
				w.firstDesired[id] = w.desired
			}
		}
		if aws.ToString(task.LastStatus) != "STOPPED" {
			alive = append(alive, fmt.Sprintf("%s(%s %s/%s)", taskID(task), tdName(task), aws.ToString(task.LastStatus), aws.ToString(task.DesiredStatus)))
		}
	}
	if len(alive) > w.bound {
		w.once(step, "%d tasks alive at once, maximumPercent allows %d: %v", len(alive), w.bound, alive)
	}
}

// watch samples the service for d.
func (w *crashWatch) watch(step string, d time.Duration) {
	end := time.Now().Add(d)
	for time.Now().Before(end) {
		w.sample(step)
		time.Sleep(min(200*time.Millisecond, time.Until(end)))
	}
}

// converge waits until the service runs desired tasks of want, all of the
// PRIMARY, with one COMPLETED deployment and nothing else alive.
func (w *crashWatch) converge(step, want string, timeout time.Duration) {
	t := w.in.t
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		w.sample(step)
		problem := w.unconverged(want)
		if problem == "" {
			return
		}
		if time.Now().After(deadline) {
			var events []string
			for _, ev := range w.svc.Events[:min(10, len(w.svc.Events))] {
				events = append(events, aws.ToString(ev.Message))
			}
			t.Fatalf("%s: the service did not converge in %v: %s\nevents: %s\nfargo:\n%s", step, timeout, problem, strings.Join(events, "\n"), w.in.out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func (w *crashWatch) unconverged(want string) string {
	s := w.svc
	if len(s.Deployments) != 1 {
		return fmt.Sprintf("%d deployments", len(s.Deployments))
	}
	p := s.Deployments[0]
	if aws.ToString(p.Status) != "PRIMARY" || p.RolloutState != types.DeploymentRolloutStateCompleted || !strings.HasSuffix(aws.ToString(p.TaskDefinition), "/"+want) {
		return fmt.Sprintf("deployment %s of %s is %s", aws.ToString(p.Status), aws.ToString(p.TaskDefinition), p.RolloutState)
	}
	if int(s.DesiredCount) != w.desired || int(s.RunningCount) != w.desired || s.PendingCount != 0 {
		return fmt.Sprintf("desired %d running %d pending %d, want %d", s.DesiredCount, s.RunningCount, s.PendingCount, w.desired)
	}
	running, alive := 0, 0
	for _, task := range w.tasks {
		if aws.ToString(task.LastStatus) == "STOPPED" {
			continue
		}
		alive++
		if aws.ToString(task.DesiredStatus) == "RUNNING" && aws.ToString(task.LastStatus) == "RUNNING" &&
			aws.ToString(task.StartedBy) == aws.ToString(p.Id) && tdName(task) == want {
			running++
		}
	}
	if running != w.desired || alive != w.desired {
		return fmt.Sprintf("%d RUNNING tasks of the PRIMARY's %s and %d alive, want %d", running, want, alive, w.desired)
	}
	return ""
}

// checkConverged, once the service has converged: no task lost, none
// duplicated, no orphan container.
func (w *crashWatch) checkConverged(step string) {
	w.in.t.Helper()
	created, failed := map[string]int{}, map[string]int{}
	tdOf := map[string]string{}
	for _, task := range w.tasks {
		id := aws.ToString(task.StartedBy)
		created[id]++
		tdOf[id] = tdName(task)
		if aws.ToString(task.LastStatus) != "STOPPED" {
			continue
		}
		switch task.StopCode {
		case types.TaskStopCodeServiceSchedulerInitiated, types.TaskStopCodeUserInitiated:
			continue
		}
		failed[id]++
		if w.good[tdName(task)] {
			w.once(step, "task %s of %s stopped on its own (%s: %s): a task lost across a kill of fargo",
				taskID(task), tdName(task), task.StopCode, aws.ToString(task.StoppedReason))
		}
	}
	for id, n := range created {
		allowed := max(w.peak[id], w.firstDesired[id]) + failed[id]
		if n > allowed {
			w.once(step, "deployment %s (%s) started %d tasks; its desired count reached %d and %d of them failed: duplicated tasks",
				id, tdOf[id], n, max(w.peak[id], w.firstDesired[id]), failed[id])
		}
	}
	w.checkContainers(step)
}

// checkContainers: the containers on the host are exactly the RUNNING
// tasks' containers, each running (given a moment for the containers of
// tasks that just stopped to be deleted).
func (w *crashWatch) checkContainers(step string) {
	t := w.in.t
	t.Helper()
	var want []string
	for _, task := range w.tasks {
		if aws.ToString(task.LastStatus) == "RUNNING" && aws.ToString(task.DesiredStatus) == "RUNNING" {
			rid := ""
			if len(task.Containers) == 1 {
				rid = aws.ToString(task.Containers[0].RuntimeId)
			}
			want = append(want, rid+"=running")
		}
	}
	slices.Sort(want)
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := w.in.hostContainers()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			w.once(step, "containers on the host %v, want exactly the RUNNING tasks' %v", got, want)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// checkOwnedContainers, right after a restart: every container on the
// host belongs to a task of the service that is not STOPPED (given a
// moment for the re-adopting agent to clean up).
func (w *crashWatch) checkOwnedContainers(step string) {
	w.in.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		w.sample(step)
		alive := map[string]bool{}
		for _, task := range w.tasks {
			if aws.ToString(task.LastStatus) != "STOPPED" {
				alive[taskID(task)+"-app"] = true
			}
		}
		var orphans []string
		for _, c := range w.in.hostContainers() {
			if id, _, _ := strings.Cut(c, "="); !alive[id] {
				orphans = append(orphans, c)
			}
		}
		if len(orphans) == 0 {
			return
		}
		if time.Now().After(deadline) {
			w.once(step, "after a restart, containers on the host belong to no live task: %v", orphans)
			return
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// hostContainers lists the instance's runc containers as "id=status",
// sorted.
func (in *instance) hostContainers() []string {
	in.t.Helper()
	var out []byte
	var err error
	// runc list fails when a container goes away while it reads the
	// containers: ask again.
	for range 10 {
		if out, err = exec.Command("runc", "--root", filepath.Join(in.dataDir, "runc"), "list", "--format", "json").Output(); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			err = fmt.Errorf("%v: %s", err, ee.Stderr)
		}
		in.t.Fatalf("runc list: %v", err)
	}
	var list []struct{ ID, Status string }
	if s := strings.TrimSpace(string(out)); s != "" && s != "null" {
		if err := json.Unmarshal(out, &list); err != nil {
			in.t.Fatalf("runc list: %v: %s", err, out)
		}
	}
	got := []string{}
	for _, c := range list {
		got = append(got, c.ID+"="+c.Status)
	}
	slices.Sort(got)
	return got
}

func taskID(task types.Task) string {
	arn := aws.ToString(task.TaskArn)
	return arn[strings.LastIndex(arn, "/")+1:]
}

// tdName is the task's family:revision.
func tdName(task types.Task) string {
	arn := aws.ToString(task.TaskDefinitionArn)
	return arn[strings.LastIndex(arn, "/")+1:]
}
