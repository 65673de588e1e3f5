package autoscaling

import (
	"math"
	"time"
)

// decision is what one trigger of a policy asks for.
type decision struct {
	capacity int    // the new desired count
	out      bool   // a scale-out (else a scale-in)
	skip     string // why nothing changes ("" when capacity applies)
}

// alarmInput is what a policy knows about the alarm that triggered it.
type alarmInput struct {
	high      bool    // the alarm fires above its threshold
	threshold float64 // the alarm's threshold
	value     float64 // the metric's latest value
	hasValue  bool
	// values are the datapoints of the evaluation that moved the alarm
	// (step policies aggregate them by MetricAggregationType).
	values []float64
}

// ratioCapacity is target tracking's approximation:
// ceil(current × metric / target).
func ratioCapacity(current int, value, target float64) int {
	if target <= 0 {
		return current
	}
	v := math.Ceil(float64(current) * value / target)
	if math.IsNaN(v) || v > math.MaxInt32 {
		return math.MaxInt32
	}
	return int(math.Max(v, 0))
}

// decideTargetTracking applies a target-tracking policy. Scale-out: the
// ratio from the current capacity (from the capacity before the last
// scale-out while its cooldown lasts, so that capacity counts); scale-in:
// the ratio, at least one less, not during the scale-in cooldown.
func decideTargetTracking(p *Policy, t *Target, in alarmInput, current int, now time.Time, scale func(time.Duration) time.Duration) decision {
	tt := p.TargetTracking
	if in.high {
		if t.Suspended.DynamicScalingOutSuspended {
			return decision{skip: "scale-out suspended"}
		}
		base := current
		if !p.LastOut.IsZero() && now.Before(p.LastOut.Add(scale(time.Duration(tt.ScaleOutCool)*time.Second))) {
			base = p.LastOutFrom
		}
		// Without a metric value (an alarm set by hand with no data),
		// one more.
		want := base + 1
		if in.hasValue {
			want = ratioCapacity(base, in.value, tt.TargetValue)
		}
		want = min(want, t.Max)
		if want <= current {
			return decision{skip: "capacity already at or above the computed capacity"}
		}
		return decision{capacity: want, out: true}
	}
	if tt.DisableScaleIn {
		return decision{skip: "scale-in disabled"}
	}
	if t.Suspended.DynamicScalingInSuspended {
		return decision{skip: "scale-in suspended"}
	}
	if !p.LastIn.IsZero() && now.Before(p.LastIn.Add(scale(time.Duration(tt.ScaleInCool)*time.Second))) {
		return decision{skip: "scale-in cooldown"}
	}
	want := current - 1
	if in.hasValue {
		want = min(want, ratioCapacity(current, in.value, tt.TargetValue))
	}
	want = max(want, t.Min)
	if want >= current {
		return decision{skip: "capacity already at or below the computed capacity"}
	}
	return decision{capacity: want}
}

// selectStep returns the step whose interval holds the metric's distance
// from the threshold: lower bound inclusive above the threshold, upper
// bound inclusive below it, as AWS defines them.
// above says which side of the threshold the alarm fires on (it settles a
// diff of 0).
func selectStep(steps []StepAdjustment, diff float64, above bool) (StepAdjustment, bool) {
	for _, s := range steps {
		lo, hi := math.Inf(-1), math.Inf(1)
		if s.Lower != nil {
			lo = *s.Lower
		}
		if s.Upper != nil {
			hi = *s.Upper
		}
		if above && diff >= lo && diff < hi {
			return s, true
		}
		if !above && diff > lo && diff <= hi {
			return s, true
		}
	}
	return StepAdjustment{}, false
}

// stepDelta is a step's change of capacity from current.
func stepDelta(st *StepScaling, adj, current int) int {
	switch st.AdjustmentType {
	case ExactCapacity:
		return adj - current
	case PercentChangeInCapacity:
		d := float64(current) * float64(adj) / 100
		var n int
		switch {
		case d >= 1:
			n = int(math.Floor(d))
		case d > 0:
			n = 1
		case d <= -1:
			n = int(math.Ceil(d))
		case d < 0:
			n = -1
		}
		if m := st.MinAdjustmentMagnitude; m > 0 && n != 0 && abs(n) < m {
			if n > 0 {
				n = m
			} else {
				n = -m
			}
		}
		return n
	}
	return adj
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// decideStep applies a step scaling policy to the alarm's breach.
func decideStep(p *Policy, t *Target, in alarmInput, current int, now time.Time, scale func(time.Duration) time.Duration) decision {
	st := p.Step
	diff := 0.0
	if v, ok := aggregate(st.MetricAggregationType, in.values); ok {
		diff = v - in.threshold
	} else if in.hasValue {
		diff = in.value - in.threshold
	}
	step, ok := selectStep(st.Steps, diff, diff > 0 || (diff == 0 && in.high))
	if !ok {
		return decision{skip: "no step adjustment matches the metric"}
	}
	cool := scale(time.Duration(st.Cooldown) * time.Second)
	out := stepDelta(st, step.Adjustment, current) > 0
	if st.AdjustmentType == ExactCapacity {
		out = step.Adjustment > current
	}
	if out {
		if t.Suspended.DynamicScalingOutSuspended {
			return decision{skip: "scale-out suspended"}
		}
		base := current
		if !p.LastOut.IsZero() && now.Before(p.LastOut.Add(cool)) {
			base = p.LastOutFrom
		}
		want := min(base+stepDelta(st, step.Adjustment, base), t.Max)
		if want <= current {
			return decision{skip: "capacity already at or above the computed capacity"}
		}
		return decision{capacity: want, out: true}
	}
	if t.Suspended.DynamicScalingInSuspended {
		return decision{skip: "scale-in suspended"}
	}
	if !p.LastIn.IsZero() && now.Before(p.LastIn.Add(cool)) {
		return decision{skip: "scale-in cooldown"}
	}
	want := max(current+stepDelta(st, step.Adjustment, current), t.Min)
	if want >= current {
		return decision{skip: "capacity already at or below the computed capacity"}
	}
	return decision{capacity: want}
}

// aggregate is MetricAggregationType over datapoints.
func aggregate(kind string, values []float64) (float64, bool) {
	if len(values) == 0 {
		return 0, false
	}
	out := values[0]
	sum := 0.0
	for _, v := range values {
		sum += v
		switch kind {
		case "Minimum":
			out = math.Min(out, v)
		case "Maximum":
			out = math.Max(out, v)
		}
	}
	if kind == "Minimum" || kind == "Maximum" {
		return out, true
	}
	return sum / float64(len(values)), true
}
