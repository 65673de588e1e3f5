package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Defaults of Config.
const (
	DefaultMaxManifestBytes = 4 << 20
	DefaultGCGracePeriod    = time.Hour
	DefaultUploadMaxAge     = 24 * time.Hour
)

// Config configures a Registry. Zero values take the documented defaults.
type Config struct {
	// DataDir holds blobs (DataDir/blobs) and in-progress uploads
	// (DataDir/uploads). Required.
	DataDir string
	// DefaultScope is the region of requests whose Host does not name one
	// (<account>.dkr.ecr.<region>.localhost), and their account when the
	// principal has none; otherwise a plain host means the principal's
	// own account. Required.
	DefaultScope tenant.Scope
	// MaxManifestBytes caps manifest size (default 4 MiB, as ECR).
	MaxManifestBytes int64
	// Authorizer decides whether a principal may act on a repository;
	// default PolicyAuthorizer (repository policies).
	Authorizer Authorizer
	// GCGracePeriod protects blobs and links younger than this from garbage
	// collection even when no image references them yet (a push in flight
	// uploads layers before its manifest). Default 1 h.
	GCGracePeriod time.Duration
	// UploadMaxAge is the age after which an upload session that has not
	// been written to is abandoned and collected. Default 24 h.
	UploadMaxAge time.Duration
	// Now is the clock; nil means time.Now. Tests move it.
	Now func() time.Time
}

// Principal is who a request acts as.
type Principal struct {
	Account string // 12-digit account id
}

// Registry actions passed to Authorizer.Authorize, named after the ECR IAM
// actions that guard the same operations.
const (
	ActionPull          = "ecr:BatchGetImage"
	ActionPullLayer     = "ecr:GetDownloadUrlForLayer"
	ActionPush          = "ecr:PutImage"
	ActionUpload        = "ecr:InitiateLayerUpload"
	ActionDelete        = "ecr:BatchDeleteImage"
	ActionListImages    = "ecr:ListImages"
	ActionDescribeRepos = "ecr:DescribeRepositories"
	ActionCheckLayers   = "ecr:BatchCheckLayerAvailability"
)

// Authorizer decides whether principal may perform action on repo in scope
// (repo is "" for registry-wide actions such as the catalog). It returns nil
// or an errdefs.ErrPermissionDenied error.
type Authorizer interface {
	Authorize(ctx context.Context, p Principal, scope tenant.Scope, repo, action string) error
}

// SameAccount is an Authorizer that ignores repository policies: a
// principal may do anything in its own account and nothing in another one.
type SameAccount struct{}

// Authorize implements Authorizer.
func (SameAccount) Authorize(_ context.Context, p Principal, scope tenant.Scope, repo, action string) error {
	if p.Account == scope.Account {
		return nil
	}
	return errdefs.Newf(ErrDenied, "User in account '%s' is not authorized to perform: %s on resource: %s because no resource-based policy allows the %s action",
		p.Account, action, scope.ARN("ecr", "repository/"+repo), action)
}

// Registry is the OCI registry with ECR semantics. Its domain methods are
// safe for concurrent use and scope-aware; package distribution serves them
// as /v2/.
type Registry struct {
	cfg  Config
	st   store.Store
	log  *slog.Logger
	now  func() time.Time
	auth Authorizer

	blobsDir   string
	uploadsDir string

	// gcMu orders garbage collection against everything that creates a
	// reference to a blob file (upload commit, mount, manifest put): those
	// hold it shared across "file exists" + "store link" so the sweep,
	// which holds it exclusively, never deletes a file that just gained a
	// reference. See gc.go.
	gcMu sync.RWMutex
	// uploadLocks serializes writers of one upload session.
	uploadLocks sync.Map // id -> *sync.Mutex
	// rehashed counts the upload bytes read back to compute a digest the
	// streamed hash state could not vouch for (upload_hash.go); tests
	// watch it.
	rehashed atomic.Int64
	// cache serves GetImage's reads (readcache.go).
	cache readCache
	// parts are the part sizes of ECR layer uploads (layer_parts.go).
	parts layerParts
	// previews are the lifecycle policy previews (lifecycle_preview.go).
	previews lifecyclePreviews
}

// New returns a Registry storing metadata in st and content under
// cfg.DataDir.
func New(cfg Config, st store.Store, log *slog.Logger) (*Registry, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("registry: Config.DataDir is required")
	}
	if cfg.DefaultScope.Account == "" || cfg.DefaultScope.Region == "" {
		return nil, errors.New("registry: Config.DefaultScope is required")
	}
	if st == nil {
		return nil, errors.New("registry: a store is required")
	}
	if cfg.MaxManifestBytes <= 0 {
		cfg.MaxManifestBytes = DefaultMaxManifestBytes
	}
	if cfg.GCGracePeriod <= 0 {
		cfg.GCGracePeriod = DefaultGCGracePeriod
	}
	if cfg.UploadMaxAge <= 0 {
		cfg.UploadMaxAge = DefaultUploadMaxAge
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Registry{
		cfg:        cfg,
		st:         st,
		log:        log,
		now:        cfg.Now,
		auth:       cfg.Authorizer,
		blobsDir:   filepath.Join(cfg.DataDir, "blobs"),
		uploadsDir: filepath.Join(cfg.DataDir, "uploads"),
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.auth == nil {
		r.auth = NewPolicyAuthorizer(r, log)
	}
	for _, d := range []string{r.blobsDir, r.uploadsDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("registry: %w", err)
		}
	}
	return r, nil
}

// hostScopeRE matches <account>.dkr.ecr.<region>.localhost.
var hostScopeRE = regexp.MustCompile(`^([0-9]{12})\.dkr\.ecr\.([a-z0-9-]{1,32})\.localhost$`)

// ScopeFromHost returns the scope a Host header selects:
// "<account>.dkr.ecr.<region>.localhost[:port]" selects that account and
// region, anything else def (the server passes the principal's own account
// in the default region).
func ScopeFromHost(host string, def tenant.Scope) tenant.Scope {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	m := hostScopeRE.FindStringSubmatch(strings.ToLower(host))
	if m == nil {
		return def
	}
	return tenant.Scope{Account: m[1], Region: m[2]}
}

// RequestScope is the scope a /v2/ request of principal who acts in: the
// one its Host header names (ScopeFromHost), else who's own account in the
// default region (plainHostScope).
func (r *Registry) RequestScope(host string, who Principal) tenant.Scope {
	return ScopeFromHost(host, r.plainHostScope(who))
}

// MaxManifestBytes is the largest manifest the registry accepts.
func (r *Registry) MaxManifestBytes() int64 { return r.cfg.MaxManifestBytes }

// plainHostScope is the scope of a request whose Host names no account
// (localhost:<port>, 127.0.0.1:<port>): the authenticated principal's own
// account, in the default region. That makes "localhost:<port>/<name>" a
// repository URI that works for every account: the token picks the
// account, as the <account>.dkr.ecr... host does on AWS, and no wildcard
// DNS is needed (Go clients and glibc without nss-myhostname do not resolve
// *.localhost).
func (r *Registry) plainHostScope(who Principal) tenant.Scope {
	if who.Account == "" {
		return r.cfg.DefaultScope
	}
	return tenant.Scope{Account: who.Account, Region: r.cfg.DefaultScope.Region}
}

// Store keys (see the package doc).
func repoKey(s tenant.Scope, name string) string {
	return s.KeyPrefix("ecr") + "repos/" + name
}
func imagePrefix(s tenant.Scope, repo string) string {
	return s.KeyPrefix("ecr") + "images/" + repo + "/"
}
func imageKey(s tenant.Scope, repo, digest string) string { return imagePrefix(s, repo) + digest }
func tagPrefix(s tenant.Scope, repo string) string {
	return s.KeyPrefix("ecr") + "tags/" + repo + "/"
}
func tagKey(s tenant.Scope, repo, tag string) string { return tagPrefix(s, repo) + tag }
func linkPrefix(s tenant.Scope, repo string) string {
	return s.KeyPrefix("ecr") + "blobs/" + repo + "/"
}
func linkKey(s tenant.Scope, repo, digest string) string { return linkPrefix(s, repo) + digest }
func uploadKey(s tenant.Scope, id string) string {
	return s.KeyPrefix("ecr") + "uploads/" + id
}

// listDirect lists the keys directly under prefix: a repository "a" must not
// see the keys of "a/b", whose keys share the prefix but have a '/' in the
// remainder (digests and tags never contain one).
func listDirect(tx store.ReadTx, prefix string) ([]store.KV, error) {
	kvs, err := tx.List(prefix)
	if err != nil {
		return nil, err
	}
	out := kvs[:0]
	for _, kv := range kvs {
		if !strings.Contains(kv.Key[len(prefix):], "/") {
			out = append(out, kv)
		}
	}
	return out, nil
}

// lastSegment returns the part of key after its last '/'.
func lastSegment(key string) string { return key[strings.LastIndexByte(key, '/')+1:] }
