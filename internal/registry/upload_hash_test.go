package registry

import (
	"bytes"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// testBytes returns n pseudo-random bytes (seeded, incompressible).
func testBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	var key [32]byte
	key[0] = byte(seed)
	_, _ = rand.NewChaCha8(key).Read(b)
	return b
}

// startChunks opens a session in repo "hash" and appends chunks through reg.
func startChunks(t *testing.T, reg *Registry, chunks ...[]byte) Upload {
	t.Helper()
	up, err := reg.StartUpload(t.Context(), testScope, "hash")
	if err != nil {
		t.Fatal(err)
	}
	appendChunks(t, reg, up.ID, chunks...)
	return up
}

func appendChunks(t *testing.T, reg *Registry, id string, chunks ...[]byte) {
	t.Helper()
	for _, c := range chunks {
		up, err := reg.UploadStatus(t.Context(), testScope, "hash", id)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.AppendUpload(t.Context(), testScope, "hash", id, up.Offset, bytes.NewReader(c)); err != nil {
			t.Fatal(err)
		}
	}
}

// completeAndRead completes the session with the digest of want and checks
// that the blob holds want.
func completeAndRead(t *testing.T, reg *Registry, id string, want []byte) {
	t.Helper()
	d := sha(string(want))
	if _, err := reg.CompleteUpload(t.Context(), testScope, "hash", id, d); err != nil {
		t.Fatal(err)
	}
	rc, _, err := reg.OpenBlob(t.Context(), testScope, "hash", d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); !bytes.Equal(got, want) {
		t.Fatalf("blob of %d bytes, want %d", len(got), len(want))
	}
	if _, err := os.Stat(reg.hashStatePath(id)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("hash state left after completion: %v", err)
	}
}

// restart returns a new Registry on the same store and data directory, as
// fargo after a restart.
func restart(t *testing.T, reg *Registry) *Registry {
	t.Helper()
	r2, err := New(reg.cfg, reg.st, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r2
}

// A chunked upload is verified from the hash streamed across its requests,
// and across a restart, without reading its file back.
func TestStreamedDigest(t *testing.T) {
	e := newEnv(t)
	e.createRepo("hash")
	a, b, c := testBytes(1, 3<<20+7), testBytes(2, 1000), testBytes(3, 5<<20)
	all := bytes.Join([][]byte{a, b, c}, nil)

	up := startChunks(t, e.reg, a, b)
	r2 := restart(t, e.reg)
	appendChunks(t, r2, up.ID, c)
	// A wrong digest is refused from the streamed state too; the session
	// stays.
	if _, err := r2.CompleteUpload(t.Context(), testScope, "hash", up.ID, sha("other")); !errors.Is(err, ErrDigestInvalid) {
		t.Fatalf("wrong digest: %v", err)
	}
	completeAndRead(t, r2, up.ID, all)
	if n := e.reg.rehashed.Load() + r2.rehashed.Load(); n != 0 {
		t.Fatalf("%d bytes re-read, want 0", n)
	}

	// A monolithic upload hashes its body with the digest's algorithm.
	s := sha512.Sum512(b)
	if _, err := r2.PutBlob(t.Context(), testScope, "hash", "sha512:"+hex.EncodeToString(s[:]), -1, bytes.NewReader(b)); err != nil {
		t.Fatal(err)
	}
	if n := r2.rehashed.Load(); n != 0 {
		t.Fatalf("%d bytes re-read by a monolithic upload", n)
	}

	// Sessions stream sha256 (the algorithm is only known at the end): a
	// sha512 completion reads the file back, and is right.
	up = startChunks(t, r2, a, b)
	ab := append(append([]byte(nil), a...), b...)
	s = sha512.Sum512(ab)
	if _, err := r2.CompleteUpload(t.Context(), testScope, "hash", up.ID, "sha512:"+hex.EncodeToString(s[:])); err != nil {
		t.Fatal(err)
	}
	if n := r2.rehashed.Load(); n != int64(len(ab)) {
		t.Fatalf("sha512 completion re-read %d bytes, want %d", n, len(ab))
	}
}

// When the saved state cannot vouch for the file, the digest comes from
// the file itself: all of it, or the part the state does not cover.
func TestHashStateFallback(t *testing.T) {
	a, b := testBytes(4, 2<<20), testBytes(5, 4097)
	ab := append(append([]byte(nil), a...), b...)
	tail := testBytes(6, 1234)
	rewriteState := func(t *testing.T, reg *Registry, id string, edit func(*hashState)) {
		raw, err := os.ReadFile(reg.hashStatePath(id))
		if err != nil {
			t.Fatal(err)
		}
		var s hashState
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatal(err)
		}
		edit(&s)
		raw, _ = json.Marshal(s)
		if err := os.WriteFile(reg.hashStatePath(id), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, reg *Registry, id string) []byte // returns the file's content
		reread int64
	}{
		{"missing", func(t *testing.T, reg *Registry, id string) []byte {
			os.Remove(reg.hashStatePath(id))
			return ab
		}, int64(len(ab))},
		{"unreadable", func(t *testing.T, reg *Registry, id string) []byte {
			os.WriteFile(reg.hashStatePath(id), []byte("{"), 0o600)
			return ab
		}, int64(len(ab))},
		{"bad hash state", func(t *testing.T, reg *Registry, id string) []byte {
			rewriteState(t, reg, id, func(s *hashState) { s.State = []byte("junk") })
			return ab
		}, int64(len(ab))},
		{"another boot", func(t *testing.T, reg *Registry, id string) []byte {
			rewriteState(t, reg, id, func(s *hashState) { s.Boot = "before-the-crash" })
			return ab
		}, int64(len(ab))},
		{"behind the file (crash mid-chunk)", func(t *testing.T, reg *Registry, id string) []byte {
			f, err := os.OpenFile(reg.uploadPath(id), os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			f.Write(tail)
			f.Close()
			return append(append([]byte(nil), ab...), tail...)
		}, int64(len(tail))},
		{"beyond the file", func(t *testing.T, reg *Registry, id string) []byte {
			if err := os.Truncate(reg.uploadPath(id), int64(len(a))); err != nil {
				t.Fatal(err)
			}
			return a
		}, int64(len(a))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			e.createRepo("hash")
			up := startChunks(t, e.reg, a, b)
			content := tc.damage(t, e.reg, up.ID)
			reg := restart(t, e.reg)
			completeAndRead(t, reg, up.ID, content)
			if n := reg.rehashed.Load(); n != tc.reread {
				t.Fatalf("re-read %d bytes, want %d", n, tc.reread)
			}
		})
	}

	// A chunk after a lost state catches up once, then streams again.
	e := newEnv(t)
	e.createRepo("hash")
	up := startChunks(t, e.reg, a)
	os.Remove(e.reg.hashStatePath(up.ID))
	appendChunks(t, e.reg, up.ID, b, tail)
	completeAndRead(t, e.reg, up.ID, append(append([]byte(nil), ab...), tail...))
	if n := e.reg.rehashed.Load(); n != int64(len(a)) {
		t.Fatalf("re-read %d bytes, want %d", n, len(a))
	}
}

// A failed chunk is rolled back with its hash: the state still matches.
func TestStreamedDigestFailedChunk(t *testing.T) {
	e := newEnv(t)
	e.createRepo("hash")
	a := testBytes(7, 1<<20+3)
	up := startChunks(t, e.reg, a)
	_, err := e.reg.AppendUpload(t.Context(), testScope, "hash", up.ID, int64(len(a)), &failingReader{n: 3 << 20})
	if err == nil {
		t.Fatal("failed chunk accepted")
	}
	completeAndRead(t, e.reg, up.ID, a)
	if n := e.reg.rehashed.Load(); n != 0 {
		t.Fatalf("re-read %d bytes, want 0", n)
	}
}

// Garbage collection takes a session's hash state with it, and removes
// states left without a session.
func TestCollectHashStates(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.UploadMaxAge = time.Hour })
	e.createRepo("hash")
	old := startChunks(t, e.reg, []byte("abandoned"))
	fresh := startChunks(t, e.reg, []byte("in progress"))
	orphan := startChunks(t, e.reg, []byte("committed"))
	os.Remove(e.reg.uploadPath(orphan.ID)) // as after a crash right after the commit
	past := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{e.reg.uploadPath(old.ID), e.reg.hashStatePath(old.ID), e.reg.hashStatePath(orphan.ID)} {
		if err := os.Chtimes(p, past, past); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.reg.CollectGarbage(t.Context()); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{old.ID: false, orphan.ID: false, fresh.ID: true} {
		_, err := os.Stat(e.reg.hashStatePath(id))
		if got := err == nil; got != want {
			t.Errorf("state of %s present %v, want %v (%v)", id, got, want, err)
		}
	}
	completeAndRead(t, e.reg, fresh.ID, []byte("in progress"))
}
