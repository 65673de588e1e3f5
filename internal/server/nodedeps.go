package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/fargo-run/fargo/internal/agent"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/logs"
	"github.com/fargo-run/fargo/internal/network"
	proto "github.com/fargo-run/fargo/internal/node"
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
// Mounts, unmounts and disk usage are the store's own.
type imagesAdapter struct {
	*image.Store
	// registryHost is fargo's own registry's host:port.
	registryHost func() string
	policy       *pullPolicy
	// creds are the credentials of a pull for an account.
	creds func(tenant.Scope) image.Credentials
	log   *slog.Logger
}

func (a imagesAdapter) Pull(ctx context.Context, s tenant.Scope, ref string) (*image.Image, error) {
	local := a.rewrite(ref)
	if r, err := name.ParseReference(local); err == nil && !a.policy.Allowed(r.Context().RegistryStr()) {
		a.log.WarnContext(ctx, "image pull refused: registry not allowed", "ref", ref, "account", s.Account)
		return nil, &pullError{class: agent.ErrImageAuth, msg: "registry not allowed"}
	}
	img, err := a.Store.Pull(ctx, local, image.WithCredentials(a.creds(s)))
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		a.log.WarnContext(ctx, "image pull failed", "ref", ref, "account", s.Account, "err", err)
		return nil, tenantPullError(err)
	}
	img.Ref = ref
	return img, nil
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

// registryCredentials resolves auth for image pulls: a fresh ECR token for
// fargo's own registry (in the task's account); for any other registry the
// host's docker credentials (~/.docker/config.json or $DOCKER_CONFIG, and
// the credential helpers it names), as docker and crane use them, and
// anonymous where they have none.
//
// A container's repositoryCredentials (a Secrets Manager secret) cannot be
// honoured: fargo has no Secrets Manager. The control plane logs that and
// the pull goes on with these credentials.
// s is the account pulling (none: anonymous at fargo's own registry).
func registryCredentials(tokens *auth.TokenIssuer, isOwn func(host string) bool, s tenant.Scope) image.Credentials {
	return registryCredentialsWith(tokens, isOwn, authn.DefaultKeychain, s)
}

func registryCredentialsWith(tokens *auth.TokenIssuer, isOwn func(host string) bool, foreign authn.Keychain, s tenant.Scope) image.Credentials {
	return image.CredentialsFunc(func(ctx context.Context, host string) (authn.Authenticator, error) {
		if !isOwn(host) {
			return keychainAuth(foreign, host), nil
		}
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
type networkAdapter struct{ m *network.Manager }

func (n networkAdapter) Setup(ctx context.Context, taskID string, s tenant.Scope) (*agent.Attachment, error) {
	a, err := n.m.Setup(ctx, network.Request{TaskID: taskID, Account: s.Account, Region: s.Region})
	if err != nil {
		return nil, err
	}
	return &agent.Attachment{
		NetNSPath: a.NetNSPath, IP: a.IP.String(), PrefixLen: a.Prefix.Bits(), Gateway: a.Gateway.String(),
		MAC: a.MAC, SubnetCIDR: a.Prefix.String(), SubnetID: a.SubnetID, ENIID: a.ENIID, DNSName: a.PrivateDNSName,
	}, nil
}

func (n networkAdapter) PublishPorts(ctx context.Context, taskID string, ports []proto.NetworkBinding) ([]proto.NetworkBinding, error) {
	want := make([]network.PortMapping, 0, len(ports))
	for _, p := range ports {
		pm := network.PortMapping{HostPort: uint16(p.HostPort), ContainerPort: uint16(p.ContainerPort), Protocol: p.Protocol, Count: 1}
		if p.ContainerPortRange != "" {
			lo, hi, ok := proto.ParsePortRange(p.ContainerPortRange)
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
	published, err := network.FoldBindings(want, got)
	if err != nil {
		return nil, err
	}
	out := make([]proto.NetworkBinding, 0, len(published))
	for i, p := range published {
		first, last := p.First, p.Last
		ip := "0.0.0.0"
		if first.HostIP.IsValid() && !first.HostIP.IsUnspecified() {
			ip = first.HostIP.String()
		}
		b := proto.NetworkBinding{BindIP: ip, ContainerPort: int(first.ContainerPort), HostPort: int(first.HostPort), Protocol: first.Protocol}
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

// LinkStats is the network manager's.
func (n networkAdapter) LinkStats(ctx context.Context, netnsPath string) (map[string]network.LinkCounts, error) {
	return n.m.LinkStats(ctx, netnsPath)
}

// runtimeAdapter is agent.Runtime over the runc runtime: its own
// methods but for the task cgroup's (by task id), the container spec, and
// the state of containers not (or no longer) there.
type runtimeAdapter struct{ *runtime.Runtime }

func (a runtimeAdapter) CreateTaskCgroup(taskID string, cpu, memoryMiB int) (string, error) {
	return a.CreateTaskCgroupFor(taskID, cpu, memoryMiB)
}

func (a runtimeAdapter) RemoveTaskCgroup(taskID string) error {
	return a.RemoveTaskCgroupFor(taskID)
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
	return a.Runtime.Start(ctx, rs)
}

func (a runtimeAdapter) State(ctx context.Context, id string) (agent.ContainerState, error) {
	st, err := a.Runtime.State(ctx, id)
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
		cs.Exit = &runtime.ExitStatus{Code: st.ExitCode, OOMKilled: st.OOMKilled, FinishedAt: st.FinishedAt, Error: st.Error}
	}
	return cs, nil
}

func (a runtimeAdapter) Delete(ctx context.Context, id string) error {
	err := a.Runtime.Delete(ctx, id)
	if errors.Is(err, errdefs.ErrNotFound) {
		return nil
	}
	return err
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
		if taskID, ok := runtime.ContainerTask(st.ID); ok {
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
		errs = append(errs, ignoreNotFound(s.rt.RemoveTaskCgroupFor(taskID)))
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
