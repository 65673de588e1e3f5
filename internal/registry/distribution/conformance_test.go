package distribution

import (
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/registry"
)

// The OCI distribution-spec conformance variants that need more than the
// plain API: non-sha256 manifests pushed with tags, the tag parameter, and
// anonymous blob mounts (conformance/run.go's "tag-param-sha512" data set
// and "mount anonymous" blob test).

func sha512d(b string) string {
	s := sha512.Sum512([]byte(b))
	return "sha512:" + hex.EncodeToString(s[:])
}

// pushSHA512Blobs uploads a config and a layer by their sha512 digests and
// returns a manifest naming them.
func pushSHA512Blobs(t *testing.T, e *env, repo, layer string) string {
	t.Helper()
	cfg := `{"architecture":"amd64","os":"linux","layer":"` + layer + `"}`
	for _, b := range []string{cfg, layer} {
		wantStatus(t, e.do("POST", "/v2/"+repo+"/blobs/uploads/?digest="+sha512d(b), strings.NewReader(b), nil), 201, "")
	}
	return `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` +
		sha512d(cfg) + `","size":` + itoa(len(cfg)) + `},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"` +
		sha512d(layer) + `","size":` + itoa(len(layer)) + `}]}`
}

// wantManifest checks GET and HEAD of ref answer the manifest man under
// digest.
func wantManifest(t *testing.T, e *env, repo, ref, man, digest string) {
	t.Helper()
	for _, m := range []string{"HEAD", "GET"} {
		resp := e.do(m, "/v2/"+repo+"/manifests/"+ref, nil, map[string]string{"Accept": registry.MediaTypeOCIManifest})
		body := wantStatus(t, resp, 200, "")
		if got := resp.Header.Get("Docker-Content-Digest"); got != digest {
			t.Fatalf("%s %s: Docker-Content-Digest %s, want %s", m, ref, got, digest)
		}
		if resp.Header.Get("Content-Length") != itoa(len(man)) || (m == "GET" && body != man) {
			t.Fatalf("%s %s: length %s body %q", m, ref, resp.Header.Get("Content-Length"), body)
		}
	}
}

// TestPutManifestByTagDigestAlgorithm: a manifest pushed by tag with a
// requested algorithm (digest-type / digest-algorithm = sha512, or the
// expected digest itself in ?digest=) is stored and addressed under its
// sha512 digest, and HEAD/GET by tag answer that digest.
func TestPutManifestByTagDigestAlgorithm(t *testing.T) {
	e := newEnv(t)
	e.createRepo("algo")
	man := pushSHA512Blobs(t, e, "algo", "layer one")
	want := sha512d(man)
	hdr := map[string]string{"Content-Type": registry.MediaTypeOCIManifest}
	for tag, query := range map[string]string{
		"t1": "?digest-type=sha512",
		"t2": "?digest-algorithm=sha512",
		"t3": "?digest=" + url.QueryEscape(want),
	} {
		resp := e.do("PUT", "/v2/algo/manifests/"+tag+query, strings.NewReader(man), hdr)
		wantStatus(t, resp, 201, "")
		if got := resp.Header.Get("Docker-Content-Digest"); got != want {
			t.Fatalf("%s: Docker-Content-Digest %s, want %s", query, got, want)
		}
		if got := resp.Header.Get("Location"); got != "/v2/algo/manifests/"+want {
			t.Fatalf("%s: Location %s", query, got)
		}
		wantManifest(t, e, "algo", tag, man, want)
	}
	wantManifest(t, e, "algo", want, man, want)
	// One image, with the three tags, and no sha256 twin.
	imgs, err := e.reg.DescribeImages(t.Context(), testScope, "algo", nil)
	if err != nil || len(imgs) != 1 || imgs[0].Digest != want || !slices.Equal(imgs[0].Tags, []string{"t1", "t2", "t3"}) {
		t.Fatalf("images %+v %v", imgs, err)
	}
	// Without a request the tag push stays sha256, as before.
	resp := e.do("PUT", "/v2/algo/manifests/plain", strings.NewReader(man), hdr)
	wantStatus(t, resp, 201, "")
	if got := resp.Header.Get("Docker-Content-Digest"); got != sha(man) {
		t.Fatalf("plain push: %s", got)
	}
	// Bad requests change nothing.
	for query, code := range map[string]string{
		"?digest-type=md5":                                    "DIGEST_INVALID",
		"?digest-algorithm=":                                  "DIGEST_INVALID",
		"?digest=" + url.QueryEscape(sha512d("x")):            "DIGEST_INVALID",
		"?digest=sha512:abc":                                  "DIGEST_INVALID",
		"?digest-type=sha256&digest=" + url.QueryEscape(want): "DIGEST_INVALID",
	} {
		wantStatus(t, e.do("PUT", "/v2/algo/manifests/bad"+query, strings.NewReader(man), hdr), 400, code)
	}
	wantStatus(t, e.do("HEAD", "/v2/algo/manifests/bad", nil, nil), 404, "")
	// By digest, a different requested algorithm or digest is a
	// contradiction.
	wantStatus(t, e.do("PUT", "/v2/algo/manifests/"+sha(man)+"?digest-type=sha512", strings.NewReader(man), hdr), 400, "DIGEST_INVALID")
	wantStatus(t, e.do("PUT", "/v2/algo/manifests/"+sha(man)+"?digest="+url.QueryEscape(want), strings.NewReader(man), hdr), 400, "DIGEST_INVALID")
	wantStatus(t, e.do("HEAD", "/v2/algo/manifests/"+sha(man), nil, nil), 200, "") // pushed by the plain tag push above
}

// TestPutManifestByDigestWithTags: PUT /manifests/<digest>?tag=a&tag=b
// (end-7b) stores the manifest and its tags in one transaction and answers
// OCI-Tag for each; on an IMMUTABLE repository a tag that points elsewhere
// fails the whole push.
func TestPutManifestByDigestWithTags(t *testing.T) {
	e := newEnv(t)
	e.createRepo("multi")
	man := pushSHA512Blobs(t, e, "multi", "layer two")
	d := sha512d(man)
	hdr := map[string]string{"Content-Type": registry.MediaTypeOCIManifest}
	resp := e.do("PUT", "/v2/multi/manifests/"+d+"?tag=1.2.3&tag=1.2&tag=latest&tag=1.2", strings.NewReader(man), hdr)
	wantStatus(t, resp, 201, "")
	var got []string
	for _, v := range resp.Header.Values("OCI-Tag") {
		for _, s := range strings.Split(v, ",") {
			got = append(got, strings.TrimSpace(s))
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"1.2", "1.2.3", "latest"}) || resp.Header.Get("Docker-Content-Digest") != d {
		t.Fatalf("headers %v", resp.Header)
	}
	for _, tag := range []string{"1.2.3", "1.2", "latest"} {
		wantManifest(t, e, "multi", tag, man, d)
	}
	// The same again changes nothing and still answers the tags.
	resp = e.do("PUT", "/v2/multi/manifests/"+d+"?tag=latest", strings.NewReader(man), hdr)
	wantStatus(t, resp, 201, "")
	if resp.Header.Get("OCI-Tag") != "latest" {
		t.Fatalf("repeat: %v", resp.Header)
	}
	// sha256 by digest with a tag parameter works the same way.
	resp = e.do("PUT", "/v2/multi/manifests/"+sha(man)+"?tag=s256", strings.NewReader(man), hdr)
	wantStatus(t, resp, 201, "")
	wantManifest(t, e, "multi", "s256", man, sha(man))

	// Invalid tags and too many tags are refused before anything is stored.
	wantStatus(t, e.do("PUT", "/v2/multi/manifests/"+d+"?tag=ok&tag=-bad", strings.NewReader(man), hdr), 400, "TAG_INVALID")
	wantStatus(t, e.do("HEAD", "/v2/multi/manifests/ok", nil, nil), 404, "")
	many := url.Values{}
	for i := range registry.MaxTagsPerPush + 1 {
		many.Add("tag", "t"+itoa(i))
	}
	wantStatus(t, e.do("PUT", "/v2/multi/manifests/"+d+"?"+many.Encode(), strings.NewReader(man), hdr), http.StatusRequestURITooLong, "TAG_INVALID")
	wantStatus(t, e.do("HEAD", "/v2/multi/manifests/t0", nil, nil), 404, "")

	// IMMUTABLE: "latest" exists on another image; the push fails whole.
	e.createRepo("frozen", func(r *registry.Repository) { r.ImageTagMutability = registry.Immutable })
	pushTiny(t, e.reg, "frozen", "latest", "old layer")
	man2 := pushSHA512Blobs(t, e, "frozen", "new layer")
	d2 := sha512d(man2)
	wantStatus(t, e.do("PUT", "/v2/frozen/manifests/"+d2+"?tag=fresh&tag=latest", strings.NewReader(man2), hdr), 400, "TAG_INVALID")
	wantStatus(t, e.do("HEAD", "/v2/frozen/manifests/fresh", nil, nil), 404, "")
	wantStatus(t, e.do("HEAD", "/v2/frozen/manifests/"+d2, nil, nil), 404, "")
	resp = e.do("PUT", "/v2/frozen/manifests/"+d2+"?tag=fresh", strings.NewReader(man2), hdr)
	wantStatus(t, resp, 201, "")
	if resp.Header.Get("OCI-Tag") != "fresh" {
		t.Fatalf("frozen push: %v", resp.Header)
	}
}

// TestAnonymousBlobMount: POST ?mount=<digest> without from mounts the blob
// from a repository of the same registry (account and region) that the
// caller may download from; when there is none, the answer is an upload
// session (202), as the spec allows. Another account's caller mounts only
// from repositories whose policy grants it the layer download.
func TestAnonymousBlobMount(t *testing.T) {
	e := newEnv(t, twoAccounts)
	e.createRepo("src")
	e.createRepo("dst")
	blob := "anonymous mount me"
	for _, d := range []string{sha(blob), sha512d(blob)} {
		wantStatus(t, e.do("POST", "/v2/src/blobs/uploads/?digest="+d, strings.NewReader(blob), nil), 201, "")
		resp := e.do("POST", "/v2/dst/blobs/uploads/?mount="+d, nil, nil)
		wantStatus(t, resp, 201, "")
		if resp.Header.Get("Location") != "/v2/dst/blobs/"+d || resp.Header.Get("Docker-Content-Digest") != d {
			t.Fatalf("mount headers %v", resp.Header)
		}
		if got := wantStatus(t, e.do("GET", "/v2/dst/blobs/"+d, nil, nil), 200, ""); got != blob {
			t.Fatalf("mounted blob %q", got)
		}
	}
	// Nowhere to mount from: an upload session.
	resp := e.do("POST", "/v2/dst/blobs/uploads/?mount="+sha("nowhere"), nil, nil)
	wantStatus(t, resp, 202, "")
	if !strings.HasPrefix(resp.Header.Get("Location"), "/v2/dst/blobs/uploads/") {
		t.Fatalf("fallback Location %q", resp.Header.Get("Location"))
	}
	// A malformed digest is still refused.
	wantStatus(t, e.do("POST", "/v2/dst/blobs/uploads/?mount=sha256:zz", nil, nil), 400, "DIGEST_INVALID")

	// Another account, pushing into "inbox" (its policy allows the upload)
	// of this account: the blob is in "private" (no policy), so it is not
	// mounted; once "shared" grants the download, it is.
	e.createRepo("inbox")
	e.createRepo("private")
	e.createRepo("shared")
	secret := "private layer"
	wantStatus(t, e.do("POST", "/v2/private/blobs/uploads/?digest="+sha(secret), strings.NewReader(secret), nil), 201, "")
	e.setPolicy("inbox", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":["ecr:InitiateLayerUpload","ecr:BatchCheckLayerAvailability"]}}`)
	cross := map[string]string{
		"Host":          testAccount + ".dkr.ecr." + testRegion + ".localhost",
		"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("AWS:"+otherToken)),
	}
	wantStatus(t, e.do("POST", "/v2/inbox/blobs/uploads/?mount="+sha(secret), nil, cross), 202, "")
	wantStatus(t, e.do("HEAD", "/v2/inbox/blobs/"+sha(secret), nil, cross), 404, "")
	wantStatus(t, e.do("POST", "/v2/shared/blobs/uploads/?digest="+sha(secret), strings.NewReader(secret), nil), 201, "")
	e.setPolicy("shared", `{"Statement":{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"ecr:GetDownloadUrlForLayer"}}`)
	wantStatus(t, e.do("POST", "/v2/inbox/blobs/uploads/?mount="+sha(secret), nil, cross), 201, "")
	wantStatus(t, e.do("HEAD", "/v2/inbox/blobs/"+sha(secret), nil, cross), 200, "")
	// The other account's own registry does not see this account's blobs.
	wantStatus(t, e.do("POST", "/v2/inbox/blobs/uploads/?mount="+sha(secret), nil,
		map[string]string{"Authorization": cross["Authorization"]}), 404, "NAME_UNKNOWN")
}

// TestSHA512TagParamDelete is the conformance "tag-param-sha512" data set's
// life cycle: sha512 blobs, manifests pushed by digest with tag parameters,
// then tags, manifests and blobs deleted, each answered 202 and gone at
// once.
func TestSHA512TagParamDelete(t *testing.T) {
	e := newEnv(t)
	e.createRepo("life")
	man := pushSHA512Blobs(t, e, "life", "layer three")
	d := sha512d(man)
	hdr := map[string]string{"Content-Type": registry.MediaTypeOCIManifest}
	wantStatus(t, e.do("PUT", "/v2/life/manifests/"+d+"?tag=life-0&tag=life-1", strings.NewReader(man), hdr), 201, "")
	// The blobs are in use while the image is there.
	cfgDigest := strings.Split(strings.Split(man, `"digest":"`)[1], `"`)[0]
	wantStatus(t, e.do("DELETE", "/v2/life/blobs/"+cfgDigest, nil, nil), 405, "UNSUPPORTED")
	for _, tag := range []string{"life-0", "life-1"} {
		wantStatus(t, e.do("DELETE", "/v2/life/manifests/"+tag, nil, nil), 202, "")
		wantStatus(t, e.do("HEAD", "/v2/life/manifests/"+tag, nil, nil), 404, "")
	}
	// The last tag took the image (ECR); deleting by digest is then a 404.
	wantStatus(t, e.do("DELETE", "/v2/life/manifests/"+d, nil, nil), 404, "MANIFEST_UNKNOWN")
	for _, b := range []string{cfgDigest, sha512d("layer three")} {
		wantStatus(t, e.do("DELETE", "/v2/life/blobs/"+b, nil, nil), 202, "")
		wantStatus(t, e.do("HEAD", "/v2/life/blobs/"+b, nil, nil), 404, "")
	}
}
