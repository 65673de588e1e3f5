package registry

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestCollectGarbage(t *testing.T) {
	clock := &testClock{t: time.Now()}
	e := newEnv(t, func(c *Config) {
		c.Now = clock.Now
		c.GCGracePeriod = time.Hour
		c.UploadMaxAge = 2 * time.Hour
	})
	ctx := t.Context()
	e.createRepo("app")
	e.createRepo("copy")
	keep := pushTiny(t, e.reg, "app", "keep", "kept layer")
	drop := pushTiny(t, e.reg, "app", "drop", "dropped layer")
	// The same content in another repository of the account: one file.
	if _, err := e.reg.MountBlob(ctx, testScope, "copy", "app", sha("kept layer")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.DeleteImage(ctx, testScope, "app", ImageID{Digest: drop.Image.Digest}); err != nil {
		t.Fatal(err)
	}
	abandoned, err := e.reg.StartUpload(ctx, testScope, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AppendUpload(ctx, testScope, "app", abandoned.ID, 0, strings.NewReader("partial")); err != nil {
		t.Fatal(err)
	}

	// Within the grace period nothing goes.
	stats, err := e.reg.CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats != (GCStats{}) {
		t.Fatalf("early GC %+v", stats)
	}

	clock.Add(3 * time.Hour)
	stats, err = e.reg.CollectGarbage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The dropped image's manifest, config and layer (DeleteImage already
	// removed the manifest's own link).
	if stats.BlobsDeleted != 3 || stats.UploadsDeleted != 1 || stats.LinksDeleted != 2 {
		t.Fatalf("GC %+v", stats)
	}
	if _, err := e.reg.StatBlob(ctx, testScope, "app", sha("dropped layer")); !errors.Is(err, ErrBlobNotFound) {
		t.Fatalf("dropped layer: %v", err)
	}
	if _, err := e.reg.UploadStatus(ctx, testScope, "app", abandoned.ID); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("abandoned upload: %v", err)
	}
	// What is referenced survives, in both repositories.
	if _, _, err := e.reg.GetManifest(ctx, testScope, "app", "keep"); err != nil {
		t.Fatal(err)
	}
	for _, repo := range []string{"app", "copy"} {
		if _, err := e.reg.StatBlob(ctx, testScope, repo, sha("kept layer")); err != nil {
			t.Fatalf("%s: %v", repo, err)
		}
	}
	if keep.Image.Digest == "" {
		t.Fatal("no digest")
	}
	// A second run finds nothing more.
	stats, err = e.reg.CollectGarbage(ctx)
	if err != nil || stats.BlobsDeleted != 0 {
		t.Fatalf("second GC %+v %v", stats, err)
	}
}
