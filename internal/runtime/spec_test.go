package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func testImage(t *testing.T) string {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n# comment\napp:x:1000:1000::/home/app:/bin/sh\nnohome:x:1001:1001:::/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\napp:x:1000:\nextra:x:2000:nohome,app\nweb:x:33:\n"), 0o644)
	return dir
}

func TestResolveUser(t *testing.T) {
	img := testImage(t)
	tests := []struct {
		user           string
		uid, gid       uint32
		groups         []uint32
		home           string
		wantErrInvalid bool
	}{
		{"", 0, 0, nil, "/root", false},
		{"0", 0, 0, nil, "/root", false},
		{"app", 1000, 1000, []uint32{2000}, "/home/app", false},
		{"1000", 1000, 1000, []uint32{2000}, "/home/app", false},
		{"app:web", 1000, 33, nil, "/home/app", false},
		{"app:33", 1000, 33, nil, "/home/app", false},
		{"4242", 4242, 0, nil, "/", false},
		{"4242:4343", 4242, 4343, nil, "/", false},
		{"nohome", 1001, 1001, []uint32{2000}, "/", false},
		{"nobody", 0, 0, nil, "", true},
		{"app:nogroup", 0, 0, nil, "", true},
	}
	for _, tc := range tests {
		u, err := resolveUser(img, tc.user)
		if tc.wantErrInvalid {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("%q: err %v, want invalid argument", tc.user, err)
			}
			continue
		}
		if err != nil || u.uid != tc.uid || u.gid != tc.gid || !slices.Equal(u.groups, tc.groups) || u.home != tc.home {
			t.Errorf("%q: %+v, %v; want %d:%d %v %s", tc.user, u, err, tc.uid, tc.gid, tc.groups, tc.home)
		}
	}
}

func TestResolveUserDoesNotFollowSymlinksOut(t *testing.T) {
	img := t.TempDir()
	os.MkdirAll(filepath.Join(img, "etc"), 0o755)
	outside := filepath.Join(t.TempDir(), "passwd")
	os.WriteFile(outside, []byte("evil:x:7:7::/:/bin/sh\n"), 0o644)
	if err := os.Symlink(outside, filepath.Join(img, "etc/passwd")); err != nil {
		t.Fatal(err)
	}
	if u, err := resolveUser(img, "evil"); err == nil {
		t.Errorf("resolved %+v through a symlink out of the image", u)
	}
}

func TestOCISpec(t *testing.T) {
	img := testImage(t)
	base := ContainerSpec{ID: "t1-app", Rootfs: img, Args: []string{"/app"}, CgroupParent: "/fargo/t1",
		CPUShares: 128, MemoryLimitBytes: 64 << 20, MemoryReservationBytes: 32 << 20,
		Ulimits: []Ulimit{{Name: "nofile", Soft: 1024, Hard: 4096}},
		Mounts:  []Mount{{Source: "/data/hosts", Destination: "/etc/hosts", Options: []string{"ro"}}},
		Labels:  map[string]string{"k": "v"}, CapAdd: []string{"SYS_PTRACE"}}
	spec, err := ociSpec(&base, "")
	if err != nil {
		t.Fatal(err)
	}
	if spec.Linux.CgroupsPath != "/fargo/t1/t1-app" || *spec.Linux.Resources.CPU.Shares != 128 ||
		*spec.Linux.Resources.Memory.Limit != 64<<20 || *spec.Linux.Resources.Memory.Reservation != 32<<20 {
		t.Errorf("cgroup/resources: %s %+v", spec.Linux.CgroupsPath, spec.Linux.Resources)
	}
	if !spec.Process.NoNewPrivileges || !slices.Contains(spec.Process.Capabilities.Bounding, "CAP_SYS_PTRACE") ||
		slices.Contains(spec.Process.Capabilities.Bounding, "CAP_SYS_ADMIN") {
		t.Errorf("process security: %+v", spec.Process.Capabilities)
	}
	if spec.Linux.Seccomp == nil || spec.Linux.Seccomp.DefaultAction != specs.ActErrno || len(spec.Linux.Seccomp.Syscalls) == 0 {
		t.Errorf("seccomp: %+v", spec.Linux.Seccomp)
	}
	if !slices.Contains(spec.Linux.MaskedPaths, "/proc/kcore") || !slices.Contains(spec.Linux.ReadonlyPaths, "/proc/sys") {
		t.Errorf("masked %v readonly %v", spec.Linux.MaskedPaths, spec.Linux.ReadonlyPaths)
	}
	last := spec.Mounts[len(spec.Mounts)-1]
	if last.Destination != "/etc/hosts" || !slices.Equal(last.Options, []string{"rbind", "ro"}) {
		t.Errorf("bind mount %+v", last)
	}
	if spec.Annotations["k"] != "v" || spec.Process.Cwd != "/" || spec.Process.Rlimits[0].Type != "RLIMIT_NOFILE" {
		t.Errorf("annotations %v cwd %q rlimits %v", spec.Annotations, spec.Process.Cwd, spec.Process.Rlimits)
	}

	netns := func(s *specs.Spec) (specs.LinuxNamespace, bool) {
		i := slices.IndexFunc(s.Linux.Namespaces, func(n specs.LinuxNamespace) bool { return n.Type == specs.NetworkNamespace })
		if i < 0 {
			return specs.LinuxNamespace{}, false
		}
		return s.Linux.Namespaces[i], true
	}
	if ns, ok := netns(spec); !ok || ns.Path != "" {
		t.Errorf("default netns: %+v %v (want a new one)", ns, ok)
	}
	join := base
	join.NetNSPath = "/run/netns/t1"
	if s, _ := ociSpec(&join, ""); s != nil {
		if ns, ok := netns(s); !ok || ns.Path != "/run/netns/t1" {
			t.Errorf("joined netns: %+v", ns)
		}
	}
	host := base
	host.HostNetwork = true
	if s, _ := ociSpec(&host, ""); s != nil {
		if _, ok := netns(s); ok {
			t.Errorf("host network has a netns entry")
		}
	}

	for name, mod := range map[string]func(*ContainerSpec){
		"no args":         func(s *ContainerSpec) { s.Args = nil },
		"relative rootfs": func(s *ContainerSpec) { s.Rootfs = "rootfs" },
		"bad id":          func(s *ContainerSpec) { s.ID = "../x" },
		"bad ulimit":      func(s *ContainerSpec) { s.Ulimits = []Ulimit{{Name: "bogus", Soft: 1, Hard: 1}} },
		"soft > hard":     func(s *ContainerSpec) { s.Ulimits = []Ulimit{{Name: "nofile", Soft: 9, Hard: 1}} },
		"relative cwd":    func(s *ContainerSpec) { s.Cwd = "app" },
		"relative mount":  func(s *ContainerSpec) { s.Mounts = []Mount{{Source: "x", Destination: "/x"}} },
	} {
		s := base
		mod(&s)
		if _, err := ociSpec(&s, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v, want invalid argument", name, err)
		}
	}
}

func TestCapabilities(t *testing.T) {
	def := defaultCapabilities()
	tests := []struct {
		name      string
		add, drop []string
		want      []string // nil: check has/hasNot only
		has       []string
		hasNot    []string
		invalid   bool
	}{
		{name: "default", want: def},
		{name: "add ptrace", add: []string{"SYS_PTRACE"}, has: []string{"CAP_SYS_PTRACE", "CAP_CHOWN"}},
		{name: "drop with prefix", drop: []string{"CAP_NET_RAW", "chown"}, hasNot: []string{"CAP_NET_RAW", "CAP_CHOWN"}, has: []string{"CAP_KILL"}},
		{name: "drop all add one", add: []string{"NET_BIND_SERVICE"}, drop: []string{"ALL"}, want: []string{"CAP_NET_BIND_SERVICE"}},
		{name: "add all", add: []string{"ALL"}, drop: []string{"SYS_ADMIN"}, has: []string{"CAP_SYS_MODULE", "CAP_BPF"}, hasNot: []string{"CAP_SYS_ADMIN"}},
		{name: "unknown", add: []string{"SYS_WIZARD"}, invalid: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := capabilities(tc.add, tc.drop)
			if tc.invalid {
				if !errors.Is(err, errdefs.ErrInvalidArgument) {
					t.Fatalf("err %v, want invalid argument", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != nil && !slices.Equal(got, tc.want) {
				t.Errorf("caps %v, want %v", got, tc.want)
			}
			for _, c := range tc.has {
				if !slices.Contains(got, c) {
					t.Errorf("caps %v lack %s", got, c)
				}
			}
			for _, c := range tc.hasNot {
				if slices.Contains(got, c) {
					t.Errorf("caps %v have %s", got, c)
				}
			}
		})
	}
}

func TestOCISpecInit(t *testing.T) {
	s := ContainerSpec{ID: "t1-app", Rootfs: testImage(t), Args: []string{"/app", "serve"}, Init: true}
	spec, err := ociSpec(&s, "/usr/bin/tini-static")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(spec.Process.Args, []string{"/sbin/docker-init", "--", "/app", "serve"}) {
		t.Errorf("args %v", spec.Process.Args)
	}
	last := spec.Mounts[len(spec.Mounts)-1]
	if last.Destination != "/sbin/docker-init" || last.Source != "/usr/bin/tini-static" || !slices.Contains(last.Options, "ro") {
		t.Errorf("init mount %+v", last)
	}
	if _, err := ociSpec(&s, ""); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("Init without a binary: %v", err)
	}
}
