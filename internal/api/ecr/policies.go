package ecr

import (
	"context"
	"errors"
	"slices"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/policy"
	"github.com/fargo-run/fargo/internal/registry"
)

// Repository policies.

const maxPolicyText = 10240

func (a *Adapter) setRepositoryPolicy(ctx context.Context, req *api.Request, in *w.SetRepositoryPolicyRequest) (*w.SetRepositoryPolicyResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	text := wire.ToString(in.PolicyText)
	if len(text) < 1 || len(text) > maxPolicyText {
		return nil, invalidParam("policyText", "Member must have length between 1 and 10240")
	}
	if _, err := policy.ParseRepositoryPolicy(text); err != nil {
		// ECR's message gives no detail (policy.InvalidPolicyMessage);
		// the log says what is wrong.
		var perr *policy.Error
		if errors.As(err, &perr) {
			a.log.InfoContext(ctx, "repository policy rejected", "account", req.Scope.Account, "repository", name, "reason", perr.Detail)
		}
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:SetRepositoryPolicy")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		r.Policy = text
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &w.SetRepositoryPolicyResponse{RegistryId: wire.String(repo.RegistryID), RepositoryName: wire.String(name), PolicyText: wire.String(repo.Policy)}, nil
}

func (a *Adapter) getRepositoryPolicy(ctx context.Context, req *api.Request, in *w.GetRepositoryPolicyRequest) (*w.GetRepositoryPolicyResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:GetRepositoryPolicy")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.GetRepository(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	if repo.Policy == "" {
		return nil, registry.RepositoryPolicyNotFound(scope, name)
	}
	return &w.GetRepositoryPolicyResponse{RegistryId: wire.String(repo.RegistryID), RepositoryName: wire.String(name), PolicyText: wire.String(repo.Policy)}, nil
}

func (a *Adapter) deleteRepositoryPolicy(ctx context.Context, req *api.Request, in *w.DeleteRepositoryPolicyRequest) (*w.DeleteRepositoryPolicyResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:DeleteRepositoryPolicy")
	if err != nil {
		return nil, err
	}
	var old string
	_, err = a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		if r.Policy == "" {
			return registry.RepositoryPolicyNotFound(scope, name)
		}
		old, r.Policy = r.Policy, ""
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &w.DeleteRepositoryPolicyResponse{RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), PolicyText: wire.String(old)}, nil
}

// Lifecycle policies.

// checkLifecycleText validates a lifecycle policy's length and rules. A
// rule violation is an errdefs.ErrInvalidArgument error that carries ECR's
// whole message ("Invalid parameter at 'LifecyclePolicyText' failed to
// satisfy constraint: 'Lifecycle policy validation failure: ..."), which
// mapError answers as InvalidParameterException.
func checkLifecycleText(text string) error {
	if len(text) < 100 || len(text) > 30720 {
		return invalidParam("lifecyclePolicyText", "Member must have length between 100 and 30720")
	}
	return registry.ValidateLifecyclePolicy(text)
}

func (a *Adapter) putLifecyclePolicy(ctx context.Context, req *api.Request, in *w.PutLifecyclePolicyRequest) (*w.PutLifecyclePolicyResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	text := wire.ToString(in.LifecyclePolicyText)
	if err := checkLifecycleText(text); err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:PutLifecyclePolicy")
	if err != nil {
		return nil, err
	}
	if _, err := a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		r.LifecyclePolicy = text
		return nil
	}); err != nil {
		return nil, err
	}
	return &w.PutLifecyclePolicyResponse{RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), LifecyclePolicyText: wire.String(text)}, nil
}

func (a *Adapter) getLifecyclePolicy(ctx context.Context, req *api.Request, in *w.GetLifecyclePolicyRequest) (*w.GetLifecyclePolicyResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:GetLifecyclePolicy")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.GetRepository(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	if repo.LifecyclePolicy == "" {
		return nil, registry.LifecyclePolicyNotFound(scope, name)
	}
	out := &w.GetLifecyclePolicyResponse{RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), LifecyclePolicyText: wire.String(repo.LifecyclePolicy)}
	at, err := a.reg.LifecycleEvaluatedAt(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	if !at.IsZero() {
		out.LastEvaluatedAt = wire.NewTimestamp(at)
	}
	return out, nil
}

func (a *Adapter) deleteLifecyclePolicy(ctx context.Context, req *api.Request, in *w.DeleteLifecyclePolicyRequest) (*w.DeleteLifecyclePolicyResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:DeleteLifecyclePolicy")
	if err != nil {
		return nil, err
	}
	var old string
	if _, err := a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		if r.LifecyclePolicy == "" {
			return registry.LifecyclePolicyNotFound(scope, name)
		}
		old, r.LifecyclePolicy = r.LifecyclePolicy, ""
		return nil
	}); err != nil {
		return nil, err
	}
	return &w.DeleteLifecyclePolicyResponse{RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name), LifecyclePolicyText: wire.String(old)}, nil
}

// Lifecycle policy previews: the registry computes and keeps them
// (Registry.StartLifecyclePreview); the adapter filters and pages them.

func (a *Adapter) startLifecyclePolicyPreview(ctx context.Context, req *api.Request, in *w.StartLifecyclePolicyPreviewRequest) (*w.StartLifecyclePolicyPreviewResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:StartLifecyclePolicyPreview")
	if err != nil {
		return nil, err
	}
	text := wire.ToString(in.LifecyclePolicyText)
	if in.LifecyclePolicyText != nil {
		if err := checkLifecycleText(text); err != nil {
			return nil, err
		}
	}
	p, err := a.reg.StartLifecyclePreview(ctx, scope, name, text)
	if err != nil {
		return nil, err
	}
	return &w.StartLifecyclePolicyPreviewResponse{
		RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name),
		LifecyclePolicyText: wire.String(p.PolicyText), Status: wire.String(w.LifecyclePolicyPreviewStatusComplete),
	}, nil
}

func (a *Adapter) getLifecyclePolicyPreview(ctx context.Context, req *api.Request, in *w.GetLifecyclePolicyPreviewRequest) (*w.GetLifecyclePolicyPreviewResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if len(in.ImageIds) > 0 && (in.MaxResults != nil || in.NextToken != nil) {
		return nil, errdefs.Invalidf("Invalid parameter: maxResults and nextToken cannot be used together with imageIds")
	}
	n, err := maxResults(in.MaxResults, 100, 100)
	if err != nil {
		return nil, err
	}
	var status string
	if in.Filter != nil {
		if status, err = tagStatus(in.Filter.TagStatus); err != nil {
			return nil, err
		}
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:GetLifecyclePolicyPreview")
	if err != nil {
		return nil, err
	}
	p, err := a.reg.GetLifecyclePreview(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	var kept []registry.LifecycleResult
	for _, r := range p.Results {
		if (status == w.TagStatusTagged && len(r.Tags) == 0) || (status == w.TagStatusUntagged && len(r.Tags) > 0) {
			continue
		}
		if len(in.ImageIds) > 0 && !slices.ContainsFunc(in.ImageIds, func(id w.ImageIdentifier) bool {
			return wire.ToString(id.ImageDigest) == r.Digest || (id.ImageTag != nil && slices.Contains(r.Tags, *id.ImageTag))
		}) {
			continue
		}
		kept = append(kept, r)
	}
	// Oldest push first.
	key := func(r registry.LifecycleResult) string { return paging.Join(paging.Time(r.PushedAt), r.Digest) }
	page, next, err := paginate("GetLifecyclePolicyPreview", kept, key, n, in.NextToken)
	if err != nil {
		return nil, err
	}
	out := &w.GetLifecyclePolicyPreviewResponse{
		RegistryId: wire.String(scope.Account), RepositoryName: wire.String(name),
		LifecyclePolicyText: wire.String(p.PolicyText), Status: wire.String(w.LifecyclePolicyPreviewStatusComplete),
		PreviewResults: []w.LifecyclePolicyPreviewResult{}, NextToken: next,
		Summary: &w.LifecyclePolicyPreviewSummary{ExpiringImageTotalCount: wire.Int32(int32(len(p.Results)))},
	}
	for _, r := range page {
		out.PreviewResults = append(out.PreviewResults, w.LifecyclePolicyPreviewResult{
			ImageDigest: wire.String(r.Digest), ImageTags: r.Tags, ImagePushedAt: wire.NewTimestamp(r.PushedAt),
			AppliedRulePriority: wire.Int32(int32(r.RulePriority)),
			Action:              &w.LifecyclePolicyRuleAction{Type: wire.String(actionType(r.Action))},
		})
	}
	return out, nil
}

// actionType spells a rule action as the preview does (EXPIRE).
func actionType(a string) string {
	switch a {
	case "", "expire", "EXPIRE":
		return w.ImageActionTypeExpire
	case "transition", "TRANSITION":
		return w.ImageActionTypeTransition
	}
	return a
}
