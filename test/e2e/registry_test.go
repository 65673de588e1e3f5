package e2e

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// skopeoBin finds skopeo (the Debian package); CI must have it (make deps
// installs it), elsewhere the test skips.
func skopeoBin(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("skopeo"); err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("skopeo is missing (make deps installs it: apt-get install -y skopeo)")
	}
	t.Skip("no skopeo on this machine")
	return ""
}

// loginPassword runs `aws ecr get-login-password`, as users pipe it into
// `docker login --username AWS --password-stdin`.
func (in *instance) loginPassword() string {
	in.t.Helper()
	cmd := exec.Command(awsCLI(in.t), "--profile", "fargo", "ecr", "get-login-password")
	cmd.Env = in.env
	out, err := cmd.Output()
	if err != nil {
		in.t.Fatalf("get-login-password: %v", err)
	}
	pw := strings.TrimSpace(string(out))
	if pw == "" {
		in.t.Fatal("get-login-password printed nothing")
	}
	return pw
}

func craneAuth(pw string) []crane.Option {
	return []crane.Option{crane.Insecure, crane.WithAuth(&authn.Basic{Username: "AWS", Password: pw})}
}

// curl runs curl with the registry credentials and returns headers+body.
func curl(t *testing.T, pw string, args ...string) string {
	t.Helper()
	out, err := exec.Command("curl", append([]string{"-sS", "-i", "-u", "AWS:" + pw}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestECRFirstPush is the session: create-repository, log in with
// get-login-password, push with crane and skopeo to the repositoryUri as it
// is, pull back the same digests, see them in describe-images, check the
// raw OCI answers with curl.
func TestECRFirstPush(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	repo := in.mustAWS("ecr", "create-repository", "--repository-name", "web")
	uri, _ := path(repo, "repository", "repositoryUri").(string)
	_, port, _ := strings.Cut(in.listen, ":")
	if uri != "localhost:"+port+"/web" {
		t.Fatalf("repositoryUri %q", uri)
	}
	tok := in.mustAWS("ecr", "get-authorization-token")
	if ep := path(tok, "authorizationData", 0, "proxyEndpoint"); ep != "http://localhost:"+port {
		t.Fatalf("proxyEndpoint %v", ep)
	}
	pw := in.loginPassword()
	opts := craneAuth(pw)

	img, err := random.Image(8192, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := crane.Push(img, uri+":v1", opts...); err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if got, err := crane.Digest(uri+":v1", opts...); err != nil || got != want.String() {
		t.Fatalf("pulled digest %s %v, want %s", got, err, want)
	}

	// curl: the base endpoint, the challenge, and the manifest's digest.
	if out := curl(t, pw, "http://"+strings.TrimSuffix(uri, "/web")+"/v2/"); !strings.Contains(out, "200") {
		t.Fatalf("GET /v2/: %s", out)
	}
	out, _ := exec.Command("curl", "-sS", "-i", "http://"+in.listen+"/v2/").CombinedOutput()
	if !strings.Contains(string(out), "401") || !strings.Contains(strings.ToLower(string(out)), `www-authenticate: basic realm=`) {
		t.Fatalf("unauthenticated GET /v2/: %s", out)
	}
	head := curl(t, pw, "-I", "-H", "Accept: application/vnd.oci.image.manifest.v1+json,application/vnd.docker.distribution.manifest.v2+json",
		"http://"+strings.Replace(uri, "/web", "/v2/web/manifests/v1", 1))
	if !strings.Contains(strings.ToLower(head), "docker-content-digest: "+want.String()) {
		t.Fatalf("HEAD manifest: %s", head)
	}

	// skopeo (a Go client: it cannot resolve *.localhost, the plain URI works).
	skopeo := skopeoBin(t)
	src := filepath.Join(t.TempDir(), "src")
	img2, _ := random.Image(4096, 2)
	lp, err := layout.Write(src, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := lp.AppendImage(img2); err != nil {
		t.Fatal(err)
	}
	creds := "AWS:" + pw
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(skopeo, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("skopeo %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("copy", "--dest-tls-verify=false", "--dest-creds", creds, "oci:"+src, "docker://"+uri+":v2")
	back := filepath.Join(t.TempDir(), "back")
	run("copy", "--src-tls-verify=false", "--src-creds", creds, "docker://"+uri+":v2", "oci:"+back)
	want2, _ := img2.Digest()
	if got, err := crane.Digest(uri+":v2", opts...); err != nil || got != want2.String() {
		t.Fatalf("skopeo-pushed digest %s %v, want %s", got, err, want2)
	}
	if insp := run("inspect", "--tls-verify=false", "--creds", creds, "docker://"+uri+":v2"); !strings.Contains(insp, want2.String()) {
		t.Fatalf("skopeo inspect: %s", insp)
	}

	d := in.mustAWS("ecr", "describe-images", "--repository-name", "web")
	details, _ := path(d, "imageDetails").([]any)
	if len(details) != 2 {
		t.Fatalf("describe-images: %v", d)
	}
	seen := map[string]bool{}
	for _, x := range details {
		tags, _ := path(x, "imageTags").([]any)
		size, _ := path(x, "imageSizeInBytes").(float64)
		if len(tags) != 1 || size <= 0 || path(x, "imagePushedAt") == nil || path(x, "imageManifestMediaType") == nil {
			t.Fatalf("image detail %v", x)
		}
		seen[fmt.Sprint(tags[0])+"="+fmt.Sprint(path(x, "imageDigest"))] = true
	}
	if !seen["v1="+want.String()] || !seen["v2="+want2.String()] {
		t.Fatalf("describe-images digests: %v", seen)
	}
	l := in.mustAWS("ecr", "list-images", "--repository-name", "web", "--filter", "tagStatus=UNTAGGED")
	if ids, _ := path(l, "imageIds").([]any); len(ids) != 0 {
		t.Fatalf("untagged: %v", l)
	}
	if _, err := in.aws("ecr", "describe-repositories", "--repository-names", "nope"); err == nil ||
		!strings.Contains(err.Error(), "RepositoryNotFoundException") || !strings.Contains(err.Error(), "The repository with name 'nope' does not exist in the registry with id '000000000000'") {
		t.Fatalf("describe unknown: %v", err)
	}
	if _, err := in.aws("ecr", "start-image-scan", "--repository-name", "web", "--image-id", "imageTag=v1"); err == nil || !strings.Contains(err.Error(), "ValidationException") {
		t.Fatalf("start-image-scan: %v", err)
	}
}

// TestECRKillDuringPush: SIGKILL fargo while a large chunked upload is in
// flight; after a restart the repository holds no partial image or blob,
// and the retried push succeeds with the same digest.
func TestECRKillDuringPush(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	repo := in.mustAWS("ecr", "create-repository", "--repository-name", "big")
	uri, _ := path(repo, "repository", "repositoryUri").(string)
	pw := in.loginPassword()

	layer, err := random.Layer(24<<20, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		t.Fatal(err)
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	ld, _ := layer.Digest()

	// Start a chunked upload by hand and kill fargo halfway through a PATCH.
	base := "http://" + in.listen + "/v2/big/blobs/"
	req, _ := http.NewRequest(http.MethodPost, base+"uploads/", nil)
	req.SetBasicAuth("AWS", pw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusAccepted {
		t.Fatalf("start upload: %v %v", resp, err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if !strings.HasPrefix(loc, "http") {
		loc = "http://" + in.listen + loc
	}
	rc, _ := layer.Compressed()
	defer rc.Close()
	pr, pwr := io.Pipe()
	patch, _ := http.NewRequest(http.MethodPatch, loc, pr)
	patch.SetBasicAuth("AWS", pw)
	patch.Header.Set("Content-Type", "application/octet-stream")
	done := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(patch)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if _, err := io.CopyN(pwr, rc, 8<<20); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the server is writing the chunk
	in.kill()
	pwr.CloseWithError(io.ErrClosedPipe)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("PATCH did not end after SIGKILL")
	}

	in.start()
	l := in.mustAWS("ecr", "list-images", "--repository-name", "big")
	if ids, _ := path(l, "imageIds").([]any); len(ids) != 0 {
		t.Fatalf("images after kill: %v", l)
	}
	chk := in.mustAWS("ecr", "batch-check-layer-availability", "--repository-name", "big", "--layer-digests", ld.String())
	if layers, _ := path(chk, "layers").([]any); len(layers) != 0 {
		t.Fatalf("partial layer visible after kill: %v", chk)
	}
	opts := craneAuth(pw)
	if err := crane.Push(img, uri+":v1", opts...); err != nil {
		t.Fatalf("push after restart: %v", err)
	}
	want, _ := img.Digest()
	if got, err := crane.Digest(uri+":v1", opts...); err != nil || got != want.String() {
		t.Fatalf("digest after retry %s %v, want %s", got, err, want)
	}
	pulled, err := crane.Pull(uri+":v1", opts...)
	if err != nil {
		t.Fatal(err)
	}
	ls, _ := pulled.Layers()
	r, err := ls[0].Compressed()
	if err != nil {
		t.Fatal(err)
	}
	if n, err := io.Copy(io.Discard, r); err != nil { // the verifying reader checks the digest
		t.Fatalf("pull layer: %d bytes, %v", n, err)
	}
	r.Close()
}

// TestECRConcurrentPushSameLayers: several clients push images sharing
// their layers into one repository at once; every push lands intact.
func TestECRConcurrentPushSameLayers(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	repo := in.mustAWS("ecr", "create-repository", "--repository-name", "shared")
	uri, _ := path(repo, "repository", "repositoryUri").(string)
	opts := craneAuth(in.loginPassword())

	var layers []v1.Layer
	for range 3 {
		l, err := random.Layer(1<<20, types.OCILayer)
		if err != nil {
			t.Fatal(err)
		}
		layers = append(layers, l)
	}
	const clients = 6
	imgs := make([]v1.Image, clients)
	for i := range imgs {
		img, err := mutate.AppendLayers(empty.Image, layers...)
		if err != nil {
			t.Fatal(err)
		}
		cf, _ := img.ConfigFile()
		cf = cf.DeepCopy()
		cf.Config.Env = []string{fmt.Sprintf("CLIENT=%d", i)}
		if imgs[i], err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	errs := make([]error, clients)
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = crane.Push(imgs[i], fmt.Sprintf("%s:c%d", uri, i), opts...)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
	}
	for i, img := range imgs {
		want, _ := img.Digest()
		got, err := crane.Pull(fmt.Sprintf("%s:c%d", uri, i), opts...)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := got.Digest(); d != want {
			t.Fatalf("client %d: digest %s, want %s", i, d, want)
		}
		ls, _ := got.Layers()
		for _, l := range ls {
			r, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := io.Copy(&buf, r); err != nil {
				t.Fatalf("client %d layer: %v", i, err)
			}
			r.Close()
		}
	}
	d := in.mustAWS("ecr", "describe-images", "--repository-name", "shared")
	if details, _ := path(d, "imageDetails").([]any); len(details) != clients {
		t.Fatalf("describe-images: %d images, want %d", len(details), clients)
	}
}
