package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Lifecycle policies: a repository's LifecyclePolicy (validated by
// ValidateLifecyclePolicy, evaluated by evaluateLifecycle) is applied by
// ApplyLifecycle, which RunLifecycle calls for every repository that has
// one, every interval:
//
//	RunLifecycle tick
//	  store List "ecr/" -> repositories with a LifecyclePolicy
//	  ApplyLifecycle(scope, repo), one store transaction:
//	    repository's policy + images + tags -> evaluateLifecycle (pure)
//	    delete each expired image with its tags and blob link
//	    put ecr/<acct>/<region>/lifecycle/<repo>  {evaluatedAt, repositoryCreatedAt}
//
// The lifecycle record is kept outside the Repository so that evaluation
// never races with UpdateRepository; it names the repository's CreatedAt
// so that a repository deleted and created again does not inherit it.

// LifecycleActionExpire is the action of every LifecycleResult.
const LifecycleActionExpire = "EXPIRE"

// DefaultLifecycleInterval is RunLifecycle's interval when given none.
// ECR applies policies "within 24 hours"; fargo does it hourly.
const DefaultLifecycleInterval = time.Hour

// ErrLifecyclePolicyNotFound: the repository has no lifecycle policy
// (ECR: LifecyclePolicyNotFoundException).
var ErrLifecyclePolicyNotFound = errdefs.New(errdefs.ErrNotFound, "lifecycle policy not found")

// LifecyclePolicyNotFound is the ErrLifecyclePolicyNotFound error for repo,
// in ECR's wording.
func LifecyclePolicyNotFound(scope tenant.Scope, repo string) error {
	return errdefs.Newf(ErrLifecyclePolicyNotFound,
		"Lifecycle policy does not exist for the repository with name '%s' in the registry with id '%s'", repo, scope.Account)
}

// LifecycleResult is an image a lifecycle policy expires (ECR's
// LifecyclePolicyPreviewResult).
type LifecycleResult struct {
	Digest       string
	Tags         []string
	PushedAt     time.Time
	RulePriority int    // the rule that expires it (appliedRulePriority)
	Action       string // LifecycleActionExpire
}

// lifecycleRecord is stored under lifecycleKey.
type lifecycleRecord struct {
	EvaluatedAt         time.Time `json:"evaluatedAt"`
	RepositoryCreatedAt time.Time `json:"repositoryCreatedAt"`
}

func lifecycleKey(s tenant.Scope, repo string) string {
	return s.KeyPrefix("ecr") + "lifecycle/" + repo
}

// PreviewLifecycle returns the images policyText would expire in repo now,
// oldest first, without expiring them. An empty policyText means the
// repository's own policy. Errors: ErrNameInvalid, ErrRepositoryNotFound,
// ErrLifecyclePolicyNotFound (no text and no stored policy),
// errdefs.ErrInvalidArgument (see ValidateLifecyclePolicy).
func (r *Registry) PreviewLifecycle(ctx context.Context, scope tenant.Scope, repo, policyText string) ([]LifecycleResult, error) {
	rp, err := r.GetRepository(ctx, scope, repo)
	if err != nil {
		return nil, err
	}
	if policyText == "" {
		if policyText = rp.LifecyclePolicy; policyText == "" {
			return nil, LifecyclePolicyNotFound(scope, repo)
		}
	}
	rules, err := parseLifecyclePolicy(policyText)
	if err != nil {
		return nil, err
	}
	images, err := r.DescribeImages(ctx, scope, repo, nil)
	if err != nil {
		return nil, err
	}
	return evaluateLifecycle(rules, images, r.now()), nil
}

// ApplyLifecycle expires (deletes, with their tags and blob links) the
// images the repository's lifecycle policy selects now, records the
// evaluation time (LifecycleEvaluatedAt) and returns what it expired,
// oldest first. Evaluation and expiry are one store transaction, so an image
// tagged or pushed meanwhile is never expired on the strength of an older
// view of the repository. Blob files go at the next garbage collection.
// Errors: as PreviewLifecycle.
func (r *Registry) ApplyLifecycle(ctx context.Context, scope tenant.Scope, repo string) ([]LifecycleResult, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return nil, err
	}
	var results []LifecycleResult
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		results = nil // fn may run more than once
		rp, err := getRepo(tx, scope, repo)
		if err != nil {
			return err
		}
		if rp.LifecyclePolicy == "" {
			return LifecyclePolicyNotFound(scope, repo)
		}
		rules, err := parseLifecyclePolicy(rp.LifecyclePolicy)
		if err != nil {
			return err
		}
		images, err := listImages(tx, scope, repo)
		if err != nil {
			return err
		}
		tags, err := tagMap(tx, scope, repo)
		if err != nil {
			return err
		}
		for i := range images {
			images[i].Tags = tags[images[i].Digest]
		}
		evaluatedAt := r.now().UTC()
		results = evaluateLifecycle(rules, images, evaluatedAt)
		for _, res := range results {
			keys := []string{imageKey(scope, repo, res.Digest), linkKey(scope, repo, res.Digest)}
			for _, t := range res.Tags {
				keys = append(keys, tagKey(scope, repo, t))
			}
			for _, k := range keys {
				if err := tx.Delete(k); err != nil {
					return err
				}
			}
		}
		val, err := json.Marshal(lifecycleRecord{EvaluatedAt: evaluatedAt, RepositoryCreatedAt: rp.CreatedAt})
		if err != nil {
			return err
		}
		return tx.Put(lifecycleKey(scope, repo), val)
	})
	if err != nil {
		return nil, err
	}
	if len(results) > 0 {
		r.log.InfoContext(ctx, "lifecycle policy applied", "account", scope.Account, "region", scope.Region,
			"repository", repo, "expired", len(results))
	}
	for _, res := range results {
		r.log.DebugContext(ctx, "image expired by lifecycle policy", "account", scope.Account, "region", scope.Region,
			"repository", repo, "digest", res.Digest, "tags", res.Tags, "rule_priority", res.RulePriority)
	}
	return results, nil
}

// LifecycleEvaluatedAt returns when ApplyLifecycle last ran for the
// repository (GetLifecyclePolicy's lastEvaluatedAt), or the zero time if it
// never has. Errors: ErrNameInvalid, ErrRepositoryNotFound.
func (r *Registry) LifecycleEvaluatedAt(ctx context.Context, scope tenant.Scope, repo string) (time.Time, error) {
	if err := ValidateRepositoryName(repo); err != nil {
		return time.Time{}, err
	}
	var at time.Time
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		rp, err := getRepo(tx, scope, repo)
		if err != nil {
			return err
		}
		kv, err := tx.Get(lifecycleKey(scope, repo))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
		var rec lifecycleRecord
		if err := json.Unmarshal(kv.Value, &rec); err != nil {
			return fmt.Errorf("registry: decode %s: %w", kv.Key, err)
		}
		if rec.RepositoryCreatedAt.Equal(rp.CreatedAt) {
			at = rec.EvaluatedAt
		}
		return nil
	})
	return at, err
}

// RunLifecycle applies the lifecycle policy of every repository of every
// scope at once and then every interval (DefaultLifecycleInterval if
// interval ≤ 0), until ctx ends. A repository whose policy fails to apply
// is logged and retried at the next round.
func (r *Registry) RunLifecycle(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		interval = DefaultLifecycleInterval
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		r.lifecycleRound(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// lifecycleRound applies every stored lifecycle policy once.
func (r *Registry) lifecycleRound(ctx context.Context) {
	type target struct {
		scope tenant.Scope
		repo  string
	}
	kvs, err := r.st.List(ctx, "ecr/")
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "lifecycle: list repositories", "error", err)
		}
		return
	}
	var targets []target
	for _, kv := range kvs {
		// ecr/<acct>/<region>/repos/<name>; names may contain '/'.
		parts := strings.SplitN(kv.Key, "/", 5)
		if len(parts) != 5 || parts[3] != "repos" {
			continue
		}
		var rp Repository
		if err := json.Unmarshal(kv.Value, &rp); err != nil {
			r.log.WarnContext(ctx, "lifecycle: decode repository", "key", kv.Key, "error", err)
			continue
		}
		if rp.LifecyclePolicy != "" {
			targets = append(targets, target{tenant.Scope{Account: parts[1], Region: parts[2]}, parts[4]})
		}
	}
	for _, tg := range targets {
		if ctx.Err() != nil {
			return
		}
		_, err := r.ApplyLifecycle(ctx, tg.scope, tg.repo)
		if err != nil && !errors.Is(err, ErrRepositoryNotFound) && !errors.Is(err, ErrLifecyclePolicyNotFound) && ctx.Err() == nil {
			r.log.WarnContext(ctx, "lifecycle policy not applied", "account", tg.scope.Account, "region", tg.scope.Region,
				"repository", tg.repo, "error", err)
		}
	}
}
