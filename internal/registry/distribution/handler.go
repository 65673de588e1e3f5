package distribution

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Config is what a Handler is built from.
type Config struct {
	// Auth authenticates /v2/ requests. Required.
	Auth Authenticator
	// Logger receives failed requests and panics (nil: discard).
	Logger *slog.Logger
}

// Handler serves the OCI distribution API under /v2/ over a registry
// (mount it there: it reads the full request path).
type Handler struct {
	reg  *registry.Registry
	auth Authenticator
	log  *slog.Logger
}

// New returns the /v2/ handler of reg.
func New(reg *registry.Registry, cfg Config) (*Handler, error) {
	if reg == nil {
		return nil, errors.New("distribution: a registry is required")
	}
	if cfg.Auth == nil {
		return nil, errors.New("distribution: Config.Auth is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Handler{reg: reg, auth: cfg.Auth, log: cfg.Logger}, nil
}

// request is one authenticated /v2/ request.
type request struct {
	w     http.ResponseWriter
	req   *http.Request
	ctx   context.Context
	scope tenant.Scope
	who   registry.Principal
	rt    route
}

// ServeHTTP implements http.Handler.
func (s *Handler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(req.Context(), "registry handler panic", "method", req.Method, "path", req.URL.Path, "panic", v)
			s.writeError(w, req, errors.New("panic"))
		}
	}()
	who, err := s.auth.Authenticate(req)
	if err != nil {
		if !errors.Is(err, errdefs.ErrPermissionDenied) {
			err = errdefs.New(registry.ErrUnauthenticated, errdefs.Message(err))
		}
		s.writeError(w, req, err)
		return
	}
	scope := s.reg.RequestScope(req.Host, who)
	rt, err := parseRoute(req.URL.Path)
	if err != nil {
		s.writeError(w, req, err)
		return
	}
	q := &request{w: w, req: req, ctx: req.Context(), scope: scope, who: who, rt: rt}
	if err := s.dispatch(q); err != nil {
		var re *registry.RangeError
		if errors.As(err, &re) {
			w.Header().Set("Location", rt.path())
			w.Header().Set("Range", rangeHeader(re.Offset))
		}
		s.writeError(w, req, err)
	}
}

// methods maps each route kind's methods to the ECR action they need, as
// ECR maps them (its CloudTrail events name these actions): GET of a blob
// is a layer download (GetDownloadUrlForLayer), while HEAD of a blob is the
// existence check clients make before uploading it
// (BatchCheckLayerAvailability), so a push-only repository policy needs no
// download right.
var methods = map[routeKind]map[string]string{
	routeBase:        {"GET": "", "HEAD": ""},
	routeCatalog:     {"GET": registry.ActionDescribeRepos},
	routeManifest:    {"GET": registry.ActionPull, "HEAD": registry.ActionPull, "PUT": registry.ActionPush, "DELETE": registry.ActionDelete},
	routeBlob:        {"GET": registry.ActionPullLayer, "HEAD": registry.ActionCheckLayers, "DELETE": registry.ActionDelete},
	routeUploadStart: {"POST": registry.ActionUpload},
	routeUpload:      {"GET": registry.ActionUpload, "PATCH": registry.ActionUpload, "PUT": registry.ActionUpload, "DELETE": registry.ActionUpload},
	routeTags:        {"GET": registry.ActionListImages},
	routeReferrers:   {"GET": registry.ActionPull},
}

func (s *Handler) dispatch(q *request) error {
	action, ok := methods[q.rt.Kind][q.req.Method]
	if !ok {
		return errMethodNotAllowed
	}
	if action != "" {
		if err := s.reg.Authorize(q.ctx, q.who, q.scope, q.rt.Name, action); err != nil {
			return err
		}
	}
	switch q.rt.Kind {
	case routeBase:
		return writeJSON(q, http.StatusOK, "application/json", struct{}{})
	case routeCatalog:
		return s.serveCatalog(q)
	case routeManifest:
		return s.serveManifest(q)
	case routeBlob:
		return s.serveBlob(q)
	case routeUploadStart:
		return s.serveUploadStart(q)
	case routeUpload:
		return s.serveUpload(q)
	case routeTags:
		return s.serveTags(q)
	case routeReferrers:
		return s.serveReferrers(q)
	}
	return errRouteNotFound
}

func writeJSON(q *request, status int, contentType string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	h := q.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", itoa64(int64(len(b))))
	q.w.WriteHeader(status)
	if q.req.Method != http.MethodHead {
		q.w.Write(b)
	}
	return nil
}

// writeEmpty answers with no body.
func writeEmpty(q *request, status int) {
	q.w.Header().Set("Content-Length", "0")
	q.w.WriteHeader(status)
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// truncate keeps what a message quotes of client input short.
func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// rangeHeader renders an upload's progress as "0-<last byte>" ("0-0" when
// empty, as the reference registry does).
func rangeHeader(offset int64) string {
	if offset <= 0 {
		return "0-0"
	}
	return "0-" + itoa64(offset-1)
}

// pageParams reads ?n= and ?last= (n < 0 or not a number: invalid).
func pageParams(q *request) (n int, last string, zero bool, err error) {
	v := q.req.URL.Query()
	last = v.Get("last")
	if s := v.Get("n"); s != "" {
		n, err = strconv.Atoi(s)
		if err != nil || n < 0 {
			return 0, "", false, errdefs.Invalidf("Invalid parameter n='%s': it must be a non-negative integer", truncate(s, 20))
		}
		zero = n == 0
	}
	return n, last, zero, nil
}

// setNextLink adds the RFC 5988 Link header of the next page.
func setNextLink(q *request, path string, n int, last string) {
	v := url.Values{}
	if n > 0 {
		v.Set("n", strconv.Itoa(n))
	}
	v.Set("last", last)
	q.w.Header().Set("Link", "<"+path+"?"+v.Encode()+`>; rel="next"`)
}

func (s *Handler) serveCatalog(q *request) error {
	n, last, zero, err := pageParams(q)
	if err != nil {
		return err
	}
	names, more := []string{}, false
	if !zero {
		if names, more, err = s.reg.ListRepositoryNames(q.ctx, q.scope, last, n); err != nil {
			return err
		}
	}
	if more {
		setNextLink(q, "/v2/_catalog", n, names[len(names)-1])
	}
	return writeJSON(q, http.StatusOK, "application/json", map[string][]string{"repositories": names})
}

func (s *Handler) serveTags(q *request) error {
	n, last, zero, err := pageParams(q)
	if err != nil {
		return err
	}
	tags, more := []string{}, false
	if !zero {
		if tags, more, err = s.reg.ListTags(q.ctx, q.scope, q.rt.Name, last, n); err != nil {
			return err
		}
	} else if _, err := s.reg.GetRepository(q.ctx, q.scope, q.rt.Name); err != nil {
		return err
	}
	if more {
		setNextLink(q, q.rt.path(), n, tags[len(tags)-1])
	}
	return writeJSON(q, http.StatusOK, "application/json", struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{q.rt.Name, tags})
}

func (s *Handler) serveReferrers(q *request) error {
	at := q.req.URL.Query().Get("artifactType")
	descs, err := s.reg.Referrers(q.ctx, q.scope, q.rt.Name, q.rt.Ref, at)
	if err != nil {
		return err
	}
	if at != "" {
		q.w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	return writeJSON(q, http.StatusOK, registry.MediaTypeOCIIndex, struct {
		SchemaVersion int                   `json:"schemaVersion"`
		MediaType     string                `json:"mediaType"`
		Manifests     []registry.Descriptor `json:"manifests"`
	}{2, registry.MediaTypeOCIIndex, descs})
}

// readLimited reads at most limit bytes of body; more is registry.ErrManifestTooLarge.
func readLimited(body io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(body, limit+1))
	if err != nil {
		return nil, errdefs.Newf(errdefs.ErrInvalidArgument, "Reading the request body failed: %v", err)
	}
	if int64(len(b)) > limit {
		return nil, errdefs.Newf(registry.ErrManifestTooLarge, "The manifest exceeds the limit of %d bytes", limit)
	}
	return b, nil
}
