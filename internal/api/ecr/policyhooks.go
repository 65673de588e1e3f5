package ecr

import (
	"context"
	"encoding/json"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

// The calls into repository and lifecycle policies (internal/policy and
// registry's lifecycle code), in one place.

// authorize decides a cross-account call (repository policies).
func (a *Adapter) authorize(ctx context.Context, p registry.Principal, scope tenant.Scope, repo, action string) error {
	// TODO(policy): a.reg.Authorize once it exists.
	return registry.SameAccount{}.Authorize(ctx, p, scope, repo, action)
}

// validateRepositoryPolicy returns an errdefs.ErrInvalidArgument error for
// a policy that does not parse.
func validateRepositoryPolicy(text string) error {
	// TODO(policy): policy.Parse.
	if !json.Valid([]byte(text)) {
		return errdefs.Invalidf("the policy is not valid JSON")
	}
	return nil
}

// validateLifecyclePolicy returns an errdefs.ErrInvalidArgument error for a
// lifecycle policy that breaks ECR's rules.
func validateLifecyclePolicy(text string) error {
	// TODO(policy): registry.ValidateLifecyclePolicy.
	if !json.Valid([]byte(text)) {
		return errdefs.Invalidf("the policy is not valid JSON")
	}
	return nil
}

// previewLifecycle dry-runs a lifecycle policy over repo's images.
func (a *Adapter) previewLifecycle(ctx context.Context, scope tenant.Scope, repo, text string) ([]lifecycleResult, error) {
	// TODO(policy): a.reg.PreviewLifecycle.
	return nil, nil
}
