package distribution

import (
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
)

// routeKind is which /v2/ endpoint a path addresses.
type routeKind int

const (
	routeBase        routeKind = iota + 1 // /v2/
	routeCatalog                          // /v2/_catalog
	routeManifest                         // /v2/<name>/manifests/<reference>
	routeBlob                             // /v2/<name>/blobs/<digest>
	routeUploadStart                      // /v2/<name>/blobs/uploads/
	routeUpload                           // /v2/<name>/blobs/uploads/<id>
	routeTags                             // /v2/<name>/tags/list
	routeReferrers                        // /v2/<name>/referrers/<digest>
)

// route is a parsed /v2/ path. Name is a valid repository name (for the
// kinds that have one); Ref is the reference, digest or upload id, as found
// (the handlers validate it).
type route struct {
	Kind routeKind
	Name string
	Ref  string
}

var errRouteNotFound = errdefs.New(errdefs.ErrUnsupported, "The requested URL does not name a registry endpoint")

var routeMarkers = []string{"/manifests/", "/blobs/", "/tags/", "/referrers/"}

// parseRoute splits a decoded URL path. Repository names have any number of
// '/'-separated components, and a component may itself be "manifests" or
// "blobs", so the path splits at the LAST marker: the parts after a marker
// (reference, digest, "uploads/<id>", "list") never contain one.
func parseRoute(path string) (route, error) {
	if path == "/v2" || path == "/v2/" {
		return route{Kind: routeBase}, nil
	}
	rest, ok := strings.CutPrefix(path, "/v2/")
	if !ok {
		return route{}, errRouteNotFound
	}
	if rest == "_catalog" {
		return route{Kind: routeCatalog}, nil
	}
	at, marker := -1, ""
	for _, m := range routeMarkers {
		if i := strings.LastIndex(rest, m); i > at {
			at, marker = i, m
		}
	}
	if at <= 0 {
		return route{}, errRouteNotFound
	}
	name, tail := rest[:at], rest[at+len(marker):]
	var rt route
	switch marker {
	case "/manifests/":
		rt = route{Kind: routeManifest, Ref: tail}
	case "/blobs/":
		switch {
		case tail == "uploads" || tail == "uploads/":
			rt = route{Kind: routeUploadStart}
		case strings.HasPrefix(tail, "uploads/"):
			rt = route{Kind: routeUpload, Ref: tail[len("uploads/"):]}
		default:
			rt = route{Kind: routeBlob, Ref: tail}
		}
	case "/tags/":
		if tail != "list" {
			return route{}, errRouteNotFound
		}
		rt = route{Kind: routeTags}
	case "/referrers/":
		rt = route{Kind: routeReferrers, Ref: tail}
	}
	if rt.Kind != routeUploadStart && rt.Kind != routeTags && (rt.Ref == "" || strings.Contains(rt.Ref, "/")) {
		return route{}, errRouteNotFound
	}
	if err := registry.ValidateRepositoryName(name); err != nil {
		return route{}, err
	}
	rt.Name = name
	return rt, nil
}

// path renders the route back (the inverse of parseRoute).
func (rt route) path() string {
	switch rt.Kind {
	case routeBase:
		return "/v2/"
	case routeCatalog:
		return "/v2/_catalog"
	case routeManifest:
		return "/v2/" + rt.Name + "/manifests/" + rt.Ref
	case routeBlob:
		return "/v2/" + rt.Name + "/blobs/" + rt.Ref
	case routeUploadStart:
		return "/v2/" + rt.Name + "/blobs/uploads/"
	case routeUpload:
		return "/v2/" + rt.Name + "/blobs/uploads/" + rt.Ref
	case routeTags:
		return "/v2/" + rt.Name + "/tags/list"
	case routeReferrers:
		return "/v2/" + rt.Name + "/referrers/" + rt.Ref
	}
	return ""
}
