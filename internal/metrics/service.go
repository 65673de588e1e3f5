package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Config configures the service.
type Config struct {
	// Period is one CloudWatch minute: the period fargo publishes its own
	// metrics at, and what an alarm period of 60 s lasts (alarm periods
	// scale by Period/1m). 0 means one minute, AWS's; shorter periods are
	// for demos and tests.
	Period time.Duration
	Logger *slog.Logger
	// Now returns the time (nil: time.Now).
	Now func() time.Time
}

// Service is fargo's CloudWatch.
type Service struct {
	cfg  Config
	data *Data
	st   store.Store
	log  *slog.Logger

	mu   sync.Mutex
	sink ActionSink
	// evalMu serializes evaluations and state changes of alarms.
	evalMu sync.Mutex
	// deliverMu makes one deliverer at a time (the ticker, SetAlarmState),
	// so that no pending action is handed to the sink twice.
	deliverMu sync.Mutex
}

// New returns the service over its data file and the control plane's
// store.
func New(cfg Config, data *Data, st store.Store) *Service {
	if cfg.Period <= 0 {
		cfg.Period = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, data: data, st: st, log: cfg.Logger}
}

// SetActionSink installs the receiver of Application Auto Scaling alarm
// actions; until one is set, those actions wait in the outbox.
func (s *Service) SetActionSink(sink ActionSink) {
	s.mu.Lock()
	s.sink = sink
	s.mu.Unlock()
}

// Period is the configured metric period.
func (s *Service) Period() time.Duration { return s.cfg.Period }

// Now is the service's clock.
func (s *Service) Now() time.Time { return s.cfg.Now().UTC() }

// PutData stores validated data.
func (s *Service) PutData(ctx context.Context, scope tenant.Scope, data []Datum) error {
	for i := range data {
		data[i].Metric.Normalize()
	}
	return s.data.Put(ctx, scope, data)
}

// Statistics returns a metric's aggregates per period.
func (s *Service) Statistics(scope tenant.Scope, m Metric, unit string, start, end time.Time, period time.Duration) ([]Point, error) {
	return s.data.Query(scope, m, unit, start, end, period, s.Now())
}

// List lists metrics.
func (s *Service) List(scope tenant.Scope, f ListFilter) []Metric {
	return s.data.List(scope, f, s.Now())
}

// scaled is the wall-clock length of an alarm period of p seconds.
func (s *Service) scaled(p int32) time.Duration {
	d := time.Duration(p) * s.cfg.Period / 60 // p seconds of Period-long minutes
	return max(d.Truncate(time.Second), time.Second)
}

// PutAlarm creates or replaces an alarm (its state is kept on update).
func (s *Service) PutAlarm(ctx context.Context, a Alarm) error {
	a.Metric.Normalize()
	now := s.Now()
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		old, err := getAlarm(tx, a.Scope, a.Name)
		if err != nil {
			return err
		}
		a.ConfigUpdated = now
		summary := fmt.Sprintf("Alarm %q created", a.Name)
		if old != nil {
			a.State, a.StateReason, a.StateReasonData = old.State, old.StateReason, old.StateReasonData
			a.StateUpdated, a.StateTransitioned, a.Transitions = old.StateUpdated, old.StateTransitioned, old.Transitions
			if a.Tags == nil {
				a.Tags = old.Tags
			}
			summary = fmt.Sprintf("Alarm %q updated", a.Name)
		} else {
			a.State, a.StateReason = StateInsufficientData, "Unchecked: Initial alarm creation"
			a.StateUpdated, a.StateTransitioned = now, now
		}
		if err := putJSON(tx, alarmKey(a.Scope, a.Name), &a); err != nil {
			return err
		}
		return putJSON(tx, historyKey(a.Scope, a.Name, now, "config"), HistoryItem{AlarmName: a.Name, Type: "ConfigurationUpdate", Time: now, Summary: summary})
	})
	return err
}

// AlarmFilter selects alarms for DescribeAlarms.
type AlarmFilter struct {
	Names        []string
	Prefix       string
	State        string
	ActionPrefix string
}

// Alarms returns the scope's alarms matching f, sorted by name.
func (s *Service) Alarms(ctx context.Context, scope tenant.Scope, f AlarmFilter) ([]Alarm, error) {
	kvs, err := s.st.List(ctx, alarmsPrefix+scopePath(scope))
	if err != nil {
		return nil, err
	}
	var out []Alarm
	for _, kv := range kvs {
		var a Alarm
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			return nil, err
		}
		if len(f.Names) > 0 && !slices.Contains(f.Names, a.Name) || !strings.HasPrefix(a.Name, f.Prefix) ||
			f.State != "" && a.State != f.State {
			continue
		}
		if f.ActionPrefix != "" && !slices.ContainsFunc(slices.Concat(a.AlarmActions, a.OKActions, a.InsufficientData),
			func(x string) bool { return strings.HasPrefix(x, f.ActionPrefix) }) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// History returns alarm history, newest first.
func (s *Service) History(ctx context.Context, scope tenant.Scope, name, typ string, start, end time.Time) ([]HistoryItem, error) {
	prefix := historyPrefix + scopePath(scope)
	if name != "" {
		prefix += keyName(name) + "/"
	}
	kvs, err := s.st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	var out []HistoryItem
	for i := len(kvs) - 1; i >= 0; i-- {
		var h HistoryItem
		if err := json.Unmarshal(kvs[i].Value, &h); err != nil {
			return nil, err
		}
		if typ != "" && h.Type != typ || !start.IsZero() && h.Time.Before(start) || !end.IsZero() && !h.Time.Before(end) {
			continue
		}
		out = append(out, h)
	}
	slices.SortStableFunc(out, func(a, b HistoryItem) int { return b.Time.Compare(a.Time) })
	return out, nil
}

func notFound(name string) error {
	return errdefs.NotFoundf("Could not find alarm %s.", name)
}

// SetState sets an alarm's state by hand, as SetAlarmState does: the
// transition (and its actions) happens, the next evaluation may undo it.
func (s *Service) SetState(ctx context.Context, scope tenant.Scope, name, state, reason, reasonData string) error {
	now := s.Now()
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		a, err := getAlarm(tx, scope, name)
		if err != nil {
			return err
		}
		if a == nil {
			return errdefs.NotFoundf("Alarm %s not found", name)
		}
		if a.State == state {
			a.StateReason, a.StateReasonData, a.StateUpdated = reason, reasonData, now
			return putJSON(tx, alarmKey(scope, name), a)
		}
		return transition(tx, a, Outcome{State: state, Reason: reason, ReasonData: reasonData}, now)
	})
	if err == nil {
		s.deliver(ctx)
	}
	return err
}

// DeleteAlarms deletes alarms, all or none: an unknown name deletes
// nothing and is ResourceNotFound.
func (s *Service) DeleteAlarms(ctx context.Context, scope tenant.Scope, names []string) error {
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		for _, n := range names {
			a, err := getAlarm(tx, scope, n)
			if err != nil {
				return err
			}
			if a == nil {
				return notFound(n)
			}
		}
		for _, n := range names {
			if err := tx.Delete(alarmKey(scope, n)); err != nil {
				return err
			}
			for _, p := range []string{historyPrefix, actionsPrefix} {
				kvs, err := tx.List(p + scopePath(scope) + keyName(n) + "/")
				if err != nil {
					return err
				}
				for _, kv := range kvs {
					if err := tx.Delete(kv.Key); err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	return err
}

// SetActionsEnabled enables or disables the actions of alarms (unknown
// names are skipped, as AWS does).
func (s *Service) SetActionsEnabled(ctx context.Context, scope tenant.Scope, names []string, enabled bool) error {
	return s.updateAlarms(ctx, scope, names, func(a *Alarm) error {
		a.ActionsEnabled = enabled
		return nil
	}, false)
}

func (s *Service) updateAlarms(ctx context.Context, scope tenant.Scope, names []string, fn func(*Alarm) error, mustExist bool) error {
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		for _, n := range names {
			a, err := getAlarm(tx, scope, n)
			if err != nil {
				return err
			}
			if a == nil {
				if mustExist {
					return errdefs.NotFoundf("The specified resource %s does not exist.", n)
				}
				continue
			}
			if err := fn(a); err != nil {
				return err
			}
			if err := putJSON(tx, alarmKey(scope, n), a); err != nil {
				return err
			}
		}
		return nil
	})
	return err
}

// alarmNameFromARN returns the alarm name of an alarm ARN of the scope.
func alarmNameFromARN(scope tenant.Scope, arn string) (string, error) {
	prefix := scope.ARN("cloudwatch", "alarm:")
	if !strings.HasPrefix(arn, prefix) || len(arn) == len(prefix) {
		return "", errdefs.Invalidf("Invalid ResourceARN: %s", arn)
	}
	return arn[len(prefix):], nil
}

// Tag adds or replaces tags of an alarm (by ARN).
func (s *Service) Tag(ctx context.Context, scope tenant.Scope, arn string, tags []Tag) error {
	name, err := alarmNameFromARN(scope, arn)
	if err != nil {
		return err
	}
	return s.updateAlarms(ctx, scope, []string{name}, func(a *Alarm) error {
		for _, t := range tags {
			i := slices.IndexFunc(a.Tags, func(x Tag) bool { return x.Key == t.Key })
			if i >= 0 {
				a.Tags[i] = t
			} else {
				a.Tags = append(a.Tags, t)
			}
		}
		if len(a.Tags) > 50 {
			return errdefs.Newf(errdefs.ErrLimitExceeded, "The maximum number of tags for a resource is 50.")
		}
		return nil
	}, true)
}

// Untag removes tags of an alarm.
func (s *Service) Untag(ctx context.Context, scope tenant.Scope, arn string, keys []string) error {
	name, err := alarmNameFromARN(scope, arn)
	if err != nil {
		return err
	}
	return s.updateAlarms(ctx, scope, []string{name}, func(a *Alarm) error {
		a.Tags = slices.DeleteFunc(a.Tags, func(t Tag) bool { return slices.Contains(keys, t.Key) })
		return nil
	}, true)
}

// Tags lists an alarm's tags.
func (s *Service) Tags(ctx context.Context, scope tenant.Scope, arn string) ([]Tag, error) {
	name, err := alarmNameFromARN(scope, arn)
	if err != nil {
		return nil, err
	}
	var tags []Tag
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		a, err := getAlarm(tx, scope, name)
		if err != nil {
			return err
		}
		if a == nil {
			return errdefs.NotFoundf("The specified resource %s does not exist.", arn)
		}
		tags = a.Tags
		return nil
	})
	return tags, err
}

// Run evaluates the alarms, delivers their actions and expires old data
// until ctx ends.
func (s *Service) Run(ctx context.Context) {
	// AWS evaluates every minute (every 10 s for high-resolution alarms);
	// scaled by the metric period, and no less than once a second.
	every := max(s.cfg.Period/6, time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	expire := time.NewTicker(time.Hour)
	defer expire.Stop()
	s.deliver(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.EvaluateAll(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("alarm evaluation", "err", err)
			}
			s.deliver(ctx)
		case <-expire.C:
			if err := s.data.Expire(s.Now()); err != nil {
				s.log.Warn("metric data expiry", "err", err)
			}
			s.pruneHistory(ctx)
		}
	}
}

// EvaluateAll evaluates every alarm once.
func (s *Service) EvaluateAll(ctx context.Context) error {
	kvs, err := s.st.List(ctx, alarmsPrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, kv := range kvs {
		var a Alarm
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			errs = append(errs, err)
			continue
		}
		if err := s.evaluate(ctx, &a); err != nil {
			errs = append(errs, fmt.Errorf("alarm %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

// samples queries the alarm's last EvaluationPeriods periods.
func (s *Service) samples(a *Alarm, now time.Time) ([]Sample, time.Duration, error) {
	pe := s.scaled(a.Period)
	n := int(a.EvaluationPeriods)
	end := now.Truncate(pe)
	start := end.Add(-time.Duration(n) * pe)
	points, err := s.data.Query(a.Scope, a.Metric, a.Unit, start, end, pe, now)
	if err != nil {
		return nil, pe, err
	}
	samples := make([]Sample, n)
	for i := range samples {
		samples[i] = Sample{Time: start.Add(time.Duration(i) * pe), Missing: true}
	}
	for _, p := range points {
		i := int(p.Time.Sub(start) / pe)
		if i < 0 || i >= n {
			continue
		}
		v, _ := p.Stats.Statistic(a.Statistic)
		samples[i] = Sample{Time: samples[i].Time, Value: v, SampleCount: p.Stats.SampleCount}
	}
	return samples, pe, nil
}

func (s *Service) evaluate(ctx context.Context, a *Alarm) error {
	now := s.Now()
	samples, _, err := s.samples(a, now)
	if err != nil {
		return err
	}
	o := Evaluate(a.Rule(time.Duration(a.Period)*time.Second), samples, now)
	if o.State == "" || o.State == a.State {
		return nil
	}
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	_, err = s.st.Update(ctx, func(tx store.Tx) error {
		cur, err := getAlarm(tx, a.Scope, a.Name)
		if err != nil || cur == nil {
			return err // deleted meanwhile
		}
		if cur.State == o.State || !cur.ConfigUpdated.Equal(a.ConfigUpdated) {
			return nil // changed meanwhile: the next tick sees it
		}
		return transition(tx, cur, o, now)
	})
	if err == nil {
		s.log.Info("alarm state changed", "alarm", a.Name, "from", a.State, "to", o.State)
	}
	return err
}

// deliver hands pending actions to the sink, oldest first, and deletes
// each once delivered.
func (s *Service) deliver(ctx context.Context) {
	s.deliverMu.Lock()
	defer s.deliverMu.Unlock()
	kvs, err := s.st.List(ctx, actionsPrefix)
	if err != nil || len(kvs) == 0 {
		return
	}
	s.mu.Lock()
	sink := s.sink
	s.mu.Unlock()
	for _, kv := range kvs {
		var p pendingAction
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			s.log.Warn("bad pending alarm action", "key", kv.Key, "err", err)
			continue
		}
		var summary string
		switch {
		case !IsAutoScalingAction(p.ARN):
			summary = fmt.Sprintf("Failed to execute action %s. Received error: \"fargo carries out Application Auto Scaling actions only\"", p.ARN)
		case sink == nil:
			continue // waits for the sink
		default:
			err := sink.AlarmFired(ctx, p.Scope, p.ARN, p.Event)
			switch {
			case errors.Is(err, ErrActionFailed):
				summary = fmt.Sprintf("Failed to execute action %s. Received error: %q", p.ARN, strings.TrimPrefix(err.Error(), ErrActionFailed.Error()+": "))
			case err != nil:
				s.log.Warn("alarm action failed", "alarm", p.Event.AlarmName, "action", p.ARN, "err", err)
				continue // retried next tick
			default:
				summary = "Successfully executed action " + p.ARN
			}
		}
		now := s.Now()
		_, err := s.st.Update(ctx, func(tx store.Tx) error {
			if err := tx.Delete(kv.Key); err != nil {
				return err
			}
			tag := "action-" + strings.ReplaceAll(strings.TrimPrefix(kv.Key, actionsPrefix+scopePath(p.Scope)+keyName(p.Event.AlarmName)+"/"), "/", "-")
			return putJSON(tx, historyKey(p.Scope, p.Event.AlarmName, now, tag), HistoryItem{
				AlarmName: p.Event.AlarmName, Type: "Action", Time: now, Summary: summary})
		})
		if err != nil {
			s.log.Warn("alarm action outbox", "err", err)
		}
	}
}

// pruneHistory drops history older than 30 days (CloudWatch's).
func (s *Service) pruneHistory(ctx context.Context) {
	cutoff := s.Now().Add(-30 * 24 * time.Hour)
	kvs, err := s.st.List(ctx, historyPrefix)
	if err != nil {
		return
	}
	for _, kv := range kvs {
		var h HistoryItem
		if json.Unmarshal(kv.Value, &h) == nil && h.Time.Before(cutoff) {
			_, _ = s.st.Delete(ctx, kv.Key)
		}
	}
}

// MetricExists reports whether the metric has data (alarms on metrics
// that do not exist are fine: they stay INSUFFICIENT_DATA).
func (s *Service) MetricExists(scope tenant.Scope, m Metric) bool { return s.data.Exists(scope, m) }
