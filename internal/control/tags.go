package control

import (
	"context"
	"errors"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Tag limits (ECS).
const (
	maxTags        = 50
	maxTagKeyLen   = 128
	maxTagValueLen = 256
)

// ValidateTags checks a tag list against ECS's limits.
func ValidateTags(tags []Tag) error {
	if len(tags) > maxTags {
		return InvalidParameterf("Tags cannot contain more than %d elements", maxTags)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if err := validateTagKey(t.Key); err != nil {
			return err
		}
		if utf8.RuneCountInString(t.Value) > maxTagValueLen {
			return InvalidParameterf("Tag value exceeds the maximum length of %d characters.", maxTagValueLen)
		}
		if !validTagChars(t.Value) {
			return InvalidParameterf("Tag value %q contains invalid characters.", clip(t.Value))
		}
		if seen[t.Key] {
			return InvalidParameterf("Duplicate tag key %q.", clip(t.Key))
		}
		seen[t.Key] = true
	}
	return nil
}

func validateTagKey(k string) error {
	n := utf8.RuneCountInString(k)
	if n < 1 || n > maxTagKeyLen {
		return InvalidParameterf("Tag key must be between 1 and %d characters long.", maxTagKeyLen)
	}
	if strings.HasPrefix(strings.ToLower(k), "aws:") {
		return InvalidParameterf("Tag keys cannot start with the reserved prefix 'aws:'.")
	}
	if !validTagChars(k) {
		return InvalidParameterf("Tag key %q contains invalid characters.", clip(k))
	}
	return nil
}

// validTagChars allows letters, digits, spaces and _ . : / = + - @ as AWS does.
func validTagChars(s string) bool {
	for _, r := range s {
		switch {
		case r == ' ' || strings.ContainsRune("_.:/=+-@", r):
		case r >= '0' && r <= '9', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case r > 127: // unicode letters and digits
		default:
			return false
		}
	}
	return true
}

// mergeTags adds or replaces tags by key.
func mergeTags(cur, add []Tag) []Tag {
	out := slices.Clone(cur)
	for _, t := range add {
		if i := slices.IndexFunc(out, func(x Tag) bool { return x.Key == t.Key }); i >= 0 {
			out[i] = t
		} else {
			out = append(out, t)
		}
	}
	return out
}

// tagged is what a taggable resource looks like to the tag operations.
type tagged struct {
	key  string
	tags func(tx store.ReadTx) ([]Tag, error)
	set  func(tx store.Tx, tags []Tag) error
}

// recordTagged is the tag access of the record of type T at key: tagsOf
// points at its tags, notFound is the error when there is no record, and
// touch (optional) marks a change on the record.
func recordTagged[T any](key string, notFound error, tagsOf func(*T) *[]Tag, touch func(*T)) tagged {
	return tagged{
		key: key,
		tags: func(tx store.ReadTx) ([]Tag, error) {
			rec, err := get[T](tx, key)
			if errors.Is(err, store.ErrNotFound) {
				return nil, notFound
			}
			if err != nil {
				return nil, err
			}
			return *tagsOf(rec), nil
		},
		set: func(tx store.Tx, tags []Tag) error {
			rec, err := get[T](tx, key)
			if err != nil {
				return err
			}
			*tagsOf(rec) = tags
			if touch != nil {
				touch(rec)
			}
			return put(tx, key, rec)
		},
	}
}

// resolveTagged finds the record a resource ARN names: a cluster, a
// service, a task definition revision or a task.
func (c *Control) resolveTagged(s tenant.Scope, arn string) (tagged, error) {
	res, err := parseARN(s, arn)
	if err != nil {
		return tagged{}, err
	}
	switch res.kind {
	case "cluster":
		return recordTagged(clusterKey(s, res.id), ErrClusterNotFound, func(cl *Cluster) *[]Tag { return &cl.Tags }, nil), nil
	case "service":
		cluster, name, ok := strings.Cut(res.id, "/")
		if !ok {
			cluster, name = DefaultClusterName, res.id
		}
		return recordTagged(serviceKey(s, cluster, name), ErrServiceNotFound,
			func(svc *Service) *[]Tag { return &svc.Tags }, func(svc *Service) { svc.Version++ }), nil
	case "task-definition":
		family, rev, err := parseFamilyRevision(res.id)
		if err != nil || rev == 0 {
			return tagged{}, ErrResourceNotFound
		}
		return recordTagged(taskDefKey(s, family, rev), ErrResourceNotFound, func(td *TaskDefinition) *[]Tag { return &td.Tags }, nil), nil
	case "task":
		// task/CLUSTER/ID; the old format task/ID is in the default
		// cluster.
		cluster, id, ok := strings.Cut(res.id, "/")
		if !ok {
			cluster, id = DefaultClusterName, res.id
		}
		return recordTagged(taskKey(s, cluster, id), ErrResourceNotFound, func(t *Task) *[]Tag { return &t.Tags }, nil), nil
	}
	return tagged{}, ErrResourceNotFound
}

// TagResource adds tags to a resource, replacing values of existing keys.
func (c *Control) TagResource(ctx context.Context, s tenant.Scope, arn string, tags []Tag) error {
	if len(tags) == 0 {
		return InvalidParameterf("Tags must contain at least one element.")
	}
	if err := ValidateTags(tags); err != nil {
		return err
	}
	if err := c.ensureDefault(ctx, s); err != nil {
		return err
	}
	r, err := c.resolveTagged(s, arn)
	if err != nil {
		return err
	}
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		cur, err := r.tags(tx)
		if err != nil {
			return err
		}
		merged := mergeTags(cur, tags)
		if len(merged) > maxTags {
			return InvalidParameterf("A resource can have at most %d tags.", maxTags)
		}
		return r.set(tx, merged)
	})
	return err
}

// UntagResource removes tags by key.
func (c *Control) UntagResource(ctx context.Context, s tenant.Scope, arn string, keys []string) error {
	for _, k := range keys {
		if err := validateTagKey(k); err != nil {
			return err
		}
	}
	if err := c.ensureDefault(ctx, s); err != nil {
		return err
	}
	r, err := c.resolveTagged(s, arn)
	if err != nil {
		return err
	}
	_, err = c.st.Update(ctx, func(tx store.Tx) error {
		cur, err := r.tags(tx)
		if err != nil {
			return err
		}
		kept := slices.DeleteFunc(slices.Clone(cur), func(t Tag) bool { return slices.Contains(keys, t.Key) })
		return r.set(tx, kept)
	})
	return err
}

// ListTagsForResource returns a resource's tags.
func (c *Control) ListTagsForResource(ctx context.Context, s tenant.Scope, arn string) ([]Tag, error) {
	if err := c.ensureDefault(ctx, s); err != nil {
		return nil, err
	}
	r, err := c.resolveTagged(s, arn)
	if err != nil {
		return nil, err
	}
	var out []Tag
	err = c.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = r.tags(tx)
		return err
	})
	return out, err
}
