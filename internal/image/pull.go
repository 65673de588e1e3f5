package image

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/sync/errgroup"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Pull makes the image named by ref available locally and returns it.
//
// Every pull costs one manifest request, by digest as by tag, made with
// the caller's credentials before the cache is consulted: the registry
// authorises each pull, and a cached image costs nothing more. Errors
// unwrap to an errdefs class (see the package doc).
func (s *Store) Pull(ctx context.Context, ref string, opts ...PullOption) (*Image, error) {
	var po pullOptions
	for _, o := range opts {
		o(&po)
	}
	if po.creds == nil {
		po.creds = s.creds
	}
	img, err := s.pull(ctx, ref, po)
	if err != nil {
		return nil, fmt.Errorf("pull %s: %w", ref, classify(err))
	}
	return img, nil
}

// PullOption changes one pull.
type PullOption func(*pullOptions)

type pullOptions struct {
	creds Credentials
}

// WithCredentials pulls with creds instead of the store's Credentials
// (e.g. those of the account the image is pulled for).
func WithCredentials(creds Credentials) PullOption {
	return func(o *pullOptions) { o.creds = creds }
}

func (s *Store) pull(ctx context.Context, ref string, po pullOptions) (*Image, error) {
	start := time.Now()
	r, err := s.parseRef(ref)
	if err != nil {
		return nil, err
	}
	log := s.log.With("ref", ref)

	// Hold GC off from the cache check until the record is written.
	s.gcMu.RLock()
	defer s.gcMu.RUnlock()

	// Every pull asks the registry for the manifest first, by digest as
	// by tag, and only then looks in the cache: the registry decides
	// whether this caller may read this repository and whether the digest
	// is in it (ECR's BatchGetImage). The cache shares bytes, never access.
	opts, err := s.remoteOptions(ctx, r, po.creds)
	if err != nil {
		return nil, err
	}
	desc, err := remote.Get(r, opts...)
	if err != nil {
		return nil, err
	}
	digest := desc.Digest.String()
	if img, ok, err := s.cached(digest); err != nil {
		return nil, err
	} else if ok {
		log.Debug("image cached", "digest", digest)
		if img.Ref != ref {
			img.Ref = ref
			if err := s.writeRecord(img); err != nil {
				return nil, err
			}
		}
		return img, nil
	}

	// Concurrent pulls of the same image share one fetch.
	v, err := s.once(ctx, "image/"+digest, func() (any, error) {
		if img, ok, err := s.cached(digest); err != nil || ok {
			if ok && time.Since(img.Pulled) > time.Hour {
				// Pulled is when it was last asked for (image GC keeps
				// recently used images), refreshed at most hourly.
				img.Pulled = time.Now().UTC()
				if err := s.writeRecord(img); err != nil {
					return nil, err
				}
			}
			return img, err
		}
		rimg, size, err := s.platformImage(desc)
		if err != nil {
			return nil, err
		}
		img, err := s.fetch(ctx, rimg)
		if err != nil {
			return nil, err
		}
		img.Ref = ref
		img.Digest = digest
		img.Size += size
		img.Pulled = time.Now().UTC()
		if err := s.writeRecord(img); err != nil {
			return nil, err
		}
		log.Info("image pulled", "digest", digest, "layers", len(img.Layers),
			"size", img.Size, "duration", time.Since(start).Round(time.Millisecond))
		return img, nil
	})
	if err != nil {
		return nil, err
	}
	img := v.(*Image).clone() // the flight's result is shared by its callers
	img.Ref = ref
	return img, nil
}

// parseRef parses ref, allowing plain HTTP for hosts s.insecure accepts.
func (s *Store) parseRef(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, errdefs.Invalidf("invalid image reference %q: %v", ref, err)
	}
	if s.insecure(r.Context().RegistryStr()) {
		if r, err = name.ParseReference(ref, name.Insecure); err != nil {
			return nil, errdefs.Invalidf("invalid image reference %q: %v", ref, err)
		}
	}
	return r, nil
}

func (s *Store) remoteOptions(ctx context.Context, r name.Reference, creds Credentials) ([]remote.Option, error) {
	var auth authn.Authenticator = authn.Anonymous
	if creds != nil {
		host := r.Context().RegistryStr()
		a, err := creds.Resolve(ctx, host)
		if err != nil {
			return nil, fmt.Errorf("credentials for %s: %w", host, err)
		}
		if a != nil {
			auth = a
		}
	}
	opts := []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuth(auth),
		remote.WithPlatform(s.platform),
		remote.WithUserAgent("fargo"),
	}
	if s.transport != nil {
		opts = append(opts, remote.WithTransport(s.transport))
	}
	return opts, nil
}

// platformImage returns the image for s.platform (choosing from an index if
// desc is one) and the registry size of the index itself, if any.
func (s *Store) platformImage(desc *remote.Descriptor) (v1.Image, int64, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		return img, 0, err
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, 0, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, 0, err
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.MediaType.IsImage() && m.Platform.Satisfies(s.platform) {
			img, err := idx.Image(m.Digest)
			return img, desc.Size, err
		}
	}
	return nil, 0, errdefs.NotFoundf("no matching manifest for %s in the manifest list entries", s.platform)
}

// fetch unpacks every layer of img that is not yet in the store and returns
// the record to write (without Ref and Digest).
func (s *Store) fetch(ctx context.Context, img v1.Image) (*Image, error) {
	mdigest, err := img.Digest()
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	if len(layers) != len(cf.RootFS.DiffIDs) {
		return nil, errdefs.Invalidf("image %s has %d layers but %d diffIDs", mdigest, len(layers), len(cf.RootFS.DiffIDs))
	}
	out := &Image{
		Manifest: mdigest.String(),
		Platform: platformString(cf),
		Config:   runConfig(cf.Config),
		Size:     m.Config.Size,
	}
	if raw, err := img.RawManifest(); err == nil {
		out.Size += int64(len(raw))
	}
	for i := range layers {
		out.Layers = append(out.Layers, cf.RootFS.DiffIDs[i].String())
		out.Size += m.Layers[i].Size
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.jobs)
	for i, l := range layers {
		diffID := cf.RootFS.DiffIDs[i]
		g.Go(func() error {
			return s.ensureLayer(gctx, l, diffID)
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

func platformString(cf *v1.ConfigFile) string {
	p := cf.Platform()
	if p == nil {
		return ""
	}
	return p.String()
}

func runConfig(c v1.Config) RunConfig {
	rc := RunConfig{
		Env:        slices.Clone(c.Env),
		Entrypoint: slices.Clone(c.Entrypoint),
		Cmd:        slices.Clone(c.Cmd),
		WorkingDir: c.WorkingDir,
		User:       c.User,
		StopSignal: c.StopSignal,
		Labels:     c.Labels,
	}
	for p := range c.ExposedPorts {
		rc.ExposedPorts = append(rc.ExposedPorts, p)
	}
	sort.Strings(rc.ExposedPorts)
	for v := range c.Volumes {
		rc.Volumes = append(rc.Volumes, v)
	}
	sort.Strings(rc.Volumes)
	if h := c.Healthcheck; h != nil {
		rc.Healthcheck = &Healthcheck{
			Test:        slices.Clone(h.Test),
			Interval:    h.Interval,
			Timeout:     h.Timeout,
			StartPeriod: h.StartPeriod,
			Retries:     h.Retries,
		}
	}
	return rc
}

// classed attaches an errdefs class to an error without changing its text.
type classed struct{ class, err error }

func (e *classed) Error() string   { return e.err.Error() }
func (e *classed) Unwrap() []error { return []error{e.class, e.err} }

// classify returns err unwrapping to the errdefs class that describes it
// best. Cancellation is left alone: it is the caller's doing, not the
// registry's.
func classify(err error) error {
	if errors.Is(err, context.Canceled) {
		return err
	}
	for _, c := range []error{
		errdefs.ErrInvalidArgument, errdefs.ErrNotFound, errdefs.ErrAlreadyExists,
		errdefs.ErrConflict, errdefs.ErrUnavailable, errdefs.ErrPermissionDenied,
		errdefs.ErrLimitExceeded, errdefs.ErrUnsupported,
	} {
		if errors.Is(err, c) {
			return err // already classified where it arose
		}
	}
	return &classed{class: classOf(err), err: err}
}

func classOf(err error) error {
	var te *transport.Error
	if errors.As(err, &te) {
		for _, d := range te.Errors {
			switch d.Code {
			case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode,
				transport.BlobUnknownErrorCode:
				return errdefs.ErrNotFound
			case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
				return errdefs.ErrPermissionDenied
			case transport.TooManyRequestsErrorCode:
				return errdefs.ErrLimitExceeded
			case transport.NameInvalidErrorCode, transport.TagInvalidErrorCode:
				return errdefs.ErrInvalidArgument
			case transport.UnsupportedErrorCode:
				return errdefs.ErrUnsupported
			}
		}
		switch te.StatusCode {
		case http.StatusUnauthorized, http.StatusForbidden:
			return errdefs.ErrPermissionDenied
		case http.StatusNotFound:
			return errdefs.ErrNotFound
		case http.StatusTooManyRequests:
			return errdefs.ErrLimitExceeded
		}
		return errdefs.ErrUnavailable
	}
	// Everything else is unreachable registries (refused, reset, DNS,
	// timeouts), corrupt transfers (digest mismatch, bad gzip) or local
	// trouble (a full disk): worth a retry later, not a permanent verdict.
	return errdefs.ErrUnavailable
}
