package discovery

import (
	"context"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// resourceKey finds the record an ARN names: a namespace or a service of
// the scope.
func resourceKey(tx store.ReadTx, s tenant.Scope, arn string) (string, error) {
	notFound := &Error{Kind: KindResourceNotFound, Message: "The operation can't be completed because the resource was not found."}
	if !strings.HasPrefix(arn, "arn:") || len(arn) > 255 {
		return "", invalidf("ResourceARN %q is not a valid ARN.", truncate(arn))
	}
	if id, ok := strings.CutPrefix(arn, s.ARN(service, "namespace/")); ok {
		if _, err := getNamespace(tx, s, id); err != nil {
			return "", notFound
		}
		return namespaceKey(s, id), nil
	}
	if id, ok := strings.CutPrefix(arn, s.ARN(service, "service/")); ok {
		if _, err := getService(tx, s, id); err != nil {
			return "", notFound
		}
		return serviceKey(s, id), nil
	}
	return "", notFound
}

// tagged is the tag field of namespaces and services.
type tagged struct {
	Tags []Tag `json:"tags,omitempty"`
}

// ListTags answers a resource's tags.
func (d *Directory) ListTags(ctx context.Context, s tenant.Scope, arn string) ([]Tag, error) {
	var tags []Tag
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		key, err := resourceKey(tx, s, arn)
		if err != nil {
			return err
		}
		t, err := store.GetJSON[tagged](tx, key)
		if err == nil {
			tags = t.Tags
		}
		return err
	})
	return tags, err
}

// TagResource adds or replaces tags; UntagResource removes keys.
func (d *Directory) TagResource(ctx context.Context, s tenant.Scope, arn string, add []Tag) error {
	if err := checkTags(add); err != nil {
		return err
	}
	return d.retag(ctx, s, arn, func(cur []Tag) ([]Tag, error) {
		out := mergeTags(cur, add)
		if len(out) > MaxTags {
			return nil, &Error{Kind: KindTooManyTags, Message: "The number of tags exceeds the limit of 200.", ResourceName: arn}
		}
		return out, nil
	})
}

// UntagResource removes tag keys from a resource.
func (d *Directory) UntagResource(ctx context.Context, s tenant.Scope, arn string, keys []string) error {
	return d.retag(ctx, s, arn, func(cur []Tag) ([]Tag, error) {
		return slices.DeleteFunc(cur, func(t Tag) bool { return slices.Contains(keys, t.Key) }), nil
	})
}

func (d *Directory) retag(ctx context.Context, s tenant.Scope, arn string, fn func([]Tag) ([]Tag, error)) error {
	return d.update(ctx, s, func(tx store.Tx) error {
		key, err := resourceKey(tx, s, arn)
		if err != nil {
			return err
		}
		switch {
		case strings.Contains(key, "/namespaces/"):
			ns, err := store.GetJSON[Namespace](tx, key)
			if err != nil {
				return err
			}
			if ns.Tags, err = fn(ns.Tags); err != nil {
				return err
			}
			return store.PutJSON(tx, key, ns)
		default:
			svc, err := store.GetJSON[Service](tx, key)
			if err != nil {
				return err
			}
			if svc.Tags, err = fn(svc.Tags); err != nil {
				return err
			}
			return store.PutJSON(tx, key, svc)
		}
	})
}
