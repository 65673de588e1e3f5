package metrics

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Alarm states.
const (
	StateOK               = "OK"
	StateAlarm            = "ALARM"
	StateInsufficientData = "INSUFFICIENT_DATA"
)

// Treatments of missing data (TreatMissingData).
const (
	MissingMissing      = "missing"
	MissingIgnore       = "ignore"
	MissingBreaching    = "breaching"
	MissingNotBreaching = "notBreaching"
)

// Comparison operators fargo evaluates (the anomaly-band ones need anomaly
// detection models, which fargo does not have).
var comparisons = map[string]struct {
	words string
	cmp   func(v, t float64) bool
}{
	"GreaterThanOrEqualToThreshold": {"greater than or equal to", func(v, t float64) bool { return v >= t }},
	"GreaterThanThreshold":          {"greater than", func(v, t float64) bool { return v > t }},
	"LessThanThreshold":             {"less than", func(v, t float64) bool { return v < t }},
	"LessThanOrEqualToThreshold":    {"less than or equal to", func(v, t float64) bool { return v <= t }},
}

// Sample is one period's value in an evaluation; Missing when the period
// had no data.
type Sample struct {
	Time        time.Time
	Value       float64
	SampleCount float64
	Missing     bool
}

// Rule is what an evaluation needs of an alarm.
type Rule struct {
	Comparison        string
	Threshold         float64
	EvaluationPeriods int
	DatapointsToAlarm int
	TreatMissingData  string
	Statistic         string
	Period            time.Duration // the alarm's period as configured (for reason data)
}

// Outcome is the result of one evaluation.
type Outcome struct {
	// State is the new state; "" means keep the current one (ignore).
	State      string
	Reason     string
	ReasonData string
}

// Evaluate applies CloudWatch's M-out-of-N rule with its treatment of
// missing data to the last EvaluationPeriods samples (oldest first):
//
//   - breaching / notBreaching: a missing period counts as that;
//   - missing: ALARM when at least M present points breach, or when fewer
//     than M are present and all of them breach; OK when fewer than M of
//     the present points breach; INSUFFICIENT_DATA when none is present;
//   - ignore: as missing, except that when nothing is present, or fewer
//     than M points are present and all breach, the state is kept.
//
// This is AWS's table (Configuring how CloudWatch alarms treat missing
// data), which evaluate_test.go checks row by row.
func Evaluate(r Rule, samples []Sample, now time.Time) Outcome {
	cmp := comparisons[r.Comparison]
	m := r.DatapointsToAlarm
	if m <= 0 || m > r.EvaluationPeriods {
		m = r.EvaluationPeriods
	}
	var present, breaching, missing int
	var shown []Sample // present points, most recent first, for the reason
	for i := len(samples) - 1; i >= 0; i-- {
		s := samples[i]
		if s.Missing {
			missing++
			continue
		}
		present++
		shown = append(shown, s)
		if cmp.cmp(s.Value, r.Threshold) {
			breaching++
		}
	}
	treat := r.TreatMissingData
	if treat == "" {
		treat = MissingMissing
	}
	data := reasonData(r, samples, shown, now)
	switch treat {
	case MissingBreaching, MissingNotBreaching:
		if treat == MissingBreaching {
			breaching += missing
		}
		total := present + missing
		if present == 0 {
			state := StateOK
			label := "NonBreaching"
			if treat == MissingBreaching {
				state, label = StateAlarm, "Breaching"
			}
			return Outcome{State: state, ReasonData: data, Reason: fmt.Sprintf(
				"Threshold Crossed: no datapoints were received for %s and %s treated as [%s].",
				plural(missing, "period", "periods"), plural(missing, "missing datapoint was", "missing datapoints were"), label)}
		}
		if breaching >= m {
			return Outcome{State: StateAlarm, ReasonData: data, Reason: crossed(r, cmp.words, breaching, total, shown, true, m, missing, treat)}
		}
		return Outcome{State: StateOK, ReasonData: data, Reason: crossed(r, cmp.words, total-breaching, total, shown, false, m, missing, treat)}
	}
	if present == 0 {
		if treat == MissingIgnore {
			return Outcome{}
		}
		return Outcome{State: StateInsufficientData, ReasonData: data, Reason: fmt.Sprintf(
			"Insufficient Data: %s unknown.", plural(missing, "datapoint was", "datapoints were"))}
	}
	if breaching >= m {
		return Outcome{State: StateAlarm, ReasonData: data, Reason: crossed(r, cmp.words, breaching, present, shown, true, m, 0, treat)}
	}
	if present < m && breaching == present {
		if treat == MissingIgnore {
			return Outcome{}
		}
		return Outcome{State: StateAlarm, ReasonData: data, Reason: crossed(r, cmp.words, breaching, present, shown, true, m, 0, treat)}
	}
	return Outcome{State: StateOK, ReasonData: data, Reason: crossed(r, cmp.words, present-breaching, present, shown, false, m, 0, treat)}
}

// crossed writes AWS's "Threshold Crossed" reason.
func crossed(r Rule, words string, n, of int, shown []Sample, alarm bool, m, missing int, treat string) string {
	var b strings.Builder
	b.WriteString("Threshold Crossed: ")
	verb := "were"
	if of == 1 {
		b.WriteString("1 datapoint")
		verb = "was"
	} else {
		fmt.Fprintf(&b, "%d out of the last %d datapoints", n, of)
	}
	b.WriteString(" [")
	for i, s := range shown {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(FormatNumber(s.Value))
		b.WriteString(" (")
		b.WriteString(s.Time.UTC().Format("02/01/06 15:04:05"))
		b.WriteString(")")
	}
	b.WriteString("] ")
	b.WriteString(verb)
	if !alarm {
		b.WriteString(" not")
	}
	b.WriteString(" ")
	b.WriteString(words)
	b.WriteString(" the threshold (")
	b.WriteString(FormatNumber(r.Threshold))
	b.WriteString(")")
	if missing > 0 {
		label := "NonBreaching"
		if treat == MissingBreaching {
			label = "Breaching"
		}
		fmt.Fprintf(&b, " and %s treated as [%s]", plural(missing, "missing datapoint was", "missing datapoints were"), label)
	}
	if of > 1 {
		if alarm {
			fmt.Fprintf(&b, " (minimum %s for OK -> ALARM transition)", plural(m, "datapoint", "datapoints"))
		} else {
			fmt.Fprintf(&b, " (minimum %s for ALARM -> OK transition)", plural(r.EvaluationPeriods-m+1, "datapoint", "datapoints"))
		}
	}
	b.WriteString(".")
	return b.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// FormatNumber writes a number as CloudWatch's reasons do (Java's double
// form: 50.0, 33.333333333333336).
func FormatNumber(v float64) string {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".eEN") {
		s += ".0"
	}
	return s
}

// reasonData is the StateReasonData JSON of an evaluation.
func reasonData(r Rule, samples, shown []Sample, now time.Time) string {
	const layout = "2006-01-02T15:04:05.000+0000"
	type evaluated struct {
		Timestamp   string   `json:"timestamp"`
		SampleCount *float64 `json:"sampleCount,omitempty"`
		Value       *float64 `json:"value,omitempty"`
	}
	d := struct {
		Version             string      `json:"version"`
		QueryDate           string      `json:"queryDate"`
		StartDate           string      `json:"startDate,omitempty"`
		Statistic           string      `json:"statistic,omitempty"`
		Period              int         `json:"period"`
		RecentDatapoints    []float64   `json:"recentDatapoints"`
		Threshold           float64     `json:"threshold"`
		EvaluatedDatapoints []evaluated `json:"evaluatedDatapoints,omitempty"`
	}{Version: "1.0", QueryDate: now.UTC().Format(layout), Statistic: r.Statistic,
		Period: int(r.Period / time.Second), Threshold: r.Threshold, RecentDatapoints: []float64{}}
	if len(samples) > 0 {
		d.StartDate = samples[0].Time.UTC().Format(layout)
	}
	for i := len(shown) - 1; i >= 0; i-- {
		d.RecentDatapoints = append(d.RecentDatapoints, shown[i].Value)
	}
	for _, s := range shown {
		e := evaluated{Timestamp: s.Time.UTC().Format(layout)}
		if !s.Missing {
			v, n := s.Value, s.SampleCount
			e.Value, e.SampleCount = &v, &n
		}
		d.EvaluatedDatapoints = append(d.EvaluatedDatapoints, e)
	}
	buf, _ := json.Marshal(d)
	return string(buf)
}
