package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/memo"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Image is a manifest in a repository, stored as JSON under
// ecr/<account>/<region>/images/<repo>/<digest>; the manifest bytes are a
// blob of the account.
type Image struct {
	Repository   string `json:"repository"`
	Digest       string `json:"digest"`
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType,omitempty"`
	// ManifestSize is the length of the manifest bytes.
	ManifestSize int64 `json:"manifestSize"`
	// Size is ECR's imageSizeInBytes: config plus layers, compressed; for an
	// index, the sum of its children's sizes.
	Size        int64             `json:"size"`
	PushedAt    time.Time         `json:"pushedAt"`
	Config      *Descriptor       `json:"config,omitempty"`
	Layers      []Descriptor      `json:"layers,omitempty"`
	Manifests   []Descriptor      `json:"manifests,omitempty"`
	Subject     *Descriptor       `json:"subject,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
	// Tags are the image's tags, sorted; filled by DescribeImages and
	// PutManifest (not stored in the image record).
	Tags []string `json:"-"`
}

// blobDigests are the blobs the image needs in its repository: config and
// layers, except foreign layers that carry their own URLs.
func (img *Image) blobDigests() []string {
	var out []string
	if img.Config != nil {
		out = append(out, img.Config.Digest)
	}
	for _, l := range img.Layers {
		if len(l.URLs) == 0 {
			out = append(out, l.Digest)
		}
	}
	return out
}

// MaxTagsPerPush bounds the tag parameters of one manifest push (the spec
// asks for at least 10; more is answered 414).
const MaxTagsPerPush = 100

// PutManifestResult is what PutManifest did.
type PutManifestResult struct {
	Image Image
	// ImageCreated: the manifest was not in the repository before.
	ImageCreated bool
	// TagChanged: a tag was created or moved.
	TagChanged bool
	// PreviousDigest is the image the (first) tag that moved pointed at
	// before.
	PreviousDigest string
	// Tags are the tags the push named, without duplicates, all of which
	// now point at the image (OCI-Tag).
	Tags []string
}

// Changed reports whether the push changed anything; when it did not, the
// ECR PutImage adapter answers ImageAlreadyExists (see ImageAlreadyExists).
func (p PutManifestResult) Changed() bool { return p.ImageCreated || p.TagChanged }

// PutManifest stores a manifest in repo under reference, a tag or a digest.
// mediaType is the Content-Type it was pushed with (may be empty: the
// manifest's own mediaType field decides). The bytes are kept as they are.
// Pushing the same manifest and tag again succeeds and changes nothing. On a
// MUTABLE repository a tag moves and its old image stays, untagged.
//
// Errors: ErrNameInvalid, ErrReferenceInvalid, ErrDigestInvalid (reference
// is a digest that the bytes do not have), ErrManifestTooLarge,
// ErrManifestInvalid, ErrRepositoryNotFound, ErrManifestBlobUnknown (a
// config or layer not in the repository), ErrReferencedImagesNotFound (a
// child manifest of an index not in the repository), ErrTagImmutable.
func (r *Registry) PutManifest(ctx context.Context, scope tenant.Scope, repo, reference, mediaType string, body []byte) (PutManifestResult, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return PutManifestResult{}, err
	}
	ref, err := ParseReference(reference)
	if err != nil {
		return PutManifestResult{}, err
	}
	in := ManifestPut{MediaType: mediaType, Body: body, Digest: ref.Digest}
	if ref.Tag != "" {
		in.Tags = []string{ref.Tag}
	}
	return r.PutManifestWith(ctx, scope, repo, in)
}

// ManifestPut is one manifest push: the bytes, the digest they are stored
// under and the tags set to point at them.
type ManifestPut struct {
	// MediaType is the Content-Type the manifest was pushed with (may be
	// empty: the manifest's own mediaType field decides).
	MediaType string
	Body      []byte
	// Digest, when set, is the digest the bytes must have; the manifest is
	// stored and addressed under it, with its algorithm.
	Digest string
	// Algorithm ("sha256" or "sha512") hashes the bytes when Digest is
	// empty; empty means sha256. With Digest it must name its algorithm.
	Algorithm string
	// Tags are set to the manifest's digest, all of them or none (at most
	// MaxTagsPerPush; duplicates count once).
	Tags []string
}

// check validates the push's digest, algorithm and tags and returns the
// digest of the bytes (which the caller compares with in.Digest).
func (in *ManifestPut) check() (string, error) {
	if in.Digest != "" {
		if err := ValidateDigest(in.Digest); err != nil {
			return "", err
		}
	}
	like := in.Digest
	if in.Algorithm != "" {
		a, ok := algoByName(in.Algorithm)
		if !ok {
			return "", errdefs.Newf(ErrDigestInvalid, "Unsupported digest algorithm '%s': expected sha256 or sha512", truncate(in.Algorithm, 64))
		}
		if in.Digest != "" && !strings.HasPrefix(in.Digest, a.name+":") {
			return "", errdefs.Newf(ErrDigestInvalid, "The provided digest '%s' does not use the requested algorithm '%s'", in.Digest, a.name)
		}
		like = a.name + ":"
	}
	if len(in.Tags) > MaxTagsPerPush {
		return "", errdefs.Newf(ErrTooManyTags, "A manifest push may set at most %d tags; this one names %d", MaxTagsPerPush, len(in.Tags))
	}
	var tags []string
	for _, t := range in.Tags {
		if err := ValidateTag(t); err != nil {
			return "", err
		}
		if !slices.Contains(tags, t) {
			tags = append(tags, t)
		}
	}
	in.Tags = tags
	return computeDigest(in.Body, like), nil
}

// PutManifestWith stores a manifest in repo as in describes: under its
// digest (in.Digest's, or computed with in.Algorithm), with in.Tags, in
// one transaction. Pushing the same manifest and tags again succeeds and
// changes nothing. On a MUTABLE repository a tag moves and its old image
// stays, untagged; on an IMMUTABLE one a tag that points at another image
// fails the whole push (ErrTagImmutable).
//
// Errors: as PutManifest, and ErrDigestInvalid for an unsupported
// algorithm, ErrTooManyTags.
func (r *Registry) PutManifestWith(ctx context.Context, scope tenant.Scope, repo string, in ManifestPut) (PutManifestResult, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return PutManifestResult{}, err
	}
	body := in.Body
	if int64(len(body)) > r.cfg.MaxManifestBytes {
		return PutManifestResult{}, errdefs.Newf(ErrManifestTooLarge, "The manifest is %d bytes; the limit is %d bytes", len(body), r.cfg.MaxManifestBytes)
	}
	digest, err := in.check()
	if err != nil {
		return PutManifestResult{}, err
	}
	m, mt, err := parseManifest(in.MediaType, body)
	if err != nil {
		return PutManifestResult{}, err
	}
	if in.Digest != "" && in.Digest != digest {
		return PutManifestResult{}, errdefs.Newf(ErrDigestInvalid, "The provided digest '%s' does not match the digest of the manifest '%s'", in.Digest, digest)
	}
	now := r.now().UTC()
	img := Image{
		Repository: repo, Digest: digest, MediaType: mt, ArtifactType: m.ArtifactType,
		ManifestSize: int64(len(body)), PushedAt: now,
		Config: m.Config, Layers: m.Layers, Manifests: m.Manifests, Subject: m.Subject, Annotations: m.Annotations,
	}
	if img.Config != nil {
		img.Size = img.Config.Size
	}
	for _, l := range img.Layers {
		img.Size += l.Size
	}
	val, err := json.Marshal(img) // replaced below if the index size changes
	if err != nil {
		return PutManifestResult{}, err
	}

	r.gcMu.RLock()
	defer r.gcMu.RUnlock()
	// The bytes first; if the transaction then fails, GC collects them.
	if err := r.writeBlobBytes(scope.Account, digest, body); err != nil {
		return PutManifestResult{}, err
	}
	var res PutManifestResult
	_, err = r.st.Update(ctx, func(tx store.Tx) error {
		res = PutManifestResult{Image: img, Tags: in.Tags}
		rp, err := getRepo(tx, scope, repo)
		if err != nil {
			return err
		}
		existing, err := getImage(tx, scope, repo, digest)
		switch {
		case err == nil:
			res.Image = existing
		case errors.Is(err, ErrImageNotFound):
			if err := checkReferences(tx, scope, repo, &res.Image); err != nil {
				return err
			}
			v := val
			if len(res.Image.Manifests) > 0 {
				if v, err = json.Marshal(res.Image); err != nil {
					return err
				}
			}
			if err := tx.Put(imageKey(scope, repo, digest), v); err != nil {
				return err
			}
			if err := putLink(tx, scope, repo, digest, img.ManifestSize, now); err != nil {
				return err
			}
			res.ImageCreated = true
		default:
			return err
		}
		for _, tag := range in.Tags {
			if err := setTag(tx, scope, repo, rp.ImageTagMutability, tag, digest, &res); err != nil {
				return err
			}
		}
		res.Image.Tags, err = tagsOf(tx, scope, repo, digest)
		return err
	})
	if err != nil {
		return PutManifestResult{}, err
	}
	if res.Changed() {
		r.log.InfoContext(ctx, "image pushed", "account", scope.Account, "region", scope.Region,
			"repository", repo, "digest", digest, "tags", in.Tags, "created", res.ImageCreated)
	}
	return res, nil
}

// setTag points tag at digest in repo, recording in res whether it moved.
func setTag(tx store.Tx, scope tenant.Scope, repo, mutability, tag, digest string, res *PutManifestResult) error {
	prev, err := tx.Get(tagKey(scope, repo, tag))
	switch {
	case err == nil && string(prev.Value) == digest:
		return nil
	case err == nil && mutability == Immutable:
		return errdefs.Newf(ErrTagImmutable, "The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", tag, repo)
	case err == nil || errors.Is(err, store.ErrNotFound):
		if err == nil && !res.TagChanged {
			res.PreviousDigest = string(prev.Value)
		}
		res.TagChanged = true
		return tx.Put(tagKey(scope, repo, tag), []byte(digest))
	}
	return err
}

// checkReferences verifies that the image's blobs are linked into repo and
// its child manifests are images of repo, and sums an index's size.
func checkReferences(tx store.ReadTx, scope tenant.Scope, repo string, img *Image) error {
	var missing []string
	for _, d := range img.blobDigests() {
		if _, err := getLink(tx, scope, repo, d); errors.Is(err, ErrBlobNotFound) {
			missing = append(missing, d)
		} else if err != nil {
			return err
		}
	}
	if len(missing) > 0 {
		return errdefs.Newf(ErrManifestBlobUnknown, "The following layers were not found in the repository '%s': %s", repo, strings.Join(missing, ", "))
	}
	for _, c := range img.Manifests {
		child, err := getImage(tx, scope, repo, c.Digest)
		if errors.Is(err, ErrImageNotFound) {
			missing = append(missing, c.Digest)
			continue
		} else if err != nil {
			return err
		}
		img.Size += child.Size
	}
	if len(missing) > 0 {
		return errdefs.Newf(ErrReferencedImagesNotFound, "The following referenced images were not found in the repository '%s': %s", repo, strings.Join(missing, ", "))
	}
	return nil
}

func getImage(tx store.ReadTx, scope tenant.Scope, repo, digest string) (Image, error) {
	kv, err := tx.Get(imageKey(scope, repo, digest))
	if errors.Is(err, store.ErrNotFound) {
		return Image{}, imageNotFound()
	}
	if err != nil {
		return Image{}, err
	}
	var img Image
	if err := json.Unmarshal(kv.Value, &img); err != nil {
		return Image{}, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
	}
	return img, nil
}

func listImages(tx store.ReadTx, scope tenant.Scope, repo string) ([]Image, error) {
	kvs, err := listDirect(tx, imagePrefix(scope, repo))
	if err != nil {
		return nil, err
	}
	out := make([]Image, 0, len(kvs))
	for _, kv := range kvs {
		var img Image
		if err := json.Unmarshal(kv.Value, &img); err != nil {
			return nil, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
		}
		out = append(out, img)
	}
	return out, nil
}

// resolve finds the image an ImageID names. With both a digest and a tag,
// the tag must point at the digest.
func resolve(tx store.ReadTx, scope tenant.Scope, repo string, id ImageID) (Image, error) {
	digest, err := resolveDigest(tx, scope, repo, id)
	if err != nil {
		return Image{}, err
	}
	return getImage(tx, scope, repo, digest)
}

// resolveDigest turns an ImageID into the digest it names in repo.
func resolveDigest(tx store.ReadTx, scope tenant.Scope, repo string, id ImageID) (string, error) {
	digest := id.Digest
	if id.Tag != "" {
		kv, err := tx.Get(tagKey(scope, repo, id.Tag))
		if errors.Is(err, store.ErrNotFound) {
			return "", imageNotFound()
		} else if err != nil {
			return "", err
		}
		if digest != "" && digest != string(kv.Value) {
			return "", imageNotFound()
		}
		digest = string(kv.Value)
	}
	if digest == "" {
		return "", errdefs.New(ErrReferenceInvalid, "An image id needs a digest or a tag")
	}
	return digest, nil
}

func checkImageID(id ImageID) error {
	if id.Digest == "" && id.Tag == "" {
		return errdefs.New(ErrReferenceInvalid, "An image id needs a digest or a tag")
	}
	if id.Digest != "" {
		if err := ValidateDigest(id.Digest); err != nil {
			return err
		}
	}
	if id.Tag != "" {
		return ValidateTag(id.Tag)
	}
	return nil
}

// GetManifest returns the image a reference (tag or digest) names in repo
// and its manifest bytes, exactly as pushed. Image.Tags is not filled.
// Errors: ErrNameInvalid, ErrReferenceInvalid, ErrDigestInvalid,
// ErrRepositoryNotFound, ErrImageNotFound.
func (r *Registry) GetManifest(ctx context.Context, scope tenant.Scope, repo, reference string) (Image, []byte, error) {
	id, err := ParseReference(reference)
	if err != nil {
		return Image{}, nil, err
	}
	return r.GetImage(ctx, scope, repo, id)
}

// GetImage is GetManifest by ImageID (digest, tag, or both). The image and
// the manifest bytes are shared with the read cache: callers only read them.
func (r *Registry) GetImage(ctx context.Context, scope tenant.Scope, repo string, id ImageID) (Image, []byte, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return Image{}, nil, err
	}
	if err := checkImageID(id); err != nil {
		return Image{}, nil, err
	}
	var img Image
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		// The repository must exist; its record is not needed.
		if _, err := tx.Get(repoKey(scope, repo)); errors.Is(err, store.ErrNotFound) {
			return repoNotFound(scope, repo)
		} else if err != nil {
			return err
		}
		digest, err := resolveDigest(tx, scope, repo, id)
		if err != nil {
			return err
		}
		kv, err := tx.Get(imageKey(scope, repo, digest))
		if errors.Is(err, store.ErrNotFound) {
			return imageNotFound()
		} else if err != nil {
			return err
		}
		cached, err := memo.Decode[Image](&r.cache.records, kv) // shared: read only
		if err == nil {
			img = *cached // shares slices: callers only read them
		}
		return err
	})
	if err != nil {
		return Image{}, nil, err
	}
	if b, ok := r.cache.manifest(scope.Account, img.Digest); ok {
		return img, b, nil
	}
	b, err := os.ReadFile(r.blobPath(scope.Account, img.Digest))
	if err != nil {
		r.log.WarnContext(ctx, "manifest bytes missing", "repository", repo, "digest", img.Digest, "error", err)
		return Image{}, nil, imageNotFound()
	}
	r.cache.putManifest(scope.Account, img.Digest, b)
	return img, b, nil
}

// tagsOf returns the tags pointing at digest, sorted.
func tagsOf(tx store.ReadTx, scope tenant.Scope, repo, digest string) ([]string, error) {
	all, err := tagMap(tx, scope, repo)
	if err != nil {
		return nil, err
	}
	return all[digest], nil
}

// tagMap maps digests to their sorted tags.
func tagMap(tx store.ReadTx, scope tenant.Scope, repo string) (map[string][]string, error) {
	kvs, err := listDirect(tx, tagPrefix(scope, repo))
	if err != nil {
		return nil, err
	}
	m := make(map[string][]string)
	for _, kv := range kvs { // key order: tags come sorted
		d := string(kv.Value)
		m[d] = append(m[d], lastSegment(kv.Key))
	}
	return m, nil
}

// DeleteImage deletes by ImageID, with ECR's semantics: by digest it
// removes the image and every tag pointing at it; by tag it removes the tag,
// and the image too when that was its last tag. It returns the id of what
// was deleted (digest and, if given, tag). Blob files go at the next garbage
// collection. Errors: ErrNameInvalid, ErrReferenceInvalid, ErrDigestInvalid,
// ErrRepositoryNotFound, ErrImageNotFound.
func (r *Registry) DeleteImage(ctx context.Context, scope tenant.Scope, repo string, id ImageID) (ImageID, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return ImageID{}, err
	}
	if err := checkImageID(id); err != nil {
		return ImageID{}, err
	}
	var out ImageID
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		img, err := resolve(tx, scope, repo, id)
		if err != nil {
			return err
		}
		out = ImageID{Digest: img.Digest, Tag: id.Tag}
		tags, err := tagsOf(tx, scope, repo, img.Digest)
		if err != nil {
			return err
		}
		if id.Tag != "" {
			if err := tx.Delete(tagKey(scope, repo, id.Tag)); err != nil {
				return err
			}
			if len(tags) > 1 {
				return nil // other tags keep the image
			}
		} else {
			for _, t := range tags {
				if err := tx.Delete(tagKey(scope, repo, t)); err != nil {
					return err
				}
			}
		}
		if err := tx.Delete(imageKey(scope, repo, img.Digest)); err != nil {
			return err
		}
		return tx.Delete(linkKey(scope, repo, img.Digest))
	})
	if err != nil {
		return ImageID{}, err
	}
	r.log.InfoContext(ctx, "image deleted", "account", scope.Account, "region", scope.Region, "repository", repo, "digest", out.Digest, "tag", out.Tag)
	return out, nil
}

// Tag status filters of ListImages.
const (
	TagStatusAny      = "ANY"
	TagStatusTagged   = "TAGGED"
	TagStatusUntagged = "UNTAGGED"
)

// ListImages lists repo's images as ECR does: one ImageID (digest and tag)
// per tag, sorted by tag, then untagged images by digest only, sorted by
// digest. tagStatus filters (TagStatusAny when empty). Errors:
// ErrNameInvalid, errdefs.ErrInvalidArgument, ErrRepositoryNotFound.
func (r *Registry) ListImages(ctx context.Context, scope tenant.Scope, repo, tagStatus string) ([]ImageID, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return nil, err
	}
	if tagStatus == "" {
		tagStatus = TagStatusAny
	}
	if tagStatus != TagStatusAny && tagStatus != TagStatusTagged && tagStatus != TagStatusUntagged {
		return nil, errdefs.Invalidf("Invalid parameter at 'filter.tagStatus': '%s' is not one of TAGGED, UNTAGGED, ANY", tagStatus)
	}
	var out []ImageID
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		if tagStatus != TagStatusUntagged {
			kvs, err := listDirect(tx, tagPrefix(scope, repo))
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				out = append(out, ImageID{Digest: string(kv.Value), Tag: lastSegment(kv.Key)})
			}
		}
		if tagStatus != TagStatusTagged {
			tags, err := tagMap(tx, scope, repo)
			if err != nil {
				return err
			}
			kvs, err := listDirect(tx, imagePrefix(scope, repo))
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if d := lastSegment(kv.Key); len(tags[d]) == 0 {
					out = append(out, ImageID{Digest: d})
				}
			}
		}
		return nil
	})
	return out, err
}

// DescribeImages returns the images ids name (all of repo's images when ids
// is empty), with their tags, without duplicates, newest push first. Errors:
// ErrNameInvalid, ErrReferenceInvalid, ErrDigestInvalid,
// ErrRepositoryNotFound, ErrImageNotFound (for the first unknown id).
func (r *Registry) DescribeImages(ctx context.Context, scope tenant.Scope, repo string, ids []ImageID) ([]Image, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return nil, err
	}
	for _, id := range ids {
		if err := checkImageID(id); err != nil {
			return nil, err
		}
	}
	var out []Image
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		tags, err := tagMap(tx, scope, repo)
		if err != nil {
			return err
		}
		if len(ids) == 0 {
			out, err = listImages(tx, scope, repo)
			if err != nil {
				return err
			}
		} else {
			seen := map[string]bool{}
			for _, id := range ids {
				img, err := resolve(tx, scope, repo, id)
				if errors.Is(err, ErrImageNotFound) {
					return errdefs.Newf(ErrImageNotFound, "The image with imageId {imageDigest:'%s', imageTag:'%s'} does not exist within the repository with name '%s' in the registry with id '%s'",
						id.Digest, id.Tag, repo, scope.Account)
				} else if err != nil {
					return err
				}
				if !seen[img.Digest] {
					seen[img.Digest] = true
					out = append(out, img)
				}
			}
		}
		for i := range out {
			out[i].Tags = tags[out[i].Digest]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].PushedAt.Equal(out[j].PushedAt) {
			return out[i].PushedAt.After(out[j].PushedAt)
		}
		return out[i].Digest < out[j].Digest
	})
	return out, nil
}
