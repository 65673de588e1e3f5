package autoscaling

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// AlarmFired implements metrics.ActionSink: an alarm whose action is a
// policy ARN changed state. Policies act on ALARM only; a policy that no
// longer exists drops the action.
func (s *Service) AlarmFired(ctx context.Context, scope tenant.Scope, actionARN string, ev metrics.ActionEvent) error {
	if ev.State != metrics.StateAlarm {
		return nil
	}
	rid, name, ok := parsePolicyARN(actionARN)
	if !ok {
		return nil
	}
	alarm, err := s.alarm(ctx, scope, ev.AlarmName)
	if err != nil || alarm == nil {
		return err
	}
	in := s.alarmValue(alarm, true)
	return s.trigger(ctx, scope, rid, name, actionARN, alarm, in, ev.TransitionID)
}

// parsePolicyARN splits
// arn:aws:autoscaling:R:A:scalingPolicy:<id>:resource/ecs/<rid>:policyName/<name>.
func parsePolicyARN(arn string) (rid, name string, ok bool) {
	_, rest, ok := strings.Cut(arn, ":resource/ecs/")
	if !ok {
		return "", "", false
	}
	rid, name, ok = strings.Cut(rest, ":policyName/")
	return rid, name, ok && CheckResourceID(rid) == nil
}

func (s *Service) alarm(ctx context.Context, scope tenant.Scope, name string) (*metrics.Alarm, error) {
	as, err := s.alarms.Alarms(ctx, scope, metrics.AlarmFilter{Names: []string{name}})
	if err != nil || len(as) == 0 {
		return nil, err
	}
	return &as[0], nil
}

// alarmValue is what the policy knows of the alarm: its direction,
// threshold and the metric value, from the datapoints of the evaluation
// that moved it (when fromReason) or the metric's latest datapoint.
func (s *Service) alarmValue(a *metrics.Alarm, fromReason bool) alarmInput {
	in := alarmInput{high: strings.HasPrefix(a.Comparison, "Greater"), threshold: a.Threshold}
	if fromReason && a.StateReasonData != "" {
		var d struct {
			RecentDatapoints []float64 `json:"recentDatapoints"`
		}
		if json.Unmarshal([]byte(a.StateReasonData), &d) == nil && len(d.RecentDatapoints) > 0 {
			in.value, in.hasValue = d.RecentDatapoints[len(d.RecentDatapoints)-1], true
			in.values = d.RecentDatapoints
			return in
		}
	}
	pe := max(s.scaled(time.Duration(a.Period)*time.Second), time.Second)
	now := s.now()
	points, err := s.alarms.Statistics(a.Scope, a.Metric, a.Unit, now.Add(-3*pe), now, pe)
	if err != nil || len(points) == 0 {
		return in
	}
	stat := a.Statistic
	if stat == "" {
		stat = "Average"
	}
	in.value, in.hasValue = points[len(points)-1].Stats.Statistic(stat)
	return in
}

// trigger runs one trigger of a policy: the decision, tx 1, the ECS
// update, tx 2 (see the package doc). A trigger id seen before does
// nothing.
func (s *Service) trigger(ctx context.Context, scope tenant.Scope, rid, name, policyARN string, alarm *metrics.Alarm, in alarmInput, triggerID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var p *Policy
	var t *Target
	seen := false
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if p, err = getJSON[Policy](tx, policyKey(scope, rid, name)); err != nil {
			return err
		}
		if t, err = getJSON[Target](tx, targetKey(scope, rid)); err != nil {
			return err
		}
		_, err = tx.Get(triggerKey(scope, triggerID))
		seen = err == nil
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
		return err
	})
	if err != nil || seen {
		return err
	}
	if p == nil || t == nil || p.ARN() != policyARN {
		// AWS's words for an alarm whose policy is gone.
		return fmt.Errorf("%w: No scaling policy found for service namespace: ecs, resource ID: %s, scalable dimension: ecs:service:DesiredCount, policy name: %s",
			metrics.ErrActionFailed, rid, name)
	}
	current, err := s.ecs.DesiredCount(ctx, scope, t.Cluster(), t.Service())
	if serviceMissing(err) {
		return nil // the service is gone: nothing to scale
	}
	if err != nil {
		return err
	}
	now := s.now()
	var d decision
	if p.Type == PolicyTargetTracking {
		d = decideTargetTracking(p, t, in, current, now, s.scaled)
		if d.skip == "" && !d.out {
			d = s.othersAllowScaleIn(ctx, scope, p, d)
		}
	} else {
		d = decideStep(p, t, in, current, now, s.scaled)
	}
	if d.skip != "" {
		s.log.Debug("policy did not scale", "policy", p.Name, "alarm", alarm.Name, "why", d.skip, "current", current)
		return nil
	}
	act := &Activity{ID: uuid.NewString(), ResourceID: rid, Start: now, Status: StatusInProgress, Desired: d.capacity,
		Description: fmt.Sprintf("Setting desired count to %d.", d.capacity),
		Cause:       fmt.Sprintf("monitor alarm %s in state %s triggered policy %s", alarm.Name, metrics.StateAlarm, p.Name)}
	key := activityKey(scope, rid, now, act.ID)
	_, err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(triggerKey(scope, triggerID)); err == nil {
			return errSeen
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		cur, err := getJSON[Policy](tx, policyKey(scope, rid, name))
		if err != nil {
			return err
		}
		if cur == nil || cur.ID != p.ID {
			return errSeen // deleted or replaced meanwhile
		}
		if d.out {
			cur.LastOut, cur.LastOutFrom = now, current
		} else {
			cur.LastIn = now
		}
		if err := putJSON(tx, policyKey(scope, rid, name), cur); err != nil {
			return err
		}
		if err := putJSON(tx, triggerKey(scope, triggerID), trigger{Time: now, Activity: act.ID}); err != nil {
			return err
		}
		if err := putJSON(tx, key, act); err != nil {
			return err
		}
		return putJSON(tx, pendingKey(scope, act.ID), pending{Scope: scope, Key: key})
	})
	if errors.Is(err, errSeen) {
		return nil
	}
	if err != nil {
		return err
	}
	s.log.Info("scaling", "resource", rid, "policy", p.Name, "alarm", alarm.Name, "from", current, "to", d.capacity)
	return s.apply(ctx, scope, act.ID)
}

var errSeen = errors.New("trigger already handled")

// othersAllowScaleIn keeps a scale-in only when every other
// target-tracking policy of the target wants to scale in too (its low
// alarm is in ALARM): across policies, the largest capacity wins.
func (s *Service) othersAllowScaleIn(ctx context.Context, scope tenant.Scope, p *Policy, d decision) decision {
	pols, err := s.Policies(ctx, scope, p.ResourceID, nil)
	if err != nil {
		return decision{skip: "reading the other policies: " + err.Error()}
	}
	for _, o := range pols {
		if o.Name == p.Name || o.Type != PolicyTargetTracking || len(o.Alarms) != 2 {
			continue
		}
		low, err := s.alarm(ctx, scope, o.Alarms[1].Name)
		if err != nil || low == nil || low.State != metrics.StateAlarm {
			return decision{skip: "policy " + o.Name + " does not allow scale-in"}
		}
	}
	return d
}

// apply sets the desired count of a pending activity and finishes it.
func (s *Service) apply(ctx context.Context, scope tenant.Scope, actID string) error {
	var pd *pending
	var act *Activity
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if pd, err = getJSON[pending](tx, pendingKey(scope, actID)); err != nil || pd == nil {
			return err
		}
		act, err = getJSON[Activity](tx, pd.Key)
		return err
	})
	if err != nil || pd == nil {
		return err
	}
	if act == nil {
		_, err := s.st.Delete(ctx, pendingKey(scope, actID))
		return err
	}
	status, msg := StatusSuccessful, ""
	if act.Desired >= 0 {
		cluster, service, _ := SplitResourceID(act.ResourceID)
		err := s.ecs.SetDesiredCount(ctx, scope, cluster, service, act.Desired)
		switch {
		case err == nil:
			msg = fmt.Sprintf("Successfully set desired count to %d. Change successfully fulfilled by ecs.", act.Desired)
		case errors.Is(err, errdefs.ErrInvalidArgument), errors.Is(err, errdefs.ErrNotFound),
			errors.Is(err, errdefs.ErrConflict), errors.Is(err, errdefs.ErrUnsupported):
			// ECS refused it (the service is gone or not ACTIVE, ...).
			status, msg = StatusFailed, fmt.Sprintf("Failed to set desired count to %d. Reason: %s", act.Desired, errdefs.Message(err))
		default:
			return err // still pending: Run retries it
		}
	}
	_, err = s.st.Update(ctx, func(tx store.Tx) error {
		cur, err := getJSON[Activity](tx, pd.Key)
		if err != nil || cur == nil {
			return err
		}
		cur.Status, cur.StatusMessage, cur.End = status, msg, s.now()
		if err := putJSON(tx, pd.Key, cur); err != nil {
			return err
		}
		return tx.Delete(pendingKey(scope, actID))
	})
	return err
}

// Run re-triggers policies whose alarms stay in ALARM (once per alarm
// period, as AWS re-evaluates them), runs scheduled actions and finishes
// activities a crash left pending, until ctx ends.
func (s *Service) Run(ctx context.Context) {
	s.resumePending(ctx)
	every := min(max(s.cfg.Period/4, time.Second), 15*time.Second)
	t := time.NewTicker(every)
	defer t.Stop()
	prune := time.NewTicker(time.Hour)
	defer prune.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.resumePending(ctx)
			if err := s.Retrigger(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("re-evaluating policies", "err", err)
			}
			if err := s.RunScheduled(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("scheduled actions", "err", err)
			}
		case <-prune.C:
			s.prune(ctx)
		}
	}
}

// resumePending finishes the activities whose desired count was not set.
func (s *Service) resumePending(ctx context.Context) {
	kvs, err := s.st.List(ctx, pendingPrefix)
	if err != nil {
		return
	}
	for _, kv := range kvs {
		var pd pending
		if json.Unmarshal(kv.Value, &pd) != nil {
			continue
		}
		id := kv.Key[strings.LastIndexByte(kv.Key, '/')+1:]
		s.mu.Lock()
		err := s.apply(ctx, pd.Scope, id)
		s.mu.Unlock()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("finishing a scaling activity", "activity", id, "err", err)
		}
	}
}

// Retrigger triggers every policy one of whose alarms has stayed in ALARM
// for another alarm period since its transition; the trigger id names the
// transition and the period, so each fires once.
func (s *Service) Retrigger(ctx context.Context) error {
	kvs, err := s.st.List(ctx, policiesPrefix)
	if err != nil {
		return err
	}
	now := s.now()
	var errs []error
	for _, kv := range kvs {
		var p Policy
		if err := json.Unmarshal(kv.Value, &p); err != nil {
			continue
		}
		var alarms []metrics.Alarm
		if p.Type == PolicyTargetTracking {
			for _, ref := range p.Alarms {
				if a, err := s.alarm(ctx, p.Scope, ref.Name); err == nil && a != nil {
					alarms = append(alarms, *a)
				}
			}
		} else {
			alarms, err = s.alarms.Alarms(ctx, p.Scope, metrics.AlarmFilter{ActionPrefix: p.ARN()})
			if err != nil {
				errs = append(errs, err)
				continue
			}
		}
		for i := range alarms {
			a := &alarms[i]
			if a.State != metrics.StateAlarm || !a.ActionsEnabled || !hasAction(a.AlarmActions, p.ARN()) {
				continue
			}
			pe := max(s.scaled(time.Duration(a.Period)*time.Second), time.Second)
			k := int64(now.Sub(a.StateTransitioned) / pe)
			if k < 1 {
				continue
			}
			id := fmt.Sprintf("%s/%d/r%d", a.ARN(), a.Transitions, k)
			if err := s.trigger(ctx, p.Scope, p.ResourceID, p.Name, p.ARN(), a, s.alarmValue(a, false), id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func hasAction(arns []string, arn string) bool {
	for _, a := range arns {
		if a == arn {
			return true
		}
	}
	return false
}

// RunScheduled runs the scheduled actions that are due.
func (s *Service) RunScheduled(ctx context.Context) error {
	kvs, err := s.st.List(ctx, scheduledPrefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, kv := range kvs {
		var a ScheduledAction
		if err := json.Unmarshal(kv.Value, &a); err != nil {
			continue
		}
		if a.Next.IsZero() || a.Next.After(s.now()) {
			continue
		}
		if err := s.runScheduled(ctx, &a); err != nil {
			errs = append(errs, fmt.Errorf("scheduled action %s: %w", a.Name, err))
		}
	}
	return errors.Join(errs...)
}

func (s *Service) runScheduled(ctx context.Context, a *ScheduledAction) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	scope, rid := a.Scope, a.ResourceID
	cluster, service, _ := SplitResourceID(rid)
	current, err := s.ecs.DesiredCount(ctx, scope, cluster, service)
	missing := serviceMissing(err)
	if err != nil && !missing {
		return err
	}
	now := s.now()
	var act *Activity
	var key string
	_, err = s.st.Update(ctx, func(tx store.Tx) error {
		act, key = nil, ""
		cur, err := getJSON[ScheduledAction](tx, scheduledKey(scope, rid, a.Name))
		if err != nil || cur == nil || !cur.Next.Equal(a.Next) {
			return err // deleted or run meanwhile
		}
		next, err := cur.next(now)
		if err != nil {
			next = time.Time{}
		}
		cur.Next = next
		if err := putJSON(tx, scheduledKey(scope, rid, a.Name), cur); err != nil {
			return err
		}
		t, err := getJSON[Target](tx, targetKey(scope, rid))
		if err != nil || t == nil || t.Suspended.ScheduledScalingSuspended || missing {
			return err
		}
		var parts []string
		if cur.Min != nil {
			t.Min = *cur.Min
			parts = append(parts, fmt.Sprintf("min capacity to %d", t.Min))
		}
		if cur.Max != nil {
			t.Max = *cur.Max
			parts = append(parts, fmt.Sprintf("max capacity to %d", t.Max))
		}
		if t.Min > t.Max { // one bound moved past the other: the other follows
			if cur.Min != nil {
				t.Max = t.Min
			} else {
				t.Min = t.Max
			}
		}
		if err := putJSON(tx, targetKey(scope, rid), t); err != nil {
			return err
		}
		desired := min(max(current, t.Min), t.Max)
		act = &Activity{ID: uuid.NewString(), ResourceID: rid, Start: now, Status: StatusInProgress, Desired: -1,
			Description: "Setting " + strings.Join(parts, " and "),
			Cause:       fmt.Sprintf("scheduled action name %s was triggered", cur.Name)}
		if desired != current {
			act.Desired = desired
			act.Description += fmt.Sprintf(" and desired count to %d", desired)
		}
		key = activityKey(scope, rid, now, act.ID)
		if err := putJSON(tx, key, act); err != nil {
			return err
		}
		return putJSON(tx, pendingKey(scope, act.ID), pending{Scope: scope, Key: key})
	})
	if err != nil || act == nil {
		return err
	}
	s.log.Info("scheduled action", "resource", rid, "action", a.Name, "desired", act.Desired)
	return s.apply(ctx, scope, act.ID)
}

// prune drops activities and trigger records older than the retention.
func (s *Service) prune(ctx context.Context) {
	cutoff := s.now().Add(-retention)
	for _, prefix := range []string{activitiesPrefix, triggersPrefix} {
		kvs, err := s.st.List(ctx, prefix)
		if err != nil {
			continue
		}
		for _, kv := range kvs {
			var v struct {
				Start time.Time `json:"start"`
				Time  time.Time `json:"time"`
			}
			if json.Unmarshal(kv.Value, &v) != nil {
				continue
			}
			t := v.Start
			if t.IsZero() {
				t = v.Time
			}
			if !t.IsZero() && t.Before(cutoff) {
				_, _ = s.st.Delete(ctx, kv.Key)
			}
		}
	}
}
