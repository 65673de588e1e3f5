package agent

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/network"
	"github.com/fargo-run/fargo/internal/node"
	"github.com/fargo-run/fargo/internal/runtime"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Fargate's default nofile limits (AWS: 65535 soft and hard), given to
// every container that sets none, whatever its launch type: the limit a
// container would otherwise inherit is fargo's own (raised to its hard
// limit). Where the host allows less (no CAP_SYS_RESOURCE), the runtime
// lowers the default to what it allows.
const (
	fargateNofileSoft = 65535
	fargateNofileHard = 65535
)

// specInput is everything a container's spec is built from.
type specInput struct {
	scope    tenant.Scope
	task     *node.Task
	td       *node.TaskDefinition
	cd       *node.ContainerDefinition
	image    image.RunConfig
	rootfs   string
	att      *network.Attachment
	cgroup   string
	metadata string // ECS_CONTAINER_METADATA_URI_V4 base, "" for none
	hostsDir string // the task's generated /etc files
	// resolvConf: hostsDir has a resolv.conf (fargo's DNS server) to
	// mount over the image's.
	resolvConf bool
	mounts     []runtime.Mount // the container's volumes (containerMounts)
}

// buildSpec applies ECS's rules to turn a container definition, its image
// and the task's overrides into a runtime spec:
//   - entryPoint replaces the image's Entrypoint and then the image's Cmd
//     is not used (Docker's rule); command replaces Cmd; a container
//     override's command replaces command;
//   - environment: image, then definition, then override, then what ECS
//     injects (metadata URIs, region, execution env), later names win;
//   - workingDirectory and user replace the image's;
//   - ulimits default nofile to 65535/65535 (Fargate's);
//   - systemControls become the container's sysctls (validated at
//     registration: namespaced ones only);
//   - linuxParameters: capabilities add/drop and initProcessEnabled (the
//     definition was validated: Fargate adds SYS_PTRACE at most).
func buildSpec(in specInput) (runtime.ContainerSpec, error) {
	cd := in.cd
	var ov *node.ContainerOverride
	if in.task.Overrides != nil {
		for i := range in.task.Overrides.ContainerOverrides {
			if in.task.Overrides.ContainerOverrides[i].Name == cd.Name {
				ov = &in.task.Overrides.ContainerOverrides[i]
			}
		}
	}
	entry, cmd := in.image.Entrypoint, in.image.Cmd
	if len(cd.EntryPoint) > 0 {
		entry, cmd = cd.EntryPoint, nil
	}
	if len(cd.Command) > 0 {
		cmd = cd.Command
	}
	if ov != nil && len(ov.Command) > 0 {
		cmd = ov.Command
	}
	args := append(slices.Clone(entry), cmd...)
	if len(args) == 0 {
		return runtime.ContainerSpec{}, fmt.Errorf("no command specified for container %s", cd.Name)
	}

	env := newEnv(in.image.Env)
	for _, kv := range cd.Environment {
		env.set(kv.Name, kv.Value)
	}
	if ov != nil {
		for _, kv := range ov.Environment {
			env.set(kv.Name, kv.Value)
		}
	}
	if in.metadata != "" {
		env.set("ECS_CONTAINER_METADATA_URI_V4", in.metadata)
		env.set("ECS_CONTAINER_METADATA_URI", strings.Replace(in.metadata, "/v4/", "/v3/", 1))
	}
	env.set("AWS_REGION", in.scope.Region)
	env.set("AWS_DEFAULT_REGION", in.scope.Region)
	if in.task.LaunchType == node.LaunchTypeFargate {
		env.set("AWS_EXECUTION_ENV", "AWS_ECS_FARGATE")
	} else {
		env.set("AWS_EXECUTION_ENV", "AWS_ECS_EC2")
	}

	spec := runtime.ContainerSpec{
		ID:             runtime.ContainerID(in.task.ID, cd.Name),
		Rootfs:         in.rootfs,
		Args:           args,
		Env:            env.list(),
		Cwd:            firstNonEmpty(cd.WorkingDirectory, in.image.WorkingDir, "/"),
		User:           firstNonEmpty(cd.User, in.image.User),
		ReadonlyRootfs: cd.ReadonlyRootFilesystem != nil && *cd.ReadonlyRootFilesystem,
		CgroupParent:   in.cgroup,
		StopSignal:     parseSignal(in.image.StopSignal),
		Labels: map[string]string{
			"com.amazonaws.ecs.cluster":                 in.task.ClusterARN,
			"com.amazonaws.ecs.container-name":          cd.Name,
			"com.amazonaws.ecs.task-arn":                in.task.ARN,
			"com.amazonaws.ecs.task-definition-family":  in.td.Family,
			"com.amazonaws.ecs.task-definition-version": strconv.Itoa(in.td.Revision),
		},
	}
	if in.att != nil {
		spec.NetNSPath = in.att.NetNSPath
		spec.Hostname = "ip-" + strings.ReplaceAll(in.att.IP.String(), ".", "-")
	}
	if in.td.NetworkMode == node.NetworkModeHost {
		spec.HostNetwork = true
	}
	if cd.Hostname != "" {
		spec.Hostname = cd.Hostname
	}
	cpuShares := cd.Cpu
	if ov != nil && ov.Cpu != nil {
		cpuShares = *ov.Cpu
	}
	if cpuShares > 0 {
		spec.CPUShares = uint64(cpuShares)
	}
	if mem := pick(cd.Memory, ov, func(o *node.ContainerOverride) *int { return o.Memory }); mem > 0 {
		spec.MemoryLimitBytes = int64(mem) << 20
	}
	if res := pick(cd.MemoryReservation, ov, func(o *node.ContainerOverride) *int { return o.MemoryReservation }); res > 0 {
		spec.MemoryReservationBytes = int64(res) << 20
	}
	for _, u := range cd.Ulimits {
		spec.Ulimits = append(spec.Ulimits, runtime.Ulimit{Name: u.Name, Soft: uint64(u.SoftLimit), Hard: uint64(u.HardLimit)})
	}
	if !slices.ContainsFunc(spec.Ulimits, func(u runtime.Ulimit) bool { return u.Name == "nofile" }) {
		spec.Ulimits = append(spec.Ulimits, runtime.Ulimit{Name: "nofile", Soft: fargateNofileSoft, Hard: fargateNofileHard, Clamp: true})
	}
	for _, sc := range cd.SystemControls {
		if spec.Sysctls == nil {
			spec.Sysctls = map[string]string{}
		}
		spec.Sysctls[sc.Namespace] = sc.Value
	}
	// Volumes first: mounts apply in order, and the task's /etc files
	// must lie over a volume mounted at /etc (or /), not under it.
	spec.Mounts = append(spec.Mounts, in.mounts...)
	if in.hostsDir != "" {
		spec.Mounts = append(spec.Mounts,
			runtime.Mount{Source: in.hostsDir + "/hosts", Destination: "/etc/hosts"},
			runtime.Mount{Source: in.hostsDir + "/hostname", Destination: "/etc/hostname"})
		if in.resolvConf {
			spec.Mounts = append(spec.Mounts, runtime.Mount{Source: in.hostsDir + "/resolv.conf", Destination: "/etc/resolv.conf"})
		}
	}
	if lp := cd.LinuxParameters; lp != nil {
		if lp.Capabilities != nil {
			spec.CapAdd = slices.Clone(lp.Capabilities.Add)
			spec.CapDrop = slices.Clone(lp.Capabilities.Drop)
		}
		spec.Init = lp.InitProcessEnabled != nil && *lp.InitProcessEnabled
	}
	// privileged is refused for Fargate at registration; on EC2 it is
	// Docker's --privileged.
	spec.Privileged = cd.Privileged != nil && *cd.Privileged && in.task.LaunchType != node.LaunchTypeFargate
	return spec, nil
}

func pick(def *int, ov *node.ContainerOverride, f func(*node.ContainerOverride) *int) int {
	if ov != nil {
		if v := f(ov); v != nil {
			return *v
		}
	}
	if def != nil {
		return *def
	}
	return 0
}

// env is an ordered environment where later settings of a name win.
type env struct {
	names []string
	vals  map[string]string
}

func newEnv(kvs []string) *env {
	e := &env{vals: map[string]string{}}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		e.set(k, v)
	}
	return e
}

func (e *env) set(k, v string) {
	if _, ok := e.vals[k]; !ok {
		e.names = append(e.names, k)
	}
	e.vals[k] = v
}

func (e *env) list() []string {
	out := make([]string, 0, len(e.names))
	for _, k := range e.names {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// parseSignal reads an image's STOPSIGNAL ("SIGQUIT", "QUIT" or "3").
func parseSignal(s string) syscall.Signal {
	s = strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "SIG")
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n)
	}
	if sig, ok := map[string]syscall.Signal{"TERM": syscall.SIGTERM, "INT": syscall.SIGINT, "QUIT": syscall.SIGQUIT,
		"KILL": syscall.SIGKILL, "HUP": syscall.SIGHUP, "USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2, "WINCH": syscall.SIGWINCH}[s]; ok {
		return sig
	}
	return syscall.SIGTERM
}
