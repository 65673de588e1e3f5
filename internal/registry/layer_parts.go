package registry

import (
	"bytes"
	"context"
	"errors"
	"sync"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ECR's layer part API (InitiateLayerUpload, UploadLayerPart,
// CompleteLayerUpload: what the ECR containerd resolver and the AWS SDKs'
// manual uploads use) over the same upload sessions as /v2/: parts are at
// most MaxLayerPartSize bytes, each must start where the previous one
// ended, and all but the last must be at least MinLayerPartSize long,
// which CompleteLayerUpload checks.
//
// What the part sizes were is remembered in memory (layerParts): after a
// restart the minimum-size check is lenient for sessions begun before it.

// Part sizes of the layer part API.
const (
	MinLayerPartSize = 5 << 20
	MaxLayerPartSize = 20 << 20
)

// Sentinels of the layer part API.
var (
	// ErrLayerPartInvalid: a part's byte range does not match its length,
	// or it does not start right after the bytes received. The error is a
	// *LayerPartError (ECR: InvalidLayerPartException).
	ErrLayerPartInvalid = errdefs.New(errdefs.ErrInvalidArgument, "invalid layer part")
	// ErrUploadEmpty: CompleteLayerUpload of a session that received no
	// part (ECR: EmptyUploadException).
	ErrUploadEmpty = errdefs.New(errdefs.ErrInvalidArgument, "upload empty")
	// ErrLayerPartTooSmall: a part other than the last was smaller than
	// MinLayerPartSize (ECR: LayerPartTooSmallException).
	ErrLayerPartTooSmall = errdefs.New(errdefs.ErrInvalidArgument, "layer part too small")
	// ErrLayerAlreadyExists: CompleteLayerUpload of a layer the repository
	// already holds; the session is discarded (ECR:
	// LayerAlreadyExistsException).
	ErrLayerAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "layer already exists")
	// ErrLayerDigestMismatch: the parts do not hash to the digest named at
	// CompleteLayerUpload; the session stays (ECR: InvalidLayerException).
	// It also matches ErrDigestInvalid.
	ErrLayerDigestMismatch = errdefs.New(ErrDigestInvalid, "layer digest mismatch")
)

// LayerPartError is an ErrLayerPartInvalid with what ECR reports beside
// the message: the session and the last valid byte received (-1: none).
type LayerPartError struct {
	RegistryID, Repository, UploadID string
	LastValidByteReceived            int64
	Message                          string
}

func (e *LayerPartError) Error() string { return e.Message }

// Unwrap returns ErrLayerPartInvalid.
func (e *LayerPartError) Unwrap() error { return ErrLayerPartInvalid }

// layerParts remembers, per upload session of the part API, whether a part
// other than the last was smaller than MinLayerPartSize.
type layerParts struct {
	mu sync.Mutex
	m  map[string]*partSizes
}

type partSizes struct {
	lastSize int64 // size of the latest part
	tooSmall bool  // a part before the latest one was under MinLayerPartSize
}

// get returns the session's record, made if absent (a session from before
// a restart, or from /v2/).
func (p *layerParts) get(id string) *partSizes {
	if p.m == nil {
		p.m = map[string]*partSizes{}
	}
	s := p.m[id]
	if s == nil {
		s = &partSizes{}
		p.m[id] = s
	}
	return s
}

func (p *layerParts) forget(id string) {
	p.mu.Lock()
	delete(p.m, id)
	p.mu.Unlock()
}

// StartLayerUpload opens an upload session of the part API in repo.
// Errors: as StartUpload.
func (r *Registry) StartLayerUpload(ctx context.Context, scope tenant.Scope, repo string) (Upload, error) {
	up, err := r.StartUpload(ctx, scope, repo)
	if err != nil {
		return Upload{}, err
	}
	r.parts.mu.Lock()
	r.parts.get(up.ID)
	r.parts.mu.Unlock()
	return up, nil
}

// UploadLayerPart appends part, bytes first..last of the layer, to the
// session and returns it with its new offset. Errors: ErrNameInvalid,
// ErrUploadNotFound, ErrRepositoryNotFound, *LayerPartError.
func (r *Registry) UploadLayerPart(ctx context.Context, scope tenant.Scope, repo, id string, first, last int64, part []byte) (Upload, error) {
	invalid := func(lastValid int64, msg string) error {
		return &LayerPartError{RegistryID: scope.Account, Repository: repo, UploadID: id, LastValidByteReceived: lastValid, Message: msg}
	}
	if last-first+1 != int64(len(part)) {
		up, err := r.UploadStatus(ctx, scope, repo, id)
		if err != nil {
			return Upload{}, err
		}
		return Upload{}, invalid(up.Offset-1, "The part's byte range does not match the length of layerPartBlob")
	}
	if _, err := r.GetRepository(ctx, scope, repo); err != nil {
		return Upload{}, err
	}
	up, err := r.AppendUpload(ctx, scope, repo, id, first, bytes.NewReader(part))
	var re *RangeError
	if errors.As(err, &re) {
		return Upload{}, invalid(re.Offset-1, "The part's first byte must immediately follow the last byte received")
	} else if err != nil {
		return Upload{}, err
	}
	r.parts.mu.Lock()
	p := r.parts.get(id)
	if first > 0 && p.lastSize > 0 && p.lastSize < MinLayerPartSize {
		p.tooSmall = true
	}
	p.lastSize = int64(len(part))
	r.parts.mu.Unlock()
	return up, nil
}

// CompleteLayerUpload makes the session's parts the layer digest of repo.
// Errors: ErrNameInvalid, ErrUploadNotFound, ErrRepositoryNotFound,
// ErrUploadEmpty, ErrLayerPartTooSmall, ErrLayerAlreadyExists (the session
// is then discarded), ErrLayerDigestMismatch (the session stays).
func (r *Registry) CompleteLayerUpload(ctx context.Context, scope tenant.Scope, repo, id, digest string) (BlobInfo, error) {
	up, err := r.UploadStatus(ctx, scope, repo, id)
	if err != nil {
		return BlobInfo{}, err
	}
	if up.Offset == 0 {
		return BlobInfo{}, errdefs.Newf(ErrUploadEmpty, "The upload with id '%s' contains no layer parts", id)
	}
	r.parts.mu.Lock()
	p := r.parts.m[id]
	tooSmall := p != nil && p.tooSmall
	r.parts.mu.Unlock()
	if tooSmall {
		return BlobInfo{}, errdefs.Newf(ErrLayerPartTooSmall, "Layer part size is too small: every part except the last must be at least %d bytes", MinLayerPartSize)
	}
	if _, err := r.StatBlob(ctx, scope, repo, digest); err == nil {
		_ = r.CancelUpload(ctx, scope, repo, id)
		r.parts.forget(id)
		return BlobInfo{}, errdefs.Newf(ErrLayerAlreadyExists,
			"The layer with digest '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, repo, scope.Account)
	}
	info, err := r.CompleteUpload(ctx, scope, repo, id, digest)
	if errors.Is(err, ErrDigestInvalid) {
		return BlobInfo{}, errdefs.Newf(ErrLayerDigestMismatch, "The layer digest calculated for the uploaded parts does not match the provided digest %s", digest)
	} else if err != nil {
		return BlobInfo{}, err
	}
	r.parts.forget(id)
	return info, nil
}
