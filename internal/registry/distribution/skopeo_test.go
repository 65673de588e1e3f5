package distribution

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
)

// TestSkopeo copies an OCI layout into the registry and back with skopeo,
// when skopeo is installed.
func TestSkopeo(t *testing.T) {
	skopeo, err := exec.LookPath("skopeo")
	if err != nil {
		t.Skip("skopeo not installed")
	}
	e := newEnv(t)
	e.createRepo("skopeo/app")
	img, _ := random.Image(1024, 2)
	src := filepath.Join(t.TempDir(), "src")
	p, err := layout.Write(src, emptyIndex())
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	creds := "AWS:" + testToken
	run := func(args ...string) {
		t.Helper()
		out, err := exec.Command(skopeo, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, out)
		}
	}
	dst := "docker://" + e.host + "/skopeo/app:v1"
	run("copy", "--dest-tls-verify=false", "--dest-creds", creds, "oci:"+src, dst)
	run("inspect", "--tls-verify=false", "--creds", creds, dst)
	back := filepath.Join(t.TempDir(), "back")
	run("copy", "--src-tls-verify=false", "--src-creds", creds, dst, "oci:"+back)
}
