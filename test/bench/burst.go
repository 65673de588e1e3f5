package main

// The burst (issue 4): 100 tasks launched at once, 10 concurrent RunTask
// calls of count 10, timed until all are RUNNING; with them running,
// fargo's own memory per task (its RSS and its task monitors') beside the
// same with no task, and beside its target.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
)

const (
	burstCalls     = 10
	burstPerCall   = 10 // RunTask's maximum count
	burstTasks     = burstCalls * burstPerCall
	pollBurst      = 100 * time.Millisecond
	memTargetPerTk = 2 << 10 // KiB: fargo's own memory (RSS) per running task
)

// memUse is fargo's memory at one moment, in KiB.
type memUse struct {
	rss, pss       int64 // fargo (server + agent)
	monRSS, monPSS int64 // its task monitors, together
	monitors       int
}

func (m memUse) totalRSS() int64 { return m.rss + m.monRSS }
func (m memUse) totalPSS() int64 { return m.pss + m.monPSS }

// memory reads fargo's VmRSS (and Pss, /proc/<pid>/smaps_rollup) and those
// of its children that are container monitors (one per container), after
// the last starts and stops have settled.
func (b *taskBench) memory(ctx context.Context) (memUse, error) {
	if err := sleepCtx(ctx, 2*time.Second); err != nil {
		return memUse{}, err
	}
	pid := b.cmd.Process.Pid
	var m memUse
	var err error
	if m.rss, m.pss, err = procMem(pid); err != nil {
		return memUse{}, err
	}
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil || procPPid(p) != pid {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !isMonitor(cmdline) {
			continue
		}
		rss, pss, err := procMem(p)
		if err != nil {
			continue // it exited meanwhile
		}
		m.monRSS += rss
		m.monPSS += pss
		m.monitors++
	}
	return m, nil
}

// procField reads "Name:   value kB" style fields from a /proc file.
func procField(path, name string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), name+":"); ok {
			v := strings.Fields(rest)
			if len(v) == 0 {
				break
			}
			return strconv.ParseInt(v[0], 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, name)
}

// isMonitor reports whether a command line is a container monitor:
// fargo-monitor (make build's layout) or `fargo runtime-monitor`.
func isMonitor(cmdline []byte) bool {
	return bytes.Contains(cmdline, []byte("fargo-monitor")) || bytes.Contains(cmdline, []byte("runtime-monitor"))
}

// procMem is the process's VmRSS and Pss, in KiB.
func procMem(pid int) (rss, pss int64, err error) {
	if rss, err = procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS"); err != nil {
		return 0, 0, err
	}
	pss, _ = procField(fmt.Sprintf("/proc/%d/smaps_rollup", pid), "Pss")
	return rss, pss, nil
}

func procPPid(pid int) int {
	v, err := procField(fmt.Sprintf("/proc/%d/status", pid), "PPid")
	if err != nil {
		return -1
	}
	return int(v)
}

// benchBurst launches burstTasks tasks at once, measures fargo's memory
// with them running, stops them and prints the figures. start holds the
// task start p50s measured before.
func (b *taskBench) benchBurst(ctx context.Context, start startTimes) error {
	idle, err := b.memory(ctx)
	if err != nil {
		return err
	}
	if idle.monitors != 0 {
		return fmt.Errorf("burst: %d task monitors still running before it", idle.monitors)
	}
	t0 := time.Now()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		arns []string
		errs []string
	)
	for range burstCalls {
		wg.Go(func() {
			out, err := b.ecs.RunTask(ctx, &ecs.RunTaskInput{
				Cluster: aws.String(benchCluster), LaunchType: ecstypes.LaunchTypeFargate, Count: aws.Int32(burstPerCall),
				TaskDefinition: aws.String(b.taskDef), NetworkConfiguration: networkConfig(),
			})
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err.Error())
				return
			}
			for _, t := range out.Tasks {
				arns = append(arns, aws.ToString(t.TaskArn))
			}
			for _, f := range out.Failures {
				errs = append(errs, fmt.Sprintf("%s: %s", aws.ToString(f.Reason), aws.ToString(f.Detail)))
			}
		})
	}
	wg.Wait()
	called := time.Since(t0)
	if len(errs) > 0 || len(arns) != burstTasks {
		return fmt.Errorf("burst: run-task: %d tasks of %d; %s", len(arns), burstTasks, strings.Join(errs, "; "))
	}
	took, err := b.waitAll(ctx, arns, "RUNNING", t0, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("burst: %w", err)
	}
	full, err := b.memory(ctx)
	if err != nil {
		return err
	}
	t1 := time.Now()
	if err := b.stopAll(ctx, arns); err != nil {
		return fmt.Errorf("burst: %w", err)
	}
	stopped, err := b.waitAll(ctx, arns, "STOPPED", t1, 3*time.Minute)
	if err != nil {
		return fmt.Errorf("burst stop: %w", err)
	}

	cores := runtime.NumCPU()
	bound := time.Duration(float64(burstTasks) * float64(start.running) / float64(cores))
	fmt.Printf("\nburst: %d tasks launched at once, %d concurrent RunTask calls of count %d (all answered in %s)\n",
		burstTasks, burstCalls, burstPerCall, fmtSecs(called))
	fmt.Printf("lower bound = %d x task start p50 (to RUNNING) / cores = %d x %s / %d = %s (an estimate, as for the service)\n",
		burstTasks, burstTasks, fmtDur(start.running), cores, fmtDur(bound))
	fmt.Printf("%-44s %8s %11s %6s\n", "measure", "fargo", "lower bound", "ratio")
	fmt.Printf("%-44s %8s %11s %5.1fx\n", fmt.Sprintf("first RunTask to all %d RUNNING", burstTasks), fmtSecs(took), fmtDur(bound), ratio(took, bound))
	fmt.Printf("%-44s %8s\n", fmt.Sprintf("StopTask x %d to all STOPPED", burstTasks), fmtSecs(stopped))

	if full.monitors != burstTasks {
		fmt.Printf("(found %d task monitors with %d tasks running)\n", full.monitors, burstTasks)
	}
	perRSS := float64(full.totalRSS()-idle.totalRSS()) / burstTasks
	perPSS := float64(full.totalPSS()-idle.totalPSS()) / burstTasks
	mib := func(kib float64) string { return fmt.Sprintf("%.1f MiB", kib/1024) }
	fmt.Printf("\nfargo's own memory, no task vs %d tasks RUNNING (VmRSS, /proc/<pid>/status; Pss, smaps_rollup):\n", burstTasks)
	fmt.Printf("%-38s %10s %10s %10s\n", "", "no tasks", fmt.Sprintf("%d tasks", burstTasks), "per task")
	fmt.Printf("%-38s %10s %10s %10s\n", "fargo (server + agent) RSS", mib(float64(idle.rss)), mib(float64(full.rss)),
		mib(float64(full.rss-idle.rss)/burstTasks))
	fmt.Printf("%-38s %10s %10s %10s\n", fmt.Sprintf("its task monitors (%d) RSS, summed", full.monitors), mib(float64(idle.monRSS)),
		mib(float64(full.monRSS)), mib(float64(full.monRSS-idle.monRSS)/burstTasks))
	fmt.Printf("%-38s %10s %10s %10s   (counts the monitor binary's shared pages once per monitor)\n", "total RSS", mib(float64(idle.totalRSS())),
		mib(float64(full.totalRSS())), mib(perRSS))
	fmt.Printf("%-38s %10s %10s %10s   target <= %s per task: %s\n", "total PSS", mib(float64(idle.totalPSS())),
		mib(float64(full.totalPSS())), mib(perPSS), mib(memTargetPerTk), verdict(perPSS <= memTargetPerTk))
	fmt.Printf("%-38s %10s %10s %10s   (PSS: a shared page counts 1/n to each of its n users: what a task adds)\n", "", "", "", "")
	return nil
}

// waitAll polls DescribeTasks (100 a call) until every task of arns is
// in status and returns the time from t0. A task that stops while
// RUNNING is wanted fails it.
func (b *taskBench) waitAll(ctx context.Context, arns []string, status string, t0 time.Time, timeout time.Duration) (time.Duration, error) {
	for {
		counts := map[string]int{}
		for i := 0; i < len(arns); i += 100 {
			out, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(benchCluster), Tasks: arns[i:min(len(arns), i+100)]})
			if err != nil {
				return 0, fmt.Errorf("describe-tasks: %w", err)
			}
			if len(out.Failures) > 0 {
				return 0, fmt.Errorf("describe-tasks: failures %+v", out.Failures)
			}
			for _, t := range out.Tasks {
				s := aws.ToString(t.LastStatus)
				if status == "RUNNING" && (s == "STOPPED" || s == "DEPROVISIONING") {
					return 0, fmt.Errorf("task %s %s: %s", aws.ToString(t.TaskArn), s, aws.ToString(t.StoppedReason))
				}
				counts[s]++
			}
		}
		if counts[status] == len(arns) {
			return time.Since(t0), nil
		}
		if time.Since(t0) > timeout {
			return 0, fmt.Errorf("not all %d tasks %s after %s: %v", len(arns), status, timeout, counts)
		}
		if err := sleepCtx(ctx, pollBurst); err != nil {
			return 0, err
		}
	}
}

// stopAll calls StopTask for every task, burstCalls at a time.
func (b *taskBench) stopAll(ctx context.Context, arns []string) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	sem := make(chan struct{}, burstCalls)
	for _, arn := range arns {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			_, err := b.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(benchCluster), Task: aws.String(arn)})
			mu.Lock()
			if err != nil && first == nil {
				first = fmt.Errorf("stop-task %s: %w", arn, err)
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	return first
}
