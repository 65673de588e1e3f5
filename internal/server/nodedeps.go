package server

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"

	"github.com/fargo-run/fargo/internal/agent"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/ephemeral"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/logs"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// This file adapts the host's packages (image, network, runtime, logs) to
// the agent's consumer-side interfaces. The agent knows none of them.

// agentPullIdentity is the access key id the agent's registry tokens carry
// (the ECS agent pulls with the task execution role; fargo has no IAM).
const agentPullIdentity = "fargo-agent"

// imagesAdapter is agent.Images over the image store. Pulls from fargo's
// own registry carry a token minted for the task's account, so repository
// policies apply to them as to any client of that account; other
// registries are reached only as the pull policy allows.
type imagesAdapter struct {
	store *image.Store
	// registryHost is fargo's own registry's host:port.
	registryHost func() string
	policy       *pullPolicy
	log          *slog.Logger
}

type scopeKey struct{}

func (a imagesAdapter) Pull(ctx context.Context, s tenant.Scope, ref string) (*agent.Image, error) {
	ctx = context.WithValue(ctx, scopeKey{}, s)
	local := a.rewrite(ref)
	if r, err := name.ParseReference(local); err == nil && !a.policy.Allowed(r.Context().RegistryStr()) {
		a.log.WarnContext(ctx, "image pull refused: registry not allowed", "ref", ref, "account", s.Account)
		return nil, &pullError{class: agent.ErrImageAuth, msg: "registry not allowed"}
	}
	img, err := a.store.Pull(ctx, local)
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		a.log.WarnContext(ctx, "image pull failed", "ref", ref, "account", s.Account, "err", err)
		return nil, tenantPullError(err)
	}
	c := img.Config
	return &agent.Image{Ref: ref, Digest: img.Digest, Config: agent.ImageConfig{
		Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd, WorkingDir: c.WorkingDir, User: c.User, StopSignal: c.StopSignal,
		Volumes: c.Volumes,
	}, Handle: img}, nil
}

// pullError is a failed pull as the task's account is told: a short
// reason fargo writes, never a registry's own words (a foreign server's
// error body, the host's paths), which go to fargo's log.
type pullError struct {
	class error
	msg   string
}

func (e *pullError) Error() string { return e.msg }
func (e *pullError) Unwrap() error { return e.class }

// tenantPullError maps an image store error to its pullError.
func tenantPullError(err error) error {
	var refused *addrRefusedError
	switch {
	case errors.As(err, &refused):
		return &pullError{class: agent.ErrImageAuth, msg: "registry not allowed"}
	case errors.Is(err, errdefs.ErrNotFound):
		return &pullError{class: agent.ErrImageNotFound, msg: "not found"}
	case errors.Is(err, errdefs.ErrPermissionDenied):
		return &pullError{class: agent.ErrImageAuth, msg: "access denied"}
	case errors.Is(err, errdefs.ErrInvalidArgument):
		return &pullError{class: errdefs.ErrInvalidArgument, msg: "invalid image reference or image"}
	case errors.Is(err, errdefs.ErrUnsupported):
		return &pullError{class: errdefs.ErrUnsupported, msg: "unsupported image"}
	case errors.Is(err, errdefs.ErrLimitExceeded):
		return &pullError{class: errdefs.ErrLimitExceeded, msg: "too many requests"}
	}
	return &pullError{class: errdefs.ErrUnavailable, msg: "registry unavailable"}
}

// ecrHost matches the registry host of a real ECR repository URI.
var ecrHost = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]+)\.amazonaws\.com$`)

// rewrite points an ECR reference at fargo's own registry: task
// definitions written for AWS (<account>.dkr.ecr.<region>.amazonaws.com/web)
// run unchanged, from the repository of that account and region here.
func (a imagesAdapter) rewrite(ref string) string {
	host, rest, ok := strings.Cut(ref, "/")
	if !ok {
		return ref
	}
	if m := ecrHost.FindStringSubmatch(host); m != nil {
		_, port, _ := net.SplitHostPort(a.registryHost())
		return net.JoinHostPort(m[1]+".dkr.ecr."+m[2]+".localhost", port) + "/" + rest
	}
	return ref
}

func (a imagesAdapter) Mount(ctx context.Context, img *agent.Image, containerID, scratch string) (string, error) {
	h, ok := img.Handle.(*image.Image)
	if !ok {
		return "", fmt.Errorf("image %s was not pulled by this store", img.Ref)
	}
	return a.store.MountScratch(ctx, h, containerID, scratch)
}

// storageAdapter is agent.Storage over the ephemeral package: a task
// directory that holds files already is run unbounded.
type storageAdapter struct{ m *ephemeral.Manager }

func (s storageAdapter) Attach(ctx context.Context, taskID, dir string, size int64) error {
	err := s.m.Attach(ctx, taskID, dir, size)
	if errors.Is(err, ephemeral.ErrNotEmpty) {
		return fmt.Errorf("%w: %w", agent.ErrNotEnforced, err)
	}
	return err
}

func (s storageAdapter) Detach(ctx context.Context, taskID, dir string) error {
	return s.m.Detach(ctx, taskID, dir)
}

func (s storageAdapter) Usage(dir string) (int64, int64, error) { return s.m.Usage(dir) }

func (s storageAdapter) Tasks() ([]string, error) { return s.m.Tasks() }

func (a imagesAdapter) Unmount(ctx context.Context, containerID string) error {
	return a.store.Unmount(ctx, containerID)
}

// DiskUsage is what a container wrote to its root filesystem: the blocks
// of its overlay upper dir (containers/<id>/upper in the image store).
func (a imagesAdapter) DiskUsage(ctx context.Context, containerID string) (int64, error) {
	if strings.ContainsAny(containerID, "/") || containerID == "" || containerID == "." || containerID == ".." {
		return 0, errdefs.Invalidf("invalid container id %q", containerID)
	}
	var total int64
	seen := map[uint64]bool{} // hard links count once
	err := filepath.WalkDir(filepath.Join(a.store.Root(), "containers", containerID, "upper"), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		fi, err := d.Info()
		if err != nil {
			return nil // gone meanwhile
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			if st.Nlink > 1 && !d.IsDir() {
				if seen[st.Ino] {
					return nil
				}
				seen[st.Ino] = true
			}
			total += st.Blocks * 512
		}
		return nil
	})
	return total, err
}

// registryCredentials resolves auth for image pulls: a fresh ECR token for
// fargo's own registry (in the task's account); for any other registry the
// host's docker credentials (~/.docker/config.json or $DOCKER_CONFIG, and
// the credential helpers it names), as docker and crane use them, and
// anonymous where they have none.
//
// A container's repositoryCredentials (a Secrets Manager secret) cannot be
// honoured: fargo has no Secrets Manager. The control plane logs that and
// the pull goes on with these credentials.
func registryCredentials(tokens *auth.TokenIssuer, isOwn func(host string) bool) image.Credentials {
	return registryCredentialsWith(tokens, isOwn, authn.DefaultKeychain)
}

func registryCredentialsWith(tokens *auth.TokenIssuer, isOwn func(host string) bool, foreign authn.Keychain) image.Credentials {
	return image.CredentialsFunc(func(ctx context.Context, host string) (authn.Authenticator, error) {
		if !isOwn(host) {
			return keychainAuth(foreign, host), nil
		}
		s, _ := ctx.Value(scopeKey{}).(tenant.Scope)
		if s.Account == "" {
			return authn.Anonymous, nil
		}
		tok, _ := tokens.Issue(s.Account, agentPullIdentity)
		return &authn.Basic{Username: "AWS", Password: tok}, nil
	})
}

// keychainAuth is the keychain's authenticator for a registry host, or
// anonymous when it has none or cannot be read (a broken config.json must
// not stop pulls of public images).
func keychainAuth(kc authn.Keychain, host string) authn.Authenticator {
	reg, err := name.NewRegistry(host)
	if err != nil {
		return authn.Anonymous
	}
	a, err := kc.Resolve(reg)
	if err != nil || a == nil {
		return authn.Anonymous
	}
	return a
}

func isLocalhostName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return host == "localhost" || strings.HasSuffix(host, ".localhost")
}

// networkAdapter is agent.Network over the awsvpc network manager.
type networkAdapter struct {
	m *network.Manager
	// nameservers go into tasks' /etc/resolv.conf (fargo's DNS server).
	nameservers []string
}

func (n networkAdapter) Setup(ctx context.Context, taskID string, s tenant.Scope) (*agent.Attachment, error) {
	a, err := n.m.Setup(ctx, network.Request{TaskID: taskID, Account: s.Account, Region: s.Region})
	if err != nil {
		return nil, err
	}
	return &agent.Attachment{
		NetNSPath: a.NetNSPath, IP: a.IP.String(), PrefixLen: a.Prefix.Bits(), Gateway: a.Gateway.String(),
		MAC: a.MAC, SubnetCIDR: a.Prefix.String(), SubnetID: a.SubnetID, ENIID: a.ENIID, DNSName: a.PrivateDNSName,
		Nameservers: n.nameservers,
	}, nil
}

func (n networkAdapter) PublishPorts(ctx context.Context, taskID string, ports []control.NetworkBinding) ([]control.NetworkBinding, error) {
	want := make([]network.PortMapping, 0, len(ports))
	for _, p := range ports {
		pm := network.PortMapping{HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: p.Protocol, Count: 1}
		if p.ContainerPortRange != "" {
			lo, hi, ok := control.ParsePortRange(p.ContainerPortRange)
			if !ok || p.HostPort != 0 {
				return nil, errdefs.Invalidf("port range %q is invalid", p.ContainerPortRange)
			}
			pm.ContainerPort, pm.Count = uint16(lo), uint16(hi-lo+1)
		} else if p.ContainerPort <= 0 || p.ContainerPort > 65535 || p.HostPort < 0 || p.HostPort > 65535 {
			return nil, errdefs.Invalidf("port mapping %d:%d is out of range", p.HostPort, p.ContainerPort)
		}
		if p.BindIP != "" {
			ip, err := netip.ParseAddr(p.BindIP)
			if err != nil {
				return nil, errdefs.Invalidf("bind address %q: %v", p.BindIP, err)
			}
			pm.HostIP = ip
		}
		want = append(want, pm)
	}
	got, err := n.m.PublishPorts(ctx, taskID, want)
	if err != nil {
		return nil, err
	}
	// One binding per port comes back, in order: a range's fold into one.
	out := make([]control.NetworkBinding, 0, len(want))
	for i, pm := range want {
		if len(got) < int(pm.Count) {
			return nil, fmt.Errorf("network: %d bindings for %d ports", len(got), pm.Count)
		}
		first, last := got[0], got[pm.Count-1]
		got = got[pm.Count:]
		ip := "0.0.0.0"
		if first.HostIP.IsValid() && !first.HostIP.IsUnspecified() {
			ip = first.HostIP.String()
		}
		b := control.NetworkBinding{BindIP: ip, ContainerPort: int(first.ContainerPort), HostPort: int(first.HostPort), Protocol: first.Protocol}
		if ports[i].ContainerPortRange != "" {
			b.ContainerPort, b.HostPort = 0, 0
			b.ContainerPortRange = fmt.Sprintf("%d-%d", first.ContainerPort, last.ContainerPort)
			b.HostPortRange = fmt.Sprintf("%d-%d", first.HostPort, last.HostPort)
		}
		out = append(out, b)
	}
	return out, nil
}

func (n networkAdapter) Teardown(ctx context.Context, taskID string) error {
	return n.m.Teardown(ctx, taskID)
}

// LinkStats reads the counters of the interfaces inside a task's network
// namespace over netlink (no thread enters the namespace), loopback left
// out.
func (n networkAdapter) LinkStats(ctx context.Context, netnsPath string) (map[string]agent.NetworkCounts, error) {
	ns, err := netns.GetFromPath(netnsPath)
	if err != nil {
		return nil, fmt.Errorf("netns %s: %w", netnsPath, err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns)
	if err != nil {
		return nil, fmt.Errorf("netlink in %s: %w", netnsPath, err)
	}
	defer h.Close()
	links, err := h.LinkList()
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return nil, fmt.Errorf("links in %s: %w", netnsPath, err)
	}
	out := map[string]agent.NetworkCounts{}
	for _, l := range links {
		attrs := l.Attrs()
		if attrs.Flags&net.FlagLoopback != 0 || attrs.Statistics == nil {
			continue
		}
		st := attrs.Statistics
		out[attrs.Name] = agent.NetworkCounts{RxBytes: st.RxBytes, RxPackets: st.RxPackets, RxErrors: st.RxErrors, RxDropped: st.RxDropped,
			TxBytes: st.TxBytes, TxPackets: st.TxPackets, TxErrors: st.TxErrors, TxDropped: st.TxDropped}
	}
	return out, nil
}

// runtimeAdapter is agent.Runtime over the runc runtime.
type runtimeAdapter struct{ r *runtime.Runtime }

// taskCgroup is the cgroup of a task's containers, under fargo's own.
func taskCgroup(taskID string) string { return "/fargo/" + taskID }

// taskPidsMax is every task's pids.max: the processes and threads of all
// its containers together. Fargate documents no such limit (its tasks are
// micro-VMs of their own); 4096 is many times what a service needs (a
// JVM with a few hundred threads) and stops a fork bomb long before the
// host's PID space (32768 by default) runs out.
const taskPidsMax = 4096

// fargoPidsMax is the limit of fargo's parent cgroup, shared by all tasks:
// half the host's PIDs (kernel.pid_max, bounded by kernel.threads-max), so
// that many tasks at their own limit still leave the host room.
func fargoPidsMax() int64 {
	n := int64(32768)
	for _, f := range []string{"/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"} {
		if b, err := os.ReadFile(f); err == nil {
			if v, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil && v > 0 {
				n = min(n, v)
			}
		}
	}
	return max(n/2, taskPidsMax)
}

func (a runtimeAdapter) CreateTaskCgroup(taskID string, cpu, memoryMiB int) (string, error) {
	if err := a.r.CreateTaskCgroup(path.Dir(taskCgroup(taskID)), runtime.TaskResources{PidsMax: fargoPidsMax()}); err != nil {
		return "", err
	}
	p := taskCgroup(taskID)
	return p, a.r.CreateTaskCgroup(p, runtime.TaskResources{CPUUnits: cpu, MemoryBytes: int64(memoryMiB) << 20, PidsMax: taskPidsMax})
}

func (a runtimeAdapter) RemoveTaskCgroup(taskID string) error {
	return a.r.RemoveTaskCgroup(taskCgroup(taskID))
}

func (a runtimeAdapter) Start(ctx context.Context, s agent.ContainerSpec) error {
	rs := runtime.ContainerSpec{
		ID: s.ID, Rootfs: s.Rootfs, Args: s.Args, Env: s.Env, Cwd: s.Cwd, User: s.User, Hostname: s.Hostname,
		ReadonlyRootfs: s.ReadonlyRootfs, NetNSPath: s.NetNSPath, HostNetwork: s.HostNetwork, CgroupParent: s.CgroupParent,
		MemoryLimitBytes: s.MemoryLimit, MemoryReservationBytes: s.MemoryReserve, StopSignal: s.StopSignal, Labels: s.Labels,
		CapAdd: s.CapAdd, CapDrop: s.CapDrop, Init: s.Init, Privileged: s.Privileged, Sysctls: s.Sysctls,
	}
	if s.CPUShares > 0 {
		rs.CPUShares = uint64(s.CPUShares)
	}
	for _, u := range s.Ulimits {
		rs.Ulimits = append(rs.Ulimits, runtime.Ulimit{Name: u.Name, Soft: u.Soft, Hard: u.Hard, Clamp: u.Default})
	}
	for _, m := range s.Mounts {
		rm := runtime.Mount{Source: m.Source, Destination: m.Destination}
		if m.ReadOnly {
			rm.Options = []string{"ro"}
		}
		rs.Mounts = append(rs.Mounts, rm)
	}
	return a.r.Start(ctx, rs)
}

func (a runtimeAdapter) Stop(ctx context.Context, id string, sig syscall.Signal, timeout time.Duration) error {
	return a.r.Stop(ctx, id, sig, timeout)
}

func (a runtimeAdapter) Wait(ctx context.Context, id string) (agent.ExitStatus, error) {
	st, err := a.r.Wait(ctx, id)
	return agent.ExitStatus{Code: st.Code, OOMKilled: st.OOMKilled, FinishedAt: st.FinishedAt, Error: st.Error}, err
}

func (a runtimeAdapter) State(ctx context.Context, id string) (agent.ContainerState, error) {
	st, err := a.r.State(ctx, id)
	// A start a crash cut off is, for the agent, a container to start:
	// the runtime's Start redoes it.
	if errors.Is(err, errdefs.ErrNotFound) || err == nil && st.Status == runtime.StatusNotStarted {
		return agent.ContainerState{}, nil
	}
	if err != nil {
		return agent.ContainerState{}, err
	}
	cs := agent.ContainerState{Exists: true, Running: st.Status == runtime.StatusRunning, Starting: st.Status == runtime.StatusCreated,
		CreatedAt: st.CreatedAt, StartedAt: st.StartedAt}
	if st.Status == runtime.StatusStopped {
		cs.Exit = &agent.ExitStatus{Code: st.ExitCode, OOMKilled: st.OOMKilled, FinishedAt: st.FinishedAt, Error: st.Error}
	}
	return cs, nil
}

func (a runtimeAdapter) Delete(ctx context.Context, id string) error {
	err := a.r.Delete(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}

func (a runtimeAdapter) Exec(ctx context.Context, id string, args []string, timeout time.Duration) (int, []byte, error) {
	return a.r.Exec(ctx, id, args, timeout)
}

func (a runtimeAdapter) LogPath(id string) string { return a.r.LogPath(id) }

func (a runtimeAdapter) Stats(ctx context.Context, id string) (agent.Stats, error) {
	s, err := a.r.Stats(ctx, id)
	return agent.Stats{
		Read: s.Read, CPUTotalNanos: s.CPUTotalNanos, CPUPerCPUNanos: s.CPUPerCPUNanos, SystemCPUNanos: s.SystemCPUNanos,
		OnlineCPUs: s.OnlineCPUs, MemoryUsage: s.MemoryUsage, MemoryMaxUsage: s.MemoryMaxUsage, MemoryLimit: s.MemoryLimit,
		MemoryStats: s.MemoryStats, PIDs: s.PIDs,
	}, err
}

// cgroupRoot is where the host mounts its cgroup hierarchies.
const cgroupRoot = "/sys/fs/cgroup"

// BlkioStats reads a container's block I/O counters from its cgroup, which
// the runtime makes at <task cgroup>/<container id>: blkio.throttle's
// recursive files on cgroup v1, io.stat on v2 (read and write, named as
// Docker names them there).
func (a runtimeAdapter) BlkioStats(ctx context.Context, id string) (agent.BlkioStats, error) {
	taskID, _, ok := strings.Cut(id, "-")
	if !ok || strings.ContainsAny(id, "/") {
		return agent.BlkioStats{}, errdefs.Invalidf("invalid container id %q", id)
	}
	cg := taskCgroup(taskID) + "/" + id
	if _, err := os.Stat(filepath.Join(cgroupRoot, "cgroup.controllers")); err == nil {
		b, err := os.ReadFile(filepath.Join(cgroupRoot, cg, "io.stat"))
		if err != nil {
			return agent.BlkioStats{}, err
		}
		return parseIOStat(string(b)), nil
	}
	dir := filepath.Join(cgroupRoot, "blkio", cg)
	bytes, err := os.ReadFile(filepath.Join(dir, "blkio.throttle.io_service_bytes_recursive"))
	if err != nil {
		return agent.BlkioStats{}, err
	}
	ops, err := os.ReadFile(filepath.Join(dir, "blkio.throttle.io_serviced_recursive"))
	if err != nil {
		return agent.BlkioStats{}, err
	}
	return agent.BlkioStats{ServiceBytes: parseBlkio(string(bytes)), Serviced: parseBlkio(string(ops))}, nil
}

// parseBlkio reads a cgroup v1 blkio statistic: "major:minor Op value"
// lines and a closing "Total value" line, which Docker leaves out too.
func parseBlkio(s string) []agent.BlkioEntry {
	out := []agent.BlkioEntry{}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		v, err := strconv.ParseUint(f[2], 10, 64)
		if !ok || err != nil {
			continue
		}
		out = append(out, agent.BlkioEntry{Major: maj, Minor: min, Op: f[1], Value: v})
	}
	return out
}

// parseIOStat reads cgroup v2's io.stat ("major:minor rbytes=N wbytes=N
// rios=N wios=N ...") into Docker's v2 shape: bytes and operations, each
// with ops "read" and "write".
func parseIOStat(s string) agent.BlkioStats {
	out := agent.BlkioStats{ServiceBytes: []agent.BlkioEntry{}, Serviced: []agent.BlkioEntry{}}
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		maj, min, ok := parseDevice(f[0])
		if !ok {
			continue
		}
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				continue
			}
			e := agent.BlkioEntry{Major: maj, Minor: min, Value: n}
			switch k {
			case "rbytes":
				e.Op = "read"
				out.ServiceBytes = append(out.ServiceBytes, e)
			case "wbytes":
				e.Op = "write"
				out.ServiceBytes = append(out.ServiceBytes, e)
			case "rios":
				e.Op = "read"
				out.Serviced = append(out.Serviced, e)
			case "wios":
				e.Op = "write"
				out.Serviced = append(out.Serviced, e)
			}
		}
	}
	return out
}

func parseDevice(s string) (major, minor uint64, ok bool) {
	a, b, found := strings.Cut(s, ":")
	if !found {
		return 0, 0, false
	}
	maj, err1 := strconv.ParseUint(a, 10, 64)
	min, err2 := strconv.ParseUint(b, 10, 64)
	return maj, min, err1 == nil && err2 == nil
}

// logSink is agent.LogSink over the Logs service.
type logSink struct{ svc *logs.Service }

func (l logSink) EnsureGroup(ctx context.Context, s tenant.Scope, group string) error {
	return l.svc.EnsureGroup(ctx, s, group)
}

func (l logSink) EnsureStream(ctx context.Context, s tenant.Scope, group, stream string) error {
	return l.svc.EnsureStream(ctx, s, group, stream)
}

func (l logSink) Put(ctx context.Context, s tenant.Scope, group, stream string, events []agent.LogEvent) error {
	evs := make([]logs.Event, len(events))
	for i, e := range events {
		evs[i] = logs.Event{Timestamp: e.Timestamp, Message: e.Message}
	}
	return l.svc.Put(ctx, s, group, stream, evs)
}

// sweeper is agent.Sweeper over the runtime, the image store and the
// network manager: what they hold of tasks the agent does not own goes.
type sweeper struct {
	rt     *runtime.Runtime
	images *image.Store
	net    *network.Manager
	log    *slog.Logger
}

func (s sweeper) Sweep(ctx context.Context, keep agent.Keep) error {
	var errs []error
	tasks := map[string]bool{} // tasks whose leftovers went
	states, err := s.rt.List(ctx)
	errs = append(errs, err)
	for _, st := range states {
		if keep.Container(st.ID) {
			continue
		}
		s.log.Warn("removing a container no task owns", "container", st.ID, "status", st.Status)
		if st.Status == runtime.StatusRunning || st.Status == runtime.StatusCreated {
			errs = append(errs, s.rt.Stop(ctx, st.ID, syscall.SIGKILL, time.Second))
		}
		errs = append(errs, ignoreNotFound(s.rt.Delete(ctx, st.ID)))
		if taskID, _, ok := strings.Cut(st.ID, "-"); ok {
			tasks[taskID] = true
		}
	}
	fss, err := s.images.Recover(ctx)
	errs = append(errs, err)
	for _, fs := range fss {
		if keep.Container(fs.ID) {
			continue
		}
		s.log.Warn("removing a root filesystem no task owns", "container", fs.ID, "mounted", fs.Mounted)
		errs = append(errs, s.images.Unmount(ctx, fs.ID))
	}
	for taskID := range tasks {
		errs = append(errs, ignoreNotFound(s.rt.RemoveTaskCgroup(taskCgroup(taskID))))
	}
	for _, att := range s.net.Attachments() {
		if keep.Task(att.TaskID) {
			continue
		}
		s.log.Warn("removing a task network no task owns", "task", att.TaskID, "ip", att.IP)
		errs = append(errs, s.net.Teardown(ctx, att.TaskID))
	}
	return errors.Join(errs...)
}

func ignoreNotFound(err error) error {
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
}
