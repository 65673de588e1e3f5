// Package e2e holds black-box tests of the built fargo binary, driven by
// real clients: the AWS CLI (through the profile fargo writes) and the Go
// SDK.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

var fargoBin string

// The e2e fargo's network settings (see newInstance). FARGO_E2E_SLOT=N
// (1-9) gives a run names and addresses of its own, so that two e2e runs
// on one machine never sweep each other's tasks.
var e2eNetPrefix, e2eTaskPool, e2eMetadataIP = e2eNetwork(os.Getenv("FARGO_E2E_SLOT"))

func e2eNetwork(slot string) (prefix, pool, metadataIP string) {
	if len(slot) == 1 && slot[0] >= '1' && slot[0] <= '9' {
		n := int(slot[0] - '0')
		return "fe" + slot, fmt.Sprintf("10.%d.0.0/16", 220+n), fmt.Sprintf("169.254.170.%d", 10+n)
	}
	return "fge", "10.217.0.0/16", "169.254.170.3"
}

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fargo-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fargoBin = filepath.Join(dir, "fargo")
	// The layout make build makes: fargo and, beside it, fargo-monitor.
	for _, b := range [][2]string{{fargoBin, "../../cmd/fargo"}, {filepath.Join(dir, "fargo-monitor"), "../../internal/runtime/cmd/fargo-monitor"}} {
		build := exec.Command("go", "build", "-o", b[0], b[1])
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b[1]+":", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// awsCLI finds the AWS CLI; CI installs it (make deps), elsewhere the test
// skips without one.
func awsCLI(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"aws", "/usr/bin/aws", "/usr/local/bin/aws"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("the AWS CLI is missing (make deps installs it)")
	}
	t.Skip("no AWS CLI on this machine")
	return ""
}

// instance is one fargo process and the files its clients use.
type instance struct {
	t       *testing.T
	dataDir string
	home    string
	listen  string
	cmd     *exec.Cmd
	out     *bytes.Buffer
	past    strings.Builder // the output of the instance's earlier runs
	env     []string
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func newInstance(t *testing.T, extraEnv ...string) *instance {
	home := t.TempDir()
	in := &instance{t: t, dataDir: filepath.Join(t.TempDir(), "data"), home: home, listen: freePort(t)}
	in.env = append(os.Environ(),
		"HOME="+home,
		"AWS_CONFIG_FILE="+filepath.Join(home, ".aws", "config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, ".aws", "credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_PAGER=",
		"FARGO_LISTEN="+in.listen,
		"FARGO_DATA_DIR="+in.dataDir,
		// Tests that run tasks ask for the agent (newAgentInstance). Their
		// networks have names, addresses and a metadata IP of their own, so
		// that `make test` never touches the tasks of a fargo running on
		// the defaults (`make run` in another shell).
		"FARGO_NO_AGENT=1",
		"FARGO_NETWORK_PREFIX="+e2eNetPrefix,
		"FARGO_TASK_POOL="+e2eTaskPool,
		"FARGO_METADATA_IP="+e2eMetadataIP,
	)
	// The CLI must take everything from the profile, not the caller's env.
	in.env = filterEnv(in.env, "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ENDPOINT_URL")
	in.env = append(in.env, extraEnv...)
	t.Cleanup(in.kill)
	return in
}

func filterEnv(env []string, drop ...string) []string {
	var out []string
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		keep := true
		for _, d := range drop {
			if name == d {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// start runs `fargo server` and waits for /healthz.
func (in *instance) start() {
	t := in.t
	t.Helper()
	if in.out != nil {
		in.past.Write(in.out.Bytes())
	}
	if in.cmd == nil {
		in.checkStore() // a restart: the store as the last run left it
	}
	in.out = &bytes.Buffer{}
	in.cmd = exec.Command(fargoBin, "server")
	in.cmd.Env = in.env
	in.cmd.Stdout, in.cmd.Stderr = in.out, in.out
	if err := in.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + in.listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		if in.cmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("fargo did not become healthy:\n%s", in.out)
}

// kill ends the process with SIGKILL (no cleanup of any kind).
func (in *instance) kill() {
	if in.cmd == nil || in.cmd.Process == nil {
		return
	}
	_ = in.cmd.Process.Signal(syscall.SIGKILL)
	_ = in.cmd.Wait()
	in.cmd = nil
}

// aws runs the AWS CLI with the "fargo" profile and decodes its JSON output.
func (in *instance) aws(args ...string) (map[string]any, error) {
	in.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, awsCLI(in.t), append([]string{"--profile", "fargo", "--output", "json"}, args...)...)
	cmd.Env = in.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("aws %s: %v: %s", strings.Join(args, " "), err, stderr.String())
	}
	out := map[string]any{}
	if stdout.Len() > 0 {
		if err := json.Unmarshal(stdout.Bytes(), &out); err != nil {
			return nil, fmt.Errorf("aws %s: output %q: %v", strings.Join(args, " "), stdout.String(), err)
		}
	}
	return out, nil
}

func (in *instance) mustAWS(args ...string) map[string]any {
	in.t.Helper()
	out, err := in.aws(args...)
	if err != nil {
		in.t.Fatal(err)
	}
	return out
}

// path digs into decoded JSON: path(m, "taskDefinition", "revision").
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			l, _ := v.([]any)
			if k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

// cmdServer returns an unstarted `fargo server` command of this instance.
func (in *instance) cmdServer() *exec.Cmd {
	cmd := exec.Command(fargoBin, "server")
	cmd.Env = in.env
	return cmd
}

// awsRaw runs the AWS CLI with explicit arguments (no profile).
func (in *instance) awsRaw(args ...string) (string, error) {
	in.t.Helper()
	cmd := exec.Command(awsCLI(in.t), args...)
	cmd.Env = in.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}
