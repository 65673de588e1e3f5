package registry

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// pushTiny pushes a config and one layer and a manifest naming them.
func pushTiny(t *testing.T, r *Registry, repo, ref, layer string) PutManifestResult {
	t.Helper()
	ctx := context.Background()
	cfg := `{"layer":"` + layer + `"}`
	for _, b := range []string{cfg, layer} {
		if _, err := r.PutBlob(ctx, testScope, repo, sha(b), int64(len(b)), strings.NewReader(b)); err != nil {
			t.Fatal(err)
		}
	}
	man := `{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":"` + sha(cfg) + `","size":` + itoa(len(cfg)) + `},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"` + sha(layer) + `","size":` + itoa(len(layer)) + `}]}`
	res, err := r.PutManifest(ctx, testScope, repo, ref, "", []byte(man))
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestECRSemantics(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	r := e.reg
	repo := e.createRepo("team/app")
	if repo.ARN != "arn:aws:ecr:us-east-1:123456789012:repository/team/app" || repo.RegistryID != testAccount || repo.ImageTagMutability != Mutable {
		t.Fatalf("repo %+v", repo)
	}
	if _, err := r.CreateRepository(ctx, testScope, Repository{Name: "team/app"}); !errors.Is(err, ErrRepositoryAlreadyExists) || !errors.Is(err, errdefs.ErrAlreadyExists) {
		t.Fatalf("dup: %v", err)
	}
	if _, err := r.CreateRepository(ctx, testScope, Repository{Name: "a/../b"}); !errors.Is(err, ErrNameInvalid) {
		t.Fatalf("bad name: %v", err)
	}
	e.createRepo("team") // a prefix of team/app: must not see its keys

	first := pushTiny(t, r, "team/app", "v1", "layer-one")
	if !first.ImageCreated || !first.TagChanged || first.Image.MediaType != MediaTypeDockerManifest {
		t.Fatalf("first %+v", first)
	}
	if first.Image.Size != int64(len(`{"layer":"layer-one"}`)+len("layer-one")) {
		t.Fatalf("size %d", first.Image.Size)
	}
	again := pushTiny(t, r, "team/app", "v1", "layer-one")
	if again.Changed() {
		t.Fatalf("re-push changed %+v", again)
	}
	second := pushTiny(t, r, "team/app", "v1", "layer-two") // the tag moves
	if !second.TagChanged || second.PreviousDigest != first.Image.Digest {
		t.Fatalf("move %+v", second)
	}
	pushTiny(t, r, "team/app", "latest", "layer-two")

	ids, err := r.ListImages(ctx, testScope, "team/app", "")
	if err != nil {
		t.Fatal(err)
	}
	want := []ImageID{{Digest: second.Image.Digest, Tag: "latest"}, {Digest: second.Image.Digest, Tag: "v1"}, {Digest: first.Image.Digest}}
	if len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("ListImages %+v", ids)
	}
	if ids, _ := r.ListImages(ctx, testScope, "team/app", TagStatusUntagged); len(ids) != 1 {
		t.Fatalf("untagged %+v", ids)
	}
	if ids, _ := r.ListImages(ctx, testScope, "team", TagStatusAny); len(ids) != 0 {
		t.Fatalf("prefix repo sees %+v", ids)
	}
	imgs, err := r.DescribeImages(ctx, testScope, "team/app", nil)
	if err != nil || len(imgs) != 2 {
		t.Fatalf("describe %+v %v", imgs, err)
	}
	for _, img := range imgs {
		if img.Digest == second.Image.Digest && strings.Join(img.Tags, ",") != "latest,v1" {
			t.Fatalf("tags %v", img.Tags)
		}
	}
	if _, err := r.DescribeImages(ctx, testScope, "team/app", []ImageID{{Tag: "nope"}}); !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("describe unknown: %v", err)
	}

	// Delete by tag: untag; the image goes with its last tag.
	if _, err := r.DeleteImage(ctx, testScope, "team/app", ImageID{Tag: "v1"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.GetManifest(ctx, testScope, "team/app", second.Image.Digest); err != nil {
		t.Fatalf("image went with a tag left: %v", err)
	}
	if _, err := r.DeleteImage(ctx, testScope, "team/app", ImageID{Tag: "latest"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.GetManifest(ctx, testScope, "team/app", second.Image.Digest); !errors.Is(err, ErrImageNotFound) {
		t.Fatalf("image stayed after its last tag: %v", err)
	}
	// Delete by digest removes every tag.
	third := pushTiny(t, r, "team/app", "x", "layer-three")
	pushTiny(t, r, "team/app", "y", "layer-three")
	if _, err := r.DeleteImage(ctx, testScope, "team/app", ImageID{Digest: third.Image.Digest}); err != nil {
		t.Fatal(err)
	}
	if tags, _, _ := r.ListTags(ctx, testScope, "team/app", "", 0); len(tags) != 0 {
		t.Fatalf("tags left %v", tags)
	}

	if _, err := r.DeleteRepository(ctx, testScope, "team/app", false); !errors.Is(err, ErrRepositoryNotEmpty) {
		t.Fatalf("delete non-empty: %v", err)
	}
	if _, err := r.PutImageTagMutability(ctx, testScope, "team/app", "SOMETIMES"); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("mutability: %v", err)
	}
	if rp, err := r.PutImageTagMutability(ctx, testScope, "team/app", Immutable); err != nil || rp.ImageTagMutability != Immutable {
		t.Fatalf("mutability: %+v %v", rp, err)
	}
	if _, err := r.DeleteRepository(ctx, testScope, "team/app", true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GetRepository(ctx, testScope, "team/app"); !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatalf("after delete: %v", err)
	}
	if msg := errdefs.Message(repoNotFound(testScope, "x")); msg != "The repository with name 'x' does not exist in the registry with id '123456789012'" {
		t.Fatal(msg)
	}
	if _, err := r.GetRepository(ctx, testScope, "team"); err != nil {
		t.Fatalf("prefix repo deleted too: %v", err)
	}
}

// failingReader returns n bytes, then an error: a client that went away.
type failingReader struct{ n int }

func (f *failingReader) Read(p []byte) (int, error) {
	if f.n <= 0 {
		return 0, errors.New("connection reset")
	}
	k := min(len(p), f.n)
	for i := range k {
		p[i] = 'x'
	}
	f.n -= k
	return k, nil
}
