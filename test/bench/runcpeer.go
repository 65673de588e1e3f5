package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/fargotest"
	fargoruntime "github.com/fargo-run/fargo/internal/runtime"
)

// runcPeer is the task start's peer: plain runc running a bundle whose
// rootfs holds the same taskapp binary, with the OCI spec fargo's runtime
// writes for the task's container (runtime.OCISpec: Docker's seccomp
// profile and capabilities, the 512 MiB limit, 256 CPU shares) but a new
// network namespace with only loopback. No image, no IP, no store, no API:
// the floor under fargo, so the difference is fargo's own overhead.
type runcPeer struct {
	root   string // runc --root, apart from fargo's
	bundle string
	ids    []string // containers not yet deleted
	cgroup bool     // peerCgroup was made
}

// peerCgroup is the peer's task-level cgroup.
const peerCgroup = "/fargo-bench-peer"

func runcVersion() string {
	out, err := exec.Command("runc", "--version").Output()
	if err != nil {
		return "?"
	}
	v, _, _ := strings.Cut(string(out), "\n")
	return strings.TrimPrefix(v, "runc version ")
}

// prepare writes the bundle: the rootfs files and the task container's config.json
// with the process and limits of the task.
func (p *runcPeer) prepare(taskapp string) error {
	data, err := os.ReadFile(taskapp)
	if err != nil {
		return err
	}
	rootfs := filepath.Join(p.bundle, "rootfs")
	if err := os.MkdirAll(filepath.Join(rootfs, "etc"), 0o755); err != nil {
		return err
	}
	for _, f := range fargotest.TaskAppRootfs(data) {
		if err := os.WriteFile(filepath.Join(rootfs, f.Name), f.Body, os.FileMode(f.Mode)); err != nil {
			return err
		}
	}
	// The container fargo's runtime would run for the task (its seccomp
	// profile, capabilities, masked paths, rlimits, limits), in a network
	// namespace of its own with only loopback: the same container without
	// fargo.
	spec, err := fargoruntime.OCISpec(fargoruntime.ContainerSpec{
		ID: "peer", Rootfs: rootfs, Args: []string{"/taskapp", "serve"},
		Env:              []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "APP_VERSION=1"},
		CPUShares:        256,
		MemoryLimitBytes: 512 << 20,
		Ulimits:          []fargoruntime.Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}},
	})
	if err != nil {
		return fmt.Errorf("the task's OCI spec: %w", err)
	}
	// The task's limits, as fargo's agent sets them: a task-level cgroup
	// with the task's cpu (a CFS quota of cpu/1024 CPUs) and memory, the
	// container's cgroup under it. Without it the peer would start
	// unthrottled where the fargo task runs on a quarter of a CPU.
	if err := (&fargoruntime.Runtime{}).CreateTaskCgroup(peerCgroup, fargoruntime.TaskResources{
		CPUUnits: taskCPU, MemoryBytes: taskMemory << 20}); err != nil {
		return fmt.Errorf("the peer's task cgroup: %w", err)
	}
	p.cgroup = true
	spec.Linux.CgroupsPath = peerCgroup + "/peer"
	raw, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(p.bundle, "config.json"), raw, 0o644)
}

func (p *runcPeer) runc(ctx context.Context, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "runc", append([]string{"--root", p.root}, args...)...)
}

type runcState struct {
	Status string `json:"status"`
	Pid    int    `json:"pid"`
}

func (p *runcPeer) state(ctx context.Context, id string) (runcState, error) {
	var st runcState
	out, err := p.runc(ctx, "state", id).Output()
	if err != nil {
		return st, fmt.Errorf("runc state %s: %w", id, err)
	}
	return st, json.Unmarshal(out, &st)
}

// start runs one container, measures it like a fargo task start, and
// deletes it.
func (p *runcPeer) start(ctx context.Context, id string) (startTimes, error) {
	logf, err := os.Create(filepath.Join(filepath.Dir(p.bundle), id+".log"))
	if err != nil {
		return startTimes{}, err
	}
	defer logf.Close()
	t0 := time.Now()
	cmd := p.runc(ctx, "run", "-d", "--bundle", p.bundle, id)
	// A file, not a pipe: the detached container inherits runc's stdio.
	cmd.Stdout, cmd.Stderr = logf, logf
	p.ids = append(p.ids, id)
	if err := cmd.Run(); err != nil {
		b, _ := os.ReadFile(logf.Name())
		return startTimes{}, fmt.Errorf("runc run -d: %v: %s", err, b)
	}
	var st runcState
	for {
		if st, err = p.state(ctx, id); err != nil {
			return startTimes{}, err
		}
		if st.Status == "running" {
			break
		}
		if st.Status == "stopped" || time.Since(t0) > 30*time.Second {
			return startTimes{}, fmt.Errorf("container %s is %s", id, st.Status)
		}
		if err := sleepCtx(ctx, pollTasks); err != nil {
			return startTimes{}, err
		}
	}
	res := startTimes{running: time.Since(t0)}
	pctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := pollAnswer(pctx, func() error { return httpProbe("127.0.0.1:8080", netnsDialer(st.Pid)) }); err != nil {
		return startTimes{}, err
	}
	res.http = time.Since(t0)
	return res, p.delete(ctx, id)
}

func (p *runcPeer) delete(ctx context.Context, id string) error {
	if out, err := p.runc(ctx, "delete", "-f", id).CombinedOutput(); err != nil {
		return fmt.Errorf("runc delete -f %s: %v: %s", id, err, out)
	}
	for i, x := range p.ids {
		if x == id {
			p.ids = append(p.ids[:i], p.ids[i+1:]...)
			break
		}
	}
	return nil
}

// cleanup deletes the containers a failed run left, and the task cgroup.
func (p *runcPeer) cleanup() {
	for _, id := range append([]string(nil), p.ids...) {
		if err := p.delete(context.Background(), id); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
	if p.cgroup {
		if err := (&fargoruntime.Runtime{}).RemoveTaskCgroup(peerCgroup); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
		}
	}
}

// netnsDialer dials from inside the network namespace of pid: the socket
// is created by a thread that has joined it. The dial runs in its own
// goroutine, locked to its thread; should the thread fail to go back, it
// ends with that goroutine instead of serving others in the wrong netns.
func netnsDialer(pid int) func(addr string) (net.Conn, error) {
	return func(addr string) (net.Conn, error) {
		type result struct {
			c   net.Conn
			err error
		}
		done := make(chan result, 1)
		go func() {
			runtime.LockOSThread()
			c, back, err := dialInNetns(pid, addr)
			if back {
				runtime.UnlockOSThread()
			}
			done <- result{c, err}
		}()
		r := <-done
		return r.c, r.err
	}
}

// dialInNetns joins pid's network namespace on this (locked) thread, dials
// and goes back; back reports whether the thread is in its own netns.
func dialInNetns(pid int, addr string) (c net.Conn, back bool, err error) {
	target, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil {
		return nil, true, err
	}
	defer target.Close()
	orig, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		return nil, true, err
	}
	defer orig.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		return nil, true, fmt.Errorf("setns: %w", err)
	}
	c, err = net.DialTimeout("tcp", addr, 200*time.Millisecond)
	return c, unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil, err
}
