package image

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/fargo-run/fargo/internal/errdefs"
)

func TestPullRejectsEscapes(t *testing.T) {
	requireRoot(t)
	outside := t.TempDir() // must stay empty whatever the layer says
	for _, tc := range []struct {
		name    string
		entries []entry
		// wantErr: the layer must be rejected. Otherwise it may unpack,
		// but only inside the layer directory.
		wantErr bool
		// wantIn: on success, the file (relative to the layer) where the
		// write through the symlink must have landed.
		wantIn string
	}{
		{"dotdot", []entry{{name: "../../../../../../../../" + outside + "/pwned", body: "x"}}, true, ""},
		{"nested dotdot", []entry{{name: "a/../../pwned", body: "x"}}, true, ""},
		{"dotdot dir", []entry{{name: "../", typ: tar.TypeDir}}, true, ""},
		{"hardlink out", []entry{{name: "h", typ: tar.TypeLink, link: "../../../../../../../../etc/passwd"}}, true, ""},
		{"whiteout dotdot", []entry{{name: "../.wh.passwd"}}, true, ""},
		{"symlink then write", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: outside},
			{name: "evil/pwned", body: "x"},
		}, false, ""},
		{"relative symlink then write", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: "../../../../../../../../../.." + outside},
			{name: "evil/pwned", body: "x"},
		}, false, ""},
		{"symlink then hardlink", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: "/etc"},
			{name: "h", typ: tar.TypeLink, link: "evil/passwd"},
		}, true, ""}, // resolves to <layer>/etc/passwd, which does not exist
		{"absolute symlink inside", []entry{
			{name: "real/", typ: tar.TypeDir},
			{name: "alias", typ: tar.TypeSymlink, link: "/real"},
			{name: "alias/f", body: "x"},
		}, false, "real/f"},
		{"symlink to outside path that exists inside", []entry{
			{name: strings.TrimPrefix(outside, "/") + "/", typ: tar.TypeDir},
			{name: "evil", typ: tar.TypeSymlink, link: "../../.." + outside},
			{name: "evil/pwned", body: "x"},
		}, false, strings.TrimPrefix(outside, "/") + "/pwned"},
		{"symlink then mkdir", []entry{
			{name: "evil", typ: tar.TypeSymlink, link: outside},
			{name: "evil/sub/", typ: tar.TypeDir},
			{name: "evil/sub/pwned", body: "x"},
		}, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := newRegistry(t, nil)
			_, ref := reg.push(t, "evil", "latest", image(t, v1.Config{}, layer(t, tc.entries...)))
			s := newStore(t, "", nil)
			img, err := s.Pull(t.Context(), ref)
			t.Logf("Pull: %v", err)
			if tc.wantErr && err == nil {
				t.Fatal("Pull succeeded, want the layer rejected")
			}
			if tc.wantIn != "" {
				if err != nil {
					t.Fatalf("Pull: %v", err)
				}
				dir, _ := s.LayerDir(img.Layers[0])
				if got := readFile(t, dir, tc.wantIn); got != "x" {
					t.Errorf("%s = %q", tc.wantIn, got)
				}
			}
			if err != nil && !errors.Is(err, errdefs.ErrInvalidArgument) && !errors.Is(err, errdefs.ErrUnavailable) {
				t.Errorf("error class: %v", err)
			}
			if tc.wantErr {
				if got := dirEntries(t, s.layersDir()); len(got) != 0 {
					t.Errorf("rejected layer published: %v", got)
				}
				if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
					t.Errorf("rejected layer left debris: %v", got)
				}
			}
			if got := dirEntries(t, outside); len(got) != 0 {
				t.Fatalf("wrote outside the layer: %v", got)
			}
			if got := dirEntries(t, filepath.Dir(s.Root())); len(got) != 1 {
				t.Errorf("wrote next to the root: %v", got)
			}
			if _, err := os.Stat("/pwned"); err == nil {
				t.Fatal("wrote /pwned")
			}
		})
	}
}

func TestEntryPath(t *testing.T) {
	for in, want := range map[string]string{
		"a":         "a",
		"./a/b/":    "a/b",
		"/etc/x":    "etc/x",
		"a/../b":    "b",
		"./":        ".",
		"/":         ".",
		"/../x":     "x", // rooted: Clean drops the "..", harmless
		"..":        "",
		"../a":      "",
		"a/../../b": "",
	} {
		got, err := entryPath(in)
		if want == "" {
			if !errors.Is(err, errdefs.ErrInvalidArgument) {
				t.Errorf("entryPath(%q) = %q, %v; want rejection", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("entryPath(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// blobCounter counts blob GETs per digest.
type blobCounter struct {
	mu   sync.Mutex
	gets map[string]int
	on   atomic.Bool
}

func (c *blobCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, d, ok := strings.Cut(r.URL.Path, "/blobs/"); ok && r.Method == http.MethodGet && c.on.Load() {
			c.mu.Lock()
			c.gets[d]++
			c.mu.Unlock()
		}
		h.ServeHTTP(w, r)
	})
}

func TestConcurrentPullsShareLayer(t *testing.T) {
	requireRoot(t)
	counter := &blobCounter{gets: map[string]int{}}
	reg := newRegistry(t, counter.wrap)
	shared, err := random.Layer(1<<20, types.OCILayer)
	if err != nil {
		t.Fatal(err)
	}
	refs := make([]string, 2)
	for i, repo := range []string{"one", "two"} {
		own := layer(t, entry{name: repo, body: repo})
		_, refs[i] = reg.push(t, repo, "latest", image(t, v1.Config{}, shared, own))
	}
	counter.on.Store(true)

	s := newStore(t, "", nil)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := s.Pull(t.Context(), refs[i%2])
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Pull: %v", err)
		}
	}
	if got := s.unpacked.Load(); got != 3 {
		t.Errorf("unpacked %d layers, want 3 (shared once + one per image)", got)
	}
	d, _ := shared.Digest()
	if got := counter.gets[d.String()]; got != 1 {
		t.Errorf("shared blob fetched %d times, want 1", got)
	}
	for dg, n := range counter.gets {
		if n != 1 {
			t.Errorf("blob %s fetched %d times", dg, n)
		}
	}
}

func TestRestartUsesCache(t *testing.T) {
	requireRoot(t)
	var blobGets atomic.Int64
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				blobGets.Add(1)
			}
			h.ServeHTTP(w, r)
		})
	})
	tagRef, digestRef := reg.push(t, "app", "v1", image(t, v1.Config{Cmd: []string{"run"}},
		layer(t, entry{name: "f", body: "x"}), layer(t, entry{name: "g", body: "y"})))
	root := t.TempDir()

	s1 := newStore(t, root, nil)
	first, err := s1.Pull(t.Context(), tagRef)
	if err != nil {
		t.Fatal(err)
	}
	// A second store on the same root is refused while the first lives.
	if _, err := New(Config{Root: root}); !errors.Is(err, errdefs.ErrConflict) {
		t.Errorf("second live store: %v, want conflict", err)
	}
	s1.Close()
	blobGets.Store(0)

	// Debris of an unpack killed half-way.
	debris := filepath.Join(root, "layers", "tmp", "0123456789ab-42")
	if err := os.MkdirAll(filepath.Join(debris, "usr"), 0o755); err != nil {
		t.Fatal(err)
	}
	s2 := newStore(t, root, nil)
	if _, err := os.Stat(debris); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("debris survived New: %v", err)
	}
	again, err := s2.Pull(t.Context(), digestRef)
	if err != nil {
		t.Fatalf("Pull by digest: %v", err)
	}
	if again.Digest != first.Digest || strings.Join(again.Layers, ",") != strings.Join(first.Layers, ",") ||
		again.Config.Cmd[0] != "run" || again.Ref != digestRef {
		t.Errorf("cached image = %+v, first = %+v", again, first)
	}
	if got, err := s2.Lookup(first.Digest); err != nil || got.Digest != first.Digest {
		t.Errorf("Lookup = %+v, %v", got, err)
	}
	if s2.unpacked.Load() != 0 || blobGets.Load() != 0 {
		t.Errorf("a cached pull unpacked %d layers and fetched %d blobs", s2.unpacked.Load(), blobGets.Load())
	}
	// Even by digest, a cached image needs the registry's word.
	reg.srv.Close()
	for _, ref := range []string{tagRef, digestRef} {
		if _, err := s2.Pull(t.Context(), ref); !errors.Is(err, errdefs.ErrUnavailable) {
			t.Errorf("Pull %s with the registry gone = %v, want unavailable", ref, err)
		}
	}
}

// TestPullCachedDigestAuthorized: the cache shares bytes, never access: a
// pull by digest of a cached image is refused when the registry refuses
// the caller, or does not hold that digest in the named repository.
func TestPullCachedDigestAuthorized(t *testing.T) {
	requireRoot(t)
	var deny atomic.Bool
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if deny.Load() && r.URL.Path != "/v2/" {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"not yours"}]}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, digestRef := reg.push(t, "private", "v1", image(t, v1.Config{}, layer(t, entry{name: "f", body: "x"})))
	s := newStore(t, "", nil)
	if _, err := s.Pull(t.Context(), digestRef); err != nil {
		t.Fatal(err)
	}
	deny.Store(true)
	if img, err := s.Pull(t.Context(), digestRef); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("cached digest, registry denies: %+v, %v; want permission denied", img, err)
	}
	deny.Store(false)
	other := strings.Replace(digestRef, "/private@", "/other@", 1)
	if img, err := s.Pull(t.Context(), other); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("cached digest named in another repository: %+v, %v; want not found", img, err)
	}
}

func TestPullBasicAuth(t *testing.T) {
	requireRoot(t)
	const user, pass = "AWS", "ecr-token"
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != user || p != pass {
				w.Header().Set("WWW-Authenticate", `Basic realm="fargo"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	_, ref := reg.push(t, "private", "latest", image(t, v1.Config{}, layer(t, entry{name: "f", body: "x"})),
		remote.WithAuth(&authn.Basic{Username: user, Password: pass}))

	creds := func(u, p string, asked *[]string) Credentials {
		return CredentialsFunc(func(_ context.Context, host string) (authn.Authenticator, error) {
			*asked = append(*asked, host)
			if u == "" {
				return nil, nil
			}
			return &authn.Basic{Username: u, Password: p}, nil
		})
	}
	for _, tc := range []struct {
		name       string
		user, pass string
		wantErr    error
	}{
		{"anonymous", "", "", errdefs.ErrPermissionDenied},
		{"wrong token", user, "expired", errdefs.ErrPermissionDenied},
		{"ecr token", user, pass, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var asked []string
			s := newStore(t, "", func(c *Config) { c.Credentials = creds(tc.user, tc.pass, &asked) })
			_, err := s.Pull(t.Context(), ref)
			if tc.wantErr == nil && err != nil || tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("Pull = %v, want %v", err, tc.wantErr)
			}
			if len(asked) != 1 || asked[0] != reg.host {
				t.Errorf("credentials asked for %v, want [%s]", asked, reg.host)
			}
		})
	}
	// A failing hook fails the pull with its error.
	hookErr := errdefs.Newf(errdefs.ErrPermissionDenied, "no token")
	s := newStore(t, "", func(c *Config) {
		c.Credentials = CredentialsFunc(func(context.Context, string) (authn.Authenticator, error) { return nil, hookErr })
	})
	if _, err := s.Pull(t.Context(), ref); !errors.Is(err, hookErr) {
		t.Errorf("Pull with failing hook = %v", err)
	}
	// A pull's own credentials (the account it pulls for) replace the
	// store's, for that pull only.
	var storeAsked, pullAsked []string
	s = newStore(t, "", func(c *Config) { c.Credentials = creds("", "", &storeAsked) })
	if _, err := s.Pull(t.Context(), ref, WithCredentials(creds(user, pass, &pullAsked))); err != nil {
		t.Fatalf("Pull WithCredentials = %v", err)
	}
	if len(storeAsked) != 0 || len(pullAsked) != 1 {
		t.Errorf("credentials asked: store's %v, the pull's %v; want only the pull's, once", storeAsked, pullAsked)
	}
	if _, err := s.Pull(t.Context(), ref); !errors.Is(err, errdefs.ErrPermissionDenied) {
		t.Errorf("Pull with the store's anonymous credentials after one WithCredentials = %v, want access denied", err)
	}
}

func TestPullErrors(t *testing.T) {
	reg := newRegistry(t, nil)
	_, ref := reg.push(t, "app", "v1", image(t, v1.Config{}, layer(t, entry{name: "f", body: "x"})))
	armOnly := mutate.AppendManifests(empty.Index, mutate.IndexAddendum{
		Add:        imageFor(t, "arm64", v1.Config{}, layer(t, entry{name: "arm"})),
		Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}},
	})
	armRef, err := name.ParseReference(reg.host + "/arm:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(armRef, armOnly); err != nil {
		t.Fatal(err)
	}
	dead := newRegistry(t, nil)
	dead.srv.Close()

	s := newStore(t, "", nil)
	for _, tc := range []struct {
		ref  string
		want error
	}{
		{reg.host + "/nope:latest", errdefs.ErrNotFound},
		{reg.host + "/app:nope", errdefs.ErrNotFound},
		{reg.host + "/app@sha256:" + strings.Repeat("0", 64), errdefs.ErrNotFound},
		{armRef.String(), errdefs.ErrNotFound},
		{dead.host + "/app:v1", errdefs.ErrUnavailable},
		{"UPPER/case:tag", errdefs.ErrInvalidArgument},
		{reg.host + "/app@sha256:short", errdefs.ErrInvalidArgument},
	} {
		_, err := s.Pull(t.Context(), tc.ref)
		if !errors.Is(err, tc.want) {
			t.Errorf("Pull(%s) = %v, want %v", tc.ref, err, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.ref) {
			t.Errorf("error %q does not name the reference", err)
		}
		t.Logf("%s: %v", tc.ref, err)
	}
	if os.Geteuid() == 0 { // unpacking chowns
		if _, err := s.Pull(t.Context(), ref); err != nil {
			t.Errorf("Pull of a good image after failures: %v", err)
		}
	}
}

func TestPullIndexPicksPlatform(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	amd := imageFor(t, "amd64", v1.Config{Cmd: []string{"amd64"}}, layer(t, entry{name: "arch", body: "amd64"}))
	arm := imageFor(t, "arm64", v1.Config{Cmd: []string{"arm64"}}, layer(t, entry{name: "arch", body: "arm64"}))
	idx := mutate.AppendManifests(empty.Index,
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	ref, err := name.ParseReference(reg.host + "/multi:latest")
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.WriteIndex(ref, idx); err != nil {
		t.Fatal(err)
	}
	idxDigest, _ := idx.Digest()
	amdDigest, _ := amd.Digest()

	for _, tc := range []struct{ platform, want string }{{"linux/amd64", "amd64"}, {"linux/arm64", "arm64"}} {
		s := newStore(t, "", func(c *Config) { c.Platform = tc.platform })
		img, err := s.Pull(t.Context(), ref.String())
		if err != nil {
			t.Fatal(err)
		}
		if img.Digest != idxDigest.String() || img.Config.Cmd[0] != tc.want || img.Platform != tc.platform {
			t.Errorf("%s: image = %+v", tc.platform, img)
		}
		if tc.want == "amd64" && img.Manifest != amdDigest.String() {
			t.Errorf("manifest = %s, want %s", img.Manifest, amdDigest)
		}
		dir, _ := s.LayerDir(img.Layers[0])
		if got := readFile(t, dir, "arch"); got != tc.want {
			t.Errorf("%s: layer content %q", tc.platform, got)
		}
		// The index digest is cached: pulling by it asks only for the manifest.
		if _, err := s.Pull(t.Context(), reg.host+"/multi@"+idxDigest.String()); err != nil {
			t.Error(err)
		}
	}
}

// TestPullCorruptBlob: a blob whose bytes do not match its digest is
// rejected and leaves nothing that looks like a layer.
func TestPullCorruptBlob(t *testing.T) {
	requireRoot(t)
	var corrupt atomic.Bool
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if corrupt.Load() && strings.Contains(r.URL.Path, "/blobs/") && r.Method == http.MethodGet {
				w = &flipWriter{ResponseWriter: w}
			}
			h.ServeHTTP(w, r)
		})
	})
	l := layer(t, entry{name: "f", body: strings.Repeat("data", 1000)})
	_, ref := reg.push(t, "app", "v1", image(t, v1.Config{}, l))
	s := newStore(t, "", nil)
	corrupt.Store(true)
	if _, err := s.Pull(t.Context(), ref); !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("Pull of corrupt blob = %v, want unavailable", err)
	}
	if got := dirEntries(t, s.layersDir()); len(got) != 0 {
		t.Errorf("corrupt layer published: %v", got)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("corrupt layer left debris: %v", got)
	}
	if got := dirEntries(t, s.recordDir()); len(got) != 0 {
		t.Errorf("record written: %v", got)
	}
	corrupt.Store(false)
	if _, err := s.Pull(t.Context(), ref); err != nil {
		t.Fatalf("Pull after repair: %v", err)
	}
}

// flipWriter corrupts the last byte of the body it writes.
type flipWriter struct{ http.ResponseWriter }

func (f *flipWriter) Write(p []byte) (int, error) {
	// Corrupt every write's final byte: the blob's digest can not match.
	q := append([]byte(nil), p...)
	if len(q) > 0 {
		q[len(q)-1] ^= 0xff
	}
	return f.ResponseWriter.Write(q)
}

func TestGC(t *testing.T) {
	requireRoot(t)
	reg := newRegistry(t, nil)
	shared := layer(t, entry{name: "shared", body: "s"})
	onlyA := layer(t, entry{name: "a", body: "a"})
	onlyB := layer(t, entry{name: "b", body: "b"})
	onlyC := layer(t, entry{name: "c", body: "c"})
	_, refA := reg.push(t, "a", "v1", image(t, v1.Config{}, shared, onlyA))
	_, refB := reg.push(t, "b", "v1", image(t, v1.Config{}, shared, onlyB))
	_, refC := reg.push(t, "c", "v1", image(t, v1.Config{}, onlyC))
	root := t.TempDir()
	checkMounts(t, root)
	s := newStore(t, root, nil)
	imgs := map[string]*Image{}
	for _, ref := range []string{refA, refB, refC} {
		img, err := s.Pull(t.Context(), ref)
		if err != nil {
			t.Fatal(err)
		}
		imgs[ref] = img
	}
	// C is dropped but mounted: its layer stays until it is unmounted.
	if _, err := s.Mount(t.Context(), imgs[refC], "uses-c"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unmount(t.Context(), "uses-c") })

	keepA := func(d string) bool { return d == imgs[refA].Digest }
	res, err := s.GC(t.Context(), keepA)
	if err != nil {
		t.Fatal(err)
	}
	dB, _ := onlyB.DiffID()
	if len(res.Images) != 2 || len(res.Layers) != 1 || res.Layers[0] != dB.String() {
		t.Errorf("GC = %+v, want images B and C, layer %s", res, dB)
	}
	for _, l := range imgs[refA].Layers {
		if _, ok := s.LayerDir(l); !ok {
			t.Errorf("kept layer %s removed", l)
		}
	}
	if _, err := s.Lookup(imgs[refB].Digest); !errors.Is(err, errdefs.ErrNotFound) {
		t.Errorf("Lookup dropped image = %v", err)
	}
	if err := s.Unmount(t.Context(), "uses-c"); err != nil {
		t.Fatal(err)
	}
	res, err = s.GC(t.Context(), keepA)
	if err != nil {
		t.Fatal(err)
	}
	dC, _ := onlyC.DiffID()
	if len(res.Layers) != 1 || res.Layers[0] != dC.String() {
		t.Errorf("second GC = %+v, want layer %s", res, dC)
	}
	if got := len(dirEntries(t, s.layersDir())); got != 2 {
		t.Errorf("%d layers left, want 2", got)
	}
	// A dropped image pulls again.
	if _, err := s.Pull(t.Context(), refB); err != nil {
		t.Fatal(err)
	}
}

func TestPullCancelled(t *testing.T) {
	requireRoot(t)
	l := layer(t, entry{name: "f", body: "x"})
	ld, _ := l.Digest()
	release, held := make(chan struct{}), make(chan struct{}, 1)
	reg := newRegistry(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasSuffix(r.URL.Path, "/blobs/"+ld.String()) && r.Method == http.MethodGet {
				select {
				case held <- struct{}{}:
					<-release // hold the first download of the layer
				default:
				}
			}
			h.ServeHTTP(w, r)
		})
	})
	_, ref := reg.push(t, "slow", "v1", image(t, v1.Config{}, l))
	s := newStore(t, "", nil)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { _, err := s.Pull(ctx, ref); errc <- err }()
	<-held
	cancel()
	err := <-errc
	close(release)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Pull = %v, want context.Canceled", err)
	}
	// The flight may still be winding down; once it has, nothing is left.
	if _, err := s.Pull(t.Context(), ref); err != nil {
		t.Fatalf("Pull after cancel: %v", err)
	}
	if got := dirEntries(t, s.tmpDir()); len(got) != 0 {
		t.Errorf("debris: %v", got)
	}
}
