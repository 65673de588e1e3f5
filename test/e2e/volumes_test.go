package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/fargo-run/fargo/internal/fargotest"
)

var volAppImage struct {
	once sync.Once
	img  v1.Image
	err  error
}

// volImage is the volume tests' image (built once per run): the static
// volapp (testdata/volapp) as /volapp, entrypoint ["/volapp"], command
// ["serve", "8080"], and /seeded/hello.txt under a VOLUME ["/seeded"].
func volImage(t *testing.T) v1.Image {
	t.Helper()
	volAppImage.once.Do(func() { volAppImage.img, volAppImage.err = buildVolImage() })
	if volAppImage.err != nil {
		t.Fatal(volAppImage.err)
	}
	return volAppImage.img
}

func buildVolImage() (v1.Image, error) {
	dir, err := os.MkdirTemp("", "fargo-volapp")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "volapp")
	build := exec.Command("go", "build", "-o", bin, "./testdata/volapp")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build volapp: %v\n%s", err, out)
	}
	prog, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return fargotest.Image([]string{"etc/", "seeded/"}, []fargotest.RootfsFile{
		{Name: "etc/passwd", Mode: 0o644, Body: []byte("root:x:0:0:root:/root:/bin/sh\n")},
		{Name: "etc/group", Mode: 0o644, Body: []byte("root:x:0:\n")},
		{Name: "seeded/hello.txt", Mode: 0o644, Body: []byte("from the image")},
		{Name: "volapp", Mode: 0o755, Body: prog},
	}, func(c *v1.Config) {
		c.Entrypoint = []string{"/volapp"}
		c.Cmd = []string{"serve", "8080"}
		c.Volumes = map[string]struct{}{"/seeded": {}}
	})
}

// pushImage pushes img to repo:tag (the repository must exist) and
// returns the reference.
func (in *instance) pushImage(repoURI, tag string, img v1.Image) string {
	in.t.Helper()
	ref := repoURI + ":" + tag
	if err := crane.Push(img, ref, craneAuth(in.loginPassword())...); err != nil {
		in.t.Fatalf("push %s: %v", ref, err)
	}
	return ref
}

// createRepository creates repo and returns its URI.
func (in *instance) createRepository(repo string) string {
	in.t.Helper()
	uri, _ := path(in.mustAWS("ecr", "create-repository", "--repository-name", repo), "repository", "repositoryUri").(string)
	if uri == "" {
		in.t.Fatalf("create-repository %s: no repositoryUri", repo)
	}
	return uri
}

// get answers the body of url, or the error's text.
func get(url string) string {
	body, err := httpGet(url)
	if err != nil {
		return strings.TrimSpace(body) + " (" + err.Error() + ")"
	}
	return body
}

// TestTaskVolumes: Fargate bind-mount volumes with real containers: a
// task-scoped volume shared by two containers (one writes a file, the web
// server serves it), a readOnly mount that refuses writes, volumesFrom
// (inheriting the source's modes, or all read-only), the image's content
// copied into an empty volume under its VOLUME path, and the task's
// volume directory gone once it stopped. One container also checks
// linuxParameters (initProcessEnabled, capabilities).
func TestTaskVolumes(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushImage(in.createRepository("vols"), "v1", volImage(t))
	cdefs := `[
	 {"name":"writer","image":"` + image + `","essential":false,"command":["write","/data/msg.txt","from writer"],
	  "mountPoints":[{"sourceVolume":"scratch","containerPath":"/data"}]},
	 {"name":"web","image":"` + image + `","essential":true,"command":["serve","8080"],
	  "portMappings":[{"containerPort":8080}],
	  "dependsOn":[{"containerName":"writer","condition":"SUCCESS"}],
	  "mountPoints":[{"sourceVolume":"scratch","containerPath":"/srv","readOnly":true},
	                 {"sourceVolume":"seeded","containerPath":"/seeded"}]},
	 {"name":"side","image":"` + image + `","essential":false,"command":["serve","9090"],
	  "dependsOn":[{"containerName":"web","condition":"START"}],
	  "linuxParameters":{"initProcessEnabled":true,"capabilities":{"add":["SYS_PTRACE"],"drop":["NET_RAW"]}},
	  "volumesFrom":[{"sourceContainer":"web"},{"sourceContainer":"writer","readOnly":true}]}]`
	in.mustAWS("ecs", "register-task-definition", "--family", "vols", "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "256", "--memory", "512", "--container-definitions", cdefs,
		"--volumes", `[{"name":"scratch"},{"name":"seeded"}]`)
	arn := in.runTask("vols")
	task := in.waitTaskStatus(arn, "RUNNING", 60*time.Second)
	ip := taskIP(t, task)
	web, side := "http://"+ip+":8080", "http://"+ip+":9090"
	waitHTTP(t, web+"/", 10*time.Second)
	waitHTTP(t, side+"/", 10*time.Second)

	rofs := "read-only file system"
	for _, c := range []struct{ what, url, want string }{
		{"web reads what writer wrote", web + "/read?path=/srv/msg.txt", "from writer"},
		{"web writes to its readOnly mount", web + "/write?path=/srv/x&text=x", rofs},
		{"web finds the image's content in the fresh volume", web + "/read?path=/seeded/hello.txt", "from the image"},
		{"side reads writer's volume (volumesFrom)", side + "/read?path=/data/msg.txt", "from writer"},
		{"side writes to writer's volume (volumesFrom readOnly)", side + "/write?path=/data/y&text=y", rofs},
		{"side writes to web's read-only mount (the source's mode)", side + "/write?path=/srv/z&text=z", rofs},
		{"side writes to web's writable volume", side + "/write?path=/seeded/new.txt&text=from+side", "ok"},
		{"web reads what side wrote", web + "/read?path=/seeded/new.txt", "from side"},
		// linuxParameters, while at it: side runs under an init, with
		// Docker's capabilities plus SYS_PTRACE (bit 19) less NET_RAW (13).
		{"side's PID 1", side + "/read?path=/proc/1/cmdline", "/sbin/docker-init\x00--\x00/volapp"},
		{"side's capabilities", side + "/read?path=/proc/self/status", "CapEff:\t00000000a80c05fb"},
		{"web's capabilities", web + "/read?path=/proc/self/status", "CapEff:\t00000000a80425fb"},
	} {
		if got := get(c.url); !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.what, got, c.want)
		}
	}

	taskID := arn[strings.LastIndex(arn, "/")+1:]
	dir := filepath.Join(in.dataDir, "agent", "tasks", taskID, "volumes")
	if b, err := os.ReadFile(filepath.Join(dir, "scratch", "msg.txt")); err != nil || string(b) != "from writer" {
		t.Errorf("the volume on the host: %q %v", b, err)
	}
	in.mustAWS("ecs", "stop-task", "--task", arn)
	in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
	if _, err := os.Stat(filepath.Join(in.dataDir, "agent", "tasks", taskID)); !os.IsNotExist(err) {
		t.Errorf("the stopped task's directory (and volumes) is left: %v", err)
	}
}

// TestTaskVolumeKinds: host.sourcePath is refused for Fargate (at
// registration and at RunTask) and is a bind mount of the host's
// directory on the EC2 launch type, kept after the task; a volume fargo
// cannot provide (EFS) stops the task with a reason that says so.
func TestTaskVolumeKinds(t *testing.T) {
	in := newAgentInstance(t)
	image := in.pushImage(in.createRepository("volkinds"), "v1", volImage(t))
	src := filepath.Join(t.TempDir(), "made-by-fargo")
	hostVol := `[{"name":"h","host":{"sourcePath":"` + src + `"}}]`
	writer := `[{"name":"app","image":"` + image + `","memory":64,"essential":true,"command":["write","/h/out.txt","from the task"],
	  "mountPoints":[{"sourceVolume":"h","containerPath":"/h"}]}]`

	_, err := in.aws("ecs", "register-task-definition", "--family", "hostfargate", "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "256", "--memory", "512", "--container-definitions", writer, "--volumes", hostVol)
	if err == nil || !strings.Contains(err.Error(), "ClientException") || !strings.Contains(err.Error(), "sourcePath") {
		t.Errorf("registering a Fargate task definition with host.sourcePath: %v", err)
	}

	in.mustAWS("ecs", "register-task-definition", "--family", "hostec2", "--requires-compatibilities", "EC2",
		"--network-mode", "bridge", "--container-definitions", writer, "--volumes", hostVol)
	_, err = in.aws("ecs", "run-task", "--launch-type", "FARGATE", "--task-definition", "hostec2", "--network-configuration", awsvpcConfig)
	if err == nil || !strings.Contains(err.Error(), "does not support launch_type FARGATE") {
		t.Errorf("run-task FARGATE of a host volume definition: %v", err)
	}
	out := in.mustAWS("ecs", "run-task", "--launch-type", "EC2", "--task-definition", "hostec2")
	arn, _ := path(out, "tasks", 0, "taskArn").(string)
	if arn == "" {
		t.Fatalf("run-task EC2: %v", out)
	}
	task := in.waitTaskStatus(arn, "STOPPED", 60*time.Second)
	if code, _ := containerOf(task)["exitCode"].(float64); code != 0 || task["stopCode"] != "EssentialContainerExited" {
		t.Errorf("host volume writer: exit %v stopCode %v", containerOf(task)["exitCode"], task["stopCode"])
	}
	if b, err := os.ReadFile(filepath.Join(src, "out.txt")); err != nil || string(b) != "from the task" {
		t.Errorf("the host's directory after the task: %q %v", b, err)
	}

	in.mustAWS("ecs", "register-task-definition", "--family", "efs", "--requires-compatibilities", "FARGATE",
		"--network-mode", "awsvpc", "--cpu", "256", "--memory", "512", "--container-definitions",
		`[{"name":"app","image":"`+image+`","essential":true,"mountPoints":[{"sourceVolume":"e","containerPath":"/e"}]}]`,
		"--volumes", `[{"name":"e","efsVolumeConfiguration":{"fileSystemId":"fs-0123456789abcdef0"}}]`)
	task = in.waitTaskStatus(in.runTask("efs"), "STOPPED", 60*time.Second)
	if r, _ := task["stoppedReason"].(string); task["stopCode"] != "TaskFailedToStart" ||
		!strings.HasPrefix(r, "ResourceInitializationError") || !strings.Contains(r, "efsVolumeConfiguration") {
		t.Errorf("EFS volume: stopCode %v stoppedReason %q", task["stopCode"], r)
	}
}
