package autoscaling

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/metrics"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Config configures the service.
type Config struct {
	// Period is CloudWatch's metric period (one minute, AWS's, unless
	// shortened for demos and tests): cooldowns and re-evaluations of
	// alarms that stay in ALARM scale by Period/1m.
	Period time.Duration
	Logger *slog.Logger
	// Now returns the time (nil: time.Now).
	Now func() time.Time
}

// Service is Application Auto Scaling for ECS services.
type Service struct {
	cfg    Config
	st     store.Store
	ecs    ECS
	alarms Alarms
	log    *slog.Logger
	// mu serializes scaling decisions and changes of targets and policies
	// (one decision sees the last one's effect).
	mu sync.Mutex
}

// New returns the service.
func New(cfg Config, st store.Store, ecs ECS, alarms Alarms) *Service {
	if cfg.Period <= 0 {
		cfg.Period = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Service{cfg: cfg, st: st, ecs: ecs, alarms: alarms, log: cfg.Logger}
}

func (s *Service) now() time.Time { return s.cfg.Now().UTC() }

// scaled is the wall-clock length of AWS's d.
func (s *Service) scaled(d time.Duration) time.Duration {
	// In floating point: d × Period overflows int64 nanoseconds.
	return time.Duration(float64(d) * (float64(s.cfg.Period) / float64(time.Minute)))
}

func targetNotFound(rid string) error {
	return errdefs.NotFoundf("No scalable target registered for service namespace: ecs, resource ID: %s, scalable dimension: %s", rid, DimensionDesired)
}

// CheckResourceID validates an ECS resource id.
func CheckResourceID(rid string) error {
	if _, _, ok := SplitResourceID(rid); !ok {
		return errdefs.Invalidf("Unsupported resource ID format: %s. The resource ID must be of the form service/<cluster name>/<service name>.", rid)
	}
	return nil
}

// RegisterInput is RegisterScalableTarget's input (nil: unchanged).
type RegisterInput struct {
	ResourceID string
	Min, Max   *int
	RoleARN    *string
	Suspended  struct{ In, Out, Scheduled *bool }
	Tags       map[string]string
}

// RegisterTarget creates or updates a scalable target and clamps the
// service's desired count into its bounds.
func (s *Service) RegisterTarget(ctx context.Context, scope tenant.Scope, in RegisterInput) (*Target, error) {
	if err := CheckResourceID(in.ResourceID); err != nil {
		return nil, err
	}
	for _, p := range []*int{in.Min, in.Max} {
		if p != nil && (*p < 0 || *p > math.MaxInt32) {
			return nil, errdefs.Invalidf("Capacity must be a non-negative integer.")
		}
	}
	cluster, service, _ := SplitResourceID(in.ResourceID)
	if _, err := s.ecs.DesiredCount(ctx, scope, cluster, service); err != nil {
		if serviceMissing(err) {
			return nil, errdefs.Invalidf("ECS service doesn't exist: %s", in.ResourceID)
		}
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out *Target
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		t, err := getJSON[Target](tx, targetKey(scope, in.ResourceID))
		if err != nil {
			return err
		}
		if t == nil {
			if in.Min == nil || in.Max == nil {
				return errdefs.Invalidf("MinCapacity and MaxCapacity are required to register a new scalable target.")
			}
			t = &Target{Scope: scope, ResourceID: in.ResourceID, ID: randomHex(18), Created: s.now(), Tags: in.Tags}
		} else if len(in.Tags) > 0 {
			if t.Tags == nil {
				t.Tags = map[string]string{}
			}
			for k, v := range in.Tags {
				t.Tags[k] = v
			}
		}
		if in.Min != nil {
			t.Min = *in.Min
		}
		if in.Max != nil {
			t.Max = *in.Max
		}
		if t.Min > t.Max {
			return errdefs.Invalidf("Minimum capacity cannot be greater than maximum capacity")
		}
		if in.RoleARN != nil {
			t.RoleARN = *in.RoleARN
		}
		if in.Suspended.In != nil {
			t.Suspended.DynamicScalingInSuspended = *in.Suspended.In
		}
		if in.Suspended.Out != nil {
			t.Suspended.DynamicScalingOutSuspended = *in.Suspended.Out
		}
		if in.Suspended.Scheduled != nil {
			t.Suspended.ScheduledScalingSuspended = *in.Suspended.Scheduled
		}
		if err := checkTags(t.Tags); err != nil {
			return err
		}
		out = t
		return putJSON(tx, targetKey(scope, in.ResourceID), t)
	})
	if err != nil {
		return nil, err
	}
	if err := s.clamp(ctx, scope, out); err != nil {
		return nil, err
	}
	return out, nil
}

// clamp moves the service's desired count into the target's bounds.
func (s *Service) clamp(ctx context.Context, scope tenant.Scope, t *Target) error {
	cur, err := s.ecs.DesiredCount(ctx, scope, t.Cluster(), t.Service())
	if err != nil {
		return err
	}
	if n := min(max(cur, t.Min), t.Max); n != cur {
		s.log.Info("clamping desired count", "resource", t.ResourceID, "from", cur, "to", n)
		return s.ecs.SetDesiredCount(ctx, scope, t.Cluster(), t.Service(), n)
	}
	return nil
}

func checkTags(tags map[string]string) error {
	if len(tags) > 50 {
		return errdefs.Newf(errdefs.ErrLimitExceeded, "A resource can have at most 50 tags.")
	}
	for k, v := range tags {
		if k == "" || len(k) > 128 || len(v) > 256 {
			return errdefs.Invalidf("Tag keys must be 1 to 128 characters and values at most 256 characters.")
		}
		if strings.HasPrefix(k, "aws:") {
			return errdefs.Invalidf("Tag keys may not start with aws:.")
		}
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Targets lists the scope's targets, all or those named.
func (s *Service) Targets(ctx context.Context, scope tenant.Scope, rids []string) ([]*Target, error) {
	var out []*Target
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		all, err := listJSON[Target](tx, targetsPrefix+sp(scope))
		for _, t := range all {
			if len(rids) == 0 || slices.Contains(rids, t.ResourceID) {
				out = append(out, t)
			}
		}
		return err
	})
	return out, err
}

// DeregisterTarget removes a target with its policies (and their alarms)
// and scheduled actions.
func (s *Service) DeregisterTarget(ctx context.Context, scope tenant.Scope, rid string) error {
	if err := CheckResourceID(rid); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The alarms go first: a crash in between leaves the target and its
	// policies, which a repeated call removes (an alarm already gone is
	// fine), never alarms whose policy is gone.
	var alarms []string
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		if t, err := getJSON[Target](tx, targetKey(scope, rid)); err != nil {
			return err
		} else if t == nil {
			return targetNotFound(rid)
		}
		pols, err := listJSON[Policy](tx, policiesPrefix+sp(scope)+rid+"/")
		for _, p := range pols {
			alarms = append(alarms, alarmNames(p.Alarms)...)
		}
		return err
	})
	if err != nil {
		return err
	}
	if err := s.deleteAlarms(ctx, scope, alarms); err != nil {
		return err
	}
	_, err = s.st.Update(ctx, func(tx store.Tx) error {
		for _, prefix := range []string{policiesPrefix + sp(scope) + rid + "/", scheduledPrefix + sp(scope) + rid + "/"} {
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
		return tx.Delete(targetKey(scope, rid))
	})
	return err
}

// deleteAlarms deletes a policy's alarms, each on its own (one already gone
// must not keep the other).
func (s *Service) deleteAlarms(ctx context.Context, scope tenant.Scope, names []string) error {
	var errs []error
	for _, n := range names {
		if err := s.alarms.DeleteAlarms(ctx, scope, []string{n}); err != nil && !errors.Is(err, errdefs.ErrNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// PolicyInput is PutScalingPolicy's input.
type PolicyInput struct {
	ResourceID     string
	Name           string
	Type           string
	TargetTracking *TargetTracking
	Step           *StepScaling
}

// PutPolicy creates or replaces a policy; a target-tracking policy gets
// (or keeps) its AlarmHigh and AlarmLow alarms.
func (s *Service) PutPolicy(ctx context.Context, scope tenant.Scope, in PolicyInput) (*Policy, error) {
	if err := CheckResourceID(in.ResourceID); err != nil {
		return nil, err
	}
	if err := checkPolicy(&in); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var t *Target
	var old *Policy
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		if t, err = getJSON[Target](tx, targetKey(scope, in.ResourceID)); err != nil {
			return err
		}
		old, err = getJSON[Policy](tx, policyKey(scope, in.ResourceID, in.Name))
		return err
	})
	if err != nil {
		return nil, err
	}
	if t == nil {
		return nil, targetNotFound(in.ResourceID)
	}
	p := &Policy{Scope: scope, ResourceID: in.ResourceID, Name: in.Name, ID: uuid.NewString(), Type: in.Type,
		TargetTracking: in.TargetTracking, Step: in.Step, Created: s.now()}
	var stale []string
	if old != nil {
		p.ID, p.Created = old.ID, old.Created
		p.LastOut, p.LastOutFrom, p.LastIn = old.LastOut, old.LastOutFrom, old.LastIn
		for _, a := range old.Alarms {
			stale = append(stale, a.Name)
		}
	}
	if p.Type == PolicyTargetTracking {
		if len(old.alarmsOrNil()) == 2 {
			p.Alarms = old.Alarms // updated in place: their state is kept
			stale = nil
		} else {
			id := uuid.NewString()
			for _, kind := range []string{"AlarmHigh", "AlarmLow"} {
				name := fmt.Sprintf("TargetTracking-%s-%s-%s", in.ResourceID, kind, id)
				p.Alarms = append(p.Alarms, AlarmRef{Name: name, ARN: scope.ARN("cloudwatch", "alarm:"+name)})
			}
		}
		for i, a := range ttAlarms(p) {
			if err := s.alarms.PutAlarm(ctx, a); err != nil {
				if old == nil {
					_ = s.deleteAlarms(ctx, scope, alarmNames(p.Alarms[:i]))
				}
				return nil, err
			}
		}
	}
	_, err = s.st.Update(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(targetKey(scope, in.ResourceID)); err != nil {
			return err
		}
		return putJSON(tx, policyKey(scope, in.ResourceID, in.Name), p)
	})
	if err != nil {
		if old == nil {
			_ = s.deleteAlarms(ctx, scope, alarmNames(p.Alarms))
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, targetNotFound(in.ResourceID)
		}
		return nil, err
	}
	if err := s.deleteAlarms(ctx, scope, stale); err != nil {
		s.log.Warn("deleting a replaced policy's alarms", "policy", p.Name, "err", err)
	}
	return p, nil
}

func (p *Policy) alarmsOrNil() []AlarmRef {
	if p == nil {
		return nil
	}
	return p.Alarms
}

func alarmNames(refs []AlarmRef) []string {
	out := make([]string, len(refs))
	for i, r := range refs {
		out[i] = r.Name
	}
	return out
}

// checkPolicy validates a policy and fills in AWS's defaults.
func checkPolicy(in *PolicyInput) error {
	if in.Name == "" || len(in.Name) > 256 {
		return errdefs.Invalidf("PolicyName must be 1 to 256 characters.")
	}
	if strings.ContainsAny(in.Name, ":/") {
		return errdefs.Invalidf("PolicyName may not contain ':' or '/'.")
	}
	switch in.Type {
	case "", PolicyStep:
		in.Type = PolicyStep
		if in.TargetTracking != nil {
			return errdefs.Invalidf("TargetTrackingScalingPolicyConfiguration is not allowed for StepScaling policies.")
		}
		if in.Step == nil {
			return errdefs.Invalidf("StepScalingPolicyConfiguration is required for StepScaling policies.")
		}
		return checkStep(in.Step)
	case PolicyTargetTracking:
		if in.Step != nil {
			return errdefs.Invalidf("StepScalingPolicyConfiguration is not allowed for TargetTrackingScaling policies.")
		}
		if in.TargetTracking == nil {
			return errdefs.Invalidf("TargetTrackingScalingPolicyConfiguration is required for TargetTrackingScaling policies.")
		}
		return checkTargetTracking(in.TargetTracking)
	case "PredictiveScaling":
		return errdefs.Newf(errdefs.ErrInvalidArgument, "PredictiveScaling policies are not supported for ECS services by fargo.")
	}
	return errdefs.Invalidf("Unsupported policy type: %s", in.Type)
}

func checkTargetTracking(tt *TargetTracking) error {
	if math.IsNaN(tt.TargetValue) || math.IsInf(tt.TargetValue, 0) || tt.TargetValue < 8.515920e-109 || tt.TargetValue > 6.174e307 {
		return errdefs.Invalidf("TargetValue must be between 8.515920e-109 and 6.174e+307.")
	}
	if tt.ScaleInCool < 0 || tt.ScaleOutCool < 0 {
		return errdefs.Invalidf("Cooldowns must be non-negative.")
	}
	m := &tt.Metric
	switch {
	case m.Predefined != "" && m.MetricName != "":
		return errdefs.Invalidf("Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified.")
	case m.Predefined != "":
		switch m.Predefined {
		case MetricCPU, MetricMemory:
			if m.ResourceLabel != "" {
				return errdefs.Invalidf("ResourceLabel is only supported for the ALBRequestCountPerTarget metric.")
			}
		case MetricALBPerTarget:
			if _, ok := albTargetGroup(m.ResourceLabel); !ok {
				return errdefs.Invalidf("ResourceLabel must be specified for ALBRequestCountPerTarget, in the format app/<load-balancer-name>/<load-balancer-id>/targetgroup/<target-group-name>/<target-group-id>")
			}
		default:
			return errdefs.Invalidf("Unsupported predefined metric type %s for the ECS service namespace.", m.Predefined)
		}
	case m.MetricName != "":
		if m.Namespace == "" {
			return errdefs.Invalidf("Namespace must be specified in CustomizedMetricSpecification.")
		}
		if m.Statistic == "" {
			return errdefs.Invalidf("Statistic must be specified in CustomizedMetricSpecification.")
		}
		switch m.Statistic {
		case "Average", "Minimum", "Maximum", "SampleCount", "Sum":
		default:
			return errdefs.Invalidf("Unsupported statistic %s.", m.Statistic)
		}
	default:
		return errdefs.Invalidf("Exactly one of PredefinedMetricSpecification and CustomizedMetricSpecification must be specified.")
	}
	if !tt.OutSet {
		tt.ScaleOutCool = 300
	}
	if !tt.InSet {
		tt.ScaleInCool = 300
	}
	return nil
}

// albTargetGroup returns the TargetGroup dimension of an ALB resource
// label (app/<lb>/<id>/targetgroup/<tg>/<id>).
func albTargetGroup(label string) (string, bool) {
	parts := strings.Split(label, "/")
	if len(parts) != 6 || parts[0] != "app" || parts[3] != "targetgroup" || slices.Contains(parts, "") {
		return "", false
	}
	return strings.Join(parts[3:], "/"), true
}

func checkStep(st *StepScaling) error {
	switch st.AdjustmentType {
	case ChangeInCapacity, PercentChangeInCapacity, ExactCapacity:
	case "":
		return errdefs.Invalidf("AdjustmentType must be specified for step scaling policies.")
	default:
		return errdefs.Invalidf("Unsupported adjustment type %s.", st.AdjustmentType)
	}
	switch st.MetricAggregationType {
	case "":
		st.MetricAggregationType = "Average"
	case "Average", "Minimum", "Maximum":
	default:
		return errdefs.Invalidf("Unsupported metric aggregation type %s.", st.MetricAggregationType)
	}
	if len(st.Steps) == 0 {
		return errdefs.Invalidf("StepAdjustments must be specified for step scaling policies.")
	}
	if st.Cooldown < 0 || st.MinAdjustmentMagnitude < 0 {
		return errdefs.Invalidf("Cooldown and MinAdjustmentMagnitude must be non-negative.")
	}
	if st.MinAdjustmentMagnitude > 0 && st.AdjustmentType != PercentChangeInCapacity {
		return errdefs.Invalidf("MinAdjustmentMagnitude is only supported with the PercentChangeInCapacity adjustment type.")
	}
	return checkSteps(st.Steps)
}

// checkSteps checks step intervals as AWS does: at most one unbounded
// below and one above, no overlaps, no gaps.
func checkSteps(steps []StepAdjustment) error {
	sorted := slices.Clone(steps)
	lo := func(s StepAdjustment) float64 {
		if s.Lower == nil {
			return math.Inf(-1)
		}
		return *s.Lower
	}
	hi := func(s StepAdjustment) float64 {
		if s.Upper == nil {
			return math.Inf(1)
		}
		return *s.Upper
	}
	for _, st := range sorted {
		if st.Lower == nil && st.Upper == nil && len(sorted) > 1 {
			return errdefs.Invalidf("Only one step adjustment can have an unbounded interval.")
		}
		if lo(st) >= hi(st) {
			return errdefs.Invalidf("The upper bound of a step adjustment must be greater than its lower bound.")
		}
		if (st.Lower != nil && (math.IsNaN(*st.Lower) || math.IsInf(*st.Lower, 0))) || (st.Upper != nil && (math.IsNaN(*st.Upper) || math.IsInf(*st.Upper, 0))) {
			return errdefs.Invalidf("Step adjustment bounds must be finite numbers.")
		}
	}
	slices.SortFunc(sorted, func(a, b StepAdjustment) int {
		switch {
		case lo(a) < lo(b):
			return -1
		case lo(a) > lo(b):
			return 1
		}
		return 0
	})
	for i := 1; i < len(sorted); i++ {
		if hi(sorted[i-1]) > lo(sorted[i]) {
			return errdefs.Invalidf("Step adjustment intervals may not overlap.")
		}
		if hi(sorted[i-1]) < lo(sorted[i]) {
			return errdefs.Invalidf("Step adjustment intervals may not have gaps between them.")
		}
	}
	return nil
}

// ttAlarms are the CloudWatch alarms of a target-tracking policy, as AWS
// creates them: high after 3 of 3 one-minute datapoints above the target,
// low after 15 of 15 below 90% of it.
func ttAlarms(p *Policy) []metrics.Alarm {
	tt := p.TargetTracking
	m, stat, unit := policyMetric(p)
	desc := "DO NOT EDIT OR DELETE. For TargetTrackingScaling policy " + p.ARN() + "."
	high := metrics.Alarm{Scope: p.Scope, Name: p.Alarms[0].Name, Description: desc, ActionsEnabled: true,
		AlarmActions: []string{p.ARN()}, Metric: m, Statistic: stat, Unit: unit, Period: 60,
		EvaluationPeriods: 3, DatapointsToAlarm: 3, Threshold: tt.TargetValue, Comparison: "GreaterThanThreshold"}
	low := high
	low.Name, low.AlarmActions = p.Alarms[1].Name, []string{p.ARN()}
	low.EvaluationPeriods, low.DatapointsToAlarm = 15, 15
	low.Threshold, low.Comparison = tt.TargetValue*0.9, "LessThanThreshold"
	// A policy that never scales in still has its low alarm, without
	// actions (AWS keeps it so the policy can be updated).
	low.ActionsEnabled = !tt.DisableScaleIn
	return []metrics.Alarm{high, low}
}

// policyMetric is the CloudWatch metric a target-tracking policy tracks.
func policyMetric(p *Policy) (metrics.Metric, string, string) {
	ms := p.TargetTracking.Metric
	cluster, service, _ := SplitResourceID(p.ResourceID)
	ecsDims := []metrics.Dimension{{Name: "ClusterName", Value: cluster}, {Name: "ServiceName", Value: service}}
	switch ms.Predefined {
	case MetricCPU:
		return metrics.Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dimensions: ecsDims}, "Average", ""
	case MetricMemory:
		return metrics.Metric{Namespace: "AWS/ECS", Name: "MemoryUtilization", Dimensions: ecsDims}, "Average", ""
	case MetricALBPerTarget:
		tg, _ := albTargetGroup(ms.ResourceLabel)
		return metrics.Metric{Namespace: "AWS/ApplicationELB", Name: "RequestCountPerTarget",
			Dimensions: []metrics.Dimension{{Name: "TargetGroup", Value: tg}}}, "Sum", ""
	}
	var dims []metrics.Dimension
	for _, d := range ms.Dimensions {
		dims = append(dims, metrics.Dimension{Name: d.Name, Value: d.Value})
	}
	return metrics.Metric{Namespace: ms.Namespace, Name: ms.MetricName, Dimensions: dims}, ms.Statistic, ms.Unit
}

// Policies lists a scope's policies, filtered by resource id and names.
func (s *Service) Policies(ctx context.Context, scope tenant.Scope, rid string, names []string) ([]*Policy, error) {
	prefix := policiesPrefix + sp(scope)
	if rid != "" {
		prefix += rid + "/"
	}
	var out []*Policy
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		all, err := listJSON[Policy](tx, prefix)
		for _, p := range all {
			if len(names) == 0 || slices.Contains(names, p.Name) {
				out = append(out, p)
			}
		}
		return err
	})
	return out, err
}

// DeletePolicy deletes a policy and its alarms.
func (s *Service) DeletePolicy(ctx context.Context, scope tenant.Scope, rid, name string) error {
	if err := CheckResourceID(rid); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// The alarms first, as in DeregisterTarget.
	var p *Policy
	err := s.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		p, err = getJSON[Policy](tx, policyKey(scope, rid, name))
		return err
	})
	if err != nil {
		return err
	}
	if p == nil {
		return errdefs.NotFoundf("No scaling policy found for service namespace: ecs, resource ID: %s, scalable dimension: %s, policy name: %s", rid, DimensionDesired, name)
	}
	if err := s.deleteAlarms(ctx, scope, alarmNames(p.Alarms)); err != nil {
		return err
	}
	_, err = s.st.Delete(ctx, policyKey(scope, rid, name))
	return err
}
