package runtime

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"

	"github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// The defaults below are Docker's (which Fargate keeps): what `docker run`
// gives a container that is not privileged, and what `runc spec` writes.

// defaultCapabilities is Docker's default capability set
// (moby/oci/caps/defaults.go).
func defaultCapabilities() []string {
	return []string{
		"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD",
		"CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP",
		"CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
	}
}

// allCapabilities are the Linux capabilities by number (0-40), what "ALL"
// means; runc skips those the running kernel does not know.
var allCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
	"CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER",
	"CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME",
	"CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE", "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL",
	"CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// capabilities applies Docker's --cap-add/--cap-drop rules to the default
// set: dropping ALL starts from nothing, adding ALL gives every
// capability; otherwise drops win over adds of the same name. Unknown
// names are an invalid argument.
func capabilities(add, drop []string) ([]string, error) {
	norm := func(names []string) ([]string, bool, error) {
		var out []string
		all := false
		for _, n := range names {
			c := "CAP_" + strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(n)), "CAP_")
			switch {
			case c == "CAP_ALL":
				all = true
			case slices.Contains(allCapabilities, c):
				out = append(out, c)
			default:
				return nil, false, errdefs.Invalidf("unknown capability %q", n)
			}
		}
		return out, all, nil
	}
	adds, addAll, err := norm(add)
	if err != nil {
		return nil, err
	}
	drops, dropAll, err := norm(drop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case addAll:
		caps = slices.Clone(allCapabilities)
	case dropAll:
		caps = nil
	default:
		caps = defaultCapabilities()
	}
	for _, c := range adds {
		if !slices.Contains(caps, c) {
			caps = append(caps, c)
		}
	}
	if !dropAll || addAll {
		caps = slices.DeleteFunc(caps, func(c string) bool { return slices.Contains(drops, c) })
	}
	return caps, nil
}

// findInit returns the init binary containers with Init run as PID 1:
// path if set, else Debian's static tini (package tini) or Docker's
// docker-init. It must be static: it runs inside any image.
func findInit(path string) (string, error) {
	if path != "" {
		return path, nil
	}
	for _, name := range []string{"tini-static", "docker-init"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errdefs.Newf(errdefs.ErrUnavailable,
		"initProcessEnabled needs a static init on the host: install Debian's tini package (tini-static)")
}

// privilege makes spec what Docker's --privileged makes a container
// (moby/daemon/oci_linux.go): every capability, no seccomp filter and no
// no_new_privs, nothing masked or read-only in /proc, /sys and the cgroup
// mount writable, and every device of the host's /dev, readable and
// writable through the device cgroup.
func privilege(spec *specs.Spec) error {
	caps := boundingCapabilities()
	spec.Process.Capabilities = &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps}
	spec.Process.NoNewPrivileges = false
	spec.Linux.Seccomp = nil
	spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths = nil, nil
	for i := range spec.Mounts {
		if m := &spec.Mounts[i]; m.Destination == "/sys" || m.Destination == "/sys/fs/cgroup" {
			m.Options = slices.DeleteFunc(slices.Clone(m.Options), func(o string) bool { return o == "ro" })
		}
	}
	devs, err := hostDevices("/dev")
	if err != nil {
		return err
	}
	spec.Linux.Devices = devs
	spec.Linux.Resources.Devices = []specs.LinuxDeviceCgroup{{Allow: true, Access: "rwm"}}
	return nil
}

// boundingCapabilities are the capabilities fargo itself may hand out
// (its bounding set): "every capability" on a host that withholds some
// (a container host's own sandbox may) is every one that is left.
func boundingCapabilities() []string {
	var caps []string
	for i, c := range allCapabilities {
		if ok, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(i), 0, 0, 0); err == nil && ok == 1 {
			caps = append(caps, c)
		}
	}
	return caps
}

// hostDevices lists the device nodes under dir as Docker does for a
// privileged container, skipping the pseudo-terminals, shared memory and
// message queues the container has its own of.
func hostDevices(dir string) ([]specs.LinuxDevice, error) {
	var out []specs.LinuxDevice
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // a node that went away, or one we may not read
		}
		if d.IsDir() {
			switch p {
			case "/dev/pts", "/dev/shm", "/dev/mqueue":
				return fs.SkipDir
			}
			return nil
		}
		if p == "/dev/console" || p == "/dev/ptmx" {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return nil
		}
		var typ string
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFCHR:
			typ = "c"
		case unix.S_IFBLK:
			typ = "b"
		default:
			return nil
		}
		mode := fs.FileMode(st.Mode & 0o777)
		uid, gid := st.Uid, st.Gid
		out = append(out, specs.LinuxDevice{Path: p, Type: typ, Major: int64(unix.Major(uint64(st.Rdev))),
			Minor: int64(unix.Minor(uint64(st.Rdev))), FileMode: &mode, UID: &uid, GID: &gid})
		return nil
	})
	return out, err
}

// defaultMounts are runc spec's (and Docker's) /proc, /dev, /sys mounts.
func defaultMounts() []specs.Mount {
	return []specs.Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		{Destination: "/sys/fs/cgroup", Type: "cgroup", Source: "cgroup", Options: []string{"nosuid", "noexec", "nodev", "relatime", "ro"}},
	}
}

// maskedPaths are hidden (bind of /dev/null or an empty tmpfs), as Docker.
func maskedPaths() []string {
	return []string{
		"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys",
		"/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
		"/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
	}
}

// readonlyPaths are remounted read-only, as Docker.
func readonlyPaths() []string {
	return []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
}

// seccompProfile is Docker's default profile (github.com/moby/profiles,
// the module Docker itself builds it from), filtered for this
// architecture, kernel and the spec's capability set: syscalls gated on
// capabilities the container lacks stay denied (EPERM).
func seccompProfile(spec *specs.Spec) (*specs.LinuxSeccomp, error) {
	return seccomp.GetDefaultProfile(spec)
}

// swapAccounting reports whether the kernel accounts swap (cgroup v1
// memory.memsw.*); runc can only set memory+swap when it does.
func swapAccounting() bool {
	if _, err := os.Stat("/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes"); err == nil {
		return true
	}
	_, err := os.Stat("/sys/fs/cgroup/memory.swap.max") // v2 root has none; any child has
	return err == nil || cgroupV2()
}
