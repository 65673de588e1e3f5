package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
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
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// This file wires the agent to the host: the runtime, the network manager
// and the ephemeral storage manager are the agent's dependencies as they
// are; the image store gets the tenant's side of a pull (which registries,
// ECR references, the account's registry token, the errors a tenant may
// see), the Logs service the agent's log events, and the sweep the three
// host packages together.

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
