package logs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// CreateStream creates a log stream in an existing group.
func (s *Service) CreateStream(ctx context.Context, sc tenant.Scope, group, name string) (*Stream, error) {
	if err := ValidateGroupName(group); err != nil {
		return nil, err
	}
	if err := ValidateStreamName(name); err != nil {
		return nil, err
	}
	st := &Stream{Name: name, CreationTime: s.now().UnixMilli()}
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getGroup(tx, sc, group); err != nil {
			return err
		}
		if _, err := tx.Get(streamKey(sc, group, name)); err == nil {
			return ErrStreamExists
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return putJSON(tx, streamKey(sc, group, name), st)
	})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// EnsureStream creates the stream unless it exists (the awslogs driver
// creates its stream before the container starts). The group must exist.
func (s *Service) EnsureStream(ctx context.Context, sc tenant.Scope, group, name string) error {
	_, err := s.CreateStream(ctx, sc, group, name)
	if errors.Is(err, ErrStreamExists) {
		return nil
	}
	return err
}

// DeleteStream deletes a stream and its events.
func (s *Service) DeleteStream(ctx context.Context, sc tenant.Scope, group, name string) error {
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := getGroup(tx, sc, group); err != nil {
			return err
		}
		if _, err := getStream(tx, sc, group, name); err != nil {
			return err
		}
		return deleteStreamData(tx, sc, group, name)
	})
	return err
}

// Stream orders of DescribeStreams.
const (
	OrderByName          = "LogStreamName"
	OrderByLastEventTime = "LastEventTime"
)

// DescribeStreamsInput is what DescribeLogStreams takes.
type DescribeStreamsInput struct {
	Group      string
	Prefix     string
	OrderBy    string // "" means LogStreamName
	Descending bool
	Page
}

// DescribeStreams lists a group's streams.
func (s *Service) DescribeStreams(ctx context.Context, sc tenant.Scope, in DescribeStreamsInput) ([]*Stream, string, error) {
	limit, err := in.limit(MaxDescribe, MaxDescribe)
	if err != nil {
		return nil, "", err
	}
	switch in.OrderBy {
	case "":
		in.OrderBy = OrderByName
	case OrderByName:
	case OrderByLastEventTime:
		if in.Prefix != "" {
			return nil, "", errdefs.Invalidf("Cannot order by LastEventTime with a logStreamNamePrefix.")
		}
	default:
		return nil, "", errdefs.Invalidf("1 validation error detected: Value '%s' at 'orderBy' failed to satisfy constraint: Member must satisfy enum value set: [LogStreamName, LastEventTime]", in.OrderBy)
	}
	var after *listToken
	if in.Token != "" {
		t, err := decodeListToken(describeStreamsList(in.OrderBy, in.Descending), in.Token)
		if err != nil {
			return nil, "", err
		}
		after = &t
	}
	var all []*Stream
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		if _, err := getGroup(tx, sc, in.Group); err != nil {
			return err
		}
		all, err = listStreams(tx, sc, in.Group)
		return err
	})
	if err != nil {
		return nil, "", err
	}
	all = slices.DeleteFunc(all, func(st *Stream) bool { return !strings.HasPrefix(st.Name, in.Prefix) })
	key := func(st *Stream) listToken {
		if in.OrderBy == OrderByLastEventTime {
			return listToken{Name: st.Name, Time: st.LastEventTimestamp}
		}
		return listToken{Name: st.Name}
	}
	compare := func(a, b listToken) int {
		c := cmp.Or(cmp.Compare(a.Time, b.Time), strings.Compare(a.Name, b.Name))
		if in.Descending {
			return -c
		}
		return c
	}
	slices.SortFunc(all, func(a, b *Stream) int { return compare(key(a), key(b)) })
	if after != nil {
		i, _ := slices.BinarySearchFunc(all, *after, func(st *Stream, t listToken) int { return compare(key(st), t) })
		for i < len(all) && compare(key(all[i]), *after) <= 0 {
			i++
		}
		all = all[i:]
	}
	next := ""
	if len(all) > limit {
		all = all[:limit]
		next = encodeListToken(describeStreamsList(in.OrderBy, in.Descending), key(all[limit-1]))
	}
	return all, next, nil
}

// describeStreamsList names the list a DescribeLogStreams token belongs to:
// one per order, so that a token is never read in another.
func describeStreamsList(orderBy string, desc bool) string {
	return fmt.Sprintf("logs.DescribeLogStreams/%s/%v", orderBy, desc)
}
