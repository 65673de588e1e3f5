package registry

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	"github.com/fargo-run/fargo/internal/policy"
	"github.com/fargo-run/fargo/internal/tenant"
)

// PolicySource returns the policy text of a repository ("" when it has
// none, or when the repository does not exist). *Registry is one.
type PolicySource interface {
	RepositoryPolicy(ctx context.Context, scope tenant.Scope, repo string) (string, error)
}

// PolicyAuthorizer is the default Authorizer: ECR's repository policies.
//
//	principal's account == scope's account --> allowed
//	otherwise: the repository's policy, evaluated for the principal's
//	account (arn:aws:iam::<acct>:root) on the action and the repository ARN:
//	  Deny anywhere  --> denied
//	  Allow          --> allowed
//	  no statement / no policy / no repository / registry-wide action --> denied
//
// Same-account requests are always allowed, as with SameAccount: in ECR a
// principal's access to its own account's repositories is governed by its
// IAM identity policies, which fargo does not model (a fargo principal is
// a whole account), so a repository policy can only widen access to
// other accounts. One divergence follows: an explicit Deny in a repository
// policy does not restrict the repository's own account, as it would
// restrict that account's IAM users on AWS.
type PolicyAuthorizer struct {
	src PolicySource
	log *slog.Logger

	// cache holds parsed policies by text: a pull authorizes every blob
	// request, and a policy only changes with SetRepositoryPolicy.
	mu    sync.Mutex
	cache map[string]*policy.Document
}

// maxCachedPolicies bounds PolicyAuthorizer's cache; when full it starts
// over.
const maxCachedPolicies = 1024

// NewPolicyAuthorizer returns a PolicyAuthorizer reading policies from src
// and logging unusable stored policies to log (nil: discard).
func NewPolicyAuthorizer(src PolicySource, log *slog.Logger) *PolicyAuthorizer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &PolicyAuthorizer{src: src, log: log, cache: map[string]*policy.Document{}}
}

// Authorize implements Authorizer. A denial is an ErrDenied error with the
// message SameAccount gives.
func (a *PolicyAuthorizer) Authorize(ctx context.Context, p Principal, scope tenant.Scope, repo, action string) error {
	if p.Account == scope.Account {
		return nil
	}
	deny := func() error { return SameAccount{}.Authorize(ctx, p, scope, repo, action) }
	if repo == "" || p.Account == "" {
		return deny()
	}
	text, err := a.src.RepositoryPolicy(ctx, scope, repo)
	if err != nil {
		return err
	}
	if text == "" {
		return deny()
	}
	doc, err := a.parse(text)
	if err != nil {
		// Policies are validated when set; one that no longer parses
		// (an older fargo's looser check) grants nothing.
		a.log.WarnContext(ctx, "unusable repository policy", "account", scope.Account, "region", scope.Region,
			"repository", repo, "error", err)
		return deny()
	}
	root := "arn:aws:iam::" + p.Account + ":root"
	d := doc.Evaluate(policy.Request{
		PrincipalAccount: p.Account,
		PrincipalARN:     root,
		Action:           action,
		Resource:         scope.ARN("ecr", "repository/"+repo),
		Context: map[string][]string{
			"aws:PrincipalAccount": {p.Account},
			"aws:PrincipalArn":     {root},
			"aws:PrincipalType":    {"Account"},
			"aws:userid":           {p.Account}, // the root user's userid is its account id
		},
	})
	if d != policy.Allow {
		return deny()
	}
	return nil
}

func (a *PolicyAuthorizer) parse(text string) (*policy.Document, error) {
	a.mu.Lock()
	doc, ok := a.cache[text]
	a.mu.Unlock()
	if ok {
		return doc, nil
	}
	doc, err := policy.Parse(text)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	if len(a.cache) >= maxCachedPolicies {
		clear(a.cache)
	}
	a.cache[text] = doc
	a.mu.Unlock()
	return doc, nil
}

// RepositoryPolicy implements PolicySource: the repository's policy text,
// "" when it has none or does not exist.
func (r *Registry) RepositoryPolicy(ctx context.Context, scope tenant.Scope, repo string) (string, error) {
	if ValidateRepositoryName(repo) != nil {
		return "", nil
	}
	rp, err := r.GetRepository(ctx, scope, repo)
	if errors.Is(err, ErrRepositoryNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return rp.Policy, nil
}

// Authorize decides whether p may perform action (an Action* constant or
// any other ecr: IAM action) on repo in scope ("" for registry-wide
// actions), with the configured Authorizer (PolicyAuthorizer by default).
// The ECR API adapter calls it for requests that name another account's
// registryId. It returns nil or an errdefs.ErrPermissionDenied error
// (ErrDenied).
func (r *Registry) Authorize(ctx context.Context, p Principal, scope tenant.Scope, repo, action string) error {
	return r.auth.Authorize(ctx, p, scope, repo, action)
}
