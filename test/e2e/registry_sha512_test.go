package e2e

import (
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/crane"
)

// No real client pushes sha512 manifests: crane (go-containerregistry)
// always hashes what it pushes with sha256 and skopeo 1.9 has no digest
// algorithm option. So the push side is raw HTTP, as the OCI conformance
// suite sends it, and the pull side is crane, which verifies content
// pulled by a sha512 digest with sha512.

func sha512Digest(b []byte) string {
	s := sha512.Sum512(b)
	return "sha512:" + hex.EncodeToString(s[:])
}

// registryDo sends one authenticated /v2/ request and returns the answer
// (body read and closed).
func registryDo(t *testing.T, pw, method, url, contentType string, body []byte) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("AWS", pw)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// TestECRSHA512ManifestByTag pushes sha512-addressed content (blobs, then
// a manifest by digest with tag parameters, then by tag with
// digest-type=sha512), pulls it back by tag and by digest with crane, sees
// it in describe-images with the AWS CLI, and mounts a sha512 blob into
// another repository without naming the source (anonymous mount).
func TestECRSHA512ManifestByTag(t *testing.T) {
	awsCLI(t)
	in := newInstance(t)
	in.start()
	in.mustAWS("ecr", "create-repository", "--repository-name", "algo")
	in.mustAWS("ecr", "create-repository", "--repository-name", "copy")
	pw := in.loginPassword()
	base := "http://" + in.listen + "/v2/"
	uri := in.listen + "/algo"

	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	layer := []byte("a sha512 layer, not compressed")
	for _, b := range [][]byte{cfg, layer} {
		resp, body := registryDo(t, pw, "POST", base+"algo/blobs/uploads/?digest="+sha512Digest(b), "application/octet-stream", b)
		if resp.StatusCode != 201 || resp.Header.Get("Docker-Content-Digest") != sha512Digest(b) {
			t.Fatalf("blob push: %d %v %s", resp.StatusCode, resp.Header, body)
		}
	}
	man := []byte(fmt.Sprintf(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",`+
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},`+
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}]}`,
		sha512Digest(cfg), len(cfg), sha512Digest(layer), len(layer)))
	want := sha512Digest(man)
	const mt = "application/vnd.oci.image.manifest.v1+json"

	// By digest with tag parameters (distribution-spec end-7b).
	resp, body := registryDo(t, pw, "PUT", base+"algo/manifests/"+want+"?tag=v1&tag=latest", mt, man)
	if resp.StatusCode != 201 || resp.Header.Get("Docker-Content-Digest") != want ||
		strings.Join(resp.Header.Values("OCI-Tag"), ",") != "v1,latest" {
		t.Fatalf("manifest push by digest: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	// By tag, asking for sha512.
	resp, body = registryDo(t, pw, "PUT", base+"algo/manifests/v2?digest-type=sha512", mt, man)
	if resp.StatusCode != 201 || resp.Header.Get("Docker-Content-Digest") != want || resp.Header.Get("Location") != "/v2/algo/manifests/"+want {
		t.Fatalf("manifest push by tag: %d %v %s", resp.StatusCode, resp.Header, body)
	}

	opts := craneAuth(pw)
	for _, tag := range []string{"v1", "latest", "v2"} {
		// crane digest is a HEAD: the registry's Docker-Content-Digest.
		if got, err := crane.Digest(uri+":"+tag, opts...); err != nil || got != want {
			t.Fatalf("crane digest %s: %s %v, want %s", tag, got, err, want)
		}
		if got, err := crane.Manifest(uri+":"+tag, opts...); err != nil || string(got) != string(man) {
			t.Fatalf("crane manifest %s: %s %v", tag, got, err)
		}
	}
	// By digest, crane hashes the answer with sha512 and compares.
	if got, err := crane.Manifest(uri+"@"+want, opts...); err != nil || string(got) != string(man) {
		t.Fatalf("crane manifest by digest: %s %v", got, err)
	}
	l, err := crane.PullLayer(uri+"@"+sha512Digest(layer), opts...)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed() // verifies the sha512 as it reads
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != string(layer) {
		t.Fatalf("layer %q %v", got, err)
	}

	d := in.mustAWS("ecr", "describe-images", "--repository-name", "algo")
	details, _ := path(d, "imageDetails").([]any)
	if len(details) != 1 || path(details[0], "imageDigest") != want || len(path(details[0], "imageTags").([]any)) != 3 {
		t.Fatalf("describe-images: %v", d)
	}

	// Anonymous mount: no from, the registry finds the blob in "algo".
	resp, body = registryDo(t, pw, "POST", base+"copy/blobs/uploads/?mount="+sha512Digest(layer), "", nil)
	if resp.StatusCode != 201 || resp.Header.Get("Location") != "/v2/copy/blobs/"+sha512Digest(layer) {
		t.Fatalf("anonymous mount: %d %v %s", resp.StatusCode, resp.Header, body)
	}
	if _, err := crane.PullLayer(in.listen+"/copy@"+sha512Digest(layer), opts...); err != nil {
		t.Fatal(err)
	}

	// Deleting the tags deletes the image (ECR); then its blobs go too.
	for _, tag := range []string{"v1", "latest", "v2"} {
		if resp, body := registryDo(t, pw, "DELETE", base+"algo/manifests/"+tag, "", nil); resp.StatusCode != 202 {
			t.Fatalf("delete %s: %d %s", tag, resp.StatusCode, body)
		}
	}
	for _, b := range [][]byte{cfg, layer} {
		if resp, body := registryDo(t, pw, "DELETE", base+"algo/blobs/"+sha512Digest(b), "", nil); resp.StatusCode != 202 {
			t.Fatalf("delete blob: %d %s", resp.StatusCode, body)
		}
		if resp, _ := registryDo(t, pw, "HEAD", base+"algo/blobs/"+sha512Digest(b), "", nil); resp.StatusCode != 404 {
			t.Fatalf("deleted blob HEAD: %d", resp.StatusCode)
		}
	}
}
