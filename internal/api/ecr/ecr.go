// Package ecr is the thin ECR adapter of the API front door: it decodes the
// awsJson1_1 shapes of internal/api/ecrwire, calls internal/registry (the
// same registry docker, crane and skopeo reach at /v2/), and converts answers
// and errors back. Every error, the registry's and those of the adapter's
// own request checks (errdefs classes with ECR's messages, and a few
// adapter sentinels), is mapped to an ECR code exactly once, in mapError.
// What ECR keeps between calls (the part sizes of layer uploads, lifecycle
// policy previews) is the registry's, not the adapter's.
//
//	aws ecr ... ──► api.Router (SigV4: account, region) ──► Adapter.op
//	                                                         │ target(): registryId ≠ caller?
//	                                                         │   └─► Registry.Authorize (repository policy)
//	                                                         ▼
//	                                              registry.Registry (store + blobs)
//
// # Registry hosts and repository URIs
//
// The /v2/ registry selects the account from the Host header:
// <account>.dkr.ecr.<region>.localhost:<port> names one, and a plain host
// (localhost:<port>, 127.0.0.1:<port>) means the account of the token the
// client logged in with, in the server's default region. glibc resolves
// *.localhost only with nss-myhostname, and Go programs (skopeo, crane, the
// ECS agent) do not resolve it at all, so repositoryUri uses the plain
// form, localhost:<port>/<name>, for every account's repositories in the
// default region, and the account form only for other regions.
//
// # Image scanning
//
// fargo has no vulnerability database. scanOnPush is stored and echoed, a
// warning is logged when it is turned on, DescribeImages reports
// imageScanStatus UNSUPPORTED_IMAGE for such repositories, StartImageScan
// answers ValidationException (AWS's answer when on-demand scanning is not
// available for a registry) and DescribeImageScanFindings
// ScanNotFoundException. Nothing ever reports COMPLETE.
package ecr

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/auth"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Config is what the ECR adapter is built from.
type Config struct {
	// Registry holds repositories and images. Required.
	Registry *registry.Registry
	// Tokens mints the passwords GetAuthorizationToken returns. Required.
	Tokens *auth.TokenIssuer
	// RegistryHost returns the host:port clients reach /v2/ at, e.g.
	// "localhost:4566" (known once the listener is bound). Required.
	RegistryHost func() string
	// DefaultRegion is the region a plain registry host (no
	// <account>.dkr.ecr.<region>. prefix) means. Required.
	DefaultRegion string
	// Logger receives the adapter's warnings (nil: discard).
	Logger *slog.Logger
}

// Adapter serves the ECR API over a registry.
type Adapter struct {
	cfg Config
	reg *registry.Registry
	log *slog.Logger
}

// New returns the ECR service description for the router.
func New(cfg Config) *api.JSONService {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Adapter{cfg: cfg, reg: cfg.Registry, log: cfg.Logger}
	return &api.JSONService{
		Name:         w.SigningName,
		TargetPrefix: w.TargetPrefix,
		JSONVersion:  w.JSONVersion,
		MessageKey:   "message",
		BodyLimits: map[string]int64{
			// A part is at most 20 MiB, base64 in JSON: the router's cap
			// (Config.MaxBodyBytes) is the limit.
			"UploadLayerPart": math.MaxInt64,
			// A 4 MiB manifest as a JSON string: room for escaping
			// (\" and \uXXXX) up to 3 bytes a byte; the registry then
			// refuses a manifest over 4 MiB (LimitExceededException).
			"PutImage": 3*registry.DefaultMaxManifestBytes + 64<<10,
		},
		Known: func(op string) bool {
			_, ok := w.Operations[op]
			return ok
		},
		Handlers: map[string]api.Handler{
			"GetAuthorizationToken":         api.JSON(a.getAuthorizationToken),
			"CreateRepository":              api.JSON(a.createRepository),
			"DescribeRepositories":          api.JSON(a.describeRepositories),
			"DeleteRepository":              api.JSON(a.deleteRepository),
			"PutImageTagMutability":         api.JSON(a.putImageTagMutability),
			"PutImageScanningConfiguration": api.JSON(a.putImageScanningConfiguration),
			"TagResource":                   api.JSON(a.tagResource),
			"UntagResource":                 api.JSON(a.untagResource),
			"ListTagsForResource":           api.JSON(a.listTagsForResource),
			"PutImage":                      api.JSON(a.putImage),
			"BatchGetImage":                 api.JSON(a.batchGetImage),
			"BatchDeleteImage":              api.JSON(a.batchDeleteImage),
			"ListImages":                    api.JSON(a.listImages),
			"DescribeImages":                api.JSON(a.describeImages),
			"StartImageScan":                api.JSON(a.startImageScan),
			"DescribeImageScanFindings":     api.JSON(a.describeImageScanFindings),
			"BatchCheckLayerAvailability":   api.JSON(a.batchCheckLayerAvailability),
			"InitiateLayerUpload":           api.JSON(a.initiateLayerUpload),
			"UploadLayerPart":               api.JSON(a.uploadLayerPart),
			"CompleteLayerUpload":           api.JSON(a.completeLayerUpload),
			"GetDownloadUrlForLayer":        api.JSON(a.getDownloadURLForLayer),
			"SetRepositoryPolicy":           api.JSON(a.setRepositoryPolicy),
			"GetRepositoryPolicy":           api.JSON(a.getRepositoryPolicy),
			"DeleteRepositoryPolicy":        api.JSON(a.deleteRepositoryPolicy),
			"PutLifecyclePolicy":            api.JSON(a.putLifecyclePolicy),
			"GetLifecyclePolicy":            api.JSON(a.getLifecyclePolicy),
			"DeleteLifecyclePolicy":         api.JSON(a.deleteLifecyclePolicy),
			"StartLifecyclePolicyPreview":   api.JSON(a.startLifecyclePolicyPreview),
			"GetLifecyclePolicyPreview":     api.JSON(a.getLifecyclePolicyPreview),
		},
		MapError: mapError,
	}
}

// The adapter's own sentinels, for ECR codes that belong to its wire
// checks rather than to the registry. Like the registry's, they carry an
// errdefs class and are answered by mapError.
var (
	// errTooManyTags: TooManyTagsException.
	errTooManyTags = errdefs.New(errdefs.ErrLimitExceeded, "too many tags")
	// errInvalidTag: InvalidTagParameterException.
	errInvalidTag = errdefs.New(errdefs.ErrInvalidArgument, "invalid tag")
	// errImageDigestMismatch: ImageDigestDoesNotMatchException.
	errImageDigestMismatch = errdefs.New(errdefs.ErrInvalidArgument, "image digest does not match")
	// errScanNotFound: ScanNotFoundException (fargo never scans).
	errScanNotFound = errdefs.New(errdefs.ErrNotFound, "scan not found")
)

// mapError maps registry and adapter errors to ECR error codes, most
// specific first. It is the only place the adapter names an error code.
func mapError(err error) *api.Error {
	msg := errdefs.Message(err)
	code := ""
	var partErr *registry.LayerPartError
	switch {
	case errors.As(err, &partErr):
		return &api.Error{Code: "InvalidLayerPartException", Message: partErr.Message, Fields: map[string]any{
			"registryId": partErr.RegistryID, "repositoryName": partErr.Repository, "uploadId": partErr.UploadID,
			"lastValidByteReceived": partErr.LastValidByteReceived}}
	case errors.Is(err, errTooManyTags):
		code = "TooManyTagsException"
	case errors.Is(err, errInvalidTag):
		code = "InvalidTagParameterException"
	case errors.Is(err, errImageDigestMismatch):
		code = "ImageDigestDoesNotMatchException"
	case errors.Is(err, errScanNotFound):
		code = "ScanNotFoundException"
	case errors.Is(err, registry.ErrUploadEmpty):
		code = "EmptyUploadException"
	case errors.Is(err, registry.ErrLayerPartTooSmall):
		code = "LayerPartTooSmallException"
	case errors.Is(err, registry.ErrLayerAlreadyExists):
		code = "LayerAlreadyExistsException"
	case errors.Is(err, registry.ErrLayerDigestMismatch):
		code = "InvalidLayerException"
	case errors.Is(err, registry.ErrRepositoryPolicyNotFound):
		code = "RepositoryPolicyNotFoundException"
	case errors.Is(err, registry.ErrLifecyclePreviewNotFound):
		code = "LifecyclePolicyPreviewNotFoundException"
	case errors.Is(err, registry.ErrRepositoryNotFound):
		code = "RepositoryNotFoundException"
	case errors.Is(err, registry.ErrLifecyclePolicyNotFound):
		code = "LifecyclePolicyNotFoundException"
	case errors.Is(err, registry.ErrRepositoryAlreadyExists):
		code = "RepositoryAlreadyExistsException"
	case errors.Is(err, registry.ErrRepositoryNotEmpty):
		code = "RepositoryNotEmptyException"
	case errors.Is(err, registry.ErrImageNotFound):
		code = "ImageNotFoundException"
	case errors.Is(err, registry.ErrImageAlreadyExists):
		code = "ImageAlreadyExistsException"
	case errors.Is(err, registry.ErrTagImmutable):
		code = "ImageTagAlreadyExistsException"
	case errors.Is(err, registry.ErrReferencedImagesNotFound):
		code = "ReferencedImagesNotFoundException"
	case errors.Is(err, registry.ErrManifestBlobUnknown):
		code = "LayersNotFoundException"
	case errors.Is(err, registry.ErrUploadNotFound):
		code = "UploadNotFoundException"
	case errors.Is(err, registry.ErrBlobNotFound):
		code = "LayersNotFoundException"
	case errors.Is(err, registry.ErrManifestTooLarge), errors.Is(err, errdefs.ErrLimitExceeded):
		code = "LimitExceededException"
	case errors.Is(err, registry.ErrUnauthenticated), errors.Is(err, errdefs.ErrPermissionDenied):
		// ECR answers cross-account calls that no repository policy allows
		// with AccessDeniedException (not in the model's error lists, but
		// every AWS JSON service can return it).
		code = "AccessDeniedException"
	case errors.Is(err, errdefs.ErrInvalidArgument):
		code = "InvalidParameterException"
	case errors.Is(err, errdefs.ErrNotFound):
		code = "RepositoryNotFoundException"
	case errors.Is(err, errdefs.ErrAlreadyExists), errors.Is(err, errdefs.ErrConflict):
		code = "InvalidParameterException"
	case errors.Is(err, errdefs.ErrUnsupported):
		code = "ValidationException"
	case errors.Is(err, errdefs.ErrUnavailable):
		return &api.Error{Code: "ServerException", Message: msg, Status: http.StatusInternalServerError}
	default:
		return nil
	}
	return &api.Error{Code: code, Message: msg}
}

// registryIDRE is the model's pattern of registryId.
var registryIDRE = regexp.MustCompile(`^[0-9]{12}$`)

// target returns the scope an operation acts in: the caller's own, or that
// of another account named by registryId, which only a repository policy of
// that account can open (Registry.Authorize).
func (a *Adapter) target(ctx context.Context, req *api.Request, registryID *string, repo, action string) (tenant.Scope, error) {
	if registryID == nil || *registryID == req.Scope.Account {
		return req.Scope, nil
	}
	if !registryIDRE.MatchString(*registryID) {
		return tenant.Scope{}, invalidParam("registryId", "must satisfy regular expression '[0-9]{12}'")
	}
	scope := tenant.Scope{Account: *registryID, Region: req.Scope.Region}
	if err := a.reg.Authorize(ctx, registry.Principal{Account: req.Scope.Account}, scope, repo, action); err != nil {
		return tenant.Scope{}, err
	}
	return scope, nil
}

// host is the registry host through which caller reaches scope's
// repositories: the plain host for the caller's own account in the default
// region (the token names the account), the account form otherwise.
func (a *Adapter) host(caller string, scope tenant.Scope) string {
	h := a.cfg.RegistryHost()
	if scope.Region == a.cfg.DefaultRegion && scope.Account == caller {
		return h
	}
	_, port, err := net.SplitHostPort(h)
	if err != nil {
		return scope.Account + ".dkr.ecr." + scope.Region + ".localhost"
	}
	return net.JoinHostPort(scope.Account+".dkr.ecr."+scope.Region+".localhost", port)
}

// repoURI is "<host>/<name>".
func (a *Adapter) repoURI(caller string, scope tenant.Scope, name string) string {
	return a.host(caller, scope) + "/" + name
}

// invalidParam is ECR's InvalidParameterException for a member that fails
// a constraint.
func invalidParam(member, constraint string) error {
	return errdefs.Invalidf("Invalid parameter at '%s' failed to satisfy constraint: '%s'", member, constraint)
}

// repoNameConstraint is the constraint ECR quotes for a bad repository name,
// in ECR's wording. The expression quoted is the one fargo applies, the
// model's RepositoryName pattern (registry.RepositoryNamePattern): older
// AWS answers quote a stricter one, without "__" and runs of "-", that the
// model (and CreateRepository) no longer applies, and a message must not
// state a rule other than the one enforced.
const repoNameConstraint = "must satisfy regular expression '" + registry.RepositoryNamePattern + "'"

// repoName validates a repository name as ECR does.
func repoName(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", invalidParam("repositoryName", "Member must not be null")
	}
	n := *p
	if len(n) < 2 || len(n) > 256 {
		return "", invalidParam("repositoryName", "Member must have length between 2 and 256")
	}
	if registry.ValidateRepositoryName(n) != nil {
		return "", invalidParam("repositoryName", repoNameConstraint)
	}
	return n, nil
}

// maxResults checks an optional maxResults against [1, max] and returns it
// or def.
func maxResults(p *int32, max, def int) (int, error) {
	if p == nil {
		return def, nil
	}
	if *p < 1 {
		return 0, invalidParam("maxResults", "Member must have value greater than or equal to 1")
	}
	if int(*p) > max {
		return 0, invalidParam("maxResults", "Member must have value less than or equal to "+strconv.Itoa(max))
	}
	return int(*p), nil
}

// paginate returns the page of n items after the position the token names
// (the first page without one), in the order of their keys, and the token
// of the next page (nil at the end). Tokens hold the key of a page's last
// item (see package paging), so they stay valid while the list changes; one
// that does not decode is an InvalidParameterException.
func paginate[T any](list string, items []T, key func(T) string, n int, token *string) ([]T, *string, error) {
	page, next, err := paging.Slice(items, key, paging.Page{List: "ecr." + list, Limit: n, Token: wire.ToString(token)})
	if err != nil {
		return nil, nil, invalidParam("nextToken", "The token is invalid or expired")
	}
	if next == "" {
		return page, nil, nil
	}
	return page, &next, nil
}

// now is the adapter's clock (for scan and preview timestamps).
func now() time.Time { return time.Now().UTC() }
