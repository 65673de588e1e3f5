package logs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// CreateGroupInput is what CreateLogGroup takes.
type CreateGroupInput struct {
	Name  string
	Class string // "" means STANDARD
	Tags  map[string]string
}

// CreateGroup creates a log group; ErrGroupExists if it exists.
func (s *Service) CreateGroup(ctx context.Context, sc tenant.Scope, in CreateGroupInput) (*Group, error) {
	if err := ValidateGroupName(in.Name); err != nil {
		return nil, err
	}
	if strings.HasPrefix(in.Name, "aws/") {
		return nil, errdefs.Invalidf("Log group names starting with 'aws/' are reserved for AWS services.")
	}
	switch in.Class {
	case "":
		in.Class = ClassStandard
	case ClassStandard, ClassInfrequent, ClassDelivery:
	default:
		return nil, errdefs.Invalidf("1 validation error detected: Value '%s' at 'logGroupClass' failed to satisfy constraint: Member must satisfy enum value set: [STANDARD, INFREQUENT_ACCESS, DELIVERY]", in.Class)
	}
	if err := validateTags(in.Tags); err != nil {
		return nil, err
	}
	g := &Group{Name: in.Name, CreationTime: s.now().UnixMilli(), Class: in.Class}
	if len(in.Tags) > 0 {
		g.Tags = maps.Clone(in.Tags)
	}
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(groupKey(sc, in.Name)); err == nil {
			return ErrGroupExists
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return putJSON(tx, groupKey(sc, in.Name), g)
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// EnsureGroup creates the group unless it exists (awslogs-create-group).
func (s *Service) EnsureGroup(ctx context.Context, sc tenant.Scope, group string) error {
	_, err := s.CreateGroup(ctx, sc, CreateGroupInput{Name: group})
	if errors.Is(err, errdefs.ErrAlreadyExists) {
		return nil
	}
	return err
}

// Group returns one log group (with its stored bytes).
func (s *Service) Group(ctx context.Context, sc tenant.Scope, name string) (*Group, error) {
	var g *Group
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		g, err = getGroup(tx, sc, name)
		if err != nil {
			return err
		}
		return fillStoredBytes(tx, sc, g)
	})
	return g, err
}

func fillStoredBytes(tx store.ReadTx, sc tenant.Scope, g *Group) error {
	streams, err := listStreams(tx, sc, g.Name)
	if err != nil {
		return err
	}
	g.StoredBytes = 0
	for _, st := range streams {
		g.StoredBytes += st.StoredBytes
	}
	return nil
}

// DeleteGroup deletes a log group with its streams and events, in one
// transaction.
func (s *Service) DeleteGroup(ctx context.Context, sc tenant.Scope, name string) error {
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getGroup(tx, sc, name); err != nil {
			return err
		}
		for _, prefix := range []string{groupEventsPrefix(sc, name), streamsPrefix(sc, name)} {
			kvs, err := tx.List(prefix)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if err := tx.Delete(kv.Key); err != nil {
					return err
				}
			}
		}
		return tx.Delete(groupKey(sc, name))
	})
	return err
}

// Page asks for one page of a listing: Limit items (0: the default) after
// the opaque Token.
type Page struct {
	Limit int
	Token string
}

func (p Page) limit(def, max int) (int, error) {
	switch {
	case p.Limit == 0:
		return def, nil
	case p.Limit < 0 || p.Limit > max:
		return 0, errdefs.Invalidf("1 validation error detected: Value '%d' at 'limit' failed to satisfy constraint: Member must have value between 1 and %d", p.Limit, max)
	}
	return p.Limit, nil
}

// listToken is the position after the last item of a listing page.
type listToken struct {
	Name string `json:"n"`
	Time int64  `json:"t,omitempty"`
}

// errInvalidToken is the answer to a nextToken that does not decode.
func errInvalidToken() error { return errdefs.Invalidf("The specified nextToken is invalid.") }

// encodeListToken makes the nextToken of list (the operation) after t (see
// package paging: a key, never an offset, so it outlives changes).
func encodeListToken(list string, t listToken) string { return paging.Encode(list, t) }

func decodeListToken(list, s string) (listToken, error) {
	var t listToken
	if err := paging.Decode(list, s, &t); err != nil {
		return t, errInvalidToken()
	}
	return t, nil
}

const describeGroupsList = "logs.DescribeLogGroups"

// DescribeGroups lists log groups whose names start with prefix, in name
// order, at most 50 a page.
func (s *Service) DescribeGroups(ctx context.Context, sc tenant.Scope, prefix string, p Page) ([]*Group, string, error) {
	limit, err := p.limit(MaxDescribe, MaxDescribe)
	if err != nil {
		return nil, "", err
	}
	var after string
	if p.Token != "" {
		t, err := decodeListToken(describeGroupsList, p.Token)
		if err != nil {
			return nil, "", err
		}
		after = t.Name
	}
	var out []*Group
	var next string
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		kvs, err := tx.List(groupsPrefix(sc) + prefix)
		if err != nil {
			return err
		}
		out, next = nil, ""
		for _, kv := range kvs {
			name := strings.TrimPrefix(kv.Key, groupsPrefix(sc))
			if after != "" && name <= after {
				continue
			}
			if len(out) == limit {
				next = encodeListToken(describeGroupsList, listToken{Name: out[len(out)-1].Name})
				break
			}
			g := new(Group)
			if err := json.Unmarshal(kv.Value, g); err != nil {
				return fmt.Errorf("logs: decode %s: %w", kv.Key, err)
			}
			if err := fillStoredBytes(tx, sc, g); err != nil {
				return err
			}
			out = append(out, g)
		}
		return nil
	})
	return out, next, err
}

// updateGroup applies fn to a group in one transaction.
func (s *Service) updateGroup(ctx context.Context, sc tenant.Scope, name string, fn func(tx store.Tx, g *Group) error) error {
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		g, err := getGroup(tx, sc, name)
		if err != nil {
			return err
		}
		if err := fn(tx, g); err != nil {
			return err
		}
		return putJSON(tx, groupKey(sc, name), g)
	})
	return err
}

// PutRetention sets a group's retention and deletes the batches that hold
// only events older than it.
func (s *Service) PutRetention(ctx context.Context, sc tenant.Scope, name string, days int32) error {
	if !validRetention(days) {
		return errdefs.Invalidf("1 validation error detected: Value '%d' at 'retentionInDays' failed to satisfy constraint: Member must satisfy enum value set: [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653]", days)
	}
	now := s.now()
	return s.updateGroup(ctx, sc, name, func(tx store.Tx, g *Group) error {
		g.RetentionInDays = days
		streams, err := listStreams(tx, sc, name)
		if err != nil {
			return err
		}
		for _, st := range streams {
			if err := expireStream(tx, sc, g, st, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteRetention makes a group keep its events forever.
func (s *Service) DeleteRetention(ctx context.Context, sc tenant.Scope, name string) error {
	return s.updateGroup(ctx, sc, name, func(_ store.Tx, g *Group) error {
		g.RetentionInDays = 0
		return nil
	})
}

// TagGroup adds or replaces tags.
func (s *Service) TagGroup(ctx context.Context, sc tenant.Scope, name string, tags map[string]string) error {
	if len(tags) == 0 {
		return errdefs.Invalidf("1 validation error detected: Value null at 'tags' failed to satisfy constraint: Member must not be null")
	}
	return s.updateGroup(ctx, sc, name, func(_ store.Tx, g *Group) error {
		merged := maps.Clone(g.Tags)
		if merged == nil {
			merged = map[string]string{}
		}
		maps.Copy(merged, tags)
		if err := validateTags(merged); err != nil {
			return err
		}
		g.Tags = merged
		return nil
	})
}

// UntagGroup removes tags (absent keys are ignored).
func (s *Service) UntagGroup(ctx context.Context, sc tenant.Scope, name string, keys []string) error {
	return s.updateGroup(ctx, sc, name, func(_ store.Tx, g *Group) error {
		for _, k := range keys {
			delete(g.Tags, k)
		}
		if len(g.Tags) == 0 {
			g.Tags = nil
		}
		return nil
	})
}
