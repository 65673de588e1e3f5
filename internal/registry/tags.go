package registry

import (
	"context"
	"sort"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ListTags returns up to n (n <= 0: all) of repo's tags that sort after
// last, in lexical order, and whether more follow. Errors: ErrNameInvalid,
// ErrRepositoryNotFound.
func (r *Registry) ListTags(ctx context.Context, scope tenant.Scope, repo, last string, n int) ([]string, bool, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return nil, false, err
	}
	var all []string
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		kvs, err := listDirect(tx, tagPrefix(scope, repo))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			all = append(all, lastSegment(kv.Key))
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	tags, more := page(all, last, n)
	return tags, more, nil
}

// page returns the sorted names after last, at most n of them (n <= 0: all).
func page(sorted []string, last string, n int) ([]string, bool) {
	sort.Strings(sorted)
	if last != "" {
		i := sort.SearchStrings(sorted, last)
		if i < len(sorted) && sorted[i] == last {
			i++
		}
		sorted = sorted[i:]
	}
	if n > 0 && len(sorted) > n {
		return sorted[:n], true
	}
	if sorted == nil {
		sorted = []string{}
	}
	return sorted, false
}

// Referrers returns descriptors of repo's manifests whose subject is digest,
// optionally only those of artifactType, sorted by digest. A manifest's
// artifact type is its artifactType field, or else its config's media type.
// The subject itself need not exist. Errors: ErrNameInvalid,
// ErrDigestInvalid, ErrRepositoryNotFound.
func (r *Registry) Referrers(ctx context.Context, scope tenant.Scope, repo, digest, artifactType string) ([]Descriptor, error) {
	if err := checkBlobArgs(repo, digest); err != nil {
		return nil, err
	}
	out := []Descriptor{}
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getRepo(tx, scope, repo); err != nil {
			return err
		}
		images, err := listImages(tx, scope, repo)
		if err != nil {
			return err
		}
		for _, img := range images {
			if img.Subject == nil || img.Subject.Digest != digest {
				continue
			}
			at := img.ArtifactType
			if at == "" && img.Config != nil {
				at = img.Config.MediaType
			}
			if artifactType != "" && at != artifactType {
				continue
			}
			out = append(out, Descriptor{MediaType: img.MediaType, Digest: img.Digest, Size: img.ManifestSize, ArtifactType: at, Annotations: img.Annotations})
		}
		return nil
	})
	return out, err
}

// ListRepositoryNames returns up to n (n <= 0: all) repository names of scope
// after last, and whether more follow (the /v2/_catalog listing).
func (r *Registry) ListRepositoryNames(ctx context.Context, scope tenant.Scope, last string, n int) ([]string, bool, error) {
	repos, err := r.ListRepositories(ctx, scope)
	if err != nil {
		return nil, false, err
	}
	names := make([]string, len(repos))
	for i, rp := range repos {
		names[i] = rp.Name
	}
	names, more := page(names, last, n)
	return names, more, nil
}
