package metrics

import (
	"strings"
	"testing"
	"time"
)

// samplesOf turns "0 - X" (oldest first; 0 not breaching, X breaching, -
// missing) into samples against a threshold of 50.
func samplesOf(s string, t0 time.Time) []Sample {
	var out []Sample
	for i, f := range strings.Fields(s) {
		at := t0.Add(time.Duration(i) * time.Minute)
		switch f {
		case "0":
			out = append(out, Sample{Time: at, Value: 10, SampleCount: 1})
		case "X":
			out = append(out, Sample{Time: at, Value: 90, SampleCount: 1})
		default:
			out = append(out, Sample{Time: at, Missing: true})
		}
	}
	return out
}

// TestEvaluateMissingDataTable follows the table of AWS's "Configuring how
// CloudWatch alarms treat missing data" (3 evaluation periods, 3
// datapoints to alarm; rows as AWS describes them, without the extended
// evaluation range AWS fetches when points are missing): "" is "Retain
// current state".
func TestEvaluateMissingDataTable(t *testing.T) {
	rows := []struct {
		points                                   string
		missing, ignore, breaching, notBreaching string
	}{
		{"0 X X", StateOK, StateOK, StateOK, StateOK},
		{"0 0 0", StateOK, StateOK, StateOK, StateOK},
		{"0 - -", StateOK, StateOK, StateOK, StateOK},
		{"- - -", StateInsufficientData, "", StateAlarm, StateOK},
		{"0 X -", StateOK, StateOK, StateOK, StateOK},
		{"X X -", StateAlarm, "", StateAlarm, StateOK},
		{"- X -", StateAlarm, "", StateAlarm, StateOK},
		{"X X X", StateAlarm, StateAlarm, StateAlarm, StateAlarm},
	}
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, row := range rows {
		for treat, want := range map[string]string{MissingMissing: row.missing, MissingIgnore: row.ignore, MissingBreaching: row.breaching, MissingNotBreaching: row.notBreaching} {
			r := Rule{Comparison: "GreaterThanThreshold", Threshold: 50, EvaluationPeriods: 3, DatapointsToAlarm: 3, TreatMissingData: treat, Statistic: "Average", Period: time.Minute}
			got := Evaluate(r, samplesOf(row.points, t0), t0.Add(3*time.Minute))
			if got.State != want {
				t.Errorf("%q treat %s: state %q, want %q (%s)", row.points, treat, got.State, want, got.Reason)
			}
		}
	}
}

// TestEvaluateMOfN checks "datapoints to alarm": M breaching points out of
// the last N, whichever they are.
func TestEvaluateMOfN(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		points string
		m      int
		want   string
	}{
		{"X 0 X 0 0", 2, StateAlarm},
		{"X 0 0 0 0", 2, StateOK},
		{"0 0 0 X X", 2, StateAlarm},
		{"X X X 0 0", 3, StateAlarm},
		{"X X 0 0 0", 3, StateOK},
		{"0 0 0 0 X", 1, StateAlarm},
	} {
		r := Rule{Comparison: "GreaterThanOrEqualToThreshold", Threshold: 50, EvaluationPeriods: 5, DatapointsToAlarm: c.m, Statistic: "Average", Period: time.Minute}
		if got := Evaluate(r, samplesOf(c.points, t0), t0); got.State != c.want {
			t.Errorf("%s M=%d: %s, want %s", c.points, c.m, got.State, c.want)
		}
	}
}

func TestEvaluateReasons(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	r := Rule{Comparison: "GreaterThanThreshold", Threshold: 50, EvaluationPeriods: 1, Statistic: "Average", Period: time.Minute}
	got := Evaluate(r, samplesOf("X", t0), t0)
	want := "Threshold Crossed: 1 datapoint [90.0 (07/12/26 10:00:00)] was greater than the threshold (50.0)."
	if got.Reason != want {
		t.Errorf("reason %q, want %q", got.Reason, want)
	}
	r.EvaluationPeriods, r.DatapointsToAlarm = 3, 2
	got = Evaluate(r, samplesOf("0 0 X", t0), t0)
	want = "Threshold Crossed: 2 out of the last 3 datapoints [90.0 (07/12/26 10:02:00), 10.0 (07/12/26 10:01:00), 10.0 (07/12/26 10:00:00)] were not greater than the threshold (50.0) (minimum 2 datapoints for ALARM -> OK transition)."
	if got.State != StateOK || got.Reason != want {
		t.Errorf("%s %q, want %q", got.State, got.Reason, want)
	}
	got = Evaluate(Rule{Comparison: "GreaterThanThreshold", Threshold: 50, EvaluationPeriods: 2, Period: time.Minute}, samplesOf("- -", t0), t0)
	if got.Reason != "Insufficient Data: 2 datapoints were unknown." {
		t.Errorf("reason %q", got.Reason)
	}
	if !strings.Contains(got.ReasonData, `"version":"1.0"`) {
		t.Errorf("reason data %s", got.ReasonData)
	}
}
