package main

// Real-task benchmarks: fargo runs the taskapp image (test/e2e/testdata)
// with its own agent (runc, one netns and IP per task) and is measured
// beside raw runc running an equivalent bundle in the same run (task
// start, p50 and p99 against their targets), beside a stated lower bound
// (a burst of 100 tasks at once, burst.go; service deployments), and
// beside its targets (memory per task, idle CPU). fargo's CPU and memory
// overcommits are computed so that the most tasks run at once fit. This fargo is isolated from any other on the host:
// its own network prefix (fgb), task pool, metadata IP, data dir and port.

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fargo-run/fargo/internal/fargotest"
)

const (
	benchNetPrefix  = "fgb"
	benchTaskPool   = "10.216.0.0/16"
	benchMetadataIP = "169.254.170.9"
	benchCluster    = "bench"
	benchFamily     = "taskapp"
	benchSubnet     = "subnet-0123456789abcdef0"
	taskAppSource   = "./test/e2e/testdata/taskapp"
	// pollTasks: DescribeTasks while a task starts (and runc state of the
	// peer's container). Half of it, on average, is added to fargo's time
	// to RUNNING and not to runc's (whose first poll follows runc run's
	// return), so it is kept small; 5ms of polling costs fargo little CPU.
	pollTasks  = 5 * time.Millisecond
	pollHTTP   = 10 * time.Millisecond // HTTP probes, fargo's task and runc's
	taskCPU    = 256                   // CPU units of the task definition
	taskMemory = 512                   // MiB, of the task definition

	// Task start targets (issue 4; issue 9 tightened p50 from 50ms):
	// fargo's overhead over raw runc.
	startTargetP50 = 25 * time.Millisecond
	startTargetP99 = 250 * time.Millisecond
)

// taskConfig is what the task benchmarks are asked to do.
type taskConfig struct {
	runs         int           // sequential task starts
	serviceTasks int           // desired count of the service
	idle         time.Duration // idle CPU sample
	startOnly    bool          // only the task start comparison (BENCH=start)
	fdsOnly      bool          // only the open-files figures (BENCH=fds)
}

// taskBench is the fargo under test and its clients.
type taskBench struct {
	cfg     taskConfig
	tmp     string
	dataDir string
	bin     string // fargo
	taskapp string // static taskapp binary
	url     string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when fargo has exited
	logPath string
	ecs     *ecs.Client
	ecr     *ecr.Client
	image   string
	taskDef string // ARN of the first revision
	service bool   // a service exists (cleanup deletes it)
	hostMiB int    // host memory, /proc/meminfo MemTotal
	cpuOC   float64
	memOC   float64
}

// taskPrereqs says why the task benchmarks cannot run here ("" = they can).
func taskPrereqs() string {
	if os.Geteuid() != 0 {
		return "running tasks needs root (runc, netns, cgroups)"
	}
	if _, err := exec.LookPath("runc"); err != nil {
		return "no runc on this machine (make deps installs it)"
	}
	return ""
}

func runTaskBenchmarks(ctx context.Context, cfg taskConfig) (err error) {
	if why := taskPrereqs(); why != "" {
		fmt.Printf("\ntask benchmarks skipped: %s\n", why)
		return nil
	}
	tmp, err := os.MkdirTemp("", "fargo-bench-tasks")
	if err != nil {
		return err
	}
	b := &taskBench{cfg: cfg, tmp: tmp, dataDir: filepath.Join(tmp, "data"), logPath: filepath.Join(tmp, "fargo.log")}
	if err := b.build(ctx); err != nil {
		os.RemoveAll(tmp)
		return err
	}
	if err := b.start(ctx); err != nil {
		return errors.Join(err, b.stop())
	}
	peer := &runcPeer{root: filepath.Join(tmp, "runc-peer"), bundle: filepath.Join(tmp, "peer-bundle")}
	defer func() {
		peer.cleanup()
		if b.service {
			err = errors.Join(err, b.deleteService(context.WithoutCancel(ctx)))
		}
		err = errors.Join(err, b.stop())
		if err != nil {
			err = fmt.Errorf("%w\n(fargo's log: %s)", err, b.logPath)
		} else {
			os.RemoveAll(tmp)
		}
	}()

	fmt.Printf("\nTask benchmarks: real tasks (fargo's agent, runc %s, awsvpc netns per task), %d cores, same run\n", runcVersion(), runtime.NumCPU())
	fmt.Printf("fargo --cpu-overcommit %g --memory-overcommit %g: room for %d tasks of %d CPU / %d MiB (max of the burst, %d, and the\n",
		b.cpuOC, b.memOC, b.peakTasks(), taskCPU, taskMemory, burstTasks)
	fmt.Printf("update's surge, 2 x %d desired) on %d cores x 1024 and %d MiB (MemTotal); at least fargo's defaults, 4 and 2\n",
		b.cfg.serviceTasks, runtime.NumCPU(), b.hostMiB)
	if err := b.prepare(ctx); err != nil {
		return err
	}
	if b.cfg.fdsOnly {
		return b.benchFDs(ctx)
	}
	if err := peer.prepare(b.taskapp); err != nil {
		return fmt.Errorf("runc peer bundle: %w", err)
	}
	start, err := b.benchTaskStart(ctx, peer)
	if err != nil || b.cfg.startOnly {
		return err
	}
	if err := b.benchBurst(ctx, start); err != nil {
		return err
	}
	if err := b.benchService(ctx, start); err != nil {
		return err
	}
	if err := b.benchManyServices(ctx); err != nil {
		return err
	}
	return b.benchFDs(ctx)
}

// build compiles fargo and the taskapp (static) into tmp.
func (b *taskBench) build(ctx context.Context) error {
	b.bin = filepath.Join(b.tmp, "fargo")
	b.taskapp = filepath.Join(b.tmp, "taskapp")
	for _, c := range [][]string{{"-o", b.bin, "./cmd/fargo"}, {"-o", filepath.Join(filepath.Dir(b.bin), "fargo-monitor"), "./internal/runtime/cmd/fargo-monitor"},
		{"-o", b.taskapp, taskAppSource}} {
		cmd := exec.CommandContext(ctx, "go", append([]string{"build"}, c...)...)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s (run the bench from the module root): %v\n%s", c[2], err, out)
		}
	}
	return nil
}

// peakTasks is the most tasks the bench runs at once: the burst, or the
// service's rolling update, whose surge (maximumPercent 200) runs twice
// the desired count.
func (b *taskBench) peakTasks() int { return max(burstTasks, 2*b.cfg.serviceTasks) }

// overcommits are the --cpu-overcommit and --memory-overcommit that let
// peakTasks tasks of taskCPU / taskMemory fit on this host; never below
// fargo's defaults (4 and 2).
func (b *taskBench) overcommits() (cpu, mem float64) {
	n := float64(b.peakTasks())
	cpu = math.Max(4, math.Ceil(n*taskCPU/(1024*float64(runtime.NumCPU()))))
	mem = math.Max(2, math.Ceil(n*taskMemory/float64(b.hostMiB)))
	return cpu, mem
}

// hostMemoryMiB is MemTotal from /proc/meminfo, in MiB (fargo's agent
// offers the same total, from sysinfo(2)).
func hostMemoryMiB() (int, error) {
	raw, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			f := strings.Fields(rest)
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseInt(f[0], 10, 64)
				if err == nil && kb > 0 {
					return int(kb >> 10), nil
				}
			}
			return 0, fmt.Errorf("/proc/meminfo: %q", line)
		}
	}
	return 0, errors.New("/proc/meminfo: no MemTotal")
}

// start runs `fargo server` with the agent and waits for /healthz.
func (b *taskBench) start(ctx context.Context) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := l.Addr().String()
	l.Close()
	logf, err := os.Create(b.logPath)
	if err != nil {
		return err
	}
	defer logf.Close()
	if b.hostMiB, err = hostMemoryMiB(); err != nil {
		return err
	}
	b.cpuOC, b.memOC = b.overcommits()
	cmd := exec.Command(b.bin, "server", "--cpu-overcommit", fmt.Sprint(b.cpuOC), "--memory-overcommit", fmt.Sprint(b.memOC))
	cmd.Env = append(os.Environ(),
		"FARGO_NETWORK_PREFIX="+benchNetPrefix, "FARGO_TASK_POOL="+benchTaskPool, "FARGO_METADATA_IP="+benchMetadataIP,
		"FARGO_NO_AGENT=0", "FARGO_DEV=1", "FARGO_WRITE_PROFILE=0", "FARGO_DATA_DIR="+b.dataDir, "FARGO_LISTEN="+addr)
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group: a Ctrl-C reaches the bench, which stops fargo
	// gracefully (SIGTERM) so that it stops its tasks.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start fargo: %w", err)
	}
	b.cmd = cmd
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.exited = exited
	b.url = "http://" + addr
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("fargo exited at start: %s", tail(b.logPath))
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if status, _ := httpStatus(b.url + "/healthz"); status == 200 {
			b.clients()
			return nil
		}
	}
	return fmt.Errorf("fargo did not become healthy: %s", tail(b.logPath))
}

// stop ends fargo with SIGTERM (its graceful shutdown stops the tasks and
// removes their netns and links) and checks that nothing is left.
func (b *taskBench) stop() error {
	if b.cmd == nil || b.cmd.Process == nil {
		return nil
	}
	t0 := time.Now()
	_ = b.cmd.Process.Signal(syscall.SIGTERM)
	var err error
	select {
	case <-b.exited:
		if st := b.cmd.ProcessState; st != nil && !st.Success() {
			err = fmt.Errorf("fargo exited with %v after SIGTERM", st)
		}
	case <-time.After(2 * time.Minute):
		_ = b.cmd.Process.Kill()
		<-b.exited
		err = errors.New("fargo did not stop within 2 minutes of SIGTERM (killed)")
	}
	b.cmd = nil
	left := b.leftovers()
	if len(left) > 0 {
		return errors.Join(err, fmt.Errorf("left after fargo stopped: %s", strings.Join(left, ", ")))
	}
	if err == nil {
		fmt.Printf("cleanup: fargo stopped %s after SIGTERM; no %s-* netns, %s* link, container or mount left\n",
			fmtSecs(time.Since(t0)), benchNetPrefix, benchNetPrefix)
	}
	return err
}

// leftovers lists the netns, links, runc containers and mounts of this
// fargo that outlived it.
func (b *taskBench) leftovers() []string {
	var left []string
	ents, _ := os.ReadDir("/run/netns")
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), benchNetPrefix+"-") {
			left = append(left, "netns "+e.Name())
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, e := range links {
		if strings.HasPrefix(e.Name(), benchNetPrefix) {
			left = append(left, "link "+e.Name())
		}
	}
	out, err := exec.Command("runc", "--root", filepath.Join(b.dataDir, "runc"), "list", "-q").Output()
	if ids := strings.Fields(string(out)); err == nil && len(ids) > 0 {
		left = append(left, "containers "+strings.Join(ids, " "))
	}
	if mounts, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(mounts), b.tmp) {
		left = append(left, "mounts under "+b.tmp)
	}
	return left
}

func (b *taskBench) clients() {
	cfg := aws.Config{
		Region:      "us-east-1",
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
	}
	b.ecs = ecs.NewFromConfig(cfg, func(o *ecs.Options) { o.BaseEndpoint = aws.String(b.url) })
	b.ecr = ecr.NewFromConfig(cfg, func(o *ecr.Options) { o.BaseEndpoint = aws.String(b.url) })
}

// prepare pushes the image, registers the task definition and runs one
// task so that the image is pulled before anything is measured.
func (b *taskBench) prepare(ctx context.Context) error {
	img, err := taskImage(b.taskapp)
	if err != nil {
		return err
	}
	repo, err := b.ecr.CreateRepository(ctx, &ecr.CreateRepositoryInput{RepositoryName: aws.String(benchFamily)})
	if err != nil {
		return fmt.Errorf("create-repository: %w", err)
	}
	tok, err := b.ecr.GetAuthorizationToken(ctx, &ecr.GetAuthorizationTokenInput{})
	if err != nil || len(tok.AuthorizationData) == 0 {
		return fmt.Errorf("get-authorization-token: %v", err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(tok.AuthorizationData[0].AuthorizationToken))
	if err != nil {
		return fmt.Errorf("authorization token: %w", err)
	}
	user, pw, _ := strings.Cut(string(raw), ":")
	b.image = aws.ToString(repo.Repository.RepositoryUri) + ":v1"
	if err := crane.Push(img, b.image, crane.Insecure, crane.WithContext(ctx),
		crane.WithAuth(&authn.Basic{Username: user, Password: pw})); err != nil {
		return fmt.Errorf("push %s: %w", b.image, err)
	}
	if _, err := b.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(benchCluster)}); err != nil {
		return fmt.Errorf("create-cluster: %w", err)
	}
	if b.taskDef, err = b.register(ctx, "1"); err != nil {
		return err
	}
	arn, err := b.runTask(ctx)
	if err != nil {
		return err
	}
	if _, err := b.waitRunning(ctx, arn, time.Now(), 2*time.Minute); err != nil {
		return fmt.Errorf("first task (image pull): %w", err)
	}
	return b.stopTask(ctx, arn)
}

// register registers a revision of the taskapp task definition; version
// is the value of its APP_VERSION variable.
func (b *taskBench) register(ctx context.Context, version string) (string, error) {
	out, err := b.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family:                  aws.String(benchFamily),
		RequiresCompatibilities: []ecstypes.Compatibility{ecstypes.CompatibilityFargate},
		NetworkMode:             ecstypes.NetworkModeAwsvpc,
		Cpu:                     aws.String(strconv.Itoa(taskCPU)),
		Memory:                  aws.String(strconv.Itoa(taskMemory)),
		ExecutionRoleArn:        aws.String("arn:aws:iam::000000000000:role/ecsTaskExecutionRole"),
		ContainerDefinitions: []ecstypes.ContainerDefinition{{
			Name:         aws.String("app"),
			Image:        aws.String(b.image),
			Essential:    aws.Bool(true),
			PortMappings: []ecstypes.PortMapping{{ContainerPort: aws.Int32(8080), Protocol: ecstypes.TransportProtocolTcp}},
			Environment:  []ecstypes.KeyValuePair{{Name: aws.String("APP_VERSION"), Value: aws.String(version)}},
		}},
	})
	if err != nil {
		return "", fmt.Errorf("register-task-definition: %w", err)
	}
	return aws.ToString(out.TaskDefinition.TaskDefinitionArn), nil
}

func networkConfig() *ecstypes.NetworkConfiguration {
	return &ecstypes.NetworkConfiguration{AwsvpcConfiguration: &ecstypes.AwsVpcConfiguration{
		Subnets: []string{benchSubnet}, AssignPublicIp: ecstypes.AssignPublicIpDisabled,
	}}
}

func (b *taskBench) runTask(ctx context.Context) (string, error) {
	out, err := b.ecs.RunTask(ctx, &ecs.RunTaskInput{
		Cluster: aws.String(benchCluster), LaunchType: ecstypes.LaunchTypeFargate,
		TaskDefinition: aws.String(b.taskDef), NetworkConfiguration: networkConfig(),
	})
	if err != nil {
		return "", fmt.Errorf("run-task: %w", err)
	}
	if len(out.Tasks) != 1 {
		return "", fmt.Errorf("run-task: %d tasks, failures %+v", len(out.Tasks), out.Failures)
	}
	return aws.ToString(out.Tasks[0].TaskArn), nil
}

func (b *taskBench) describeTask(ctx context.Context, arn string) (ecstypes.Task, error) {
	out, err := b.ecs.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(benchCluster), Tasks: []string{arn}})
	if err != nil {
		return ecstypes.Task{}, fmt.Errorf("describe-tasks: %w", err)
	}
	if len(out.Tasks) != 1 {
		return ecstypes.Task{}, fmt.Errorf("describe-tasks %s: failures %+v", arn, out.Failures)
	}
	return out.Tasks[0], nil
}

// waitRunning polls DescribeTasks every pollTasks until the task is
// RUNNING and returns the time from t0. ipc, when not nil, gets the task's
// IP as soon as an answer shows it.
func (b *taskBench) waitRunning(ctx context.Context, arn string, t0 time.Time, timeout time.Duration, ipc ...chan<- string) (time.Duration, error) {
	sent := false
	for {
		t, err := b.describeTask(ctx, arn)
		if err != nil {
			return 0, err
		}
		if ip := taskIP(t); ip != "" && !sent {
			for _, c := range ipc {
				c <- ip
			}
			sent = true
		}
		switch s := aws.ToString(t.LastStatus); s {
		case "RUNNING":
			return time.Since(t0), nil
		case "STOPPED", "DEPROVISIONING":
			return 0, fmt.Errorf("task %s %s: %s", arn, s, aws.ToString(t.StoppedReason))
		}
		if time.Since(t0) > timeout {
			return 0, fmt.Errorf("task %s still %s after %s", arn, aws.ToString(t.LastStatus), timeout)
		}
		if err := sleepCtx(ctx, pollTasks); err != nil {
			return 0, err
		}
	}
}

func taskIP(t ecstypes.Task) string {
	for _, a := range t.Attachments {
		for _, d := range a.Details {
			if aws.ToString(d.Name) == "privateIPv4Address" {
				return aws.ToString(d.Value)
			}
		}
	}
	return ""
}

// stopTask stops the task and waits until it is STOPPED.
func (b *taskBench) stopTask(ctx context.Context, arn string) error {
	if _, err := b.ecs.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(benchCluster), Task: aws.String(arn)}); err != nil {
		return fmt.Errorf("stop-task: %w", err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		t, err := b.describeTask(ctx, arn)
		if err != nil {
			return err
		}
		if aws.ToString(t.LastStatus) == "STOPPED" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("task %s not STOPPED a minute after stop-task", arn)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
}

// startTimes is one task start: to RUNNING (or runc's "running") and to
// the first HTTP 200 from the app.
type startTimes struct{ running, http time.Duration }

// fargoStart runs one task and measures its start; the task is stopped.
func (b *taskBench) fargoStart(ctx context.Context) (startTimes, error) {
	t0 := time.Now()
	arn, err := b.runTask(ctx)
	if err != nil {
		return startTimes{}, err
	}
	ipc := make(chan string, 1)
	httpc := make(chan error, 1)
	var httpAt time.Duration
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	go func() {
		select {
		case ip := <-ipc:
			err := pollAnswer(pctx, func() error { return httpProbe(ip+":8080", nil) })
			httpAt = time.Since(t0)
			httpc <- err
		case <-pctx.Done():
			httpc <- pctx.Err()
		}
	}()
	running, err := b.waitRunning(ctx, arn, t0, time.Minute, ipc)
	if err == nil {
		if err = <-httpc; err == nil {
			err = b.stopTask(ctx, arn)
		}
	}
	cancel()
	if err != nil {
		return startTimes{}, err
	}
	return startTimes{running: running, http: httpAt}, nil
}

// benchTaskStart alternates fargo task starts and raw runc starts, and
// prints both, their ratio, fargo's overhead at p50 and p99 and its
// targets.
func (b *taskBench) benchTaskStart(ctx context.Context, peer *runcPeer) (startTimes, error) {
	var fargo, runc []startTimes
	for i := range b.cfg.runs {
		f, err := b.fargoStart(ctx)
		if err != nil {
			return startTimes{}, fmt.Errorf("fargo task start %d: %w", i+1, err)
		}
		r, err := peer.start(ctx, fmt.Sprintf("peer%d", i))
		if err != nil {
			return startTimes{}, fmt.Errorf("runc start %d: %w", i+1, err)
		}
		fargo, runc = append(fargo, f), append(runc, r)
	}
	fmt.Printf("\ntask start: %d sequential runs each, alternating; Fargate awsvpc cpu %d / memory %d, image already pulled\n", b.cfg.runs, taskCPU, taskMemory)
	fmt.Printf("peer: runc run -d of an OCI bundle of the same binary (fargo's OCI spec for the container: seccomp, caps, %d MiB; a new netns with loopback)\n", taskMemory)
	fmt.Printf("      under a task cgroup with the task's limits, as fargo's (cpu %d: a CFS quota of %.2f CPU; memory %d MiB)\n", taskCPU, float64(taskCPU)/1024, taskMemory)
	fmt.Printf("fargo: RunTask -> DescribeTasks lastStatus RUNNING (polled every %s), -> task IP:8080 answers HTTP (polled every %s)\n", pollTasks, pollHTTP)
	fmt.Printf("runc:  runc run -d -> runc state running (polled every %s), -> 127.0.0.1:8080 in its netns answers HTTP\n", pollTasks)
	fmt.Printf("overhead = fargo - runc at the same percentile; targets (issues 4, 9): <= %s at p50, <= %s at p99\n\n", fmtDur(startTargetP50), fmtDur(startTargetP99))
	fmt.Printf("%-22s %-6s %9s %9s   %s\n", "measure", "target", "p50", "p99", "fargo/runc")
	var fr startTimes
	for _, m := range []struct {
		name string
		get  func(startTimes) time.Duration
	}{
		{"start to running", func(s startTimes) time.Duration { return s.running }},
		{"start to HTTP answer", func(s startTimes) time.Duration { return s.http }},
	} {
		f50, f99 := percentiles(fargo, m.get)
		r50, r99 := percentiles(runc, m.get)
		fmt.Printf("%-22s %-6s %9s %9s   %.1fx p50\n", m.name, "fargo", fmtDur(f50), fmtDur(f99), ratio(f50, r50))
		fmt.Printf("%-22s %-6s %9s %9s\n", "", "runc", fmtDur(r50), fmtDur(r99))
		fmt.Printf("%-22s %-6s %9s %9s   p50 %s, p99 %s\n", "", "+over", signedDur(f50-r50), signedDur(f99-r99),
			verdict(f50-r50 <= startTargetP50), verdict(f99-r99 <= startTargetP99))
		if m.name == "start to running" {
			fr.running = f50
		} else {
			fr.http = f50
		}
	}
	return fr, nil
}

func verdict(met bool) string {
	if met {
		return "met"
	}
	return "MISSED"
}

func signedDur(d time.Duration) string {
	if d < 0 {
		return "-" + fmtDur(-d)
	}
	return "+" + fmtDur(d)
}

// percentiles are the nearest-rank p50 and p99 (over 50 runs, p99 is the
// slowest).
func percentiles(s []startTimes, get func(startTimes) time.Duration) (p50, p99 time.Duration) {
	var d []time.Duration
	for _, x := range s {
		d = append(d, get(x))
	}
	slices.Sort(d)
	if len(d) == 0 {
		return 0, 0
	}
	rank := func(p float64) time.Duration { return d[max(0, min(len(d)-1, int(math.Ceil(float64(len(d))*p))-1))] }
	return rank(0.50), rank(0.99)
}

func ratio(a, b time.Duration) float64 {
	if b <= 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// pollAnswer calls probe every pollHTTP until it succeeds.
func pollAnswer(ctx context.Context, probe func() error) error {
	for {
		err := probe()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("no HTTP answer: %v", err)
		}
		time.Sleep(pollHTTP)
	}
}

// httpProbe sends GET / to addr over a fresh connection (from dial, or a
// plain TCP dial) and wants a 200.
func httpProbe(addr string, dial func(addr string) (net.Conn, error)) error {
	if dial == nil {
		dial = func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, 200*time.Millisecond) }
	}
	c, err := dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := io.WriteString(c, "GET / HTTP/1.0\r\nHost: bench\r\n\r\n"); err != nil {
		return err
	}
	line := make([]byte, 12)
	if _, err := io.ReadFull(c, line); err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.")) || string(line[9:12]) != "200" {
		return fmt.Errorf("answer %q", line)
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func fmtSecs(d time.Duration) string { return fmt.Sprintf("%.2fs", d.Seconds()) }

// taskImage is the e2e tests' image (fargotest.TaskAppImage) of the
// taskapp binary at bin.
func taskImage(bin string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return fargotest.TaskAppImage(data)
}

func httpStatus(url string) (int, error) {
	c := &http.Client{Timeout: time.Second}
	resp, err := c.Get(url)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}
