package distribution

import (
	"bytes"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/fargo-run/fargo/internal/registry"
)

func TestPushPull(t *testing.T) {
	e := newEnv(t)
	e.createRepo("team/app/web")
	img, err := random.Image(2048, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(e.ref("team/app/web:v1"), img, e.opts()...); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(e.ref("team/app/web:v1"), e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	wantRaw, _ := img.RawManifest()
	gotRaw, err := got.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wantRaw, gotRaw) {
		t.Fatal("manifest bytes differ")
	}
	wd, _ := img.Digest()
	gd, _ := got.Digest()
	if wd != gd {
		t.Fatalf("digest %s, want %s", gd, wd)
	}
	layers, _ := got.Layers()
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, rc) // the verifying reader fails on a digest mismatch
		rc.Close()
	}
	if _, err := got.ConfigFile(); err != nil {
		t.Fatal(err)
	}
}

func TestIndexPush(t *testing.T) {
	e := newEnv(t)
	e.createRepo("multi")
	idx, err := random.Index(512, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(e.ref("multi:latest"), idx, e.opts()...); err != nil {
		t.Fatal(err)
	}
	got, err := remote.Index(e.ref("multi:latest"), e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := idx.Digest()
	gd, _ := got.Digest()
	if wd != gd {
		t.Fatalf("index digest %s, want %s", gd, wd)
	}
	im, _ := got.IndexManifest()
	for _, d := range im.Manifests {
		child, err := got.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := child.ConfigFile(); err != nil {
			t.Fatal(err)
		}
	}
	// DescribeImages: the index's size is its children's.
	imgs, err := e.reg.DescribeImages(t.Context(), testScope, "multi", []registry.ImageID{{Tag: "latest"}})
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, d := range im.Manifests {
		c, _ := e.reg.DescribeImages(t.Context(), testScope, "multi", []registry.ImageID{{Digest: d.Digest.String()}})
		want += c[0].Size
	}
	if imgs[0].Size != want || want == 0 || imgs[0].MediaType != registry.MediaTypeOCIIndex {
		t.Fatalf("index image %+v, want size %d", imgs[0], want)
	}
}

// TestIndexNeedsChildren: an index naming a manifest the repository does
// not have fails (ECR ReferencedImagesNotFound, OCI MANIFEST_BLOB_UNKNOWN).
func TestIndexNeedsChildren(t *testing.T) {
	e := newEnv(t)
	e.createRepo("multi")
	body := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("a", 64) + `","size":10}]}`
	resp := e.do("PUT", "/v2/multi/manifests/x", strings.NewReader(body), map[string]string{"Content-Type": registry.MediaTypeOCIIndex})
	wantStatus(t, resp, 400, "MANIFEST_BLOB_UNKNOWN")
	_, err := e.reg.PutManifest(t.Context(), testScope, "multi", "x", registry.MediaTypeOCIIndex, []byte(body))
	if !errors.Is(err, registry.ErrReferencedImagesNotFound) || !errors.Is(err, registry.ErrManifestBlobUnknown) {
		t.Fatalf("err %v", err)
	}
}

// TestConcurrentPush pushes images sharing their layers from 8 goroutines
// into one repository: all succeed, one file per blob.
func TestConcurrentPush(t *testing.T) {
	e := newEnv(t)
	e.createRepo("shared")
	base, err := random.Image(4096, 4)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- remote.Write(e.ref(fmt.Sprintf("shared:t%d", i)), base, e.opts()...)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	tags, err := remote.List(e.repo("shared"), e.opts()...)
	if err != nil || len(tags) != 8 {
		t.Fatalf("tags %v %v", tags, err)
	}
	layers, _ := base.Layers()
	for _, l := range layers {
		d, _ := l.Digest()
		files, _ := filepath.Glob(filepath.Join(e.dir, "blobs", testAccount, "sha256", "*", d.Hex))
		if len(files) != 1 {
			t.Fatalf("layer %s: %d files", d, len(files))
		}
	}
	if _, err := remote.Image(e.ref("shared:t7"), e.opts()...); err != nil {
		t.Fatal(err)
	}
}

func TestCrossRepoMount(t *testing.T) {
	e := newEnv(t)
	e.createRepo("src")
	e.createRepo("dst")
	img, _ := random.Image(1024, 2)
	if err := remote.Write(e.ref("src:v1"), img, e.opts()...); err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	d, _ := layers[0].Digest()
	// Not in dst yet.
	wantStatus(t, e.do("HEAD", "/v2/dst/blobs/"+d.String(), nil, nil), 404, "")
	resp := e.do("POST", "/v2/dst/blobs/uploads/?mount="+d.String()+"&from=src", nil, nil)
	wantStatus(t, resp, 201, "")
	if resp.Header.Get("Docker-Content-Digest") != d.String() || resp.Header.Get("Location") != "/v2/dst/blobs/"+d.String() {
		t.Fatalf("headers %v", resp.Header)
	}
	wantStatus(t, e.do("HEAD", "/v2/dst/blobs/"+d.String(), nil, nil), 200, "")
	// A blob the source lacks falls back to an upload session.
	missing := "sha256:" + strings.Repeat("0", 64)
	resp = e.do("POST", "/v2/dst/blobs/uploads/?mount="+missing+"&from=src", nil, nil)
	wantStatus(t, resp, 202, "")
	if !strings.HasPrefix(resp.Header.Get("Location"), "/v2/dst/blobs/uploads/") {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	// go-containerregistry mounts when copying between repositories.
	src, err := remote.Image(e.ref("src:v1"), e.opts()...)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(e.ref("dst:v1"), src, e.opts()...); err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Image(e.ref("dst:v1"), e.opts()...); err != nil {
		t.Fatal(err)
	}
}
