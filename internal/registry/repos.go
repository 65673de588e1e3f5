package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Tag mutability settings.
const (
	Mutable   = "MUTABLE"
	Immutable = "IMMUTABLE"
)

// Encryption is a repository's encryption configuration.
type Encryption struct {
	Type   string `json:"encryptionType"` // AES256 (default) | KMS
	KMSKey string `json:"kmsKey,omitempty"`
}

// ResourceTag is a user tag on a repository.
type ResourceTag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Repository is an ECR repository, stored as JSON under
// ecr/<account>/<region>/repos/<name>.
type Repository struct {
	Name               string        `json:"name"`
	ARN                string        `json:"arn"`
	RegistryID         string        `json:"registryId"`
	CreatedAt          time.Time     `json:"createdAt"`
	ImageTagMutability string        `json:"imageTagMutability"` // Mutable | Immutable
	ScanOnPush         bool          `json:"scanOnPush"`
	Encryption         Encryption    `json:"encryption"`
	Policy             string        `json:"policy,omitempty"`
	LifecyclePolicy    string        `json:"lifecyclePolicy,omitempty"`
	Tags               []ResourceTag `json:"tags,omitempty"`
}

func validateMutability(m string) error {
	if m != Mutable && m != Immutable {
		return errdefs.Invalidf("Invalid parameter at 'imageTagMutability' failed to satisfy constraint: 'Member must satisfy enum value set: [MUTABLE, IMMUTABLE]'")
	}
	return nil
}

// CreateRepository creates repo in scope. Name, ImageTagMutability (default
// MUTABLE), ScanOnPush, Encryption (default AES256), Policy,
// LifecyclePolicy and Tags are taken from repo; ARN, RegistryID and
// CreatedAt are set. Errors: ErrNameInvalid, errdefs.ErrInvalidArgument,
// ErrRepositoryAlreadyExists.
func (r *Registry) CreateRepository(ctx context.Context, scope tenant.Scope, repo Repository) (Repository, error) {
	if err := ValidateRepositoryName(repo.Name); err != nil {
		return Repository{}, err
	}
	if repo.ImageTagMutability == "" {
		repo.ImageTagMutability = Mutable
	}
	if err := validateMutability(repo.ImageTagMutability); err != nil {
		return Repository{}, err
	}
	if repo.Encryption.Type == "" {
		repo.Encryption.Type = "AES256"
	}
	repo.ARN = scope.ARN("ecr", "repository/"+repo.Name)
	repo.RegistryID = scope.Account
	repo.CreatedAt = r.now().UTC()
	val, err := json.Marshal(repo)
	if err != nil {
		return Repository{}, err
	}
	key := repoKey(scope, repo.Name)
	_, err = r.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(key); err == nil {
			return errdefs.Newf(ErrRepositoryAlreadyExists,
				"The repository with name '%s' already exists in the registry with id '%s'", repo.Name, scope.Account)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return tx.Put(key, val)
	})
	if err != nil {
		return Repository{}, err
	}
	r.log.InfoContext(ctx, "repository created", "account", scope.Account, "region", scope.Region, "repository", repo.Name)
	return repo, nil
}

// GetRepository returns the repository. Errors: ErrNameInvalid,
// ErrRepositoryNotFound.
func (r *Registry) GetRepository(ctx context.Context, scope tenant.Scope, name string) (Repository, error) {
	if err := ValidateRepositoryName(name); err != nil {
		return Repository{}, err
	}
	var repo Repository
	err := r.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		repo, err = getRepo(tx, scope, name)
		return err
	})
	return repo, err
}

func getRepo(tx store.ReadTx, scope tenant.Scope, name string) (Repository, error) {
	kv, err := tx.Get(repoKey(scope, name))
	if errors.Is(err, store.ErrNotFound) {
		return Repository{}, repoNotFound(scope, name)
	}
	if err != nil {
		return Repository{}, err
	}
	var repo Repository
	if err := json.Unmarshal(kv.Value, &repo); err != nil {
		return Repository{}, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
	}
	return repo, nil
}

// ListRepositories returns the repositories of scope sorted by name.
func (r *Registry) ListRepositories(ctx context.Context, scope tenant.Scope) ([]Repository, error) {
	kvs, err := r.st.List(ctx, scope.KeyPrefix("ecr")+"repos/")
	if err != nil {
		return nil, err
	}
	out := make([]Repository, 0, len(kvs))
	for _, kv := range kvs {
		var repo Repository
		if err := json.Unmarshal(kv.Value, &repo); err != nil {
			return nil, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
		}
		out = append(out, repo)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// UpdateRepository applies fn to the stored repository in one transaction
// (for policies, lifecycle policies, scanning configuration, resource tags)
// and returns the result. fn may run more than once and must only modify
// the value it is given. Name, ARN, RegistryID and CreatedAt cannot change.
// Errors: ErrNameInvalid, ErrRepositoryNotFound, errdefs.ErrInvalidArgument,
// and whatever fn returns.
func (r *Registry) UpdateRepository(ctx context.Context, scope tenant.Scope, name string, fn func(*Repository) error) (Repository, error) {
	if err := ValidateRepositoryName(name); err != nil {
		return Repository{}, err
	}
	var out Repository
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		repo, err := getRepo(tx, scope, name)
		if err != nil {
			return err
		}
		fixed := repo
		if err := fn(&repo); err != nil {
			return err
		}
		repo.Name, repo.ARN, repo.RegistryID, repo.CreatedAt = fixed.Name, fixed.ARN, fixed.RegistryID, fixed.CreatedAt
		if err := validateMutability(repo.ImageTagMutability); err != nil {
			return err
		}
		val, err := json.Marshal(repo)
		if err != nil {
			return err
		}
		out = repo
		return tx.Put(repoKey(scope, name), val)
	})
	return out, err
}

// PutImageTagMutability sets the repository's tag mutability (Mutable or
// Immutable). Errors: as UpdateRepository.
func (r *Registry) PutImageTagMutability(ctx context.Context, scope tenant.Scope, name, mutability string) (Repository, error) {
	if err := validateMutability(mutability); err != nil {
		return Repository{}, err
	}
	return r.UpdateRepository(ctx, scope, name, func(repo *Repository) error {
		repo.ImageTagMutability = mutability
		return nil
	})
}

// DeleteRepository deletes the repository with its images, tags, blob
// links (blob files go at the next garbage collection) and lifecycle
// record, in one transaction, and returns it.
// Without force, a repository that holds images fails with
// ErrRepositoryNotEmpty. Errors: ErrNameInvalid, ErrRepositoryNotFound,
// ErrRepositoryNotEmpty.
func (r *Registry) DeleteRepository(ctx context.Context, scope tenant.Scope, name string, force bool) (Repository, error) {
	if err := ValidateRepositoryName(name); err != nil {
		return Repository{}, err
	}
	var repo Repository
	_, err := r.st.Update(ctx, func(tx store.Tx) error {
		var err error
		if repo, err = getRepo(tx, scope, name); err != nil {
			return err
		}
		images, err := listDirect(tx, imagePrefix(scope, name))
		if err != nil {
			return err
		}
		if len(images) > 0 && !force {
			return errdefs.Newf(ErrRepositoryNotEmpty,
				"The repository with name '%s' in registry with id '%s' cannot be deleted because it still contains images", name, scope.Account)
		}
		var keys []string
		for _, p := range []string{imagePrefix(scope, name), tagPrefix(scope, name), linkPrefix(scope, name)} {
			kvs, err := listDirect(tx, p)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				keys = append(keys, kv.Key)
			}
		}
		// Deleting an absent key (no lifecycle record) is no error.
		keys = append(keys, repoKey(scope, name), lifecycleKey(scope, name))
		for _, k := range keys {
			if err := tx.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Repository{}, err
	}
	r.previews.forget(previewKey{scope, name})
	r.log.InfoContext(ctx, "repository deleted", "account", scope.Account, "region", scope.Region, "repository", name, "force", force)
	return repo, nil
}
