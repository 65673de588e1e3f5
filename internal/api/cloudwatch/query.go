package cloudwatch

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"time"

	"github.com/fargo-run/fargo/internal/api"
	cw "github.com/fargo-run/fargo/internal/api/cloudwatchwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/metrics"
)

var queryID = regexp.MustCompile(`^[a-z][a-zA-Z0-9_]*$`)

// maxDataPoints is GetMetricData's limit on the points of one call.
const maxDataPoints = 100800

func (h *Handler) getMetricData(_ context.Context, req *api.Request, in *cw.GetMetricDataInput) (*cw.GetMetricDataOutput, error) {
	if len(in.MetricDataQueries) == 0 {
		return nil, missing("MetricDataQueries")
	}
	if len(in.MetricDataQueries) > 500 {
		return nil, invalid("The collection MetricDataQueries must not have a size greater than 500.")
	}
	if in.StartTime == nil {
		return nil, missing("StartTime")
	}
	if in.EndTime == nil {
		return nil, missing("EndTime")
	}
	start, end := in.StartTime.UTC(), in.EndTime.UTC()
	if !start.Before(end) {
		return nil, invalid("The parameter StartTime must be less than the parameter EndTime.")
	}
	vars := map[string]metrics.Series{}
	var metricIDs []string
	var exprs []int
	seen := map[string]bool{}
	total := 0
	for i, q := range in.MetricDataQueries {
		p := fmt.Sprintf("MetricDataQueries.member.%d", i+1)
		id := wire.ToString(q.Id)
		if !queryID.MatchString(id) || len(id) > 255 {
			return nil, invalid("The value %s for parameter %s.Id is invalid. It must start with a lowercase letter and contain only letters, numbers and underscores.", id, p)
		}
		if seen[id] {
			return nil, invalid("The value %s for parameter %s.Id is not unique.", id, p)
		}
		seen[id] = true
		switch {
		case q.MetricStat != nil && q.Expression != nil:
			return nil, combination("The parameters %s.MetricStat and %s.Expression are mutually exclusive.", p, p)
		case q.Expression != nil:
			exprs = append(exprs, i)
			continue
		case q.MetricStat == nil:
			return nil, combination("One of the parameters %s.MetricStat or %s.Expression is required.", p, p)
		}
		ms := q.MetricStat
		per, err := period(p+".MetricStat.Period", ms.Period)
		if err != nil {
			return nil, err
		}
		if ms.Metric == nil {
			return nil, missing(p + ".MetricStat.Metric")
		}
		stat := wire.ToString(ms.Stat)
		if !contains(statistics, stat) {
			return nil, invalid("The value %s for parameter %s.MetricStat.Stat is invalid.", stat, p)
		}
		ns, name := wire.ToString(ms.Metric.Namespace), wire.ToString(ms.Metric.MetricName)
		if err := checkName(p+".MetricStat.Metric.MetricName", name, 255); err != nil {
			return nil, err
		}
		dims, err := dimensions(p+".MetricStat.Metric.Dimensions", ms.Metric.Dimensions)
		if err != nil {
			return nil, err
		}
		total += int(end.Sub(start) / per)
		if total > maxDataPoints {
			return nil, invalid("The query requests more than %d datapoints.", maxDataPoints)
		}
		points, err := h.svc.Statistics(req.Scope, metrics.Metric{Namespace: ns, Name: name, Dimensions: dims}, wire.ToString(ms.Unit), start, end, per)
		if err != nil {
			return nil, err
		}
		s := metrics.Series{}
		for _, pt := range points {
			s[pt.Time], _ = pt.Stats.Statistic(stat)
		}
		vars[id] = s
		metricIDs = append(metricIDs, id)
	}
	// Expressions in order; one may use the ones before it.
	var allTimes []time.Time
	seenT := map[time.Time]bool{}
	for _, id := range metricIDs {
		for t := range vars[id] {
			if !seenT[t] {
				seenT[t] = true
				allTimes = append(allTimes, t)
			}
		}
	}
	for _, i := range exprs {
		q := in.MetricDataQueries[i]
		s, err := metrics.EvalMath(*q.Expression, vars, metricIDs, allTimes)
		if err != nil {
			return nil, err
		}
		vars[*q.Id] = s
	}
	desc := wire.ToString(in.ScanBy) != "TimestampAscending"
	out := &cw.GetMetricDataOutput{MetricDataResults: []cw.MetricDataResult{}, Messages: []cw.MessageData{}}
	for _, q := range in.MetricDataQueries {
		if q.ReturnData != nil && !*q.ReturnData {
			continue
		}
		label := wire.ToString(q.Label)
		if label == "" {
			if q.MetricStat != nil && q.MetricStat.Metric != nil {
				label = wire.ToString(q.MetricStat.Metric.MetricName)
			} else {
				label = *q.Id
			}
		}
		r := cw.MetricDataResult{Id: q.Id, Label: wire.String(label), StatusCode: wire.String("Complete"),
			Timestamps: []wire.Timestamp{}, Values: []float64{}, Messages: []cw.MessageData{}}
		s := vars[*q.Id]
		ts := s.Times()
		if desc {
			sort.Slice(ts, func(i, j int) bool { return ts[i].After(ts[j]) })
		}
		for _, t := range ts {
			v := s[t]
			if math.IsNaN(v) || math.IsInf(v, 0) {
				continue // CloudWatch drops the points math could not compute
			}
			r.Timestamps = append(r.Timestamps, wire.Timestamp{Time: t})
			r.Values = append(r.Values, v)
		}
		out.MetricDataResults = append(out.MetricDataResults, r)
	}
	return out, nil
}
