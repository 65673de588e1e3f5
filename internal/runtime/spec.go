package runtime

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"github.com/fargo-run/fargo/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// ContainerSpec is one container as the agent asks for it: the image
// config merged with the ECS container definition and the task's
// resources. Start turns it into an OCI runtime spec (config.json).
type ContainerSpec struct {
	// ID names the container for runc and for this runtime, unique on the
	// host: "<taskid>-<name>". Letters, digits, '_', '-' and '.'.
	ID string
	// Rootfs is the container's root directory, already mounted (overlay).
	Rootfs string
	// Args is the command line (entryPoint + command); Args[0] is looked up
	// in the container's PATH by runc.
	Args []string
	// Env is KEY=value pairs. PATH and HOME get Docker's defaults when
	// absent.
	Env []string
	// Cwd is the working directory ("" = "/").
	Cwd string
	// User is ECS's "user" field: "uid", "uid:gid", "user", "user:group"
	// (names resolved in the rootfs's /etc/passwd and /etc/group);
	// "" = root.
	User string
	// Hostname is set in the container's own UTS namespace.
	Hostname string
	// ReadonlyRootfs mounts the root read-only (readonlyRootFilesystem).
	ReadonlyRootfs bool
	// Ulimits are the rlimits (ECS "ulimits"). The caller passes Fargate's
	// nofile default (65535 soft and hard); none are added here.
	Ulimits []Ulimit
	// Sysctls are namespaced kernel parameters (ECS "systemControls":
	// kernel.msg*, kernel.sem, kernel.shm*, fs.mqueue.*, net.*), set by
	// runc in the container's own IPC and network namespaces (net.* in
	// the task's netns, shared by its containers). runc refuses a net.*
	// one in the host's network namespace.
	Sysctls map[string]string
	// NetNSPath is the network namespace to join (the task's awsvpc netns,
	// shared by the task's containers). With "" the container gets a new
	// namespace holding only loopback (networkMode "none"), unless
	// HostNetwork is set, in which case it stays in the host's.
	NetNSPath   string
	HostNetwork bool
	// Mounts are bind mounts (volumes, /etc/hosts, /etc/resolv.conf).
	Mounts []Mount
	// CgroupParent is the task-level cgroup ("/fargo/<taskid>", made with
	// CreateTaskCgroup); the container's cgroup is CgroupParent/ID. ""
	// puts it at the top level.
	CgroupParent string
	// CPUShares is the container's "cpu" (relative weight; 0 = default).
	CPUShares uint64
	// MemoryLimitBytes is the hard limit ("memory"); above it the kernel
	// OOM-kills. 0 = none (the task's cgroup still bounds it).
	MemoryLimitBytes int64
	// MemoryReservationBytes is the soft limit ("memoryReservation").
	MemoryReservationBytes int64
	// StopSignal is what Stop sends when asked for signal 0 (default
	// SIGTERM).
	StopSignal syscall.Signal
	// CapAdd adds capabilities to Docker's default set ("SYS_PTRACE", the
	// only one Fargate allows); CapDrop removes some. Names go with or
	// without "CAP_"; "ALL" is every capability (linuxParameters.capabilities,
	// with Docker's rules: drop ALL, then add what CapAdd names).
	CapAdd, CapDrop []string
	// Init runs a minimal init as the container's PID 1 (the host's static
	// tini, bind-mounted read-only at /sbin/docker-init as Docker does for
	// --init): it reaps orphaned zombies and forwards signals to Args
	// (linuxParameters.initProcessEnabled).
	Init bool
	// Privileged is Docker's --privileged (ECS "privileged", EC2 launch
	// type only): every capability, no seccomp filter, no masked or
	// read-only paths, /sys writable, and the host's devices.
	Privileged bool
	// Labels are written as OCI annotations (and come back in State).
	Labels map[string]string
}

// Ulimit is one rlimit by its Docker/ECS name ("nofile", "nproc", ...).
type Ulimit struct {
	Name       string
	Soft, Hard uint64
	// Clamp lowers a nofile limit above what the host allows (see
	// nofileCeiling) to that ceiling instead of refusing it: for a
	// default, not for what a task definition asked.
	Clamp bool
}

// Mount is a bind mount. Options are OCI/mount(8) options added to "rbind",
// e.g. "ro", "nosuid".
type Mount struct {
	Source, Destination string
	Options             []string
}

// defaultPath is Docker's PATH for images that set none.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// rlimitType maps Docker's ulimit names to the OCI rlimit types.
func rlimitType(name string) (string, bool) {
	switch name = strings.ToLower(name); name {
	case "as", "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice",
		"nofile", "nproc", "rss", "rtprio", "rttime", "sigpending", "stack":
		return "RLIMIT_" + strings.ToUpper(name), true
	}
	return "", false
}

// validID matches what runc accepts and keeps the id safe as a file name.
func validID(id string) error {
	if id == "" || len(id) > 1024 || id == "." || id == ".." {
		return errdefs.Invalidf("invalid container id %q", id)
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '_' || c == '-' || c == '.'
		if !ok {
			return errdefs.Invalidf("invalid container id %q", id)
		}
	}
	return nil
}

// cgroupPath is the container's cgroup below the hierarchy roots.
func (s *ContainerSpec) cgroupPath() string {
	parent := s.CgroupParent
	if parent == "" {
		parent = "/"
	}
	return path.Join("/", parent, s.ID)
}

// OCISpec is the OCI runtime spec (config.json) Start writes for s: the
// same container for tools that run it without fargo (make bench's bare
// runc peer).
func OCISpec(s ContainerSpec) (*specs.Spec, error) {
	init := ""
	if s.Init {
		var err error
		if init, err = findInit(""); err != nil {
			return nil, err
		}
	}
	return ociSpec(&s, init)
}

// initPath is where the init binary appears in the container (Docker's).
const initPath = "/sbin/docker-init"

// ociSpec builds the container's config.json; init is the host's init
// binary, used when s.Init is set.
func ociSpec(s *ContainerSpec, init string) (*specs.Spec, error) {
	if err := validID(s.ID); err != nil {
		return nil, err
	}
	if len(s.Args) == 0 {
		return nil, errdefs.Invalidf("container %s: no command", s.ID)
	}
	if !filepath.IsAbs(s.Rootfs) {
		return nil, errdefs.Invalidf("container %s: rootfs %q is not absolute", s.ID, s.Rootfs)
	}
	if s.MemoryLimitBytes < 0 || s.MemoryReservationBytes < 0 {
		return nil, errdefs.Invalidf("container %s: negative memory", s.ID)
	}
	usr, err := resolveUser(s.Rootfs, s.User)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	caps, err := capabilities(s.CapAdd, s.CapDrop)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	args := s.Args
	if s.Init {
		if !filepath.IsAbs(init) {
			return nil, errdefs.Invalidf("container %s: no init binary", s.ID)
		}
		args = append([]string{initPath, "--"}, s.Args...)
	}
	cwd := s.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if !path.IsAbs(cwd) {
		return nil, errdefs.Invalidf("container %s: workingDirectory %q is not absolute", s.ID, cwd)
	}
	rlimits, err := rlimits(s.Ulimits)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", s.ID, err)
	}
	spec := &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: args,
			Env:  processEnv(s.Env, usr.home),
			Cwd:  cwd,
			User: specs.User{UID: usr.uid, GID: usr.gid, AdditionalGids: usr.groups},
			Capabilities: &specs.LinuxCapabilities{
				Bounding: caps, Effective: caps, Permitted: caps,
			},
			Rlimits:         rlimits,
			NoNewPrivileges: true,
		},
		Root:        &specs.Root{Path: s.Rootfs, Readonly: s.ReadonlyRootfs},
		Hostname:    s.Hostname,
		Mounts:      defaultMounts(),
		Annotations: s.Labels,
		Linux: &specs.Linux{
			CgroupsPath:   s.cgroupPath(),
			Sysctl:        s.Sysctls,
			Resources:     resources(s),
			Namespaces:    namespaces(s),
			MaskedPaths:   maskedPaths(),
			ReadonlyPaths: readonlyPaths(),
		},
	}
	for _, m := range s.Mounts {
		if !filepath.IsAbs(m.Source) || !path.IsAbs(m.Destination) {
			return nil, errdefs.Invalidf("container %s: mount %s:%s: paths must be absolute", s.ID, m.Source, m.Destination)
		}
		spec.Mounts = append(spec.Mounts, specs.Mount{
			Destination: m.Destination, Type: "bind", Source: m.Source,
			Options: append([]string{"rbind"}, m.Options...),
		})
	}
	if s.Init {
		spec.Mounts = append(spec.Mounts, specs.Mount{Destination: initPath, Type: "bind", Source: init,
			Options: []string{"bind", "ro", "nosuid", "nodev"}})
	}
	if s.Privileged {
		if err := privilege(spec); err != nil {
			return nil, fmt.Errorf("container %s: privileged: %w", s.ID, err)
		}
		return spec, nil
	}
	sc, err := seccompProfile(spec)
	if err != nil {
		return nil, fmt.Errorf("container %s: seccomp: %w", s.ID, err)
	}
	spec.Linux.Seccomp = sc
	return spec, nil
}

func namespaces(s *ContainerSpec) []specs.LinuxNamespace {
	ns := []specs.LinuxNamespace{
		{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace},
		{Type: specs.UTSNamespace}, {Type: specs.MountNamespace},
		{Type: specs.CgroupNamespace},
	}
	switch {
	case s.NetNSPath != "":
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: s.NetNSPath})
	case !s.HostNetwork:
		ns = append(ns, specs.LinuxNamespace{Type: specs.NetworkNamespace})
	}
	return ns
}

func resources(s *ContainerSpec) *specs.LinuxResources {
	deny := specs.LinuxDeviceCgroup{Allow: false, Access: "rwm"} // runc adds the standard devices
	r := &specs.LinuxResources{Devices: []specs.LinuxDeviceCgroup{deny}}
	if s.CPUShares > 0 {
		shares := max(s.CPUShares, 2)
		r.CPU = &specs.LinuxCPU{Shares: &shares}
	}
	if s.MemoryLimitBytes > 0 || s.MemoryReservationBytes > 0 {
		r.Memory = &specs.LinuxMemory{}
		if s.MemoryLimitBytes > 0 {
			limit := s.MemoryLimitBytes
			r.Memory.Limit = &limit
			if swapAccounting() {
				swap := limit // memory+swap = memory: no swap, as on Fargate
				r.Memory.Swap = &swap
			}
		}
		if s.MemoryReservationBytes > 0 {
			res := s.MemoryReservationBytes
			r.Memory.Reservation = &res
		}
	}
	return r
}

func rlimits(us []Ulimit) ([]specs.POSIXRlimit, error) {
	var out []specs.POSIXRlimit
	for _, u := range us {
		typ, ok := rlimitType(u.Name)
		if !ok {
			return nil, errdefs.Invalidf("unknown ulimit %q", u.Name)
		}
		if u.Soft > u.Hard {
			return nil, errdefs.Invalidf("ulimit %s: soft limit %d above hard limit %d", u.Name, u.Soft, u.Hard)
		}
		if typ == "RLIMIT_NOFILE" {
			if ceiling := nofileCeiling(); u.Hard > ceiling {
				if !u.Clamp {
					return nil, errdefs.Invalidf("ulimit nofile: hard limit %d is above what this host allows (%d)", u.Hard, ceiling)
				}
				u.Soft, u.Hard = min(u.Soft, ceiling), ceiling
			}
		}
		out = append(out, specs.POSIXRlimit{Type: typ, Soft: u.Soft, Hard: u.Hard})
	}
	return out, nil
}

// processEnv adds Docker's PATH and the user's HOME when the image and the
// task set none.
func processEnv(env []string, home string) []string {
	out := slices.Clone(env)
	has := func(k string) bool {
		return slices.ContainsFunc(env, func(e string) bool { return strings.HasPrefix(e, k+"=") })
	}
	if !has("PATH") {
		out = append(out, defaultPath)
	}
	if !has("HOME") {
		out = append(out, "HOME="+home)
	}
	return out
}

// nofileCeiling is the highest nofile hard limit runc can give a
// container: the kernel's fs.nr_open, or, when fargo lacks
// CAP_SYS_RESOURCE (some sandboxes drop it), fargo's own hard limit,
// which it cannot raise.
func nofileCeiling() uint64 {
	ceiling := uint64(1 << 20) // fs.nr_open's default
	if b, err := os.ReadFile("/proc/sys/fs/nr_open"); err == nil {
		if n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64); err == nil {
			ceiling = n
		}
	}
	if !hasCapability(unix.CAP_SYS_RESOURCE) {
		var rl unix.Rlimit
		if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &rl); err == nil {
			ceiling = min(ceiling, rl.Max)
		}
	}
	return ceiling
}

// hasCapability reports whether this process has capability c in its
// effective set.
func hasCapability(c int) bool {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<uint(c)) != 0
		}
	}
	return false
}
