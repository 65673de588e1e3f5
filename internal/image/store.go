package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/singleflight"
	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Credentials supplies the authenticator for a registry host (as written in
// image references, e.g. "123456789012.dkr.ecr.us-east-1.localhost:4566").
// The agent answers with an ECR token (user "AWS") for fargo's own registry
// and with configured basic auth (ECS repositoryCredentials) for others.
// Returning a nil Authenticator means anonymous.
type Credentials interface {
	Resolve(ctx context.Context, registry string) (authn.Authenticator, error)
}

// CredentialsFunc adapts a function to Credentials.
type CredentialsFunc func(ctx context.Context, registry string) (authn.Authenticator, error)

// Resolve calls f.
func (f CredentialsFunc) Resolve(ctx context.Context, registry string) (authn.Authenticator, error) {
	return f(ctx, registry)
}

// Config configures a Store.
type Config struct {
	// Root is the directory the store owns, e.g. <data>/images. Required.
	Root string
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
	// Credentials resolves registry auth; nil pulls anonymously.
	Credentials Credentials
	// Insecure reports whether a registry host may be reached over plain
	// HTTP. Nil means DefaultInsecure.
	Insecure func(host string) bool
	// Platform picked from multi-platform images, "os/arch[/variant]".
	// Empty means linux/<GOARCH of this binary>.
	Platform string
	// Transport for registry requests; nil means http.DefaultTransport.
	Transport http.RoundTripper
	// Jobs is how many layers of one image are fetched and unpacked at
	// once; 0 means 3 (as docker does).
	Jobs int
}

// DefaultInsecure allows plain HTTP for loopback addresses, "localhost" and
// "*.localhost" (fargo's own registry in a single-host setup).
func DefaultInsecure(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}

// Image is a pulled image whose layers are all unpacked in the store.
type Image struct {
	// Ref is the reference it was last pulled as.
	Ref string `json:"ref"`
	// Digest is what Ref resolved to: the manifest digest, or for a
	// multi-platform image the index digest (what ECS reports as
	// imageDigest and what `docker pull` prints).
	Digest string `json:"digest"`
	// Manifest is the digest of the platform-specific image manifest
	// (equal to Digest for single-platform images).
	Manifest string `json:"manifest"`
	// Platform of the image, e.g. "linux/amd64".
	Platform string `json:"platform"`
	// Config holds the image's defaults for the container it runs.
	Config RunConfig `json:"config"`
	// Layers are the uncompressed layer digests (diffIDs), bottom first.
	Layers []string `json:"layers"`
	// Size is the registry size: manifest, config and compressed layers.
	Size int64 `json:"size"`
	// Pulled is when the image was last pulled (refreshed at most hourly
	// when a pull finds it cached).
	Pulled time.Time `json:"pulled"`
}

// clone returns a deep copy of img.
func (img *Image) clone() *Image {
	c := *img
	c.Layers = slices.Clone(img.Layers)
	c.Config.Env = slices.Clone(img.Config.Env)
	c.Config.Entrypoint = slices.Clone(img.Config.Entrypoint)
	c.Config.Cmd = slices.Clone(img.Config.Cmd)
	c.Config.ExposedPorts = slices.Clone(img.Config.ExposedPorts)
	c.Config.Volumes = slices.Clone(img.Config.Volumes)
	c.Config.Labels = maps.Clone(img.Config.Labels)
	if h := img.Config.Healthcheck; h != nil {
		hc := *h
		hc.Test = slices.Clone(h.Test)
		c.Config.Healthcheck = &hc
	}
	return &c
}

// RunConfig is the part of the image config that shapes a container.
type RunConfig struct {
	Env          []string          `json:"env,omitempty"`
	Entrypoint   []string          `json:"entrypoint,omitempty"`
	Cmd          []string          `json:"cmd,omitempty"`
	WorkingDir   string            `json:"workingDir,omitempty"`
	User         string            `json:"user,omitempty"`
	StopSignal   string            `json:"stopSignal,omitempty"`
	ExposedPorts []string          `json:"exposedPorts,omitempty"` // "80/tcp", sorted
	Volumes      []string          `json:"volumes,omitempty"`      // sorted
	Labels       map[string]string `json:"labels,omitempty"`
	Healthcheck  *Healthcheck      `json:"healthcheck,omitempty"`
}

// Healthcheck is the image's HEALTHCHECK; zero durations mean "default".
type Healthcheck struct {
	// Test is {"NONE"}, {"CMD", args...} or {"CMD-SHELL", command}.
	Test        []string      `json:"test,omitempty"`
	Interval    time.Duration `json:"interval,omitempty"`
	Timeout     time.Duration `json:"timeout,omitempty"`
	StartPeriod time.Duration `json:"startPeriod,omitempty"`
	Retries     int           `json:"retries,omitempty"`
}

// Store pulls, caches and mounts images under one root directory. It is
// safe for concurrent use; only one Store may own a root at a time.
type Store struct {
	root      string
	log       *slog.Logger
	creds     Credentials
	insecure  func(string) bool
	platform  v1.Platform
	transport http.RoundTripper
	jobs      int
	lock      *os.File

	flights singleflight.Group // keyed by diffID hex
	// gcMu keeps GC from deleting layers that a Pull has unpacked but not
	// yet recorded, or that a Mount is about to use: they hold it shared.
	gcMu    sync.RWMutex
	mountMu sync.Mutex // serializes Mount and Unmount

	unpacked atomic.Int64 // layers unpacked by this Store
}

// New opens (creating if needed) the store at cfg.Root and removes the
// debris of unpacks that a previous process did not finish.
func New(cfg Config) (*Store, error) {
	if cfg.Root == "" {
		return nil, errdefs.Invalidf("image store: root is required")
	}
	plat := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
	if cfg.Platform != "" {
		p, err := v1.ParsePlatform(cfg.Platform)
		if err != nil {
			return nil, errdefs.Invalidf("image store: platform %q: %v", cfg.Platform, err)
		}
		plat = *p
	}
	root, err := filepath.Abs(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := os.MkdirAll(root, 0o711); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	// Mount points are reported by the kernel with symlinks resolved.
	if root, err = filepath.EvalSymlinks(root); err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	s := &Store{
		root:      root,
		log:       cfg.Logger,
		creds:     cfg.Credentials,
		insecure:  cfg.Insecure,
		platform:  plat,
		transport: cfg.Transport,
		jobs:      cfg.Jobs,
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.insecure == nil {
		s.insecure = DefaultInsecure
	}
	if s.jobs <= 0 {
		s.jobs = 3
	}
	for _, d := range []string{s.recordDir(), s.layersDir(), s.tmpDir(), s.containersDir()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return nil, fmt.Errorf("image store: %w", err)
		}
	}
	lock, err := os.OpenFile(filepath.Join(root, "LOCK"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("image store: %w", err)
	}
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, errdefs.Conflictf("image store: %s is in use by another store", root)
		}
		return nil, fmt.Errorf("image store: lock %s: %w", root, err)
	}
	s.lock = lock
	if err := s.cleanTmp(); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close releases the root. Mounts stay in place.
func (s *Store) Close() error {
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing drops the flock
	s.lock = nil
	return err
}

// Root returns the store's absolute root directory.
func (s *Store) Root() string { return s.root }

func (s *Store) recordDir() string     { return filepath.Join(s.root, "images", "sha256") }
func (s *Store) layersDir() string     { return filepath.Join(s.root, "layers", "sha256") }
func (s *Store) tmpDir() string        { return filepath.Join(s.root, "layers", "tmp") }
func (s *Store) containersDir() string { return filepath.Join(s.root, "containers") }

// layerDir is where the layer with the given diffID is unpacked.
func (s *Store) layerDir(diffID string) (string, error) {
	hex, err := digestHex(diffID)
	if err != nil {
		return "", err
	}
	return filepath.Join(s.layersDir(), hex), nil
}

// LayerDir returns the directory holding the unpacked layer with the given
// diffID ("sha256:<hex>"), and whether it is present.
func (s *Store) LayerDir(diffID string) (string, bool) {
	dir, err := s.layerDir(diffID)
	if err != nil {
		return "", false
	}
	_, err = os.Stat(dir)
	return dir, err == nil
}

// digestHex validates a "sha256:<64 hex>" digest and returns the hex part,
// which is then safe to use as a file name.
func digestHex(d string) (string, error) {
	hex, ok := strings.CutPrefix(d, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		return "", errdefs.Invalidf("invalid digest %q", d)
	}
	return hex, nil
}

// cleanTmp removes unpacks that never completed and layers GC did not
// finish deleting. Only the owner of the root lock may call it.
func (s *Store) cleanTmp() error {
	ents, err := os.ReadDir(s.tmpDir())
	if err != nil {
		return fmt.Errorf("image store: %w", err)
	}
	for _, e := range ents {
		p := filepath.Join(s.tmpDir(), e.Name())
		if err := os.RemoveAll(p); err != nil {
			return fmt.Errorf("image store: remove debris: %w", err)
		}
		s.log.Info("removed incomplete layer", "path", p)
	}
	return nil
}

// Lookup returns the cached image recorded for digest (as in Image.Digest)
// without any network I/O, and so without the registry's authorisation (for
// the host's own use, never to serve a tenant's pull), or an error that is errdefs.ErrNotFound when the
// image or any of its layers is missing.
func (s *Store) Lookup(digest string) (*Image, error) {
	img, ok, err := s.cached(digest)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errdefs.NotFoundf("image %s is not in the local store", digest)
	}
	return img, nil
}

// cached returns the record for digest if it and all its layers exist.
func (s *Store) cached(digest string) (*Image, bool, error) {
	hex, err := digestHex(digest)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(filepath.Join(s.recordDir(), hex+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read image record: %w", err)
	}
	var img Image
	if err := json.Unmarshal(b, &img); err != nil {
		// A torn record cannot happen (we rename into place); treat a
		// corrupt one as a cache miss and let the pull rewrite it.
		s.log.Warn("ignoring corrupt image record", "digest", digest, "err", err)
		return nil, false, nil
	}
	for _, l := range img.Layers {
		if _, ok := s.LayerDir(l); !ok {
			return nil, false, nil
		}
	}
	return &img, true, nil
}

// writeRecord atomically writes img's record.
func (s *Store) writeRecord(img *Image) error {
	hex, err := digestHex(img.Digest)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(img, "", "  ")
	if err != nil {
		return fmt.Errorf("encode image record: %w", err)
	}
	return writeFileAtomic(filepath.Join(s.recordDir(), hex+".json"), b)
}

// records lists all image records.
func (s *Store) records() ([]*Image, error) {
	ents, err := os.ReadDir(s.recordDir())
	if err != nil {
		return nil, fmt.Errorf("list image records: %w", err)
	}
	var out []*Image
	for _, e := range ents {
		hex, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		b, err := os.ReadFile(filepath.Join(s.recordDir(), e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read image record: %w", err)
		}
		var img Image
		if err := json.Unmarshal(b, &img); err != nil {
			s.log.Warn("ignoring corrupt image record", "digest", "sha256:"+hex, "err", err)
			continue
		}
		out = append(out, &img)
	}
	return out, nil
}

// Images lists every image recorded in the store.
func (s *Store) Images() ([]*Image, error) { return s.records() }

func writeFileAtomic(path string, b []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
