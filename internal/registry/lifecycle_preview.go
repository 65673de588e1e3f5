package registry

import (
	"context"
	"sync"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Lifecycle policy previews (ECR's StartLifecyclePolicyPreview and
// GetLifecyclePolicyPreview): computed at once, a dry run over the
// repository's images, and kept in memory, one per repository, until the
// next preview or the repository's deletion. AWS keeps them only for a
// while too.

// ErrLifecyclePreviewNotFound: no preview was started for the repository
// (ECR: LifecyclePolicyPreviewNotFoundException).
var ErrLifecyclePreviewNotFound = errdefs.New(errdefs.ErrNotFound, "lifecycle policy preview not found")

// LifecyclePreview is the outcome of a lifecycle policy dry run.
type LifecyclePreview struct {
	// PolicyText is the policy evaluated.
	PolicyText string
	// Results are the images it expires, oldest first.
	Results []LifecycleResult
}

type previewKey struct {
	scope tenant.Scope
	repo  string
}

// lifecyclePreviews holds the latest preview of each repository.
type lifecyclePreviews struct {
	mu sync.Mutex
	m  map[previewKey]LifecyclePreview
}

func (p *lifecyclePreviews) put(k previewKey, v LifecyclePreview) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[previewKey]LifecyclePreview{}
	}
	p.m[k] = v
}

func (p *lifecyclePreviews) get(k previewKey) (LifecyclePreview, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	v, ok := p.m[k]
	return v, ok
}

func (p *lifecyclePreviews) forget(k previewKey) {
	p.mu.Lock()
	delete(p.m, k)
	p.mu.Unlock()
}

// StartLifecyclePreview evaluates policyText (the repository's own policy
// when empty) over repo's images now, without expiring any, and keeps the
// outcome for GetLifecyclePreview. Errors: as PreviewLifecycle.
func (r *Registry) StartLifecyclePreview(ctx context.Context, scope tenant.Scope, repo, policyText string) (LifecyclePreview, error) {
	rp, err := r.GetRepository(ctx, scope, repo)
	if err != nil {
		return LifecyclePreview{}, err
	}
	if policyText == "" {
		if policyText = rp.LifecyclePolicy; policyText == "" {
			return LifecyclePreview{}, LifecyclePolicyNotFound(scope, repo)
		}
	}
	results, err := r.PreviewLifecycle(ctx, scope, repo, policyText)
	if err != nil {
		return LifecyclePreview{}, err
	}
	p := LifecyclePreview{PolicyText: policyText, Results: results}
	r.previews.put(previewKey{scope, repo}, p)
	return p, nil
}

// GetLifecyclePreview returns the latest preview of repo. Errors:
// ErrNameInvalid, ErrRepositoryNotFound, ErrLifecyclePreviewNotFound.
func (r *Registry) GetLifecyclePreview(ctx context.Context, scope tenant.Scope, repo string) (LifecyclePreview, error) {
	if _, err := r.GetRepository(ctx, scope, repo); err != nil {
		return LifecyclePreview{}, err
	}
	p, ok := r.previews.get(previewKey{scope, repo})
	if !ok {
		return LifecyclePreview{}, errdefs.Newf(ErrLifecyclePreviewNotFound,
			"There is no dry run for this repository with name '%s' in the registry with id '%s'", repo, scope.Account)
	}
	return p, nil
}
