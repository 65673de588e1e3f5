package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/fargo-run/fargo/internal/control"
	"github.com/fargo-run/fargo/internal/image"
	"github.com/fargo-run/fargo/internal/runtime"
)

func mountAt(spec runtime.ContainerSpec, dest string) (runtime.Mount, bool) {
	for _, m := range spec.Mounts {
		if m.Destination == dest {
			return m, true
		}
	}
	return runtime.Mount{}, false
}

// TestVolumes: a task-scoped volume is one directory shared by the
// containers that mount it, readOnly honoured; volumesFrom copies another
// container's mounts (read-only when asked); the directory goes with the
// task.
func TestVolumes(t *testing.T) {
	h := newHarness(t)
	yes, no := true, false
	td := &control.TaskDefinition{Family: "vols", NetworkMode: "awsvpc", RequiresCompatibilities: []string{"FARGATE"},
		Cpu: "256", Memory: "512", Volumes: []control.Volume{{Name: "scratch"}, {Name: "cache"}},
		ContainerDefinitions: []control.ContainerDefinition{
			{Name: "writer", Image: "app", MountPoints: []control.MountPoint{
				{SourceVolume: "scratch", ContainerPath: "/data"}, {SourceVolume: "cache", ContainerPath: "/cache/", ReadOnly: &yes}}},
			{Name: "reader", Image: "app", MountPoints: []control.MountPoint{{SourceVolume: "scratch", ContainerPath: "/srv", ReadOnly: &yes}}},
			{Name: "same", Image: "app", Essential: &no, VolumesFrom: []control.VolumeFrom{{SourceContainer: "writer"}}},
			{Name: "ro", Image: "app", Essential: &no, VolumesFrom: []control.VolumeFrom{{SourceContainer: "writer", ReadOnly: &yes}}},
		}}
	if _, err := h.ctl.RegisterTaskDefinition(context.Background(), scope, td, "test"); err != nil {
		t.Fatal(err)
	}
	task := h.wait(h.run("vols").ID, "RUNNING", status(control.TaskRunning))
	spec := func(name string) runtime.ContainerSpec {
		h.rt.mu.Lock()
		defer h.rt.mu.Unlock()
		return h.rt.containers[task.Container(name).RuntimeID].spec
	}
	dir := filepath.Join(h.dir, "agent", "tasks", task.ID, "volumes", "scratch")
	for _, tc := range []struct {
		container, dest, source string
		ro                      bool
	}{
		{"writer", "/data", dir, false},
		{"writer", "/cache", filepath.Join(filepath.Dir(dir), "cache"), true},
		{"reader", "/srv", dir, true},
		{"same", "/data", dir, false},
		{"same", "/cache", filepath.Join(filepath.Dir(dir), "cache"), true},
		{"ro", "/data", dir, true},
	} {
		m, ok := mountAt(spec(tc.container), tc.dest)
		if !ok || m.Source != tc.source || readOnly(m) != tc.ro {
			t.Errorf("%s at %s: %+v (found %v), want %s read-only %v", tc.container, tc.dest, m, ok, tc.source, tc.ro)
		}
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("volume directory: %v %v", fi, err)
	}
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the task's volume is left after it stopped: %v", err)
	}
}

// TestUnsupportedVolumes: volumes fargo cannot provide stop the task
// before it starts, with a reason that names them; so does a host path on
// Fargate (RunTask refuses it first; the agent does not trust that).
func TestUnsupportedVolumes(t *testing.T) {
	for name, v := range map[string]control.Volume{
		"efsVolumeConfiguration":    {Name: "v", EFSVolumeConfiguration: &control.EFSVolumeConfiguration{FileSystemID: "fs-1"}},
		"dockerVolumeConfiguration": {Name: "v", DockerVolumeConfiguration: &control.DockerVolumeConfiguration{Scope: "task"}},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t)
			td := &control.TaskDefinition{Family: "bad", NetworkMode: "awsvpc", Cpu: "256", Memory: "512",
				Volumes: []control.Volume{v}, ContainerDefinitions: []control.ContainerDefinition{{Name: "web", Image: "app",
					MountPoints: []control.MountPoint{{SourceVolume: "v", ContainerPath: "/v"}}}}}
			if _, err := h.ctl.RegisterTaskDefinition(context.Background(), scope, td, "test"); err != nil {
				t.Fatal(err)
			}
			res, err := h.ctl.RunTask(context.Background(), scope, control.RunTaskInput{TaskDefinition: "bad", LaunchType: "EC2",
				NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-12345"}}})
			if err != nil || len(res.Tasks) != 1 {
				t.Fatalf("run: %v %+v", err, res)
			}
			task := h.wait(res.Tasks[0].ID, "STOPPED", status(control.TaskStopped))
			if task.StopCode != control.StopTaskFailedToStart || !strings.HasPrefix(task.StoppedReason, "ResourceInitializationError: ") ||
				!strings.Contains(task.StoppedReason, name) {
				t.Errorf("stop %s %q", task.StopCode, task.StoppedReason)
			}
			if h.rt.running() != 0 || len(h.net.up) != 0 {
				t.Errorf("left behind: %d containers, networks %v", h.rt.running(), h.net.up)
			}
		})
	}
}

// TestHostVolume: on the EC2 launch type host.sourcePath is a bind mount
// of that directory, made when missing and kept after the task.
func TestHostVolume(t *testing.T) {
	h := newHarness(t)
	src := filepath.Join(t.TempDir(), "shared")
	td := &control.TaskDefinition{Family: "host", NetworkMode: "awsvpc", Cpu: "256", Memory: "512",
		Volumes: []control.Volume{{Name: "h", Host: &control.HostVolumeProperties{SourcePath: src}}},
		ContainerDefinitions: []control.ContainerDefinition{{Name: "web", Image: "app",
			MountPoints: []control.MountPoint{{SourceVolume: "h", ContainerPath: "/h"}}}}}
	if _, err := h.ctl.RegisterTaskDefinition(context.Background(), scope, td, "test"); err != nil {
		t.Fatal(err)
	}
	res, err := h.ctl.RunTask(context.Background(), scope, control.RunTaskInput{TaskDefinition: "host", LaunchType: "EC2",
		NetworkConfiguration: &control.NetworkConfiguration{Subnets: []string{"subnet-12345"}}})
	if err != nil || len(res.Tasks) != 1 {
		t.Fatalf("run: %v %+v", err, res)
	}
	task := h.wait(res.Tasks[0].ID, "RUNNING", status(control.TaskRunning))
	h.rt.mu.Lock()
	spec := h.rt.containers[task.Containers[0].RuntimeID].spec
	h.rt.mu.Unlock()
	if m, ok := mountAt(spec, "/h"); !ok || m.Source != src || readOnly(m) {
		t.Errorf("host mount %+v %v", m, ok)
	}
	if _, err := h.ctl.StopTask(context.Background(), scope, "", task.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.wait(task.ID, "STOPPED", status(control.TaskStopped))
	if _, err := os.Stat(src); err != nil {
		t.Errorf("the host directory went with the task: %v", err)
	}
}

// TestCopyImageDir: the image's content at the mount path is copied into
// the volume with modes, owners and symlinks (not followed), and the
// path is resolved inside the image: a symlink to / is the image's root.
func TestCopyImageDir(t *testing.T) {
	rootfs := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(rootfs, "seed", "sub"), 0o750))
	must(os.WriteFile(filepath.Join(rootfs, "seed", "hello.txt"), []byte("hi"), 0o640))
	must(os.WriteFile(filepath.Join(rootfs, "seed", "sub", "run.sh"), []byte("#!/bin/sh"), 0o755))
	must(os.Symlink("/etc/passwd", filepath.Join(rootfs, "seed", "passwd")))
	must(os.Chown(filepath.Join(rootfs, "seed", "hello.txt"), 1000, 1001))
	must(os.Chmod(filepath.Join(rootfs, "seed"), 0o770))
	must(os.Chown(filepath.Join(rootfs, "seed"), 1000, 1000))
	must(os.Symlink("/", filepath.Join(rootfs, "up")))

	dst := t.TempDir()
	must(copyImageDir(rootfs, "/seed", dst))
	if b, err := os.ReadFile(filepath.Join(dst, "hello.txt")); err != nil || string(b) != "hi" {
		t.Errorf("hello.txt: %q %v", b, err)
	}
	fi, err := os.Lstat(filepath.Join(dst, "hello.txt"))
	must(err)
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o640 || st.Uid != 1000 || st.Gid != 1001 {
		t.Errorf("hello.txt mode %v owner %d:%d", fi.Mode(), st.Uid, st.Gid)
	}
	if fi, err := os.Stat(filepath.Join(dst, "sub", "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("sub/run.sh: %v %v", fi, err)
	}
	if target, err := os.Readlink(filepath.Join(dst, "passwd")); err != nil || target != "/etc/passwd" {
		t.Errorf("symlink: %q %v", target, err)
	}
	fi, err = os.Stat(dst)
	must(err)
	if st := fi.Sys().(*syscall.Stat_t); fi.Mode().Perm() != 0o770 || st.Uid != 1000 {
		t.Errorf("the volume's directory: mode %v owner %d, want the image directory's", fi.Mode(), st.Uid)
	}

	// /up/seed is /seed inside the image, never the host's /.
	other := t.TempDir()
	must(copyImageDir(rootfs, "/up/seed", other))
	if _, err := os.Stat(filepath.Join(other, "hello.txt")); err != nil {
		t.Errorf("through an in-image symlink: %v", err)
	}
	// Nothing at the path: nothing copied.
	empty := t.TempDir()
	must(copyImageDir(rootfs, "/nothing/here", empty))
	if ents, _ := os.ReadDir(empty); len(ents) != 0 {
		t.Errorf("copied %v from a missing path", ents)
	}
}

// TestVolumeMountsBeforeEtcFiles: mounts apply in order, so a volume at
// /etc or / comes before the task's /etc/hosts and /etc/hostname, which
// stay visible over it.
func TestVolumeMountsBeforeEtcFiles(t *testing.T) {
	task := &control.Task{ID: "t1", LaunchType: control.LaunchTypeFargate}
	td := &control.TaskDefinition{Family: "f", NetworkMode: control.NetworkModeAwsvpc}
	cd := &control.ContainerDefinition{Name: "web", Image: "app"}
	for _, dest := range []string{"/etc", "/"} {
		spec, err := buildSpec(specInput{scope: scope, task: task, td: td, cd: cd, image: image.RunConfig{Cmd: []string{"serve"}},
			hostsDir: "/state/tasks/t1", mounts: []runtime.Mount{{Source: "/state/tasks/t1/volumes/v", Destination: dest}}})
		if err != nil {
			t.Fatal(err)
		}
		at := func(d string) int {
			return slices.IndexFunc(spec.Mounts, func(m runtime.Mount) bool { return m.Destination == d })
		}
		vol, hosts, hostname := at(dest), at("/etc/hosts"), at("/etc/hostname")
		if vol < 0 || hosts < 0 || hostname < 0 || vol > hosts || vol > hostname {
			t.Errorf("volume at %s: mounts %+v, want the volume before /etc/hosts and /etc/hostname", dest, spec.Mounts)
		}
	}
}

// TestSeedVolumeInterrupted: a fill of a volume from the image that is
// cut off (here the disk filled up; a crash alike) leaves no half-filled
// volume that is never filled again: the next start fills it whole. A
// complete copy cut off while it moved in is moved in the rest of the
// way, without replacing what the volume has.
func TestSeedVolumeInterrupted(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root (a small tmpfs)")
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	rootfs := t.TempDir()
	must(os.MkdirAll(filepath.Join(rootfs, "seed", "sub"), 0o755))
	must(os.WriteFile(filepath.Join(rootfs, "seed", "a.txt"), []byte("a"), 0o644))
	big := strings.Repeat("x", 1<<20)
	must(os.WriteFile(filepath.Join(rootfs, "seed", "big"), []byte(big), 0o644))
	must(os.WriteFile(filepath.Join(rootfs, "seed", "sub", "z.txt"), []byte("z"), 0o644))

	state := t.TempDir()
	if err := syscall.Mount("tmpfs", state, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("mount tmpfs: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(state, syscall.MNT_DETACH) })
	r := &runner{task: &control.Task{LaunchType: control.LaunchTypeFargate}}
	dst := filepath.Join(state, "volumes", "data")
	must(os.MkdirAll(dst, 0o755))
	mounts := []volumeMount{{Mount: runtime.Mount{Source: dst, Destination: "/seed"}, scoped: true, own: true}}
	img := image.RunConfig{Volumes: []string{"/seed"}}
	if err := r.seedVolumes(mounts, img, rootfs); err == nil {
		t.Fatal("a fill of 1 MiB into 256 KiB did not fail")
	}
	must(syscall.Mount("tmpfs", state, "tmpfs", syscall.MS_REMOUNT, "size=8m"))
	must(r.seedVolumes(mounts, img, rootfs))
	for name, want := range map[string]string{"a.txt": "a", "big": big, "sub/z.txt": "z"} {
		if b, err := os.ReadFile(filepath.Join(dst, name)); err != nil || string(b) != want {
			t.Errorf("%s after the fill was redone: %d bytes, %v; want %d bytes", name, len(b), err, len(want))
		}
	}
	if ents, _ := os.ReadDir(filepath.Dir(dst)); len(ents) != 1 {
		t.Errorf("beside the volume: %v, want the volume alone", ents)
	}

	// Cut off while moving in: sub/ and a.txt are in, big is not; the
	// volume's a.txt was rewritten by a container since.
	dst2 := filepath.Join(state, "volumes", "other")
	seeded := filepath.Join(state, "volumes", ".other.seeded")
	must(os.MkdirAll(filepath.Join(dst2, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(dst2, "a.txt"), []byte("theirs"), 0o644))
	must(os.MkdirAll(filepath.Join(seeded, "sub"), 0o755))
	must(os.WriteFile(filepath.Join(seeded, "big"), []byte(big), 0o644))
	must(os.WriteFile(filepath.Join(seeded, "sub", "z.txt"), []byte("z"), 0o644))
	mounts[0].Source = dst2
	must(r.seedVolumes(mounts, img, rootfs))
	for name, want := range map[string]string{"a.txt": "theirs", "big": big, "sub/z.txt": "z"} {
		if b, err := os.ReadFile(filepath.Join(dst2, name)); err != nil || string(b) != want {
			t.Errorf("%s after the move was finished: %d bytes, %v; want %d bytes", name, len(b), err, len(want))
		}
	}
	if _, err := os.Lstat(seeded); !os.IsNotExist(err) {
		t.Errorf("the moved copy is left: %v", err)
	}
}
