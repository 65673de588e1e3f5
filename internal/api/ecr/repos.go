package ecr

import (
	"context"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecrwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/registry"
	"github.com/fargo-run/fargo/internal/tenant"
)

// maxResourceTags is ECR's limit of tags per repository.
const maxResourceTags = 50

func (a *Adapter) createRepository(ctx context.Context, req *api.Request, in *w.CreateRepositoryRequest) (*w.CreateRepositoryResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	// CreateRepository's registryId must be the caller's own: nobody
	// creates repositories in another account.
	if in.RegistryId != nil && *in.RegistryId != req.Scope.Account {
		return nil, invalidParam("registryId", "The registry id must be the caller's account id "+req.Scope.Account)
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	if len(tags) > maxResourceTags {
		return nil, tooManyTags()
	}
	repo := registry.Repository{
		Name:               name,
		ImageTagMutability: wire.ToString(in.ImageTagMutability),
		Tags:               tags,
	}
	if in.ImageScanningConfiguration != nil {
		repo.ScanOnPush = wire.ToBool(in.ImageScanningConfiguration.ScanOnPush)
	}
	if e := in.EncryptionConfiguration; e != nil {
		t := wire.ToString(e.EncryptionType)
		if t != w.EncryptionTypeAes256 && t != w.EncryptionTypeKms && t != w.EncryptionTypeKmsDsse {
			return nil, invalidParam("encryptionConfiguration.encryptionType", "Member must satisfy enum value set: [AES256, KMS, KMS_DSSE]")
		}
		if t == w.EncryptionTypeAes256 && e.KmsKey != nil {
			return nil, errdefs.Invalidf("Invalid parameter: kmsKey can only be specified when encryptionType is KMS")
		}
		repo.Encryption = registry.Encryption{Type: t, KMSKey: wire.ToString(e.KmsKey)}
	}
	created, err := a.reg.CreateRepository(ctx, req.Scope, repo)
	if err != nil {
		return nil, err
	}
	a.warnScanOnPush(ctx, req.Scope, created)
	return &w.CreateRepositoryResponse{Repository: a.repoToWire(req, req.Scope, created)}, nil
}

// warnScanOnPush logs that a repository asks for scans fargo cannot do.
func (a *Adapter) warnScanOnPush(ctx context.Context, scope tenant.Scope, repo registry.Repository) {
	if repo.ScanOnPush {
		a.log.WarnContext(ctx, "scanOnPush is stored but images are not scanned: fargo has no vulnerability database",
			"account", scope.Account, "region", scope.Region, "repository", repo.Name)
	}
}

func (a *Adapter) repoToWire(req *api.Request, scope tenant.Scope, r registry.Repository) *w.Repository {
	out := &w.Repository{
		RepositoryArn:              wire.String(r.ARN),
		RegistryId:                 wire.String(r.RegistryID),
		RepositoryName:             wire.String(r.Name),
		RepositoryUri:              wire.String(a.repoURI(req.Scope.Account, scope, r.Name)),
		CreatedAt:                  wire.NewTimestamp(r.CreatedAt),
		ImageTagMutability:         wire.String(r.ImageTagMutability),
		ImageScanningConfiguration: &w.ImageScanningConfiguration{ScanOnPush: wire.Bool(r.ScanOnPush)},
		EncryptionConfiguration:    &w.EncryptionConfiguration{EncryptionType: wire.String(r.Encryption.Type)},
	}
	if r.Encryption.KMSKey != "" {
		out.EncryptionConfiguration.KmsKey = wire.String(r.Encryption.KMSKey)
	}
	return out
}

func (a *Adapter) describeRepositories(ctx context.Context, req *api.Request, in *w.DescribeRepositoriesRequest) (*w.DescribeRepositoriesResponse, error) {
	if len(in.RepositoryNames) > 0 && (in.MaxResults != nil || in.NextToken != nil) {
		return nil, errdefs.Invalidf("Invalid parameter: maxResults and nextToken cannot be used together with repositoryNames")
	}
	if len(in.RepositoryNames) > 100 {
		return nil, invalidParam("repositoryNames", "Member must have length less than or equal to 100")
	}
	n, err := maxResults(in.MaxResults, 1000, 100)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeRepositoriesResponse{Repositories: []w.Repository{}}
	if len(in.RepositoryNames) > 0 {
		for _, p := range in.RepositoryNames {
			name, err := repoName(&p)
			if err != nil {
				return nil, err
			}
			scope, err := a.target(ctx, req, in.RegistryId, name, registry.ActionDescribeRepos)
			if err != nil {
				return nil, err
			}
			repo, err := a.reg.GetRepository(ctx, scope, name)
			if err != nil {
				return nil, err
			}
			out.Repositories = append(out.Repositories, *a.repoToWire(req, scope, repo))
		}
		return out, nil
	}
	scope, err := a.target(ctx, req, in.RegistryId, "", registry.ActionDescribeRepos)
	if err != nil {
		return nil, err
	}
	repos, err := a.reg.ListRepositories(ctx, scope)
	if err != nil {
		return nil, err
	}
	page, next, err := paginate("DescribeRepositories", repos, func(r registry.Repository) string { return r.Name }, n, in.NextToken)
	if err != nil {
		return nil, err
	}
	for _, r := range page {
		out.Repositories = append(out.Repositories, *a.repoToWire(req, scope, r))
	}
	out.NextToken = next
	return out, nil
}

func (a *Adapter) deleteRepository(ctx context.Context, req *api.Request, in *w.DeleteRepositoryRequest) (*w.DeleteRepositoryResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:DeleteRepository")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.DeleteRepository(ctx, scope, name, wire.ToBool(in.Force))
	if err != nil {
		return nil, err
	}
	return &w.DeleteRepositoryResponse{Repository: a.repoToWire(req, scope, repo)}, nil
}

func (a *Adapter) putImageTagMutability(ctx context.Context, req *api.Request, in *w.PutImageTagMutabilityRequest) (*w.PutImageTagMutabilityResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	m := wire.ToString(in.ImageTagMutability)
	if m != registry.Mutable && m != registry.Immutable {
		return nil, invalidParam("imageTagMutability", "Member must satisfy enum value set: [MUTABLE, IMMUTABLE]")
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:PutImageTagMutability")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.PutImageTagMutability(ctx, scope, name, m)
	if err != nil {
		return nil, err
	}
	return &w.PutImageTagMutabilityResponse{
		RegistryId: wire.String(repo.RegistryID), RepositoryName: wire.String(repo.Name),
		ImageTagMutability: wire.String(repo.ImageTagMutability),
	}, nil
}

func (a *Adapter) putImageScanningConfiguration(ctx context.Context, req *api.Request, in *w.PutImageScanningConfigurationRequest) (*w.PutImageScanningConfigurationResponse, error) {
	name, err := repoName(in.RepositoryName)
	if err != nil {
		return nil, err
	}
	if in.ImageScanningConfiguration == nil {
		return nil, invalidParam("imageScanningConfiguration", "Member must not be null")
	}
	scope, err := a.target(ctx, req, in.RegistryId, name, "ecr:PutImageScanningConfiguration")
	if err != nil {
		return nil, err
	}
	on := wire.ToBool(in.ImageScanningConfiguration.ScanOnPush)
	repo, err := a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		r.ScanOnPush = on
		return nil
	})
	if err != nil {
		return nil, err
	}
	a.warnScanOnPush(ctx, scope, repo)
	return &w.PutImageScanningConfigurationResponse{
		RegistryId: wire.String(repo.RegistryID), RepositoryName: wire.String(repo.Name),
		ImageScanningConfiguration: &w.ImageScanningConfiguration{ScanOnPush: wire.Bool(repo.ScanOnPush)},
	}, nil
}

// Resource tags.

func tooManyTags() error {
	return errdefs.Newf(errTooManyTags, "The list of tags on the repository is over the limit. The maximum number of tags that can be applied to a repository is %d.", maxResourceTags)
}

func invalidTag(format string, args ...any) error {
	return errdefs.Newf(errInvalidTag, format, args...)
}

func checkTagKey(k string) error {
	if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
		return invalidTag("Tag keys must be between 1 and 128 characters long: '%s'", k)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return invalidTag("Tag keys must not start with 'aws:', which is reserved for AWS use: '%s'", k)
	}
	return nil
}

// tagsFromWire validates tags (ECR's limits: key 1–128, value 0–256, no
// "aws:" prefix) and folds repeated keys, the last one winning.
func tagsFromWire(in []w.Tag) ([]registry.ResourceTag, error) {
	var out []registry.ResourceTag
	for _, t := range in {
		if t.Key == nil {
			return nil, invalidTag("Tag key must not be null")
		}
		k, v := *t.Key, wire.ToString(t.Value)
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(v) > 256 {
			return nil, invalidTag("Tag values must be at most 256 characters long (key '%s')", k)
		}
		out = mergeTag(out, registry.ResourceTag{Key: k, Value: v})
	}
	return out, nil
}

func mergeTag(tags []registry.ResourceTag, t registry.ResourceTag) []registry.ResourceTag {
	for i := range tags {
		if tags[i].Key == t.Key {
			tags[i].Value = t.Value
			return tags
		}
	}
	return append(tags, t)
}

func tagsToWire(tags []registry.ResourceTag) []w.Tag {
	out := make([]w.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, w.Tag{Key: wire.String(t.Key), Value: wire.String(t.Value)})
	}
	return out
}

// repoFromARN parses "arn:aws:ecr:<region>:<account>:repository/<name>".
func repoFromARN(p *string) (tenant.Scope, string, error) {
	bad := invalidParam("resourceArn", "Invalid ARN: "+wire.ToString(p))
	if p == nil {
		return tenant.Scope{}, "", bad
	}
	parts := strings.SplitN(*p, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "ecr" || !tenant.ValidRegion(parts[3]) || !registryIDRE.MatchString(parts[4]) {
		return tenant.Scope{}, "", bad
	}
	name, ok := strings.CutPrefix(parts[5], "repository/")
	if !ok || registry.ValidateRepositoryName(name) != nil {
		return tenant.Scope{}, "", bad
	}
	return tenant.Scope{Account: parts[4], Region: parts[3]}, name, nil
}

// arnScope resolves a resource ARN to the scope to act in, checking the
// region and, for another account, the repository policy.
func (a *Adapter) arnScope(ctx context.Context, req *api.Request, arn *string, action string) (tenant.Scope, string, error) {
	scope, name, err := repoFromARN(arn)
	if err != nil {
		return tenant.Scope{}, "", err
	}
	if scope.Region != req.Scope.Region {
		return tenant.Scope{}, "", invalidParam("resourceArn", "The ARN's region '"+scope.Region+"' is not the region of the request, '"+req.Scope.Region+"'")
	}
	acct := scope.Account
	scope, err = a.target(ctx, req, &acct, name, action)
	return scope, name, err
}

func (a *Adapter) tagResource(ctx context.Context, req *api.Request, in *w.TagResourceRequest) (*w.TagResourceResponse, error) {
	scope, name, err := a.arnScope(ctx, req, in.ResourceArn, "ecr:TagResource")
	if err != nil {
		return nil, err
	}
	if in.Tags == nil {
		return nil, invalidParam("tags", "Member must not be null")
	}
	tags, err := tagsFromWire(in.Tags)
	if err != nil {
		return nil, err
	}
	_, err = a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		merged := slices.Clone(r.Tags)
		for _, t := range tags {
			merged = mergeTag(merged, t)
		}
		if len(merged) > maxResourceTags {
			return tooManyTags()
		}
		r.Tags = merged
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &w.TagResourceResponse{}, nil
}

func (a *Adapter) untagResource(ctx context.Context, req *api.Request, in *w.UntagResourceRequest) (*w.UntagResourceResponse, error) {
	scope, name, err := a.arnScope(ctx, req, in.ResourceArn, "ecr:UntagResource")
	if err != nil {
		return nil, err
	}
	if in.TagKeys == nil {
		return nil, invalidParam("tagKeys", "Member must not be null")
	}
	for _, k := range in.TagKeys {
		if err := checkTagKey(k); err != nil {
			return nil, err
		}
	}
	_, err = a.reg.UpdateRepository(ctx, scope, name, func(r *registry.Repository) error {
		r.Tags = slices.DeleteFunc(slices.Clone(r.Tags), func(t registry.ResourceTag) bool {
			return slices.Contains(in.TagKeys, t.Key)
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &w.UntagResourceResponse{}, nil
}

func (a *Adapter) listTagsForResource(ctx context.Context, req *api.Request, in *w.ListTagsForResourceRequest) (*w.ListTagsForResourceResponse, error) {
	scope, name, err := a.arnScope(ctx, req, in.ResourceArn, "ecr:ListTagsForResource")
	if err != nil {
		return nil, err
	}
	repo, err := a.reg.GetRepository(ctx, scope, name)
	if err != nil {
		return nil, err
	}
	return &w.ListTagsForResourceResponse{Tags: tagsToWire(repo.Tags)}, nil
}
