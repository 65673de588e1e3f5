package distribution

import (
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/registry"
)

func TestParseRoute(t *testing.T) {
	for _, tc := range []struct {
		path string
		want route
		ok   bool
	}{
		{"/v2/", route{Kind: routeBase}, true},
		{"/v2", route{Kind: routeBase}, true},
		{"/v2/_catalog", route{Kind: routeCatalog}, true},
		{"/v2/team/app/web/manifests/latest", route{routeManifest, "team/app/web", "latest"}, true},
		{"/v2/a/manifests/b/manifests/v1", route{routeManifest, "a/manifests/b", "v1"}, true},
		{"/v2/x/blobs/blobs/uploads/", route{routeUploadStart, "x/blobs", ""}, true},
		{"/v2/ab/blobs/uploads", route{routeUploadStart, "ab", ""}, true},
		{"/v2/ab/blobs/uploads/123", route{routeUpload, "ab", "123"}, true},
		{"/v2/ab/blobs/sha256:00", route{routeBlob, "ab", "sha256:00"}, true},
		{"/v2/ab/tags/list", route{routeTags, "ab", ""}, true},
		{"/v2/ab/tags/manifests/x", route{routeManifest, "ab/tags", "x"}, true},
		{"/v2/ab/referrers/sha256:00", route{routeReferrers, "ab", "sha256:00"}, true},
		{"/v2/ab/tags/other", route{}, false},
		{"/v2/ab/manifests/", route{}, false},
		{"/v2/a/../b/manifests/x", route{}, false},
		{"/v2/../manifests/x", route{}, false},
		{"/v2//manifests/x", route{}, false},
		{"/v2/manifests/x", route{}, false},
		{"/v3/ab/manifests/x", route{}, false},
		{"/v2/ab/blobs/uploads/a/b", route{}, false},
	} {
		got, err := parseRoute(tc.path)
		if (err == nil) != tc.ok || (tc.ok && got != tc.want) {
			t.Errorf("%s: %+v %v, want %+v ok=%v", tc.path, got, err, tc.want, tc.ok)
		}
	}
}

// FuzzParseRoute: never panics; what parses has a valid name and renders
// back to a path that parses to the same route.
func FuzzParseRoute(f *testing.F) {
	for _, s := range []string{"/v2/", "/v2/_catalog", "/v2/a/b/manifests/c", "/v2/ab/blobs/uploads/x",
		"/v2/ab/blobs/sha256:1", "/v2/ab/tags/list", "/v2/ab/referrers/d", "/v2/a/../manifests/x", "/v2/x/blobs/blobs/uploads/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, path string) {
		rt, err := parseRoute(path)
		if err != nil {
			return
		}
		if rt.Kind != routeBase && rt.Kind != routeCatalog {
			if registry.ValidateRepositoryName(rt.Name) != nil || strings.Contains(rt.Name, "..") {
				t.Fatalf("%q: invalid name %q accepted", path, rt.Name)
			}
		}
		again, err := parseRoute(rt.path())
		if err != nil || again != rt {
			t.Fatalf("%q: %+v renders to %q which parses to %+v %v", path, rt, rt.path(), again, err)
		}
	})
}

// FuzzContentRange: a Content-Range header either parses to a start that
// fits the length or is refused, never a panic.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"0-99", "bytes 100-199", "", "5-4", "-1-3", "0-9223372036854775807", "a-b"} {
		f.Add(s, int64(100))
	}
	f.Fuzz(func(t *testing.T, h string, length int64) {
		start, ok, err := parseContentRange(h, length)
		if err == nil && ok && start < 0 {
			t.Fatalf("%q: negative start %d accepted", h, start)
		}
		if h == "" && (ok || err != nil) {
			t.Fatalf("an absent header: ok=%v err=%v", ok, err)
		}
	})
}
