package distribution

import (
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

func TestBaseAndAuth(t *testing.T) {
	e := newEnv(t)
	resp := e.do("GET", "/v2/", nil, map[string]string{"Authorization": "-"})
	wantStatus(t, resp, 401, "UNAUTHORIZED")
	if got := resp.Header.Get("WWW-Authenticate"); got != `Basic realm="http://`+e.host+`/",service="ecr.amazonaws.com"` {
		t.Fatalf("WWW-Authenticate %q", got)
	}
	if resp.Header.Get("Docker-Distribution-Api-Version") != "registry/2.0" {
		t.Fatal("no Docker-Distribution-Api-Version")
	}
	req, _ := http.NewRequest("GET", e.srv.URL+"/v2/", nil)
	req.SetBasicAuth("AWS", "wrong")
	bad, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer bad.Body.Close()
	wantStatus(t, bad, 401, "UNAUTHORIZED")
	resp = e.do("GET", "/v2/", nil, nil)
	if body := wantStatus(t, resp, 200, ""); body != "{}" {
		t.Fatalf("body %q", body)
	}
	// Another account's host: denied by the default SameAccount authorizer.
	e.createRepo("app")
	resp = e.do("GET", "/v2/app/tags/list", nil, map[string]string{"Host": "210987654321.dkr.ecr.eu-west-1.localhost:5000"})
	wantStatus(t, resp, 403, "DENIED")
}

func TestScopeFromHost(t *testing.T) {
	def := tenant.Scope{Account: "111111111111", Region: "us-east-1"}
	for host, want := range map[string]tenant.Scope{
		"123456789012.dkr.ecr.eu-west-1.localhost:4566": {Account: "123456789012", Region: "eu-west-1"},
		"123456789012.dkr.ecr.eu-west-1.localhost":      {Account: "123456789012", Region: "eu-west-1"},
		"localhost:4566":                             def,
		"127.0.0.1":                                  def,
		"12345.dkr.ecr.eu-west-1.localhost":          def,
		"123456789012.dkr.ecr.eu-west-1.example.com": def,
	} {
		if got := registry.ScopeFromHost(host, def); got != want {
			t.Errorf("%s: %v, want %v", host, got, want)
		}
	}
	// The host's scope is where the request acts.
	other := tenant.Scope{Account: testAccount, Region: "eu-west-1"}
	e := newEnv(t)
	if _, err := e.reg.CreateRepository(t.Context(), other, registry.Repository{Name: "regional"}); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, e.do("GET", "/v2/regional/tags/list", nil, nil), 404, "NAME_UNKNOWN")
	wantStatus(t, e.do("GET", "/v2/regional/tags/list", nil, map[string]string{"Host": testAccount + ".dkr.ecr.eu-west-1.localhost"}), 200, "")
}

func TestChunkedUpload(t *testing.T) {
	e := newEnv(t)
	e.createRepo("chunks")
	resp := e.do("POST", "/v2/chunks/blobs/uploads/", nil, nil)
	wantStatus(t, resp, 202, "")
	loc := resp.Header.Get("Location")
	if resp.Header.Get("Range") != "0-0" || resp.Header.Get("Docker-Upload-UUID") == "" {
		t.Fatalf("headers %v", resp.Header)
	}
	data := strings.Repeat("0123456789", 10) // 100 bytes
	resp = e.do("PATCH", loc, strings.NewReader(data[:40]), map[string]string{"Content-Range": "0-39", "Content-Type": "application/octet-stream"})
	wantStatus(t, resp, 202, "")
	if resp.Header.Get("Range") != "0-39" {
		t.Fatalf("Range %q", resp.Header.Get("Range"))
	}
	// Out of order: 416 with the current range, nothing appended.
	resp = e.do("PATCH", loc, strings.NewReader(data[50:60]), map[string]string{"Content-Range": "50-59"})
	wantStatus(t, resp, 416, "BLOB_UPLOAD_INVALID")
	if resp.Header.Get("Range") != "0-39" || resp.Header.Get("Location") != loc {
		t.Fatalf("416 headers %v", resp.Header)
	}
	// Status.
	resp = e.do("GET", loc, nil, nil)
	wantStatus(t, resp, 204, "")
	if resp.Header.Get("Range") != "0-39" {
		t.Fatalf("status Range %q", resp.Header.Get("Range"))
	}
	// Streamed chunk without Content-Range.
	resp = e.do("PATCH", loc, strings.NewReader(data[40:80]), nil)
	wantStatus(t, resp, 202, "")
	// Wrong digest: DIGEST_INVALID, the session survives.
	wantStatus(t, e.do("PUT", loc+"?digest="+sha("nope"), nil, nil), 400, "DIGEST_INVALID")
	// Final chunk with the PUT.
	resp = e.do("PUT", loc+"?digest="+sha(data), strings.NewReader(data[80:]), map[string]string{"Content-Range": "80-99"})
	wantStatus(t, resp, 201, "")
	if resp.Header.Get("Location") != "/v2/chunks/blobs/"+sha(data) || resp.Header.Get("Docker-Content-Digest") != sha(data) {
		t.Fatalf("headers %v", resp.Header)
	}
	resp = e.do("GET", "/v2/chunks/blobs/"+sha(data), nil, nil)
	if got := wantStatus(t, resp, 200, ""); got != data {
		t.Fatalf("blob %q", got)
	}
	// The session is gone.
	wantStatus(t, e.do("GET", loc, nil, nil), 404, "BLOB_UPLOAD_UNKNOWN")
	// Another session, cancelled.
	resp = e.do("POST", "/v2/chunks/blobs/uploads/", nil, nil)
	loc2 := resp.Header.Get("Location")
	wantStatus(t, e.do("PATCH", loc2, strings.NewReader("abc"), nil), 202, "")
	wantStatus(t, e.do("DELETE", loc2, nil, nil), 204, "")
	wantStatus(t, e.do("GET", loc2, nil, nil), 404, "BLOB_UPLOAD_UNKNOWN")
	// A session of one repository is not one of another.
	e.createRepo("other")
	resp = e.do("POST", "/v2/chunks/blobs/uploads/", nil, nil)
	id := resp.Header.Get("Docker-Upload-UUID")
	wantStatus(t, e.do("GET", "/v2/other/blobs/uploads/"+id, nil, nil), 404, "BLOB_UPLOAD_UNKNOWN")
	wantStatus(t, e.do("GET", "/v2/chunks/blobs/uploads/..%2f..%2fetc", nil, nil), 404, "")
}

func TestMonolithicAndRange(t *testing.T) {
	e := newEnv(t)
	e.createRepo("mono")
	data := "hello, range requests"
	wantStatus(t, e.do("POST", "/v2/mono/blobs/uploads/?digest="+sha(data), strings.NewReader(data), nil), 201, "")
	// sha512 too.
	s := sha512.Sum512([]byte(data))
	d512 := "sha512:" + hex.EncodeToString(s[:])
	wantStatus(t, e.do("POST", "/v2/mono/blobs/uploads/?digest="+d512, strings.NewReader(data), nil), 201, "")
	wantStatus(t, e.do("HEAD", "/v2/mono/blobs/"+d512, nil, nil), 200, "")
	// Digest mismatch.
	wantStatus(t, e.do("POST", "/v2/mono/blobs/uploads/?digest="+sha("other"), strings.NewReader(data), nil), 400, "DIGEST_INVALID")
	wantStatus(t, e.do("HEAD", "/v2/mono/blobs/"+sha("other"), nil, nil), 404, "")
	wantStatus(t, e.do("POST", "/v2/mono/blobs/uploads/?digest=md5:abc", strings.NewReader(data), nil), 400, "DIGEST_INVALID")

	resp := e.do("GET", "/v2/mono/blobs/"+sha(data), nil, map[string]string{"Range": "bytes=7-11"})
	if got := wantStatus(t, resp, 206, ""); got != "range" {
		t.Fatalf("range body %q", got)
	}
	if resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 7-11/%d", len(data)) {
		t.Fatalf("Content-Range %q", resp.Header.Get("Content-Range"))
	}
	resp = e.do("HEAD", "/v2/mono/blobs/"+sha(data), nil, nil)
	wantStatus(t, resp, 200, "")
	if resp.ContentLength != int64(len(data)) || resp.Header.Get("Docker-Content-Digest") != sha(data) || resp.Header.Get("ETag") != `"`+sha(data)+`"` {
		t.Fatalf("HEAD headers %v", resp.Header)
	}
	resp = e.do("GET", "/v2/mono/blobs/"+sha(data), nil, map[string]string{"If-None-Match": `"` + sha(data) + `"`})
	wantStatus(t, resp, 304, "")
	// Blob unknown, and a blob of another repository is not visible.
	e.createRepo("mono2")
	wantStatus(t, e.do("GET", "/v2/mono2/blobs/"+sha(data), nil, nil), 404, "BLOB_UNKNOWN")
	// Unlink.
	wantStatus(t, e.do("DELETE", "/v2/mono/blobs/"+sha(data), nil, nil), 202, "")
	wantStatus(t, e.do("GET", "/v2/mono/blobs/"+sha(data), nil, nil), 404, "BLOB_UNKNOWN")
}

func TestNameErrors(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{
		"/v2/Upper/tags/list",
		"/v2/a/../b/tags/list",
		"/v2/../tags/list",
		"/v2/a//b/tags/list",
		"/v2/a/b_/manifests/latest",
		"/v2/-a/manifests/latest",
		"/v2/x/manifests/latest", // too short
	} {
		req, _ := http.NewRequest("GET", e.srv.URL+"/x", nil)
		req.URL.Path = p // keep the dots: no client-side cleaning
		req.URL.RawPath = ""
		req.SetBasicAuth("AWS", testToken)
		resp, err := e.srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 400 && resp.StatusCode != 404 {
			t.Errorf("%s: status %d", p, resp.StatusCode)
		}
	}
	wantStatus(t, e.do("GET", "/v2/Upper/tags/list", nil, nil), 400, "NAME_INVALID")
	wantStatus(t, e.do("GET", "/v2/missing/tags/list", nil, nil), 404, "NAME_UNKNOWN")
	wantStatus(t, e.do("GET", "/v2/nowhere", nil, nil), 404, "UNSUPPORTED")
	wantStatus(t, e.do("POST", "/v2/", nil, nil), 405, "UNSUPPORTED")

	// Pushing to a repository that does not exist: no create-on-push.
	img, _ := random.Image(100, 1)
	err := remote.Write(e.ref("ghost:v1"), img, e.opts()...)
	if err == nil || !strings.Contains(err.Error(), "NAME_UNKNOWN") ||
		!strings.Contains(err.Error(), "The repository with name 'ghost' does not exist in the registry with id '"+testAccount+"'") {
		t.Fatalf("err %v", err)
	}
}

func TestManifestErrors(t *testing.T) {
	e := newEnv(t)
	e.createRepo("app")
	missing := sha("missing")
	cfg := "{}"
	wantStatus(t, e.do("POST", "/v2/app/blobs/uploads/?digest="+sha(cfg), strings.NewReader(cfg), nil), 201, "")
	man := func(layer string) string {
		return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + sha(cfg) + `","size":2},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"` + layer + `","size":7}]}`
	}
	ct := map[string]string{"Content-Type": registry.MediaTypeOCIManifest}
	wantStatus(t, e.do("PUT", "/v2/app/manifests/v1", strings.NewReader(man(missing)), ct), 400, "MANIFEST_BLOB_UNKNOWN")
	wantStatus(t, e.do("PUT", "/v2/app/manifests/v1", strings.NewReader("{not json"), ct), 400, "MANIFEST_INVALID")
	wantStatus(t, e.do("PUT", "/v2/app/manifests/v1", strings.NewReader(`{"schemaVersion":1}`), ct), 400, "MANIFEST_INVALID")
	wantStatus(t, e.do("PUT", "/v2/app/manifests/v1", strings.NewReader(man("sha256:xyz")), ct), 400, "MANIFEST_INVALID")
	wantStatus(t, e.do("PUT", "/v2/app/manifests/v1", strings.NewReader(man(missing)), map[string]string{"Content-Type": "text/plain"}), 400, "MANIFEST_INVALID")
	wantStatus(t, e.do("PUT", "/v2/app/manifests/bad:tag:x", strings.NewReader(man(missing)), ct), 400, "DIGEST_INVALID")
	wantStatus(t, e.do("PUT", "/v2/app/manifests/"+strings.Repeat("t", 129), strings.NewReader(man(missing)), ct), 400, "TAG_INVALID")

	layer := "layer!!"
	wantStatus(t, e.do("POST", "/v2/app/blobs/uploads/?digest="+sha(layer), strings.NewReader(layer), nil), 201, "")
	good := man(sha(layer))
	// By a digest that is not the manifest's.
	wantStatus(t, e.do("PUT", "/v2/app/manifests/"+sha("x"), strings.NewReader(good), ct), 400, "DIGEST_INVALID")
	resp := e.do("PUT", "/v2/app/manifests/"+sha(good), strings.NewReader(good), ct)
	wantStatus(t, resp, 201, "")
	if resp.Header.Get("Docker-Content-Digest") != sha(good) || resp.Header.Get("Location") != "/v2/app/manifests/"+sha(good) {
		t.Fatalf("headers %v", resp.Header)
	}
	wantStatus(t, e.do("GET", "/v2/app/manifests/v1", nil, nil), 404, "MANIFEST_UNKNOWN")
	body := wantStatus(t, e.do("GET", "/v2/app/manifests/nope", nil, nil), 404, "MANIFEST_UNKNOWN")
	if !strings.Contains(body, "Requested image not found") {
		t.Fatalf("body %s", body)
	}
	resp = e.do("HEAD", "/v2/app/manifests/"+sha(good), nil, nil)
	wantStatus(t, resp, 200, "")
	if resp.Header.Get("Content-Type") != registry.MediaTypeOCIManifest || resp.ContentLength != int64(len(good)) {
		t.Fatalf("HEAD %v", resp.Header)
	}
	// The blob an image uses cannot be unlinked.
	wantStatus(t, e.do("DELETE", "/v2/app/blobs/"+sha(layer), nil, nil), 405, "UNSUPPORTED")

	// Oversized.
	big := `{"schemaVersion":2,"annotations":{"x":"` + strings.Repeat("a", registry.DefaultMaxManifestBytes) + `"}}`
	wantStatus(t, e.do("PUT", "/v2/app/manifests/big", strings.NewReader(big), ct), 413, "SIZE_INVALID")
	// Delete by digest, then it is gone.
	wantStatus(t, e.do("DELETE", "/v2/app/manifests/"+sha(good), nil, nil), 202, "")
	wantStatus(t, e.do("GET", "/v2/app/manifests/"+sha(good), nil, nil), 404, "MANIFEST_UNKNOWN")
}

func TestImmutableTags(t *testing.T) {
	e := newEnv(t)
	e.createRepo("locked", func(r *registry.Repository) { r.ImageTagMutability = registry.Immutable })
	a, _ := random.Image(100, 1)
	b, _ := random.Image(100, 1)
	if err := remote.Write(e.ref("locked:v1"), a, e.opts()...); err != nil {
		t.Fatal(err)
	}
	// The same image and tag again is fine.
	if err := remote.Write(e.ref("locked:v1"), a, e.opts()...); err != nil {
		t.Fatal(err)
	}
	err := remote.Write(e.ref("locked:v1"), b, e.opts()...)
	if err == nil || !strings.Contains(err.Error(), "TAG_INVALID") ||
		!strings.Contains(err.Error(), "The image tag 'v1' already exists in the 'locked' repository and cannot be overwritten because the repository is immutable.") {
		t.Fatalf("err %v", err)
	}
	// By digest is always fine.
	bd, _ := b.Digest()
	if err := remote.Write(e.ref("locked@"+bd.String()), b, e.opts()...); err != nil {
		t.Fatal(err)
	}
}

func TestTagPagination(t *testing.T) {
	e := newEnv(t)
	e.createRepo("paged")
	img, _ := random.Image(64, 1)
	for _, tag := range []string{"e", "a", "d", "c", "b"} {
		if err := remote.Write(e.ref("paged:"+tag), img, e.opts()...); err != nil {
			t.Fatal(err)
		}
	}
	var all []string
	next := "/v2/paged/tags/list?n=2"
	for next != "" {
		resp := e.do("GET", next, nil, nil)
		var out struct {
			Name string
			Tags []string
		}
		if err := json.Unmarshal([]byte(wantStatus(t, resp, 200, "")), &out); err != nil {
			t.Fatal(err)
		}
		if out.Name != "paged" || len(out.Tags) > 2 {
			t.Fatalf("page %+v", out)
		}
		all = append(all, out.Tags...)
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			next = l[1:strings.Index(l, ">")]
		}
	}
	if strings.Join(all, ",") != "a,b,c,d,e" {
		t.Fatalf("tags %v", all)
	}
	tags, err := remote.List(e.repo("paged"), e.opts()...)
	if err != nil || strings.Join(tags, ",") != "a,b,c,d,e" {
		t.Fatalf("remote.List %v %v", tags, err)
	}
	body := wantStatus(t, e.do("GET", "/v2/paged/tags/list?n=0", nil, nil), 200, "")
	if body != `{"name":"paged","tags":[]}` {
		t.Fatalf("n=0: %s", body)
	}
	wantStatus(t, e.do("GET", "/v2/paged/tags/list?n=-1", nil, nil), 400, "")
	e.createRepo("zzz")
	body = wantStatus(t, e.do("GET", "/v2/_catalog?n=1&last=paged", nil, nil), 200, "")
	if body != `{"repositories":["zzz"]}` {
		t.Fatalf("catalog %s", body)
	}
}

func TestReferrers(t *testing.T) {
	e := newEnv(t)
	e.createRepo("signed")
	img, _ := random.Image(256, 1)
	if err := remote.Write(e.ref("signed:v1"), img, e.opts()...); err != nil {
		t.Fatal(err)
	}
	subj, _ := partial(img)
	sig := mutate.Subject(mutate.ConfigMediaType(empty.Image, types.MediaType("application/vnd.example.sig")), subj).(v1Image)
	sbom := mutate.Subject(mutate.ConfigMediaType(empty.Image, types.MediaType("application/vnd.example.sbom")), subj).(v1Image)
	for _, a := range []v1Image{sig, sbom} {
		d, _ := a.Digest()
		raw, _ := a.RawManifest()
		mt, _ := a.MediaType()
		// Push the (empty) config and the manifest by hand to see OCI-Subject.
		cfgName, _ := a.ConfigName()
		cfgRaw, _ := a.RawConfigFile()
		wantStatus(t, e.do("POST", "/v2/signed/blobs/uploads/?digest="+cfgName.String(), strings.NewReader(string(cfgRaw)), nil), 201, "")
		resp := e.do("PUT", "/v2/signed/manifests/"+d.String(), strings.NewReader(string(raw)), map[string]string{"Content-Type": string(mt)})
		wantStatus(t, resp, 201, "")
		if resp.Header.Get("OCI-Subject") != subj.Digest.String() {
			t.Fatalf("OCI-Subject %q", resp.Header.Get("OCI-Subject"))
		}
	}
	idx, err := remote.Referrers(e.ref("signed@"+subj.Digest.String()).Context().Digest(subj.Digest.String()), e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	im, _ := idx.IndexManifest()
	if len(im.Manifests) != 2 {
		t.Fatalf("referrers %+v", im.Manifests)
	}
	resp := e.do("GET", "/v2/signed/referrers/"+subj.Digest.String()+"?artifactType=application/vnd.example.sbom", nil, nil)
	body := wantStatus(t, resp, 200, "")
	if resp.Header.Get("OCI-Filters-Applied") != "artifactType" || resp.Header.Get("Content-Type") != registry.MediaTypeOCIIndex {
		t.Fatalf("headers %v", resp.Header)
	}
	if strings.Count(body, `"digest"`) != 1 || !strings.Contains(body, "application/vnd.example.sbom") {
		t.Fatalf("filtered %s", body)
	}
	// Unknown subject: an empty index.
	body = wantStatus(t, e.do("GET", "/v2/signed/referrers/"+sha("none"), nil, nil), 200, "")
	if !strings.Contains(body, `"manifests":[]`) {
		t.Fatalf("empty %s", body)
	}
	wantStatus(t, e.do("GET", "/v2/signed/referrers/nope", nil, nil), 400, "DIGEST_INVALID")
}
