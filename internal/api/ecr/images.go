package ecr

import (
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

// maxImageIDs is the most imageIds one batch call takes.
const maxImageIDs = 100

// imageIDFromWire converts an imageId; it does not validate it.
func imageIDFromWire(id w.ImageIdentifier) registry.ImageID {
	return registry.ImageID{Digest: wire.ToString(id.ImageDigest), Tag: wire.ToString(id.ImageTag)}
}

func imageIDToWire(id registry.ImageID) w.ImageIdentifier {
	out := w.ImageIdentifier{}
	if id.Digest != "" {
		out.ImageDigest = wire.String(id.Digest)
	}
	if id.Tag != "" {
		out.ImageTag = wire.String(id.Tag)
	}
	return out
}

// checkImageID validates an imageId the way batch calls report it: a
// failure code and reason, or "" when it is well formed.
func checkImageID(id registry.ImageID) (code, reason string) {
	switch {
	case id.Digest == "" && id.Tag == "":
		return w.ImageFailureCodeMissingdigestandtag, "Invalid request parameters: both tag and digest cannot be null"
	case id.Digest != "" && registry.ValidateDigest(id.Digest) != nil:
		return w.ImageFailureCodeInvalidimagedigest, "Invalid request parameters: image digest should satisfy the regex '[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'"
	case id.Tag != "" && registry.ValidateTag(id.Tag) != nil:
		return w.ImageFailureCodeInvalidimagetag, "Invalid request parameters: image tag should satisfy the regex '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'"
	}
	return "", ""
}

// imageIDParam validates a single imageId parameter (StartImageScan, ...).
func imageIDParam(p *w.ImageIdentifier) (registry.ImageID, error) {
	if p == nil {
		return registry.ImageID{}, invalidParam("imageId", "Member must not be null")
	}
	id := imageIDFromWire(*p)
	if _, reason := checkImageID(id); reason != "" {
		return registry.ImageID{}, errdefs.New(errdefs.ErrInvalidArgument, reason)
	}
	return id, nil
}

func failure(id w.ImageIdentifier, code, reason string) w.ImageFailure {
	return w.ImageFailure{ImageId: &id, FailureCode: wire.String(code), FailureReason: wire.String(reason)}
}

// manifestDigest is the digest of b with the algorithm of like (sha256 when
// like is empty or not sha512).
func manifestDigest(b []byte, like string) string {
	if strings.HasPrefix(like, "sha512:") {
		s := sha512.Sum512(b)
		return "sha512:" + hex.EncodeToString(s[:])
	}
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func (a *Adapter) putImage(ctx context.Context, req *api.Request, in *w.PutImageRequest) (*w.PutImageResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	manifest := wire.ToString(in.ImageManifest)
	if manifest == "" {
		return nil, invalidParam("imageManifest", "Member must have length greater than or equal to 1")
	}
	tag, digest := wire.ToString(in.ImageTag), wire.ToString(in.ImageDigest)
	if in.ImageTag != nil && (len(tag) < 1 || len(tag) > 300) {
		return nil, invalidParam("imageTag", "Member must have length between 1 and 300")
	}
	if in.ImageTag != nil && registry.ValidateTag(tag) != nil {
		return nil, invalidParam("imageTag", "must satisfy regular expression '[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}'")
	}
	if digest != "" && registry.ValidateDigest(digest) != nil {
		return nil, invalidParam("imageDigest", "Invalid image digest: "+digest)
	}
	actual := manifestDigest([]byte(manifest), digest)
	if digest != "" && digest != actual {
		return nil, errdefs.Newf(errImageDigestMismatch,
			"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The provided digest %s does not match the calculated digest %s of the manifest'", digest, actual)
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, registry.ActionPush)
	if err != nil {
		return nil, err
	}
	put := registry.ManifestPut{MediaType: wire.ToString(in.ImageManifestMediaType), Body: []byte(manifest), Digest: actual}
	if tag != "" {
		put.Tags = []string{tag}
	}
	res, err := a.reg.PutManifestWith(ctx, scope, name, put)
	if err != nil {
		return nil, err
	}
	if !res.Changed() {
		return nil, registry.ImageAlreadyExists(scope.Account, name, res.Image.Digest, tag)
	}
	if repo, err := a.reg.GetRepository(ctx, scope, name); err == nil && repo.ScanOnPush {
		a.log.WarnContext(ctx, "image pushed to a scanOnPush repository is not scanned: fargo has no vulnerability database",
			"account", scope.Account, "repository", name, "digest", res.Image.Digest)
	}
	return &w.PutImageResponse{Image: &w.Image{
		RegistryId:             wire.String(scope.Account),
		RepositoryName:         wire.String(name),
		ImageId:                ptr(imageIDToWire(registry.ImageID{Digest: res.Image.Digest, Tag: tag})),
		ImageManifest:          wire.String(manifest),
		ImageManifestMediaType: wire.String(res.Image.MediaType),
	}}, nil
}

func ptr[T any](v T) *T { return &v }

// batchIDs checks the imageIds list length of a batch call.
func batchIDs(ids []w.ImageIdentifier) error {
	if len(ids) < 1 || len(ids) > maxImageIDs {
		return invalidParam("imageIds", "Member must have length between 1 and 100")
	}
	return nil
}

// batchTarget checks a batch call's repository and image list, authorizes
// action and returns the repository's scope and name.
func (a *Adapter) batchTarget(ctx context.Context, req *api.Request, registryID, repo *string, ids []w.ImageIdentifier, action string) (tenant.Scope, string, error) {
	name, err := repoName(repo)
	if err != nil {
		return tenant.Scope{}, "", err
	}
	if err := batchIDs(ids); err != nil {
		return tenant.Scope{}, "", err
	}
	scope, err := a.target(ctx, req, registryID, name, action)
	if err != nil {
		return tenant.Scope{}, "", err
	}
	if _, err := a.reg.GetRepository(ctx, scope, name); err != nil {
		return tenant.Scope{}, "", err
	}
	return scope, name, nil
}

func (a *Adapter) batchGetImage(ctx context.Context, req *api.Request, in *w.BatchGetImageRequest) (*w.BatchGetImageResponse, error) {
	scope, name, err := a.batchTarget(ctx, req, in.RegistryId, in.RepositoryName, in.ImageIds, registry.ActionPull)
	if err != nil {
		return nil, err
	}
	out := &w.BatchGetImageResponse{Images: []w.Image{}, Failures: []w.ImageFailure{}}
	for _, wid := range in.ImageIds {
		id := imageIDFromWire(wid)
		if code, reason := checkImageID(id); code != "" {
			out.Failures = append(out.Failures, failure(wid, code, reason))
			continue
		}
		img, body, err := a.reg.GetImage(ctx, scope, name, id)
		if errors.Is(err, registry.ErrImageNotFound) {
			out.Failures = append(out.Failures, failure(wid, w.ImageFailureCodeImagenotfound, "Requested image not found"))
			continue
		} else if err != nil {
			return nil, err
		}
		out.Images = append(out.Images, w.Image{
			RegistryId:             wire.String(scope.Account),
			RepositoryName:         wire.String(name),
			ImageId:                ptr(imageIDToWire(registry.ImageID{Digest: img.Digest, Tag: id.Tag})),
			ImageManifest:          wire.String(string(body)),
			ImageManifestMediaType: wire.String(img.MediaType),
		})
	}
	return out, nil
}

func (a *Adapter) batchDeleteImage(ctx context.Context, req *api.Request, in *w.BatchDeleteImageRequest) (*w.BatchDeleteImageResponse, error) {
	scope, name, err := a.batchTarget(ctx, req, in.RegistryId, in.RepositoryName, in.ImageIds, registry.ActionDelete)
	if err != nil {
		return nil, err
	}
	out := &w.BatchDeleteImageResponse{ImageIds: []w.ImageIdentifier{}, Failures: []w.ImageFailure{}}
	for _, wid := range in.ImageIds {
		id := imageIDFromWire(wid)
		if code, reason := checkImageID(id); code != "" {
			out.Failures = append(out.Failures, failure(wid, code, reason))
			continue
		}
		del, err := a.reg.DeleteImage(ctx, scope, name, id)
		if errors.Is(err, registry.ErrImageNotFound) {
			out.Failures = append(out.Failures, failure(wid, w.ImageFailureCodeImagenotfound, "Requested image not found"))
			continue
		} else if err != nil {
			return nil, err
		}
		out.ImageIds = append(out.ImageIds, imageIDToWire(del))
	}
	return out, nil
}

// tagStatus validates a tagStatus filter ("" when absent).
func tagStatus(p *string) (string, error) {
	s := wire.ToString(p)
	switch s {
	case "", w.TagStatusAny, w.TagStatusTagged, w.TagStatusUntagged:
		return s, nil
	}
	return "", invalidParam("filter.tagStatus", "Member must satisfy enum value set: [TAGGED, UNTAGGED, ANY]")
}

func (a *Adapter) listImages(ctx context.Context, req *api.Request, in *w.ListImagesRequest) (*w.ListImagesResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	n, err := maxResults(in.MaxResults, 1000, 100)
	if err != nil {
		return nil, err
	}
	var status string
	if in.Filter != nil {
		if status, err = tagStatus(in.Filter.TagStatus); err != nil {
			return nil, err
		}
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, registry.ActionListImages)
	if err != nil {
		return nil, err
	}
	ids, err := a.reg.ListImages(ctx, scope, name, status)
	if err != nil {
		return nil, err
	}
	// Tagged images by tag, then untagged ones by digest, as ListImages
	// returns them.
	key := func(id registry.ImageID) string {
		if id.Tag != "" {
			return paging.Join("0", id.Tag)
		}
		return paging.Join("1", id.Digest)
	}
	page, next, err := paginate("ListImages", ids, key, n, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &w.ListImagesResponse{ImageIds: []w.ImageIdentifier{}, NextToken: next}
	for _, id := range page {
		out.ImageIds = append(out.ImageIds, imageIDToWire(id))
	}
	return out, nil
}

func (a *Adapter) describeImages(ctx context.Context, req *api.Request, in *w.DescribeImagesRequest) (*w.DescribeImagesResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIds) > 0 && (in.MaxResults != nil || in.NextToken != nil) {
		return nil, errdefs.Invalidf("Invalid parameter: maxResults and nextToken cannot be used together with imageIds")
	}
	if len(in.ImageIds) > maxImageIDs {
		return nil, invalidParam("imageIds", "Member must have length less than or equal to 100")
	}
	n, err := maxResults(in.MaxResults, 1000, 100)
	if err != nil {
		return nil, err
	}
	var status string
	if in.Filter != nil {
		if status, err = tagStatus(in.Filter.TagStatus); err != nil {
			return nil, err
		}
	}
	var ids []registry.ImageID
	for _, wid := range in.ImageIds {
		id := imageIDFromWire(wid)
		if _, reason := checkImageID(id); reason != "" {
			return nil, errdefs.New(errdefs.ErrInvalidArgument, reason)
		}
		ids = append(ids, id)
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:DescribeImages")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.GetRepository(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	images, err := a.reg.DescribeImages(ctx, scope, name, ids)
	if err != nil {
		return nil, err
	}
	kept := images[:0]
	for _, img := range images {
		if (status == w.TagStatusTagged && len(img.Tags) == 0) || (status == w.TagStatusUntagged && len(img.Tags) > 0) {
			continue
		}
		kept = append(kept, img)
	}
	// Newest push first, then by digest, as DescribeImages returns them.
	key := func(img registry.Image) string {
		return paging.Join(paging.Desc(paging.Time(img.PushedAt)), img.Digest)
	}
	page, next, err := paginate("DescribeImages", kept, key, n, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeImagesResponse{ImageDetails: []w.ImageDetail{}, NextToken: next}
	for _, img := range page {
		out.ImageDetails = append(out.ImageDetails, imageDetailToWire(scope, repo, img))
	}
	return out, nil
}

func imageDetailToWire(scope tenant.Scope, repo registry.Repository, img registry.Image) w.ImageDetail {
	d := w.ImageDetail{
		RegistryId:             wire.String(scope.Account),
		RepositoryName:         wire.String(repo.Name),
		ImageDigest:            wire.String(img.Digest),
		ImageTags:              img.Tags,
		ImageSizeInBytes:       wire.Int64(img.Size),
		ImagePushedAt:          wire.NewTimestamp(img.PushedAt),
		ImageManifestMediaType: wire.String(img.MediaType),
		ImageStatus:            wire.String(w.ImageStatusActive),
	}
	if img.Config != nil {
		d.ArtifactMediaType = wire.String(img.Config.MediaType)
	}
	if img.Subject != nil {
		d.SubjectManifestDigest = wire.String(img.Subject.Digest)
	}
	if repo.ScanOnPush {
		d.ImageScanStatus = scanUnavailableStatus()
	}
	return d
}

// Image scanning (see the package doc).

const scanUnavailable = "Image scanning is not available in fargo: there is no vulnerability database to scan against."

func scanUnavailableStatus() *w.ImageScanStatus {
	return &w.ImageScanStatus{Status: wire.String(w.ScanStatusUnsupportedImage), Description: wire.String(scanUnavailable)}
}

func (a *Adapter) startImageScan(ctx context.Context, req *api.Request, in *w.StartImageScanRequest) (*w.StartImageScanResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	id, err := imageIDParam(in.ImageId)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:StartImageScan")
	if err != nil {
		return nil, err
	}
	if _, _, err := a.reg.GetImage(ctx, scope, name, id); err != nil {
		return nil, a.imageErr(scope, name, id, err)
	}
	return nil, errdefs.New(errdefs.ErrUnsupported, scanUnavailable)
}

func (a *Adapter) describeImageScanFindings(ctx context.Context, req *api.Request, in *w.DescribeImageScanFindingsRequest) (*w.DescribeImageScanFindingsResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	id, err := imageIDParam(in.ImageId)
	if err != nil {
		return nil, err
	}
	if _, err := maxResults(in.MaxResults, 1000, 100); err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:DescribeImageScanFindings")
	if err != nil {
		return nil, err
	}
	img, _, err := a.reg.GetImage(ctx, scope, name, id)
	if err != nil {
		return nil, a.imageErr(scope, name, id, err)
	}
	return nil, errdefs.Newf(errScanNotFound,
		"Image scan does not exist for the image with '{imageDigest:'%s', imageTag:'%s'}' in the repository with name '%s' in the registry with id '%s'",
		img.Digest, id.Tag, name, scope.Account)
}

// imageErr gives ImageNotFoundException ECR's long message for single-image
// operations; other errors pass through to mapError.
func (a *Adapter) imageErr(scope tenant.Scope, repo string, id registry.ImageID, err error) error {
	if errors.Is(err, registry.ErrImageNotFound) {
		return errdefs.Newf(registry.ErrImageNotFound,
			"The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
			id.Digest, id.Tag, repo, scope.Account)
	}
	return err
}
