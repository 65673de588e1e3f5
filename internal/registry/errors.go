package registry

import (
	"fmt"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Domain sentinels. Every error the registry returns unwraps (errors.Is) to
// one of these, and each of them to an errdefs class, so callers can branch
// on either. The messages of the errors actually returned are the ones ECR
// shows its users (errdefs.Message).
var (
	// ErrNameInvalid: the repository name does not match ECR's pattern.
	ErrNameInvalid = errdefs.New(errdefs.ErrInvalidArgument, "invalid repository name")
	// ErrReferenceInvalid: a tag or digest reference is malformed.
	ErrReferenceInvalid = errdefs.New(errdefs.ErrInvalidArgument, "invalid tag or digest")
	// ErrDigestInvalid: a digest is malformed, unsupported, or does not
	// match the content it names.
	ErrDigestInvalid = errdefs.New(errdefs.ErrInvalidArgument, "invalid digest")
	// ErrSizeInvalid: a declared length does not match the content.
	ErrSizeInvalid = errdefs.New(errdefs.ErrInvalidArgument, "invalid size")
	// ErrManifestInvalid: the manifest is malformed or of an unsupported type.
	ErrManifestInvalid = errdefs.New(errdefs.ErrInvalidArgument, "manifest invalid")
	// ErrManifestTooLarge: the manifest exceeds Config.MaxManifestBytes.
	ErrManifestTooLarge = errdefs.New(errdefs.ErrLimitExceeded, "manifest too large")
	// ErrManifestBlobUnknown: a manifest references a blob that is not in
	// the repository (ECR: LayersNotFoundException).
	ErrManifestBlobUnknown = errdefs.New(errdefs.ErrInvalidArgument, "manifest references unknown blob")
	// ErrReferencedImagesNotFound: an index references a manifest that is not
	// in the repository (ECR: ReferencedImagesNotFoundException). It also
	// matches ErrManifestBlobUnknown.
	ErrReferencedImagesNotFound = errdefs.New(ErrManifestBlobUnknown, "referenced images not found")
	// ErrTagImmutable: the tag exists in an IMMUTABLE repository
	// (ECR: ImageTagAlreadyExistsException).
	ErrTagImmutable = errdefs.New(errdefs.ErrAlreadyExists, "image tag already exists")
	// ErrTooManyTags: a manifest push names more tags than one push may
	// set (OCI: 414).
	ErrTooManyTags = errdefs.New(errdefs.ErrInvalidArgument, "too many tags")
	// ErrImageAlreadyExists: the same manifest and tag were pushed again. The
	// registry itself treats that as a no-op (PutManifestResult.Changed is
	// false); the ECR PutImage adapter raises it with ImageAlreadyExists.
	ErrImageAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "image already exists")

	// ErrRepositoryNotFound: no such repository in the scope.
	ErrRepositoryNotFound = errdefs.New(errdefs.ErrNotFound, "repository not found")
	// ErrRepositoryAlreadyExists: CreateRepository of an existing name.
	ErrRepositoryAlreadyExists = errdefs.New(errdefs.ErrAlreadyExists, "repository already exists")
	// ErrRepositoryNotEmpty: DeleteRepository without force on a repository
	// that still holds images.
	ErrRepositoryNotEmpty = errdefs.New(errdefs.ErrConflict, "repository not empty")
	// ErrImageNotFound: no image with that tag or digest in the repository.
	ErrImageNotFound = errdefs.New(errdefs.ErrNotFound, "image not found")
	// ErrBlobNotFound: the blob is not linked into the repository.
	ErrBlobNotFound = errdefs.New(errdefs.ErrNotFound, "blob not found")
	// ErrBlobInUse: DeleteBlob of a blob an image of the repository uses.
	ErrBlobInUse = errdefs.New(errdefs.ErrConflict, "blob in use")
	// ErrUploadNotFound: no such upload session (in this repository).
	ErrUploadNotFound = errdefs.New(errdefs.ErrNotFound, "upload not found")
	// ErrUploadRange: a chunk does not start at the current upload offset.
	// The error is a *RangeError carrying that offset.
	ErrUploadRange = errdefs.New(errdefs.ErrInvalidArgument, "upload range invalid")

	// ErrRepositoryPolicyNotFound: the repository has no repository policy
	// (ECR: RepositoryPolicyNotFoundException).
	ErrRepositoryPolicyNotFound = errdefs.New(errdefs.ErrNotFound, "repository policy not found")

	// ErrUnauthenticated: the request has no, or no valid, credentials. The
	// HTTP layer answers 401 with a Basic challenge.
	ErrUnauthenticated = errdefs.New(errdefs.ErrPermissionDenied, "authentication required")
	// ErrDenied: the principal may not perform the action (403 DENIED).
	ErrDenied = errdefs.New(errdefs.ErrPermissionDenied, "access denied")
)

// RangeError reports an upload chunk that does not start at Offset, the
// number of bytes the upload holds. It matches ErrUploadRange.
type RangeError struct {
	Offset int64
}

func (e *RangeError) Error() string {
	return fmt.Sprintf("upload chunk must start at offset %d", e.Offset)
}

// Unwrap returns ErrUploadRange.
func (e *RangeError) Unwrap() error { return ErrUploadRange }

func repoNotFound(s tenant.Scope, repo string) error {
	return errdefs.Newf(ErrRepositoryNotFound,
		"The repository with name '%s' does not exist in the registry with id '%s'", repo, s.Account)
}

func imageNotFound() error {
	return errdefs.New(ErrImageNotFound, "Requested image not found")
}

func nameInvalid(name string) error {
	return errdefs.Newf(ErrNameInvalid, "Invalid repository name '%s': it must match '%s' and be 2 to 256 characters long", name, RepositoryNamePattern)
}

// ImageAlreadyExists builds the error the ECR PutImage adapter returns when
// PutManifest reports that nothing changed.
func ImageAlreadyExists(registryID, repo, digest, tag string) error {
	return errdefs.Newf(ErrImageAlreadyExists,
		"Image with digest '%s' and tag '%s' already exists in the repository with name '%s' in registry with id '%s'",
		digest, tag, repo, registryID)
}

// RepositoryPolicyNotFound is the ErrRepositoryPolicyNotFound error for
// repo, in ECR's wording.
func RepositoryPolicyNotFound(scope tenant.Scope, repo string) error {
	return errdefs.Newf(ErrRepositoryPolicyNotFound,
		"Repository policy does not exist for the repository with name '%s' in the registry with id '%s'", repo, scope.Account)
}
