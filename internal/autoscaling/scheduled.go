package autoscaling

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ScheduledInput is PutScheduledAction's input (nil: unchanged on update).
type ScheduledInput struct {
	ResourceID string
	Name       string
	Schedule   *string
	Timezone   *string
	Start, End *time.Time
	Min, Max   *int
}

// location resolves a time zone name ("" is UTC).
func location(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	loc, err := time.LoadLocation(tz)
	if err != nil || strings.HasPrefix(tz, "/") || strings.Contains(tz, "..") {
		return nil, errdefs.Invalidf("Time zone %s is not a valid IANA time zone.", tz)
	}
	return loc, nil
}

// PutScheduledAction creates or updates a scheduled action.
func (s *Service) PutScheduledAction(ctx context.Context, scope tenant.Scope, in ScheduledInput) (*ScheduledAction, error) {
	if err := CheckResourceID(in.ResourceID); err != nil {
		return nil, err
	}
	if in.Name == "" || len(in.Name) > 256 || strings.ContainsAny(in.Name, ":/") {
		return nil, errdefs.Invalidf("ScheduledActionName must be 1 to 256 characters without ':' or '/'.")
	}
	for _, p := range []*int{in.Min, in.Max} {
		if p != nil && *p < 0 {
			return nil, errdefs.Invalidf("Capacity must be a non-negative integer.")
		}
	}
	if in.Min != nil && in.Max != nil && *in.Min > *in.Max {
		return nil, errdefs.Invalidf("Minimum capacity cannot be greater than maximum capacity")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	var out *ScheduledAction
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		if t, err := getJSON[Target](tx, targetKey(scope, in.ResourceID)); err != nil {
			return err
		} else if t == nil {
			return targetNotFound(in.ResourceID)
		}
		a, err := getJSON[ScheduledAction](tx, scheduledKey(scope, in.ResourceID, in.Name))
		if err != nil {
			return err
		}
		if a == nil {
			if in.Schedule == nil {
				return errdefs.Invalidf("Schedule is required to create a scheduled action.")
			}
			a = &ScheduledAction{Scope: scope, ResourceID: in.ResourceID, Name: in.Name, ID: uuid.NewString(), Created: now}
		}
		if in.Schedule != nil {
			a.Schedule = *in.Schedule
		}
		if in.Timezone != nil {
			a.Timezone = *in.Timezone
		}
		if in.Start != nil {
			a.Start = in.Start.UTC()
		}
		if in.End != nil {
			a.End = in.End.UTC()
		}
		if in.Min != nil {
			a.Min = in.Min
		}
		if in.Max != nil {
			a.Max = in.Max
		}
		if a.Min == nil && a.Max == nil {
			return errdefs.Invalidf("ScalableTargetAction must specify MinCapacity, MaxCapacity or both.")
		}
		if !a.Start.IsZero() && !a.End.IsZero() && !a.End.After(a.Start) {
			return errdefs.Invalidf("EndTime must be after StartTime.")
		}
		next, err := a.next(now)
		if err != nil {
			return err
		}
		a.Next = next
		out = a
		return putJSON(tx, scheduledKey(scope, in.ResourceID, in.Name), a)
	})
	return out, err
}

// next is the action's first run after now, within its start and end.
func (a *ScheduledAction) next(after time.Time) (time.Time, error) {
	sched, err := ParseSchedule(a.Schedule)
	if err != nil {
		return time.Time{}, err
	}
	loc, err := location(a.Timezone)
	if err != nil {
		return time.Time{}, err
	}
	anchor := a.Start
	if anchor.IsZero() {
		anchor = a.Created
	}
	from := after
	if !a.Start.IsZero() && a.Start.After(from) {
		from = a.Start.Add(-time.Nanosecond)
	}
	n := sched.Next(from, anchor, loc)
	if !n.IsZero() && !a.End.IsZero() && n.After(a.End) {
		return time.Time{}, nil
	}
	return n.UTC(), nil
}

// ScheduledActions lists a scope's scheduled actions.
func (s *Service) ScheduledActions(ctx context.Context, scope tenant.Scope, rid string, names []string) ([]*ScheduledAction, error) {
	prefix := scheduledPrefix + sp(scope)
	if rid != "" {
		prefix += rid + "/"
	}
	var out []*ScheduledAction
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		all, err := listJSON[ScheduledAction](tx, prefix)
		for _, a := range all {
			if len(names) == 0 || slices.Contains(names, a.Name) {
				out = append(out, a)
			}
		}
		return err
	})
	return out, err
}

// DeleteScheduledAction deletes one.
func (s *Service) DeleteScheduledAction(ctx context.Context, scope tenant.Scope, rid, name string) error {
	if err := CheckResourceID(rid); err != nil {
		return err
	}
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(scheduledKey(scope, rid, name)); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errdefs.NotFoundf("No scheduled action found for service namespace: ecs, resource ID: %s, scalable dimension: %s, scheduled action name: %s", rid, DimensionDesired, name)
			}
			return err
		}
		return tx.Delete(scheduledKey(scope, rid, name))
	})
	return err
}

// Activities lists a scope's activities, newest first.
func (s *Service) Activities(ctx context.Context, scope tenant.Scope, rid string) ([]*Activity, error) {
	prefix := activitiesPrefix + sp(scope)
	if rid != "" {
		prefix += rid + "/"
	}
	var out []*Activity
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		out, err = listJSON[Activity](tx, prefix)
		return err
	})
	if rid == "" {
		slices.SortStableFunc(out, func(a, b *Activity) int { return a.Start.Compare(b.Start) })
	}
	slices.Reverse(out)
	return out, err
}

// targetByARN finds a target by its ARN.
func targetByARN(tx store.ReadTx, scope tenant.Scope, arn string) (*Target, error) {
	all, err := listJSON[Target](tx, targetsPrefix+sp(scope))
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.ARN() == arn {
			return t, nil
		}
	}
	return nil, errdefs.Newf(ErrResourceNotFound, "Resource %s does not exist.", arn)
}

// Tag adds tags to a scalable target.
func (s *Service) Tag(ctx context.Context, scope tenant.Scope, arn string, tags map[string]string) error {
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		t, err := targetByARN(tx, scope, arn)
		if err != nil {
			return err
		}
		if t.Tags == nil {
			t.Tags = map[string]string{}
		}
		maps.Copy(t.Tags, tags)
		if err := checkTags(t.Tags); err != nil {
			return err
		}
		return putJSON(tx, targetKey(scope, t.ResourceID), t)
	})
	return err
}

// Untag removes tags from a scalable target.
func (s *Service) Untag(ctx context.Context, scope tenant.Scope, arn string, keys []string) error {
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		t, err := targetByARN(tx, scope, arn)
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(t.Tags, k)
		}
		return putJSON(tx, targetKey(scope, t.ResourceID), t)
	})
	return err
}

// Tags returns a scalable target's tags.
func (s *Service) Tags(ctx context.Context, scope tenant.Scope, arn string) (map[string]string, error) {
	var out map[string]string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		t, err := targetByARN(tx, scope, arn)
		if err == nil {
			out = t.Tags
		}
		return err
	})
	return out, err
}
