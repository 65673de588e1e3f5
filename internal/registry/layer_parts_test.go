package registry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
)

// TestLayerParts drives ECR's part API at the domain level: parts in
// order, a gap, a range that does not match the part, a small part before
// the last, an empty session, a layer already there and a digest mismatch.
func TestLayerParts(t *testing.T) {
	e := newEnv(t)
	e.createRepo("parts")
	ctx := context.Background()
	big := bytes.Repeat([]byte{'x'}, MinLayerPartSize)
	layer := append(append([]byte{}, big...), "tail"...)
	sum := sha256.Sum256(layer)
	digest := "sha256:" + hex.EncodeToString(sum[:])

	up, err := e.reg.StartLayerUpload(ctx, testScope, "parts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.CompleteLayerUpload(ctx, testScope, "parts", up.ID, digest); !errors.Is(err, ErrUploadEmpty) {
		t.Fatalf("empty session: %v", err)
	}
	var pe *LayerPartError
	if _, err := e.reg.UploadLayerPart(ctx, testScope, "parts", up.ID, 0, 10, []byte("abc")); !errors.As(err, &pe) || pe.LastValidByteReceived != -1 || pe.UploadID != up.ID {
		t.Fatalf("range not matching the part: %v %+v", err, pe)
	}
	got, err := e.reg.UploadLayerPart(ctx, testScope, "parts", up.ID, 0, int64(len(big))-1, big)
	if err != nil || got.Offset != int64(len(big)) {
		t.Fatalf("first part: %+v %v", got, err)
	}
	if _, err := e.reg.UploadLayerPart(ctx, testScope, "parts", up.ID, int64(len(big))+1, int64(len(big))+4, []byte("tail")); !errors.As(err, &pe) ||
		!errors.Is(err, ErrLayerPartInvalid) || pe.LastValidByteReceived != int64(len(big))-1 {
		t.Fatalf("gap: %v %+v", err, pe)
	}
	if _, err := e.reg.UploadLayerPart(ctx, testScope, "parts", up.ID, int64(len(big)), int64(len(layer))-1, []byte("tail")); err != nil {
		t.Fatal(err)
	}
	wrong := "sha256:" + hex.EncodeToString(make([]byte, 32))
	if _, err := e.reg.CompleteLayerUpload(ctx, testScope, "parts", up.ID, wrong); !errors.Is(err, ErrLayerDigestMismatch) || !errors.Is(err, ErrDigestInvalid) {
		t.Fatalf("mismatch: %v", err)
	}
	info, err := e.reg.CompleteLayerUpload(ctx, testScope, "parts", up.ID, digest)
	if err != nil || info.Digest != digest || info.Size != int64(len(layer)) {
		t.Fatalf("complete: %+v %v", info, err)
	}

	// The same layer again: refused, and the session discarded.
	up, err = e.reg.StartLayerUpload(ctx, testScope, "parts")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.UploadLayerPart(ctx, testScope, "parts", up.ID, 0, int64(len(layer))-1, layer); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.CompleteLayerUpload(ctx, testScope, "parts", up.ID, digest); !errors.Is(err, ErrLayerAlreadyExists) {
		t.Fatalf("existing layer: %v", err)
	}
	if _, err := e.reg.UploadStatus(ctx, testScope, "parts", up.ID); !errors.Is(err, ErrUploadNotFound) {
		t.Fatalf("session kept after LayerAlreadyExists: %v", err)
	}

	// A small part before the last.
	up, err = e.reg.StartLayerUpload(ctx, testScope, "parts")
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range [][]byte{[]byte("ab"), []byte("cd")} {
		if _, err := e.reg.UploadLayerPart(ctx, testScope, "parts", up.ID, int64(2*i), int64(2*i+1), p); err != nil {
			t.Fatal(err)
		}
	}
	sum = sha256.Sum256([]byte("abcd"))
	if _, err := e.reg.CompleteLayerUpload(ctx, testScope, "parts", up.ID, "sha256:"+hex.EncodeToString(sum[:])); !errors.Is(err, ErrLayerPartTooSmall) {
		t.Fatalf("small part: %v", err)
	}
	if _, err := e.reg.UploadLayerPart(ctx, testScope, "nope", up.ID, 4, 4, []byte("e")); !errors.Is(err, ErrUploadNotFound) && !errors.Is(err, ErrRepositoryNotFound) {
		t.Fatalf("other repository: %v", err)
	}
}

// TestLifecyclePreviewKept checks that a preview is kept per repository
// until the repository goes.
func TestLifecyclePreviewKept(t *testing.T) {
	e := newLCEnv(t)
	e.createRepo("pv")
	ctx := context.Background()
	e.push("pv", "old", 30)
	e.push("pv", "new", 1)
	if _, err := e.reg.GetLifecyclePreview(ctx, testScope, "pv"); !errors.Is(err, ErrLifecyclePreviewNotFound) {
		t.Fatalf("before any preview: %v", err)
	}
	if _, err := e.reg.StartLifecyclePreview(ctx, testScope, "pv", ""); !errors.Is(err, ErrLifecyclePolicyNotFound) {
		t.Fatalf("no text, no policy: %v", err)
	}
	policy := lcPolicy(lcRule(1, `"tagStatus":"untagged","countType":"imageCountMoreThan","countNumber":1`))
	p, err := e.reg.StartLifecyclePreview(ctx, testScope, "pv", policy)
	if err != nil || p.PolicyText != policy || len(e.expired(p.Results)) != 1 || e.expired(p.Results)[0] != "old@1" {
		t.Fatalf("preview: %+v %v", p, err)
	}
	kept, err := e.reg.GetLifecyclePreview(ctx, testScope, "pv")
	if err != nil || kept.PolicyText != policy || len(kept.Results) != 1 {
		t.Fatalf("kept preview: %+v %v", kept, err)
	}
	if _, err := e.reg.DeleteRepository(ctx, testScope, "pv", true); err != nil {
		t.Fatal(err)
	}
	e.createRepo("pv")
	if _, err := e.reg.GetLifecyclePreview(ctx, testScope, "pv"); !errors.Is(err, ErrLifecyclePreviewNotFound) {
		t.Fatalf("preview outlived its repository: %v", err)
	}
}
