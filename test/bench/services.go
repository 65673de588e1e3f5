package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/fargo-run/fargo/internal/deploy"
)

const (
	benchService = "bench-svc"
	pollService  = 100 * time.Millisecond
	idleTarget   = 2.0 // % of one core

	// The benchmarked service's deployment configuration (AWS's defaults).
	benchMaxPercent = 200
	benchMinPercent = 100
)

// rolloutWaves splits a deployment of desired tasks into the waves its
// deployment configuration allows. Creating a service starts all desired
// tasks at once (nothing old holds room). A rolling update may have at
// most floor(desired×max/100) tasks alive and must keep
// ceil(desired×min/100) healthy, so one wave starts at most
// floor(desired×max/100) − ceil(desired×min/100) new tasks: at
// minimumHealthyPercent 100, floor(desired×max/100) − desired beyond the
// old ones. The next wave waits until those are healthy and as many old
// ones have stopped.
func rolloutWaves(desired, maxPct, minPct int, update bool) []int {
	if !update {
		return []int{desired}
	}
	per := max(1, desired*maxPct/100-(desired*minPct+99)/100) // a stuck configuration still counts one at a time
	var waves []int
	for left := desired; left > 0; left -= per {
		waves = append(waves, min(per, left))
	}
	return waves
}

// waveBound is the time the waves' starts take at the least: a wave of n
// starts takes one start (p50 to RUNNING) if the cores run them side by
// side, n×p50/cores if there are more starts than cores.
func waveBound(waves []int, start time.Duration, cores int) time.Duration {
	var total time.Duration
	for _, n := range waves {
		total += time.Duration(float64(start) * max(1, float64(n)/float64(cores)))
	}
	return total
}

func fmtWaves(waves []int) string {
	s := make([]string, len(waves))
	for i, n := range waves {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, "+")
}

// benchService deploys a service of taskapp, updates it to a new task
// definition revision, samples fargo's idle CPU with the service steady,
// and deletes it. start holds the task start p50s measured before.
func (b *taskBench) benchService(ctx context.Context, start startTimes) error {
	d := b.cfg.serviceTasks
	cores := runtime.NumCPU()
	healthy := deploy.DefaultMinHealthyTime
	createWaves := rolloutWaves(d, benchMaxPercent, benchMinPercent, false)
	updateWaves := rolloutWaves(d, benchMaxPercent, benchMinPercent, true)
	timeout := 2*time.Minute + time.Duration(d)*5*time.Second

	base, err := b.idleCPU(ctx) // the baseline: no task at all
	if err != nil {
		return err
	}
	t0 := time.Now()
	if _, err := b.ecs.CreateService(ctx, &ecs.CreateServiceInput{
		Cluster: aws.String(benchCluster), ServiceName: aws.String(benchService),
		TaskDefinition: aws.String(b.taskDef), DesiredCount: aws.Int32(int32(d)),
		LaunchType: ecstypes.LaunchTypeFargate, NetworkConfiguration: networkConfig(),
		DeploymentConfiguration: &ecstypes.DeploymentConfiguration{
			MinimumHealthyPercent: aws.Int32(benchMinPercent), MaximumPercent: aws.Int32(benchMaxPercent),
		},
	}); err != nil {
		return fmt.Errorf("create-service: %w", err)
	}
	b.service = true
	created, err := b.waitSteady(ctx, b.taskDef, t0, timeout)
	if err != nil {
		return fmt.Errorf("service create: %w", err)
	}

	rev2, err := b.register(ctx, "2")
	if err != nil {
		return err
	}
	t0 = time.Now()
	if _, err := b.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{
		Cluster: aws.String(benchCluster), Service: aws.String(benchService), TaskDefinition: aws.String(rev2),
	}); err != nil {
		return fmt.Errorf("update-service: %w", err)
	}
	updated, err := b.waitSteady(ctx, rev2, t0, timeout)
	if err != nil {
		return fmt.Errorf("service update: %w", err)
	}

	perWave := d*benchMaxPercent/100 - (d*benchMinPercent+99)/100
	fmt.Printf("\nservice: desired %d (BENCH_SERVICE_TASKS), minimumHealthyPercent %d / maximumPercent %d\n", d, benchMinPercent, benchMaxPercent)
	fmt.Printf("(fargo --cpu-overcommit %g --memory-overcommit %g: the update's surge to %d tasks fits)\n", b.cpuOC, b.memOC, d*benchMaxPercent/100)
	fmt.Printf("waves: create starts all %d tasks at once; an update starts at most floor(desired x max/100) - ceil(desired x min/100)\n", d)
	fmt.Printf("  = floor(%d x %d/100) - ceil(%d x %d/100) = %d new tasks a wave, the next when those are healthy: %s\n",
		d, benchMaxPercent, d, benchMinPercent, perWave, fmtWaves(updateWaves))
	fmt.Printf("lower bound = sum over waves of task start p50 (to RUNNING, above) x max(1, wave/cores), %s, %d cores\n", fmtDur(start.running), cores)
	fmt.Printf("(an estimate more than a floor: a start is not all CPU, so starts overlap beyond the cores)\n")
	fmt.Printf("bound+healthy = lower bound + waves x %s: a task without health checks counts healthy once it has run that long\n", fmtSecs(healthy))
	fmt.Printf("(deploy.DefaultMinHealthyTime); each wave waits for it, and COMPLETED for the last\n\n")
	fmt.Printf("%-44s %8s %11s %6s %13s %6s\n", "measure", "fargo", "lower bound", "ratio", "bound+healthy", "ratio")
	for _, m := range []struct {
		name  string
		took  time.Duration
		waves []int
	}{
		{fmt.Sprintf("create: %d RUNNING, rollout COMPLETED", d), created, createWaves},
		{fmt.Sprintf("update in %d wave(s): COMPLETED, old stopped", len(updateWaves)), updated, updateWaves},
	} {
		bound := waveBound(m.waves, start.running, cores)
		withHealthy := bound + time.Duration(len(m.waves))*healthy
		fmt.Printf("%-44s %8s %11s %5.1fx %13s %5.1fx\n", m.name, fmtSecs(m.took), fmtDur(bound), ratio(m.took, bound),
			fmtSecs(withHealthy), ratio(m.took, withHealthy))
	}

	idle, err := b.idleCPU(ctx)
	if err != nil {
		return err
	}
	printIdle(d, base, idle)
	return b.deleteService(ctx)
}

// waitSteady polls until the service runs exactly its desired count of
// taskDef's tasks in one COMPLETED deployment and every task of another
// revision is STOPPED; it returns the time from t0. It fails at once, with
// the service's latest events, when fargo could not place a task since t0.
func (b *taskBench) waitSteady(ctx context.Context, taskDef string, t0 time.Time, timeout time.Duration) (time.Duration, error) {
	d := int32(b.cfg.serviceTasks)
	last := ""
	for {
		out, err := b.ecs.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(benchCluster), Services: []string{benchService}})
		if err != nil {
			return 0, fmt.Errorf("describe-services: %w", err)
		}
		if len(out.Services) != 1 {
			return 0, fmt.Errorf("describe-services: failures %+v", out.Failures)
		}
		s := out.Services[0]
		if ev, ok := unplaced(s.Events, t0); ok {
			return 0, fmt.Errorf("placement failed %s after the call: %s\nlatest events:\n%s",
				fmtSecs(aws.ToTime(ev.CreatedAt).Sub(t0)), aws.ToString(ev.Message), latestEvents(s.Events))
		}
		last = fmt.Sprintf("running %d pending %d, %d deployments", s.RunningCount, s.PendingCount, len(s.Deployments))
		if len(s.Deployments) == 1 {
			p := s.Deployments[0]
			last += fmt.Sprintf(" (%s %s running %d failed %d)", aws.ToString(p.TaskDefinition), p.RolloutState, p.RunningCount, p.FailedTasks)
			if s.RunningCount == d && p.RunningCount == d && aws.ToString(p.TaskDefinition) == taskDef && p.RolloutState == ecstypes.DeploymentRolloutStateCompleted {
				el := time.Since(t0)
				running, stale, err := b.taskCounts(ctx, taskDef)
				if err != nil {
					return 0, err
				}
				if running == int(d) && stale == 0 {
					return el, nil
				}
				last += fmt.Sprintf("; tasks: %d of the revision running, %d others not STOPPED", running, stale)
			}
		}
		if time.Since(t0) > timeout {
			return 0, fmt.Errorf("not steady after %s: %s\nlatest events:\n%s", timeout, last, latestEvents(s.Events))
		}
		if err := sleepCtx(ctx, pollService); err != nil {
			return 0, err
		}
	}
}

// unplaced finds an "unable to place" event since t0 (events are newest
// first; their times have millisecond precision at best, hence the second).
func unplaced(events []ecstypes.ServiceEvent, t0 time.Time) (ecstypes.ServiceEvent, bool) {
	since := t0.Truncate(time.Second)
	for _, ev := range events {
		if aws.ToTime(ev.CreatedAt).Before(since) {
			break
		}
		if strings.Contains(aws.ToString(ev.Message), "unable to place") {
			return ev, true
		}
	}
	return ecstypes.ServiceEvent{}, false
}

// latestEvents formats the service's newest events, one a line.
func latestEvents(events []ecstypes.ServiceEvent) string {
	var sb strings.Builder
	for _, ev := range events[:min(len(events), 8)] {
		msg := aws.ToString(ev.Message)
		if len(msg) > 200 {
			msg = msg[:200] + "..."
		}
		fmt.Fprintf(&sb, "  %s %s\n", aws.ToTime(ev.CreatedAt).Format("15:04:05.000"), msg)
	}
	return strings.TrimSuffix(sb.String(), "\n")
}

// taskCounts counts the service's RUNNING tasks of taskDef and its tasks
// of other revisions that are not STOPPED yet.
func (b *taskBench) taskCounts(ctx context.Context, taskDef string) (running, stale int, err error) {
	tasks, err := b.serviceTasks(ctx)
	if err != nil {
		return 0, 0, err
	}
	for _, t := range tasks {
		switch {
		case aws.ToString(t.TaskDefinitionArn) != taskDef && aws.ToString(t.LastStatus) != "STOPPED":
			stale++
		case aws.ToString(t.TaskDefinitionArn) == taskDef && aws.ToString(t.LastStatus) == "RUNNING" && aws.ToString(t.DesiredStatus) == "RUNNING":
			running++
		}
	}
	return running, stale, nil
}

// serviceTasks describes every task of the service, running or stopped.
func (b *taskBench) serviceTasks(ctx context.Context) ([]ecstypes.Task, error) {
	var arns []string
	for _, ds := range []ecstypes.DesiredStatus{ecstypes.DesiredStatusRunning, ecstypes.DesiredStatusStopped} {
		p := ecs.NewListTasksPaginator(b.ecs, &ecs.ListTasksInput{
			Cluster: aws.String(benchCluster), ServiceName: aws.String(benchService), DesiredStatus: ds,
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("list-tasks: %w", err)
			}
			arns = append(arns, page.TaskArns...)
		}
	}
	var tasks []ecstypes.Task
	for len(arns) > 0 {
		n := min(len(arns), 100)
		out, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(benchCluster), Tasks: arns[:n]})
		if err != nil {
			return nil, fmt.Errorf("describe-tasks: %w", err)
		}
		tasks = append(tasks, out.Tasks...)
		arns = arns[n:]
	}
	return tasks, nil
}

// deleteService deletes the service (force) and waits until all its tasks
// are STOPPED.
func (b *taskBench) deleteService(ctx context.Context) error {
	t0 := time.Now()
	if _, err := b.ecs.DeleteService(ctx, &ecs.DeleteServiceInput{
		Cluster: aws.String(benchCluster), Service: aws.String(benchService), Force: aws.Bool(true),
	}); err != nil {
		return fmt.Errorf("delete-service: %w", err)
	}
	b.service = false
	deadline := t0.Add(2*time.Minute + time.Duration(b.cfg.serviceTasks)*2*time.Second)
	for {
		tasks, err := b.serviceTasks(ctx)
		if err != nil {
			return err
		}
		left := 0
		for _, t := range tasks {
			if aws.ToString(t.LastStatus) != "STOPPED" {
				left++
			}
		}
		if left == 0 {
			fmt.Printf("\ncleanup: service deleted (force), its %d tasks all STOPPED %s later\n", len(tasks), fmtSecs(time.Since(t0)))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d tasks of the deleted service not STOPPED after %s", left, time.Since(t0).Round(time.Second))
		}
		if err := sleepCtx(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// cpuUse is one idle sample, in % of one core.
type cpuUse struct {
	self, children, monitors float64
	nMonitors                int
	took                     time.Duration
}

// idleCPU samples the CPU time of fargo (server and agent, all threads),
// of the runc and other commands it ran and reaped, and of its task
// monitors, while nothing calls the API.
func (b *taskBench) idleCPU(ctx context.Context) (cpuUse, error) {
	if err := sleepCtx(ctx, 2*time.Second); err != nil { // let the last starts and stops settle
		return cpuUse{}, err
	}
	pid := b.cmd.Process.Pid
	self0, kids0, err := procCPU(pid)
	if err != nil {
		return cpuUse{}, err
	}
	mon0 := b.monitorsCPU()
	t0 := time.Now()
	if err := sleepCtx(ctx, b.cfg.idle); err != nil {
		return cpuUse{}, err
	}
	self1, kids1, err := procCPU(pid)
	if err != nil {
		return cpuUse{}, err
	}
	mon1 := b.monitorsCPU()
	took := time.Since(t0)
	pct := func(ticks int64) float64 { return float64(ticks) / clockTicks / took.Seconds() * 100 }
	var monTicks int64
	for p, t1 := range mon1 {
		if t, ok := mon0[p]; ok {
			monTicks += t1 - t
		}
	}
	return cpuUse{self: pct(self1 - self0), children: pct(kids1 - kids0), monitors: pct(monTicks), nMonitors: len(mon1), took: took}, nil
}

func printIdle(d int, base, steady cpuUse) {
	verdict := "met"
	if steady.self >= idleTarget {
		verdict = "MISSED"
	}
	fmt.Printf("\nidle CPU, no API calls, %s samples, %% of one core (/proc/<pid>/stat utime+stime):\n", fmtSecs(steady.took))
	fmt.Printf("%-34s %8s %8s   %s\n", "", "no tasks", fmt.Sprintf("%d tasks", d), "")
	fmt.Printf("%-34s %7.2f%% %7.2f%%   target < %.0f%% with the service steady: %s\n", "fargo (server + agent)", base.self, steady.self, idleTarget, verdict)
	fmt.Printf("%-34s %7.2f%% %7.2f%%\n", "commands it ran and reaped (runc)", base.children, steady.children)
	fmt.Printf("%-34s %7.2f%% %7.2f%%   (%d monitors, together)\n", "its task monitors", base.monitors, steady.monitors, steady.nMonitors)
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times (100 on
// Linux's supported architectures).
const clockTicks = 100

// procCPU reads the process's own CPU ticks (utime+stime) and those of
// its waited-for children (cutime+cstime).
func procCPU(pid int) (self, children int64, err error) {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, err
	}
	// Fields after "(comm)": state is field 3; utime..cstime are 14..17.
	i := bytes.LastIndexByte(raw, ')')
	if i < 0 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %q", pid, raw)
	}
	f := strings.Fields(string(raw[i+1:]))
	if len(f) < 15 {
		return 0, 0, fmt.Errorf("/proc/%d/stat: %q", pid, raw)
	}
	var v [4]int64
	for k := range v {
		if v[k], err = strconv.ParseInt(f[11+k], 10, 64); err != nil {
			return 0, 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
	}
	return v[0] + v[1], v[2] + v[3], nil
}

// monitorsCPU maps the pid of each task monitor of this fargo (its
// runtime-monitor processes on its data dir) to its CPU ticks.
func (b *taskBench) monitorsCPU() map[int]int64 {
	out := map[int]int64{}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !isMonitor(cmdline) || !bytes.Contains(cmdline, []byte(b.dataDir)) {
			continue
		}
		if t, _, err := procCPU(pid); err == nil {
			out[pid] = t
		}
	}
	return out
}
