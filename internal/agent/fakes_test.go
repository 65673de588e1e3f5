package agent

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// fakeImages serves images from a map of ref -> config; a tag's digest is
// sha256:aaa... unless digests says otherwise. A pull by digest
// (ref@sha256:...) finds the image of the name before the "@".
type fakeImages struct {
	mu      sync.Mutex
	configs map[string]image.RunConfig
	digests map[string]string // ref -> digest (default sha256:aaa...)
	mounted map[string]bool
	scratch map[string]string // container id -> the scratch dir of its last Mount
	pulls   []string
}

func (f *fakeImages) Pull(_ context.Context, _ tenant.Scope, ref string) (*image.Image, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pulls = append(f.pulls, ref)
	if name, digest, ok := strings.Cut(ref, "@"); ok {
		return &image.Image{Ref: ref, Digest: digest, Config: f.configs[name]}, nil
	}
	cfg, ok := f.configs[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, ErrImageNotFound)
	}
	digest := f.digests[ref]
	if digest == "" {
		digest = "sha256:" + strings.Repeat("a", 64)
	}
	return &image.Image{Ref: ref, Digest: digest, Config: cfg}, nil
}

func (f *fakeImages) MountScratch(_ context.Context, _ *image.Image, id, scratch string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.mounted == nil {
		f.mounted = map[string]bool{}
	}
	if f.scratch == nil {
		f.scratch = map[string]string{}
	}
	f.mounted[id] = true
	f.scratch[id] = scratch
	return "/rootfs/" + id, nil
}

func (f *fakeImages) Unmount(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.mounted, id)
	return nil
}

// fakeNetwork hands out 10.0.0.x addresses.
// A set err fails every Setup.
type fakeNetwork struct {
	mu   sync.Mutex
	next int
	up   map[string]*network.Attachment
	err  error
}

func (f *fakeNetwork) Setup(_ context.Context, req network.Request) (*network.Attachment, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	if a, ok := f.up[req.TaskID]; ok {
		return a, nil
	}
	f.next++
	a := &network.Attachment{TaskID: req.TaskID, NetNSPath: "/run/netns/" + req.TaskID, IP: netip.AddrFrom4([4]byte{10, 0, 0, byte(f.next + 1)}),
		Prefix: netip.MustParsePrefix("10.0.0.0/24"), Gateway: netip.MustParseAddr("10.0.0.1"),
		MAC: "0a:00:00:00:00:01", SubnetID: "subnet-1", ENIID: "eni-1", PrivateDNSName: "ip-10-0-0-2.ec2.internal"}
	f.up[req.TaskID] = a
	return a, nil
}

// PublishPorts answers a binding per port, on all addresses: a host port
// 0 becomes 49152 + the container port modulo 1000.
func (f *fakeNetwork) PublishPorts(_ context.Context, taskID string, ports []network.PortMapping) ([]network.Binding, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.up[taskID]; !ok {
		return nil, fmt.Errorf("no network for task %s", taskID)
	}
	var out []network.Binding
	for _, p := range ports {
		for i := range max(p.Count, 1) {
			b := network.Binding{HostPort: p.HostPort, ContainerPort: p.ContainerPort + i, Protocol: p.Protocol}
			if p.HostPort == 0 {
				b.HostPort = 49152 + p.ContainerPort%1000
			}
			b.HostPort += i
			out = append(out, b)
		}
	}
	return out, nil
}

func (f *fakeNetwork) Teardown(_ context.Context, taskID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.up, taskID)
	return nil
}

// fakeContainer behaves as its command says: "exit N" exits with N after a
// moment; "serve" runs until signalled (exit 143 on SIGTERM, 137 on
// SIGKILL); "ignore" ignores SIGTERM; "oom" is killed with 137 + OOM.
type fakeContainer struct {
	spec   runtime.ContainerSpec
	done   chan struct{}
	status runtime.ExitStatus
}

type fakeRuntime struct {
	mu         sync.Mutex
	containers map[string]*fakeContainer
	execCode   map[string]int // container id -> health check exit code
	cgroups    map[string]bool
	logs       logPaths
	stops      []stopEvent // Stop calls, in order
	// startingUntil makes State say a container is starting (a monitor
	// an earlier fargo left is starting it) until then.
	startingUntil map[string]time.Time
	firstWait     map[string]time.Time // when Wait was first called, by container
	// emfile is how many of the next State and Wait calls fail with
	// EMFILE (a pending Wait fails within 10 ms of it being set), as the
	// real runtime's do when fargo is out of file descriptors.
	emfile atomic.Int32
	// execEMFILE is how many of the next Exec calls fail with EMFILE.
	execEMFILE atomic.Int32
}

// outOfFiles is the error a runtime call gives when fargo is out of file
// descriptors.
func (f *fakeRuntime) outOfFiles() error {
	for {
		n := f.emfile.Load()
		if n <= 0 {
			return nil
		}
		if f.emfile.CompareAndSwap(n, n-1) {
			return &os.PathError{Op: "open", Path: "/var/lib/fargo/containers/x/exit.json", Err: syscall.EMFILE}
		}
	}
}

type stopEvent struct {
	id string
	at time.Time
}

// logPaths maps every container to one file (enough for the tests).
type logPaths struct{ file string }

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{containers: map[string]*fakeContainer{}, execCode: map[string]int{}, cgroups: map[string]bool{},
		startingUntil: map[string]time.Time{}, firstWait: map[string]time.Time{}}
}

func (f *fakeRuntime) CreateTaskCgroupFor(taskID string, _, _ int) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cgroups[taskID] = true
	return "/fargo/" + taskID, nil
}

func (f *fakeRuntime) RemoveTaskCgroupFor(taskID string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.cgroups, taskID)
	return nil
}

func (f *fakeRuntime) Start(_ context.Context, spec runtime.ContainerSpec) error {
	if spec.Args[0] == "missing" {
		return fmt.Errorf(`exec: "missing": executable file not found in $PATH`)
	}
	if spec.Args[0] == "hostpath" { // a runc error naming the host's files
		return fmt.Errorf(`runc run failed: error mounting "/var/lib/fargo/containers/%s/rootfs/etc/hosts" to rootfs at "/etc/hosts": not a directory`, spec.ID)
	}
	c := &fakeContainer{spec: spec, done: make(chan struct{})}
	f.mu.Lock()
	f.containers[spec.ID] = c
	f.mu.Unlock()
	switch spec.Args[0] {
	case "exit":
		code := 0
		fmt.Sscan(spec.Args[1], &code)
		go func() {
			time.Sleep(50 * time.Millisecond)
			f.finish(spec.ID, runtime.ExitStatus{Code: code})
		}()
	case "oom":
		go func() {
			time.Sleep(50 * time.Millisecond)
			f.finish(spec.ID, runtime.ExitStatus{Code: 137, OOMKilled: true})
		}()
	}
	return nil
}

func (f *fakeRuntime) finish(id string, st runtime.ExitStatus) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	select {
	case <-c.done:
		return
	default:
	}
	st.FinishedAt = time.Now()
	c.status = st
	close(c.done)
}

func (f *fakeRuntime) Stop(_ context.Context, id string, sig syscall.Signal, timeout time.Duration) error {
	f.mu.Lock()
	c := f.containers[id]
	f.mu.Unlock()
	if c == nil {
		return nil
	}
	if sig == 0 {
		sig = c.spec.StopSignal
	}
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	f.mu.Lock()
	f.stops = append(f.stops, stopEvent{id: id, at: time.Now()})
	f.mu.Unlock()
	if c.spec.Args[0] == "ignore" { // as the runtime: SIGKILL after timeout, then return
		time.Sleep(timeout)
		f.finish(id, runtime.ExitStatus{Code: 137})
		return nil
	}
	f.finish(id, runtime.ExitStatus{Code: 128 + int(sig)})
	return nil
}

func (f *fakeRuntime) Wait(ctx context.Context, id string) (runtime.ExitStatus, error) {
	f.mu.Lock()
	if _, ok := f.firstWait[id]; !ok {
		f.firstWait[id] = time.Now()
	}
	c := f.containers[id]
	f.mu.Unlock()
	if c == nil {
		return runtime.ExitStatus{}, fmt.Errorf("no container %s", id)
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := f.outOfFiles(); err != nil {
			return runtime.ExitStatus{}, err
		}
		select {
		case <-c.done:
			return c.status, nil
		case <-ctx.Done():
			return runtime.ExitStatus{}, ctx.Err()
		case <-tick.C:
		}
	}
}

func (f *fakeRuntime) State(_ context.Context, id string) (runtime.State, error) {
	if err := f.outOfFiles(); err != nil {
		return runtime.State{}, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[id]
	if c == nil {
		return runtime.State{}, errdefs.NotFoundf("container %s not found", id)
	}
	if time.Now().Before(f.startingUntil[id]) {
		return runtime.State{ID: id, Status: runtime.StatusCreated}, nil
	}
	select {
	case <-c.done:
		st := c.status
		return runtime.State{ID: id, Status: runtime.StatusStopped, ExitCode: st.Code, OOMKilled: st.OOMKilled,
			FinishedAt: st.FinishedAt, Error: st.Error}, nil
	default:
		return runtime.State{ID: id, Status: runtime.StatusRunning}, nil
	}
}

func (f *fakeRuntime) Delete(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.containers, id)
	return nil
}

func (f *fakeRuntime) Exec(_ context.Context, id string, _ []string, _ time.Duration) (int, []byte, error) {
	if f.execEMFILE.Add(-1) >= 0 {
		return -1, nil, fmt.Errorf("exec in %s: %w", id, &os.SyscallError{Syscall: "pipe2", Err: syscall.EMFILE})
	}
	f.execEMFILE.Store(0)
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.execCode[id], nil, nil
}

func (f *fakeRuntime) LogPath(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.logs.file
}

func (f *fakeRuntime) Stats(context.Context, string) (runtime.Stats, error) {
	return runtime.Stats{Read: time.Now(), MemoryUsage: 1 << 20}, nil
}

func (f *fakeRuntime) running() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.containers)
}

// fakeLogs records what the shippers put.
type fakeLogs struct {
	mu      sync.Mutex
	groups  map[string]bool
	streams map[string][]LogEvent
}

func (f *fakeLogs) EnsureGroup(_ context.Context, _ tenant.Scope, g string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.groups[g] = true
	return nil
}

func (f *fakeLogs) EnsureStream(_ context.Context, _ tenant.Scope, g, s string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.groups[g] {
		return fmt.Errorf("ResourceNotFoundException: The specified log group does not exist.")
	}
	if _, ok := f.streams[g+"|"+s]; !ok {
		f.streams[g+"|"+s] = nil
	}
	return nil
}

func (f *fakeLogs) Put(_ context.Context, _ tenant.Scope, g, s string, ev []LogEvent) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.streams[g+"|"+s] = append(f.streams[g+"|"+s], ev...)
	return nil
}
