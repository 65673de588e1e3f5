package ecr

import (
	"context"
	"errors"
	"net/url"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
)

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
	up, err := a.reg.StartLayerUpload(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	return &w.InitiateLayerUploadResponse{UploadId: wire.String(up.ID), PartSize: wire.Int64(registry.MaxLayerPartSize)}, nil
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
	if len(in.LayerPartBlob) > registry.MaxLayerPartSize {
		return nil, invalidParam("layerPartBlob", "Member must have length less than or equal to 20971520")
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:UploadLayerPart")
	if err != nil {
		return nil, err
	}
	up, err := a.reg.UploadLayerPart(ctx, scope, name, id, *in.PartFirstByte, *in.PartLastByte, in.LayerPartBlob)
	if err != nil {
		return nil, err
	}
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
	info, err := a.reg.CompleteLayerUpload(ctx, scope, name, id, digest)
	if err != nil {
		return nil, err
	}
	return &w.CompleteLayerUploadResponse{
		RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), UploadId: wire.String(id),
		LayerDigest: wire.String(info.Digest),
	}, nil
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
			return nil, errdefs.Newf(registry.ErrBlobNotFound,
				"The repository with name '%s' in registry with id '%s' does not contain layer '%s'", name, scope.Account, digest)
		}
		return nil, err
	}
	password, _ := a.cfg.Tokens.Issue(req.Scope.Account, req.Identity.AccessKeyID)
	u := url.URL{Scheme: "http", User: url.UserPassword("AWS", password),
		Host: a.host(req.Scope.Account, scope), Path: "/v2/" + name + "/blobs/" + digest}
	return &w.GetDownloadUrlForLayerResponse{DownloadUrl: wire.String(u.String()), LayerDigest: wire.String(digest)}, nil
}
