package cloudwatch

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/api"
	cw "github.com/fargo-run/fargo/internal/api/cloudwatchwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/metrics"
)

// CloudWatch's limits on PutMetricData (AWS documentation, 2026).
const (
	maxMetricData = 1000
	maxDimensions = 30
	maxValues     = 150
	// Values must be within 2^-360 .. 2^360 in magnitude (or 0).
	maxMagnitude = 1.2676506002282294e+108 // 2^360
	minMagnitude = 8.515920e-109           // 2^-360
)

func checkValue(name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return invalid("The value %s for parameter %s is invalid.", metrics.FormatNumber(v), name)
	}
	a := math.Abs(v)
	if a > maxMagnitude || a != 0 && a < minMagnitude {
		return invalid("The value %s for parameter %s is invalid.", metrics.FormatNumber(v), name)
	}
	return nil
}

func checkName(param, v string, maxLen int) error {
	if v == "" {
		return missing(param)
	}
	if len(v) > maxLen {
		return invalid("The parameter %s must be shorter than %d characters.", param, maxLen+1)
	}
	return nil
}

func dimensions(param string, in []cw.Dimension) ([]metrics.Dimension, error) {
	if len(in) > maxDimensions {
		return nil, invalid("The collection %s must not have a size greater than %d.", param, maxDimensions)
	}
	out := make([]metrics.Dimension, 0, len(in))
	seen := map[string]bool{}
	for i, d := range in {
		p := fmt.Sprintf("%s.member.%d", param, i+1)
		if err := checkName(p+".Name", wire.ToString(d.Name), 255); err != nil {
			return nil, err
		}
		if err := checkName(p+".Value", wire.ToString(d.Value), 1024); err != nil {
			return nil, err
		}
		if seen[*d.Name] {
			return nil, invalid("No Metric may specify the same dimension name twice.")
		}
		seen[*d.Name] = true
		out = append(out, metrics.Dimension{Name: *d.Name, Value: *d.Value})
	}
	return out, nil
}

func (h *Handler) putMetricData(ctx context.Context, req *api.Request, in *cw.PutMetricDataInput) (*struct{}, error) {
	ns := wire.ToString(in.Namespace)
	if err := checkName("Namespace", ns, 255); err != nil {
		return nil, err
	}
	if strings.HasPrefix(ns, "AWS/") {
		return nil, invalid("The value AWS/ for parameter Namespace is invalid.")
	}
	if len(in.MetricData) == 0 && len(in.EntityMetricData) == 0 {
		return nil, missing("MetricData")
	}
	if len(in.MetricData) > maxMetricData {
		return nil, invalid("The collection MetricData must not have a size greater than %d.", maxMetricData)
	}
	now := h.svc.Now()
	data := make([]metrics.Datum, 0, len(in.MetricData))
	for i, md := range in.MetricData {
		p := fmt.Sprintf("MetricData.member.%d", i+1)
		d, err := datum(p, ns, md, now)
		if err != nil {
			return nil, err
		}
		data = append(data, d)
	}
	if err := h.svc.PutData(ctx, req.Scope, data); err != nil {
		return nil, err
	}
	return nil, nil
}

func datum(p, ns string, md cw.MetricDatum, now time.Time) (metrics.Datum, error) {
	var d metrics.Datum
	name := wire.ToString(md.MetricName)
	if err := checkName(p+".MetricName", name, 255); err != nil {
		return d, err
	}
	dims, err := dimensions(p+".Dimensions", md.Dimensions)
	if err != nil {
		return d, err
	}
	d.Metric = metrics.Metric{Namespace: ns, Name: name, Dimensions: dims}
	d.Timestamp = now
	if md.Timestamp != nil {
		d.Timestamp = md.Timestamp.UTC()
		if d.Timestamp.After(now.Add(2 * time.Hour)) {
			return d, invalid("The parameter %s.Timestamp must specify a time no more than two hours in the future.", p)
		}
		if d.Timestamp.Before(now.Add(-14 * 24 * time.Hour)) {
			return d, invalid("The parameter %s.Timestamp must specify a time within the past two weeks.", p)
		}
	}
	d.Unit = wire.ToString(md.Unit)
	if d.Unit != "" && !metrics.ValidUnit(d.Unit) {
		return d, invalid("The value %s for parameter %s.Unit is invalid.", d.Unit, p)
	}
	if d.Unit == "" {
		d.Unit = "None"
	}
	switch r := wire.ToInt32(md.StorageResolution); {
	case md.StorageResolution == nil || r == 60:
	case r == 1:
		d.HighResolution = true
	default:
		return d, invalid("The value %d for parameter %s.StorageResolution is invalid.", r, p)
	}
	kinds := 0
	for _, set := range []bool{md.Value != nil, md.StatisticValues != nil, len(md.Values) > 0} {
		if set {
			kinds++
		}
	}
	if kinds > 1 {
		return d, combination("The parameters %s.Value, %s.StatisticValues and %s.Values are mutually exclusive and you have specified more than one.", p, p, p)
	}
	if len(md.Counts) > 0 && len(md.Values) == 0 {
		return d, combination("The parameter %s.Counts requires %s.Values.", p, p)
	}
	switch {
	case md.Value != nil:
		if err := checkValue(p+".Value", *md.Value); err != nil {
			return d, err
		}
		d.Stats = metrics.Stats{Sum: *md.Value, SampleCount: 1, Min: *md.Value, Max: *md.Value}
	case md.StatisticValues != nil:
		sv := md.StatisticValues
		for _, f := range []struct {
			n string
			v *float64
		}{{"SampleCount", sv.SampleCount}, {"Sum", sv.Sum}, {"Minimum", sv.Minimum}, {"Maximum", sv.Maximum}} {
			if f.v == nil {
				return d, missing(p + ".StatisticValues." + f.n)
			}
			if err := checkValue(p+".StatisticValues."+f.n, *f.v); err != nil {
				return d, err
			}
		}
		if *sv.SampleCount <= 0 {
			return d, invalid("The value %s for parameter %s.StatisticValues.SampleCount is invalid.", metrics.FormatNumber(*sv.SampleCount), p)
		}
		if *sv.Minimum > *sv.Maximum {
			return d, invalid("The parameter %s.StatisticValues.Maximum must be greater than or equal to %s.StatisticValues.Minimum.", p, p)
		}
		d.Stats = metrics.Stats{Sum: *sv.Sum, SampleCount: *sv.SampleCount, Min: *sv.Minimum, Max: *sv.Maximum}
	case len(md.Values) > 0:
		if len(md.Values) > maxValues {
			return d, invalid("The collection %s.Values must not have a size greater than %d.", p, maxValues)
		}
		if len(md.Counts) > 0 && len(md.Counts) != len(md.Values) {
			return d, invalid("The parameters %s.Values and %s.Counts must be of the same size.", p, p)
		}
		for j, v := range md.Values {
			if err := checkValue(fmt.Sprintf("%s.Values.member.%d", p, j+1), v); err != nil {
				return d, err
			}
			c := 1.0
			if len(md.Counts) > 0 {
				c = md.Counts[j]
				if err := checkValue(fmt.Sprintf("%s.Counts.member.%d", p, j+1), c); err != nil {
					return d, err
				}
				if c < 0 {
					return d, invalid("The value %s for parameter %s.Counts.member.%d is invalid.", metrics.FormatNumber(c), p, j+1)
				}
			}
			if c == 0 {
				continue
			}
			d.Stats.Merge(metrics.Stats{Sum: v * c, SampleCount: c, Min: v, Max: v})
		}
	default:
		return d, missing(p + ".Value")
	}
	return d, nil
}

// period checks a query period: 1, 5, 10, 30 or a multiple of 60 seconds.
func period(param string, p *int32) (time.Duration, error) {
	if p == nil {
		return 0, missing(param)
	}
	v := *p
	if v <= 0 || v < 60 && v != 1 && v != 5 && v != 10 && v != 30 || v >= 60 && v%60 != 0 {
		return 0, invalid("The parameter %s must be a valid period: 1, 5, 10, 30, or any multiple of 60.", param)
	}
	return time.Duration(v) * time.Second, nil
}

var statistics = []string{"SampleCount", "Average", "Sum", "Minimum", "Maximum"}

func (h *Handler) getMetricStatistics(_ context.Context, req *api.Request, in *cw.GetMetricStatisticsInput) (*cw.GetMetricStatisticsOutput, error) {
	ns, name := wire.ToString(in.Namespace), wire.ToString(in.MetricName)
	if err := checkName("Namespace", ns, 255); err != nil {
		return nil, err
	}
	if err := checkName("MetricName", name, 255); err != nil {
		return nil, err
	}
	if in.StartTime == nil {
		return nil, missing("StartTime")
	}
	if in.EndTime == nil {
		return nil, missing("EndTime")
	}
	per, err := period("Period", in.Period)
	if err != nil {
		return nil, err
	}
	if len(in.Statistics) == 0 && len(in.ExtendedStatistics) == 0 {
		return nil, missing("Statistics")
	}
	if len(in.ExtendedStatistics) > 0 {
		return nil, invalid("fargo keeps no percentiles: ExtendedStatistics are not supported.")
	}
	for i, s := range in.Statistics {
		if !contains(statistics, s) {
			return nil, invalid("The value %s for parameter Statistics.member.%d is invalid.", s, i+1)
		}
	}
	start, end := in.StartTime.UTC(), in.EndTime.UTC()
	if !start.Before(end) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	if int64(end.Sub(start)/per) > 1440 {
		return nil, invalid("You have requested up to %d datapoints, which exceeds the limit of 1,440. You may reduce the datapoints requested by increasing Period, or decreasing the time range.", int64(end.Sub(start)/per))
	}
	dims, err := dimensions("Dimensions", in.Dimensions)
	if err != nil {
		return nil, err
	}
	unit := wire.ToString(in.Unit)
	points, err := h.svc.Statistics(req.Scope, metrics.Metric{Namespace: ns, Name: name, Dimensions: dims}, unit, start, end, per)
	if err != nil {
		return nil, err
	}
	out := &cw.GetMetricStatisticsOutput{Label: wire.String(name), Datapoints: []cw.Datapoint{}}
	for _, p := range points {
		dp := cw.Datapoint{Timestamp: wire.NewTimestamp(p.Time), Unit: wire.String(orNone(p.Unit))}
		for _, s := range in.Statistics {
			v, _ := p.Stats.Statistic(s)
			v2 := v
			switch s {
			case "SampleCount":
				dp.SampleCount = &v2
			case "Average":
				dp.Average = &v2
			case "Sum":
				dp.Sum = &v2
			case "Minimum":
				dp.Minimum = &v2
			case "Maximum":
				dp.Maximum = &v2
			}
		}
		out.Datapoints = append(out.Datapoints, dp)
	}
	return out, nil
}

func orNone(u string) string {
	if u == "" {
		return "None"
	}
	return u
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

func (h *Handler) listMetrics(_ context.Context, req *api.Request, in *cw.ListMetricsInput) (*cw.ListMetricsOutput, error) {
	f := metrics.ListFilter{Namespace: wire.ToString(in.Namespace), Name: wire.ToString(in.MetricName)}
	if len(in.Dimensions) > 10 {
		return nil, invalid("The collection Dimensions must not have a size greater than 10.")
	}
	for i, d := range in.Dimensions {
		if d.Name == nil {
			return nil, missing(fmt.Sprintf("Dimensions.member.%d.Name", i+1))
		}
		f.Dimensions = append(f.Dimensions, metrics.DimensionFilter{Name: *d.Name, Value: d.Value})
	}
	switch wire.ToString(in.RecentlyActive) {
	case "":
	case "PT3H":
		f.Since = h.svc.Now().Add(-3 * time.Hour)
	default:
		return nil, invalid("The value %s for parameter RecentlyActive is invalid.", *in.RecentlyActive)
	}
	all := h.svc.List(req.Scope, f)
	// Pages of 500, as CloudWatch answers; the token is the index.
	start := 0
	if in.NextToken != nil {
		if _, err := fmt.Sscanf(*in.NextToken, "%d", &start); err != nil || start < 0 || start > len(all) {
			return nil, &api.Error{Code: "InvalidNextToken", Message: "The service cannot find the NextToken."}
		}
	}
	out := &cw.ListMetricsOutput{Metrics: []cw.Metric{}}
	end := min(start+500, len(all))
	for _, m := range all[start:end] {
		out.Metrics = append(out.Metrics, wireMetric(m))
	}
	if end < len(all) {
		out.NextToken = wire.String(fmt.Sprint(end))
	}
	return out, nil
}

func wireMetric(m metrics.Metric) cw.Metric {
	out := cw.Metric{Namespace: wire.String(m.Namespace), MetricName: wire.String(m.Name), Dimensions: []cw.Dimension{}}
	for _, d := range m.Dimensions {
		out.Dimensions = append(out.Dimensions, cw.Dimension{Name: wire.String(d.Name), Value: wire.String(d.Value)})
	}
	return out
}
