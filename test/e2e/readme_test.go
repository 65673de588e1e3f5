package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// readmeSession returns the shell blocks of the README's section heading
// (up to the next "## " heading), joined in order: what a newcomer types.
func readmeSession(t *testing.T, heading string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(b), "\n"+heading+"\n")
	if !ok {
		t.Fatalf("README has no %q section", heading)
	}
	if i := strings.Index(sec, "\n## "); i >= 0 {
		sec = sec[:i]
	}
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)\n```sh\n(.*?)\n```").FindAllStringSubmatch(sec, -1) {
		blocks = append(blocks, m[1])
	}
	if len(blocks) == 0 {
		t.Fatalf("README section %q has no sh blocks", heading)
	}
	return strings.Join(blocks, "\n")
}

// TestReadmeFirstSession runs the README's first session as written, with
// Debian's AWS CLI v2 (/usr/bin/aws) as `aws`, against a real fargo with
// its agent: it builds and pushes an image, registers it, runs a task,
// reaches it with curl, stops it and reads its logs. Only the port (4566)
// is the instance's own.
func TestReadmeFirstSession(t *testing.T) {
	if _, err := os.Stat("/usr/bin/aws"); err != nil {
		t.Skip("no /usr/bin/aws (make deps installs Debian's AWS CLI v2)")
	}
	script := readmeSession(t, "## A first session")
	in := newAgentInstance(t)
	_, port, _ := strings.Cut(in.listen, ":")
	script = strings.ReplaceAll(script, "4566", port)

	// `aws` is Debian's CLI v2, whatever else is on PATH; Go's caches are
	// the machine's own so that the session's `go install` is offline.
	bin := t.TempDir()
	if err := os.Symlink("/usr/bin/aws", filepath.Join(bin, "aws")); err != nil {
		t.Fatal(err)
	}
	env := filterEnv(in.env, "PATH", "TMPDIR", "GOPATH", "GOMODCACHE", "GOCACHE", "AWS_PROFILE")
	env = append(env, "PATH="+bin+":"+os.Getenv("PATH"), "TMPDIR="+t.TempDir(), "GOPATH="+filepath.Join(in.home, "go"))
	for _, v := range []string{"GOMODCACHE", "GOCACHE"} {
		out, err := exec.Command("go", "env", v).Output()
		if err != nil {
			t.Fatal(err)
		}
		env = append(env, v+"="+strings.TrimSpace(string(out)))
	}

	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-x", "-c", script)
	cmd.Env = env
	cmd.Dir = in.home
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the README's first session failed: %v\n%s\nfargo:\n%s", err, out.String(), in.out)
	}
	got := out.String()
	t.Logf("the session's output:\n%s", got)
	if !strings.Contains(got, "hello from fargo") {
		t.Errorf("curl of the task did not answer the greeting:\n%s", got)
	}
	if !regexp.MustCompile(`ecs/web/[0-9a-f]{32} .*GET / from`).MatchString(got) {
		t.Errorf("logs tail shows no request line of the task:\n%s", got)
	}
}
