package ecr

import (
	"bytes"
	"context"
	"errors"
	"net/url"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/registry"
)

// The layer part API (what the ECR containerd resolver and the AWS SDKs'
// manual uploads use): parts are base64 in JSON, at most 20 MiB each, and
// all but the last must be at least 5 MiB.
const (
	minPartSize = 5 << 20
	partSize    = 20 << 20
)

// uploadParts is what the adapter remembers of an upload's parts.
type uploadParts struct {
	lastSize int64 // size of the latest part
	tooSmall bool  // a part before the latest one was under minPartSize
}

func (a *Adapter) batchCheckLayerAvailability(ctx context.Context, req *api.Request, in *w.BatchCheckLayerAvailabilityRequest) (*w.BatchCheckLayerAvailabilityResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(in.LayerDigests) < 1 || len(in.LayerDigests) > 100 {
		return nil, invalidParam("layerDigests", "Member must have length between 1 and 100")
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, registry.ActionCheckLayers)
	if err != nil {
		return nil, err
	}
	if _, err := a.reg.GetRepository(ctx, scope, name); err != nil {
		return nil, err
	}
	out := &w.BatchCheckLayerAvailabilityResponse{Layers: []w.Layer{}, Failures: []w.LayerFailure{}}
	for _, d := range in.LayerDigests {
		if registry.ValidateDigest(d) != nil {
			out.Failures = append(out.Failures, w.LayerFailure{LayerDigest: wire.String(d),
				FailureCode: wire.String(w.LayerFailureCodeInvalidlayerdigest), FailureReason: wire.String("Invalid layer digest")})
			continue
		}
		info, err := a.reg.StatBlob(ctx, scope, name, d)
		if errors.Is(err, registry.ErrBlobNotFound) {
			out.Failures = append(out.Failures, w.LayerFailure{LayerDigest: wire.String(d),
				FailureCode: wire.String(w.LayerFailureCodeMissinglayerdigest), FailureReason: wire.String("Could not find layer")})
			continue
		} else if err != nil {
			return nil, err
		}
		out.Layers = append(out.Layers, w.Layer{LayerDigest: wire.String(d), LayerSize: wire.Int64(info.Size),
			LayerAvailability: wire.String(w.LayerAvailabilityAvailable)})
	}
	return out, nil
}

func (a *Adapter) initiateLayerUpload(ctx context.Context, req *api.Request, in *w.InitiateLayerUploadRequest) (*w.InitiateLayerUploadResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, registry.ActionUpload)
	if err != nil {
		return nil, err
	}
	up, err := a.reg.StartUpload(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	a.partsMu.Lock()
	a.parts[up.ID] = &uploadParts{}
	a.partsMu.Unlock()
	return &w.InitiateLayerUploadResponse{UploadId: wire.String(up.ID), PartSize: wire.Int64(partSize)}, nil
}

func uploadID(p *string) (string, error) {
	if p == nil || *p == "" {
		return "", invalidParam("uploadId", "Member must not be null")
	}
	return *p, nil
}

func (a *Adapter) uploadLayerPart(ctx context.Context, req *api.Request, in *w.UploadLayerPartRequest) (*w.UploadLayerPartResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	id, err := uploadID(in.UploadId)
	if err != nil {
		return nil, err
	}
	if in.PartFirstByte == nil || in.PartLastByte == nil || *in.PartFirstByte < 0 {
		return nil, invalidParam("partFirstByte", "partFirstByte and partLastByte must be non-negative")
	}
	if len(in.LayerPartBlob) == 0 {
		return nil, invalidParam("layerPartBlob", "Member must have length greater than or equal to 1")
	}
	if len(in.LayerPartBlob) > partSize {
		return nil, invalidParam("layerPartBlob", "Member must have length less than or equal to 20971520")
	}
	first, last := *in.PartFirstByte, *in.PartLastByte
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:UploadLayerPart")
	if err != nil {
		return nil, err
	}
	invalidPart := func(lastValid int64, msg string) error {
		return &api.Error{Code: "InvalidLayerPartException", Message: msg, Fields: map[string]any{
			"registryId": scope.Account, "repositoryName": name, "uploadId": id, "lastValidByteReceived": lastValid}}
	}
	if last-first+1 != int64(len(in.LayerPartBlob)) {
		up, err := a.reg.UploadStatus(ctx, scope, name, id)
		if err != nil {
			return nil, err
		}
		return nil, invalidPart(up.Offset-1, "The part's byte range does not match the length of layerPartBlob")
	}
	if _, err := a.reg.GetRepository(ctx, scope, name); err != nil {
		return nil, err
	}
	up, err := a.reg.AppendUpload(ctx, scope, name, id, first, bytes.NewReader(in.LayerPartBlob))
	var re *registry.RangeError
	if errors.As(err, &re) {
		return nil, invalidPart(re.Offset-1, "The part's first byte must immediately follow the last byte received")
	} else if err != nil {
		return nil, err
	}
	a.partsMu.Lock()
	p := a.parts[id]
	if p == nil { // a session from before a restart
		p = &uploadParts{}
		a.parts[id] = p
	}
	if first > 0 && p.lastSize > 0 && p.lastSize < minPartSize {
		p.tooSmall = true
	}
	p.lastSize = int64(len(in.LayerPartBlob))
	a.partsMu.Unlock()
	return &w.UploadLayerPartResponse{
		RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), UploadId: wire.String(id),
		LastByteReceived: wire.Int64(up.Offset - 1),
	}, nil
}

func (a *Adapter) completeLayerUpload(ctx context.Context, req *api.Request, in *w.CompleteLayerUploadRequest) (*w.CompleteLayerUploadResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	id, err := uploadID(in.UploadId)
	if err != nil {
		return nil, err
	}
	if len(in.LayerDigests) != 1 {
		return nil, invalidParam("layerDigests", "Exactly one layer digest is supported")
	}
	digest := in.LayerDigests[0]
	if registry.ValidateDigest(digest) != nil {
		return nil, invalidParam("layerDigests", "Invalid layer digest: "+digest)
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:CompleteLayerUpload")
	if err != nil {
		return nil, err
	}
	up, err := a.reg.UploadStatus(ctx, scope, name, id)
	if err != nil {
		return nil, err
	}
	if up.Offset == 0 {
		return nil, api.Errorf("EmptyUploadException", "The upload with id '%s' contains no layer parts", id)
	}
	a.partsMu.Lock()
	p := a.parts[id]
	a.partsMu.Unlock()
	if p != nil && p.tooSmall {
		return nil, api.Errorf("LayerPartTooSmallException", "Layer part size is too small: every part except the last must be at least %d bytes", minPartSize)
	}
	if _, err := a.reg.StatBlob(ctx, scope, name, digest); err == nil {
		_ = a.reg.CancelUpload(ctx, scope, name, id)
		a.forgetParts(id)
		return nil, api.Errorf("LayerAlreadyExistsException",
			"The layer with digest '%s' already exists in the repository with name '%s' in registry with id '%s'", digest, name, scope.Account)
	}
	info, err := a.reg.CompleteUpload(ctx, scope, name, id, digest)
	if errors.Is(err, registry.ErrDigestInvalid) {
		return nil, api.Errorf("InvalidLayerException", "The layer digest calculated for the uploaded parts does not match the provided digest %s", digest)
	} else if err != nil {
		return nil, err
	}
	a.forgetParts(id)
	return &w.CompleteLayerUploadResponse{
		RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), UploadId: wire.String(id),
		LayerDigest: wire.String(info.Digest),
	}, nil
}

func (a *Adapter) forgetParts(id string) {
	a.partsMu.Lock()
	delete(a.parts, id)
	a.partsMu.Unlock()
}

// getDownloadURLForLayer answers a /v2/ blob URL that works as it is, as
// AWS's presigned S3 URLs do: it carries the caller's registry token as
// Basic credentials (http://AWS:<token>@host/...), valid for 12 hours.
func (a *Adapter) getDownloadURLForLayer(ctx context.Context, req *api.Request, in *w.GetDownloadUrlForLayerRequest) (*w.GetDownloadUrlForLayerResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	digest := wire.ToString(in.LayerDigest)
	if registry.ValidateDigest(digest) != nil {
		return nil, invalidParam("layerDigest", "Invalid layer digest: "+digest)
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, registry.ActionPullLayer)
	if err != nil {
		return nil, err
	}
	if _, err := a.reg.StatBlob(ctx, scope, name, digest); err != nil {
		if errors.Is(err, registry.ErrBlobNotFound) {
			return nil, api.Errorf("LayersNotFoundException",
				"The repository with name '%s' in registry with id '%s' does not contain layer '%s'", name, scope.Account, digest)
		}
		return nil, err
	}
	password, _ := a.cfg.Tokens.Issue(req.Scope.Account, req.Identity.AccessKeyID)
	u := url.URL{Scheme: "http", User: url.UserPassword("AWS", password),
		Host: a.host(req.Scope.Account, scope), Path: "/v2/" + name + "/blobs/" + digest}
	return &w.GetDownloadUrlForLayerResponse{DownloadUrl: wire.String(u.String()), LayerDigest: wire.String(digest)}, nil
}
