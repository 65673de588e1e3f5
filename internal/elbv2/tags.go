package elbv2

import (
	"context"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ResourceTags are the tags of one resource.
type ResourceTags struct {
	ARN  string
	Tags []Tag
}

// taggable reads the resource an ARN names and answers its tags and a
// function that writes it back with new tags.
func taggable(tx store.ReadTx, s tenant.Scope, arn string) ([]Tag, func(tx store.Tx, tags []Tag) error, error) {
	kind := ""
	if _, rest, ok := strings.Cut(arn, ":"+s.Account+":"); ok {
		kind, _, _ = strings.Cut(rest, "/")
	}
	switch kind {
	case "targetgroup":
		tg, err := getTG(tx, s, arn)
		if err != nil {
			return nil, nil, err
		}
		return tg.Tags, func(tx store.Tx, tags []Tag) error { tg.Tags = tags; return store.PutJSON(tx, tgKey(s, tg.Name), tg) }, nil
	case "listener":
		l, p, err := getListener(tx, s, arn)
		if err != nil {
			return nil, nil, err
		}
		return l.Tags, func(tx store.Tx, tags []Tag) error {
			l.Tags = tags
			return store.PutJSON(tx, listenerKey(s, p.lb, p.lsID), l)
		}, nil
	case "listener-rule":
		ref, err := getRule(tx, s, arn)
		if err != nil {
			return nil, nil, err
		}
		if ref.rule == nil {
			return nil, func(store.Tx, []Tag) error {
				return validationf("The default rule '%s' cannot be tagged", arn)
			}, nil
		}
		return ref.rule.Tags, func(tx store.Tx, tags []Tag) error {
			ref.rule.Tags = tags
			return store.PutJSON(tx, ruleKey(s, ref.p.lb, ref.p.lsID, ref.p.ruleI), ref.rule)
		}, nil
	default:
		lb, err := getLB(tx, s, arn)
		if err != nil {
			return nil, nil, err
		}
		return lb.Tags, func(tx store.Tx, tags []Tag) error { lb.Tags = tags; return store.PutJSON(tx, lbKey(s, lb.Name), lb) }, nil
	}
}

// AddTags adds or overwrites tags on resources.
func (sv *Service) AddTags(ctx context.Context, s tenant.Scope, arns []string, tags []Tag) error {
	if len(arns) == 0 || len(tags) == 0 {
		return validationf("Resource ARNs and tags must be specified")
	}
	if err := validTags(tags); err != nil {
		return err
	}
	return sv.update(ctx, func(tx store.Tx) error {
		for _, arn := range arns {
			cur, write, err := taggable(tx, s, arn)
			if err != nil {
				return err
			}
			next := slices.Clone(cur)
			for _, t := range tags {
				if i := slices.IndexFunc(next, func(o Tag) bool { return o.Key == t.Key }); i >= 0 {
					next[i].Value = t.Value
				} else {
					next = append(next, t)
				}
			}
			if err := validTags(next); err != nil {
				return err
			}
			if err := write(tx, next); err != nil {
				return err
			}
		}
		return nil
	})
}

// RemoveTags removes tag keys from resources.
func (sv *Service) RemoveTags(ctx context.Context, s tenant.Scope, arns []string, keys []string) error {
	if len(arns) == 0 || len(keys) == 0 {
		return validationf("Resource ARNs and tag keys must be specified")
	}
	return sv.update(ctx, func(tx store.Tx) error {
		for _, arn := range arns {
			cur, write, err := taggable(tx, s, arn)
			if err != nil {
				return err
			}
			next := slices.DeleteFunc(slices.Clone(cur), func(t Tag) bool { return slices.Contains(keys, t.Key) })
			if err := write(tx, next); err != nil {
				return err
			}
		}
		return nil
	})
}

// DescribeTags answers the tags of up to 20 resources.
func (sv *Service) DescribeTags(ctx context.Context, s tenant.Scope, arns []string) ([]ResourceTags, error) {
	if len(arns) == 0 {
		return nil, validationf("At least one resource ARN must be specified")
	}
	if len(arns) > 20 {
		return nil, validationf("At most 20 resource ARNs can be specified")
	}
	var out []ResourceTags
	err := sv.view(ctx, func(tx store.ReadTx) error {
		for _, arn := range arns {
			tags, _, err := taggable(tx, s, arn)
			if err != nil {
				return err
			}
			out = append(out, ResourceTags{ARN: arn, Tags: tags})
		}
		return nil
	})
	return out, err
}
