package autoscaling

import (
	"testing"
	"time"
)

func f(v float64) *float64 { return &v }

func ident(d time.Duration) time.Duration { return d }

func TestRatioCapacity(t *testing.T) {
	for _, c := range []struct {
		cur           int
		value, target float64
		want          int
	}{
		{2, 90, 50, 4}, // ceil(3.6)
		{2, 50, 50, 2},
		{3, 51, 50, 4}, // ceil(3.06)
		{4, 10, 50, 1}, // ceil(0.8)
		{4, 0, 50, 0},
		{0, 90, 50, 0},
		{10, 1e300, 1, 2147483647},
	} {
		if got := ratioCapacity(c.cur, c.value, c.target); got != c.want {
			t.Errorf("ratioCapacity(%d, %v, %v) = %d, want %d", c.cur, c.value, c.target, got, c.want)
		}
	}
}

func TestDecideTargetTracking(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tgt := &Target{Min: 1, Max: 6}
	pol := func(mod func(*Policy)) *Policy {
		p := &Policy{Type: PolicyTargetTracking, TargetTracking: &TargetTracking{TargetValue: 50, ScaleOutCool: 300, ScaleInCool: 300}}
		if mod != nil {
			mod(p)
		}
		return p
	}
	high := func(v float64) alarmInput { return alarmInput{high: true, threshold: 50, value: v, hasValue: true} }
	low := func(v float64) alarmInput { return alarmInput{threshold: 45, value: v, hasValue: true} }
	for _, c := range []struct {
		name string
		p    *Policy
		t    *Target
		in   alarmInput
		cur  int
		want int // 0: no change
	}{
		{"scale out by the ratio", pol(nil), tgt, high(90), 2, 4},
		{"just above the target", pol(nil), tgt, high(51), 2, 3},
		{"a stale value below the target", pol(nil), tgt, high(40), 2, 0},
		{"no value: one more", pol(nil), tgt, alarmInput{high: true}, 2, 3},
		{"bounded by max", pol(nil), tgt, high(500), 2, 6},
		{"already at max", pol(nil), tgt, high(90), 6, 0},
		{"out cooldown: baseline is the capacity before", pol(func(p *Policy) { p.LastOut, p.LastOutFrom = now.Add(-time.Minute), 2 }), tgt, high(90), 4, 0},
		{"out cooldown: more than the last scale-out", pol(func(p *Policy) { p.LastOut, p.LastOutFrom = now.Add(-time.Minute), 2 }), tgt, high(140), 4, 6},
		{"out cooldown over", pol(func(p *Policy) { p.LastOut, p.LastOutFrom = now.Add(-301*time.Second), 2 }), tgt, high(90), 4, 6},
		{"scale-out suspended", pol(nil), &Target{Min: 1, Max: 6, Suspended: SuspendedState{DynamicScalingOutSuspended: true}}, high(90), 2, 0},
		{"scale in by the ratio", pol(nil), tgt, low(10), 4, 1},
		{"scale in: at least one less", pol(nil), tgt, low(44), 4, 3},
		{"scale in: not below min", pol(nil), &Target{Min: 2, Max: 6}, low(0), 4, 2},
		{"scale in: at min", pol(nil), tgt, low(0), 1, 0},
		{"scale in disabled", pol(func(p *Policy) { p.TargetTracking.DisableScaleIn = true }), tgt, low(10), 4, 0},
		{"scale-in cooldown", pol(func(p *Policy) { p.LastIn = now.Add(-299 * time.Second) }), tgt, low(10), 4, 0},
		{"scale-in suspended", pol(nil), &Target{Min: 1, Max: 6, Suspended: SuspendedState{DynamicScalingInSuspended: true}}, low(10), 4, 0},
	} {
		d := decideTargetTracking(c.p, c.t, c.in, c.cur, now, ident)
		got := d.capacity
		if d.skip != "" {
			got = 0
		}
		if got != c.want {
			t.Errorf("%s: capacity %d (skip %q), want %d", c.name, d.capacity, d.skip, c.want)
		}
	}
}

func TestSelectStep(t *testing.T) {
	steps := []StepAdjustment{
		{Lower: f(0), Upper: f(10), Adjustment: 1},
		{Lower: f(10), Upper: f(20), Adjustment: 2},
		{Lower: f(20), Adjustment: 3},
	}
	for _, c := range []struct {
		diff float64
		want int
	}{{0, 1}, {9.99, 1}, {10, 2}, {19.5, 2}, {20, 3}, {1e9, 3}} {
		s, ok := selectStep(steps, c.diff, true)
		if !ok || s.Adjustment != c.want {
			t.Errorf("diff %v: step %+v %v, want adjustment %d", c.diff, s, ok, c.want)
		}
	}
	if _, ok := selectStep(steps, -1, false); ok {
		t.Errorf("a step above the threshold matched a breach below it")
	}
	down := []StepAdjustment{{Upper: f(-10), Adjustment: -2}, {Lower: f(-10), Upper: f(0), Adjustment: -1}}
	for _, c := range []struct {
		diff float64
		want int
	}{{0, -1}, {-9.5, -1}, {-10, -2}, {-10.5, -2}, {-1e9, -2}} {
		s, ok := selectStep(down, c.diff, false)
		if !ok || s.Adjustment != c.want {
			t.Errorf("diff %v below: step %+v %v, want adjustment %d", c.diff, s, ok, c.want)
		}
	}
}

func TestStepDelta(t *testing.T) {
	for _, c := range []struct {
		typ          string
		adj, cur, mm int
		want         int
	}{
		{ChangeInCapacity, 2, 3, 0, 2},
		{ChangeInCapacity, -1, 3, 0, -1},
		{ExactCapacity, 5, 3, 0, 2},
		{PercentChangeInCapacity, 50, 3, 0, 1},   // 1.5 rounds down
		{PercentChangeInCapacity, 10, 3, 0, 1},   // 0.3 rounds to 1
		{PercentChangeInCapacity, -10, 3, 0, -1}, // -0.3 rounds to -1
		{PercentChangeInCapacity, -50, 5, 0, -2}, // -2.5 rounds toward zero
		{PercentChangeInCapacity, 10, 3, 2, 2},   // MinAdjustmentMagnitude
		{PercentChangeInCapacity, 200, 4, 0, 8},
	} {
		st := &StepScaling{AdjustmentType: c.typ, MinAdjustmentMagnitude: c.mm}
		if got := stepDelta(st, c.adj, c.cur); got != c.want {
			t.Errorf("%s %d from %d (min magnitude %d): %d, want %d", c.typ, c.adj, c.cur, c.mm, got, c.want)
		}
	}
}

func TestDecideStep(t *testing.T) {
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	tgt := &Target{Min: 1, Max: 10}
	out := &Policy{Type: PolicyStep, Step: &StepScaling{AdjustmentType: ChangeInCapacity, Cooldown: 60, Steps: []StepAdjustment{
		{Lower: f(0), Upper: f(20), Adjustment: 1}, {Lower: f(20), Adjustment: 3}}}}
	in := alarmInput{high: true, threshold: 70, value: 95, hasValue: true}
	if d := decideStep(out, tgt, in, 2, now, ident); d.skip != "" || d.capacity != 5 || !d.out {
		t.Errorf("95 over 70: %+v, want 5", d)
	}
	in.value = 75
	if d := decideStep(out, tgt, in, 2, now, ident); d.capacity != 3 {
		t.Errorf("75 over 70: %+v, want 3", d)
	}
	// During the cooldown the last scale-out counts: 2 -> 3 happened, the
	// same breach again adds nothing; a bigger one adds the difference.
	out.LastOut, out.LastOutFrom = now.Add(-30*time.Second), 2
	if d := decideStep(out, tgt, in, 3, now, ident); d.skip == "" {
		t.Errorf("same breach in the cooldown scaled: %+v", d)
	}
	in.value = 95
	if d := decideStep(out, tgt, in, 3, now, ident); d.capacity != 5 {
		t.Errorf("bigger breach in the cooldown: %+v, want 5", d)
	}
	// MetricAggregationType over the breaching datapoints.
	agg := &Policy{Type: PolicyStep, Step: &StepScaling{AdjustmentType: ChangeInCapacity, MetricAggregationType: "Maximum", Steps: []StepAdjustment{
		{Lower: f(0), Upper: f(20), Adjustment: 1}, {Lower: f(20), Adjustment: 3}}}}
	if d := decideStep(agg, tgt, alarmInput{high: true, threshold: 70, values: []float64{75, 95, 71}}, 2, now, ident); d.capacity != 5 {
		t.Errorf("Maximum of 75, 95, 71 over 70: %+v, want 5", d)
	}
	agg.Step.MetricAggregationType = "Average"
	if d := decideStep(agg, tgt, alarmInput{high: true, threshold: 70, values: []float64{75, 95, 71}}, 2, now, ident); d.capacity != 3 {
		t.Errorf("Average of 75, 95, 71 over 70: %+v, want 3", d)
	}
	inPol := &Policy{Type: PolicyStep, Step: &StepScaling{AdjustmentType: ChangeInCapacity, Cooldown: 60, Steps: []StepAdjustment{{Upper: f(0), Adjustment: -2}}}}
	low := alarmInput{threshold: 20, value: 5, hasValue: true}
	if d := decideStep(inPol, tgt, low, 4, now, ident); d.capacity != 2 || d.out {
		t.Errorf("scale in: %+v, want 2", d)
	}
	if d := decideStep(inPol, tgt, low, 2, now, ident); d.capacity != 1 {
		t.Errorf("scale in bounded by min: %+v, want 1", d)
	}
	inPol.LastIn = now.Add(-59 * time.Second)
	if d := decideStep(inPol, tgt, low, 4, now, ident); d.skip == "" {
		t.Errorf("scale in during the cooldown: %+v", d)
	}
}

func TestCheckSteps(t *testing.T) {
	for name, steps := range map[string][]StepAdjustment{
		"overlap":       {{Lower: f(0), Upper: f(10)}, {Lower: f(5)}},
		"gap":           {{Lower: f(0), Upper: f(10)}, {Lower: f(20)}},
		"two unbounded": {{}, {Lower: f(0)}},
		"empty":         {{Lower: f(10), Upper: f(10)}},
	} {
		if err := checkSteps(steps); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if err := checkSteps([]StepAdjustment{{Upper: f(0)}, {Lower: f(0), Upper: f(10)}, {Lower: f(10)}}); err != nil {
		t.Errorf("contiguous steps: %v", err)
	}
}

func TestAggregate(t *testing.T) {
	vs := []float64{10, 30, 20}
	for kind, want := range map[string]float64{"Average": 20, "Minimum": 10, "Maximum": 30} {
		if got, ok := aggregate(kind, vs); !ok || got != want {
			t.Errorf("%s: %v, want %v", kind, got, want)
		}
	}
	if _, ok := aggregate("Average", nil); ok {
		t.Errorf("aggregate of nothing")
	}
}
