package distribution

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/registry"
)

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

func TestInterruptedUploadLeavesNothing(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	e.createRepo("app")
	full := strings.Repeat("x", 5000)
	// Monolithic upload cut off midway.
	if _, err := e.reg.PutBlob(ctx, testScope, "app", sha(full), 5000, &failingReader{n: 3000}); err == nil {
		t.Fatal("interrupted PutBlob succeeded")
	}
	if _, err := e.reg.StatBlob(ctx, testScope, "app", sha(full)); !errors.Is(err, registry.ErrBlobNotFound) {
		t.Fatalf("stat: %v", err)
	}
	// A chunk cut off midway is rolled back.
	up, err := e.reg.StartUpload(ctx, testScope, "app")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AppendUpload(ctx, testScope, "app", up.ID, 0, strings.NewReader(full[:1000])); err != nil {
		t.Fatal(err)
	}
	if _, err := e.reg.AppendUpload(ctx, testScope, "app", up.ID, 1000, &failingReader{n: 2000}); err == nil {
		t.Fatal("interrupted chunk succeeded")
	}
	st, err := e.reg.UploadStatus(ctx, testScope, "app", up.ID)
	if err != nil || st.Offset != 1000 {
		t.Fatalf("status %+v %v", st, err)
	}
	// Completing the partial upload fails verification: nothing visible.
	if _, err := e.reg.CompleteUpload(ctx, testScope, "app", up.ID, sha(full)); !errors.Is(err, registry.ErrDigestInvalid) {
		t.Fatalf("complete: %v", err)
	}
	// Over HTTP: the client announces 5000 bytes and hangs up after 3000.
	req, _ := newRequest(e, "POST", "/v2/app/blobs/uploads/?digest="+sha(full), io.MultiReader(strings.NewReader(full[:3000]), &failingReader{}))
	req.ContentLength = 5000
	if resp, err := e.srv.Client().Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode < 400 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	wantStatus(t, e.do("HEAD", "/v2/app/blobs/"+sha(full), nil, nil), 404, "")
	files, _ := filepath.Glob(filepath.Join(e.dir, "blobs", "*", "*", "*", "*"))
	if len(files) != 0 {
		t.Fatalf("blob files %v", files)
	}
	// Only the open session's file remains in uploads/.
	entries, _ := os.ReadDir(filepath.Join(e.dir, "uploads"))
	for _, en := range entries {
		if en.Name() != up.ID {
			// The server may still be finishing the aborted request.
			t.Logf("upload dir entry %s", en.Name())
		}
	}
}
