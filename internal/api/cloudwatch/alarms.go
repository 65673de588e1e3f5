package cloudwatch

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/fargo-run/fargo/internal/api"
	cw "github.com/fargo-run/fargo/internal/api/cloudwatchwire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/metrics"
)

var treatments = []string{metrics.MissingMissing, metrics.MissingIgnore, metrics.MissingBreaching, metrics.MissingNotBreaching}

var operators = []string{"GreaterThanOrEqualToThreshold", "GreaterThanThreshold", "LessThanThreshold", "LessThanOrEqualToThreshold"}

func (h *Handler) putMetricAlarm(ctx context.Context, req *api.Request, in *cw.PutMetricAlarmInput) (*struct{}, error) {
	name := wire.ToString(in.AlarmName)
	if err := checkName("AlarmName", name, 255); err != nil {
		return nil, err
	}
	if len(in.Metrics) > 0 {
		return nil, invalid("fargo evaluates alarms on one metric: metric math alarms (Metrics) are not supported.")
	}
	if in.ExtendedStatistic != nil {
		return nil, invalid("fargo keeps no percentiles: ExtendedStatistic is not supported.")
	}
	ns, metric := wire.ToString(in.Namespace), wire.ToString(in.MetricName)
	if err := checkName("MetricName", metric, 255); err != nil {
		return nil, err
	}
	if err := checkName("Namespace", ns, 255); err != nil {
		return nil, err
	}
	stat := wire.ToString(in.Statistic)
	if stat == "" {
		return nil, missing("Statistic")
	}
	if !contains(statistics, stat) {
		return nil, invalid("The value %s for parameter Statistic is invalid.", stat)
	}
	if _, err := period("Period", in.Period); err != nil {
		return nil, err
	}
	if p := *in.Period; p < 60 && p != 10 && p != 30 {
		return nil, invalid("The parameter Period must be 10, 30 or a multiple of 60.")
	}
	if in.EvaluationPeriods == nil {
		return nil, missing("EvaluationPeriods")
	}
	n := *in.EvaluationPeriods
	if n < 1 {
		return nil, invalid("The value %d for parameter EvaluationPeriods is invalid.", n)
	}
	if int64(n)*int64(*in.Period) > 7*24*3600 {
		return nil, invalid("The evaluation period (EvaluationPeriods x Period) of an alarm must not exceed one week.")
	}
	m := wire.ToInt32(in.DatapointsToAlarm)
	if in.DatapointsToAlarm != nil && (m < 1 || m > n) {
		return nil, invalid("DatapointsToAlarm (%d) must be between 1 and EvaluationPeriods (%d).", m, n)
	}
	if in.Threshold == nil {
		return nil, missing("Threshold")
	}
	if err := checkValue("Threshold", *in.Threshold); err != nil {
		return nil, err
	}
	op := wire.ToString(in.ComparisonOperator)
	if op == "" {
		return nil, missing("ComparisonOperator")
	}
	if !contains(operators, op) {
		return nil, invalid("The value %s for parameter ComparisonOperator is invalid.", op)
	}
	treat := wire.ToString(in.TreatMissingData)
	if treat != "" && !contains(treatments, treat) {
		return nil, invalid("The value %s for parameter TreatMissingData is invalid.", treat)
	}
	unit := wire.ToString(in.Unit)
	if unit != "" && !metrics.ValidUnit(unit) {
		return nil, invalid("The value %s for parameter Unit is invalid.", unit)
	}
	dims, err := dimensions("Dimensions", in.Dimensions)
	if err != nil {
		return nil, err
	}
	for _, l := range []struct {
		p string
		a []string
	}{{"AlarmActions", in.AlarmActions}, {"OKActions", in.OKActions}, {"InsufficientDataActions", in.InsufficientDataActions}} {
		if len(l.a) > 5 {
			return nil, invalid("The collection %s must not have a size greater than 5.", l.p)
		}
		for i, a := range l.a {
			if len(a) < 1 || len(a) > 1024 || len(a) < 4 || a[:4] != "arn:" {
				return nil, invalid("Invalid arn syntax: %s (%s.member.%d)", a, l.p, i+1)
			}
		}
	}
	tags, err := tagsOf(in.Tags)
	if err != nil {
		return nil, err
	}
	a := metrics.Alarm{
		Scope: req.Scope, Name: name, Description: wire.ToString(in.AlarmDescription),
		ActionsEnabled: in.ActionsEnabled == nil || *in.ActionsEnabled,
		OKActions:      in.OKActions, AlarmActions: in.AlarmActions, InsufficientData: in.InsufficientDataActions,
		Metric:    metrics.Metric{Namespace: ns, Name: metric, Dimensions: dims},
		Statistic: stat, Unit: unit, Period: *in.Period, EvaluationPeriods: n, DatapointsToAlarm: m,
		Threshold: *in.Threshold, Comparison: op, TreatMissingData: treat, Tags: tags,
	}
	return nil, h.svc.PutAlarm(ctx, a)
}

func tagsOf(in []cw.Tag) ([]metrics.Tag, error) {
	if len(in) > 50 {
		return nil, invalid("The collection Tags must not have a size greater than 50.")
	}
	var out []metrics.Tag
	for i, t := range in {
		k := wire.ToString(t.Key)
		if k == "" || len(k) > 128 {
			return nil, invalid("The value for parameter Tags.member.%d.Key is invalid.", i+1)
		}
		if t.Value == nil {
			return nil, missing(fmt.Sprintf("Tags.member.%d.Value", i+1))
		}
		out = append(out, metrics.Tag{Key: k, Value: *t.Value})
	}
	return out, nil
}

func wireAlarm(a *metrics.Alarm) cw.MetricAlarm {
	out := cw.MetricAlarm{
		AlarmName: wire.String(a.Name), AlarmArn: wire.String(a.ARN()), ActionsEnabled: wire.Bool(a.ActionsEnabled),
		AlarmActions: nonNil(a.AlarmActions), OKActions: nonNil(a.OKActions), InsufficientDataActions: nonNil(a.InsufficientData),
		AlarmConfigurationUpdatedTimestamp: wire.NewTimestamp(a.ConfigUpdated),
		ComparisonOperator:                 wire.String(a.Comparison), EvaluationPeriods: wire.Int32(a.EvaluationPeriods),
		MetricName: wire.String(a.Metric.Name), Namespace: wire.String(a.Metric.Namespace), Period: wire.Int32(a.Period),
		Statistic: wire.String(a.Statistic), Threshold: wire.Float64(a.Threshold),
		StateValue: wire.String(a.State), StateReason: wire.String(a.StateReason),
		StateUpdatedTimestamp: wire.NewTimestamp(a.StateUpdated), StateTransitionedTimestamp: wire.NewTimestamp(a.StateTransitioned),
		Dimensions: []cw.Dimension{},
	}
	if a.Description != "" {
		out.AlarmDescription = wire.String(a.Description)
	}
	if a.DatapointsToAlarm > 0 {
		out.DatapointsToAlarm = wire.Int32(a.DatapointsToAlarm)
	}
	if a.Unit != "" {
		out.Unit = wire.String(a.Unit)
	}
	if a.TreatMissingData != "" {
		out.TreatMissingData = wire.String(a.TreatMissingData)
	}
	if a.StateReasonData != "" {
		out.StateReasonData = wire.String(a.StateReasonData)
	}
	for _, d := range a.Metric.Dimensions {
		out.Dimensions = append(out.Dimensions, cw.Dimension{Name: wire.String(d.Name), Value: wire.String(d.Value)})
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (h *Handler) describeAlarms(ctx context.Context, req *api.Request, in *cw.DescribeAlarmsInput) (*cw.DescribeAlarmsOutput, error) {
	if len(in.AlarmNames) > 100 {
		return nil, invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	if in.AlarmNamePrefix != nil && len(in.AlarmNames) > 0 {
		return nil, combination("The parameters AlarmNames and AlarmNamePrefix are mutually exclusive.")
	}
	state := wire.ToString(in.StateValue)
	if state != "" && state != metrics.StateOK && state != metrics.StateAlarm && state != metrics.StateInsufficientData {
		return nil, invalid("The value %s for parameter StateValue is invalid.", state)
	}
	alarms, err := h.svc.Alarms(ctx, req.Scope, metrics.AlarmFilter{Names: in.AlarmNames, Prefix: wire.ToString(in.AlarmNamePrefix),
		State: state, ActionPrefix: wire.ToString(in.ActionPrefix)})
	if err != nil {
		return nil, err
	}
	limit := 50
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalid("The value %d for parameter MaxRecords is invalid.", *in.MaxRecords)
		}
		limit = int(*in.MaxRecords)
	}
	start, err := pageStart(in.NextToken, len(alarms))
	if err != nil {
		return nil, err
	}
	out := &cw.DescribeAlarmsOutput{MetricAlarms: []cw.MetricAlarm{}, CompositeAlarms: []cw.CompositeAlarm{}}
	end := min(start+limit, len(alarms))
	for i := start; i < end; i++ {
		out.MetricAlarms = append(out.MetricAlarms, wireAlarm(&alarms[i]))
	}
	if end < len(alarms) {
		out.NextToken = wire.String(fmt.Sprint(end))
	}
	return out, nil
}

func pageStart(token *string, n int) (int, error) {
	if token == nil {
		return 0, nil
	}
	var start int
	if _, err := fmt.Sscanf(*token, "%d", &start); err != nil || start < 0 || start > n {
		return 0, &api.Error{Code: "InvalidNextToken", Message: "The service cannot find the NextToken."}
	}
	return start, nil
}

func (h *Handler) describeAlarmsForMetric(ctx context.Context, req *api.Request, in *cw.DescribeAlarmsForMetricInput) (*cw.DescribeAlarmsForMetricOutput, error) {
	ns, name := wire.ToString(in.Namespace), wire.ToString(in.MetricName)
	if err := checkName("MetricName", name, 255); err != nil {
		return nil, err
	}
	if err := checkName("Namespace", ns, 255); err != nil {
		return nil, err
	}
	dims, err := dimensions("Dimensions", in.Dimensions)
	if err != nil {
		return nil, err
	}
	want := metrics.Metric{Namespace: ns, Name: name, Dimensions: dims}
	want.Normalize()
	alarms, err := h.svc.Alarms(ctx, req.Scope, metrics.AlarmFilter{})
	if err != nil {
		return nil, err
	}
	out := &cw.DescribeAlarmsForMetricOutput{MetricAlarms: []cw.MetricAlarm{}}
	for i := range alarms {
		a := &alarms[i]
		if a.Metric.Namespace != ns || a.Metric.Name != name || !sameDims(a.Metric.Dimensions, want.Dimensions) ||
			in.Statistic != nil && a.Statistic != *in.Statistic || in.Period != nil && a.Period != *in.Period ||
			in.Unit != nil && a.Unit != *in.Unit {
			continue
		}
		out.MetricAlarms = append(out.MetricAlarms, wireAlarm(a))
	}
	return out, nil
}

func sameDims(a, b []metrics.Dimension) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (h *Handler) describeAlarmHistory(ctx context.Context, req *api.Request, in *cw.DescribeAlarmHistoryInput) (*cw.DescribeAlarmHistoryOutput, error) {
	typ := wire.ToString(in.HistoryItemType)
	switch typ {
	case "", "ConfigurationUpdate", "StateUpdate", "Action":
	default:
		return nil, invalid("The value %s for parameter HistoryItemType is invalid.", typ)
	}
	items, err := h.svc.History(ctx, req.Scope, wire.ToString(in.AlarmName), typ, in.StartDate.TimeOrZero(), in.EndDate.TimeOrZero())
	if err != nil {
		return nil, err
	}
	if wire.ToString(in.ScanBy) == "TimestampAscending" {
		for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
			items[i], items[j] = items[j], items[i]
		}
	}
	limit := 100
	if in.MaxRecords != nil {
		if *in.MaxRecords < 1 || *in.MaxRecords > 100 {
			return nil, invalid("The value %d for parameter MaxRecords is invalid.", *in.MaxRecords)
		}
		limit = int(*in.MaxRecords)
	}
	start, err := pageStart(in.NextToken, len(items))
	if err != nil {
		return nil, err
	}
	out := &cw.DescribeAlarmHistoryOutput{AlarmHistoryItems: []cw.AlarmHistoryItem{}}
	end := min(start+limit, len(items))
	for _, it := range items[start:end] {
		out.AlarmHistoryItems = append(out.AlarmHistoryItems, cw.AlarmHistoryItem{
			AlarmName: wire.String(it.AlarmName), AlarmType: wire.String("MetricAlarm"), HistoryItemType: wire.String(it.Type),
			HistorySummary: wire.String(it.Summary), HistoryData: wire.String(it.Data), Timestamp: wire.NewTimestamp(it.Time),
		})
	}
	if end < len(items) {
		out.NextToken = wire.String(fmt.Sprint(end))
	}
	return out, nil
}

func (h *Handler) setAlarmState(ctx context.Context, req *api.Request, in *cw.SetAlarmStateInput) (*struct{}, error) {
	name := wire.ToString(in.AlarmName)
	if err := checkName("AlarmName", name, 255); err != nil {
		return nil, err
	}
	state := wire.ToString(in.StateValue)
	if state == "" {
		return nil, missing("StateValue")
	}
	if state != metrics.StateOK && state != metrics.StateAlarm && state != metrics.StateInsufficientData {
		return nil, invalid("The value %s for parameter StateValue is invalid.", state)
	}
	if in.StateReason == nil {
		return nil, missing("StateReason")
	}
	if len(*in.StateReason) > 1023 {
		return nil, invalid("The parameter StateReason must be shorter than 1024 characters.")
	}
	data := wire.ToString(in.StateReasonData)
	if data != "" && !json.Valid([]byte(data)) {
		return nil, &api.Error{Code: "InvalidFormat", Message: "StateReasonData is not valid JSON."}
	}
	return nil, h.svc.SetState(ctx, req.Scope, name, state, *in.StateReason, data)
}

func (h *Handler) deleteAlarms(ctx context.Context, req *api.Request, in *cw.DeleteAlarmsInput) (*struct{}, error) {
	if len(in.AlarmNames) == 0 {
		return nil, missing("AlarmNames")
	}
	if len(in.AlarmNames) > 100 {
		return nil, invalid("The collection AlarmNames must not have a size greater than 100.")
	}
	return nil, h.svc.DeleteAlarms(ctx, req.Scope, in.AlarmNames)
}

func (h *Handler) enableAlarmActions(ctx context.Context, req *api.Request, in *cw.EnableAlarmActionsInput) (*struct{}, error) {
	if len(in.AlarmNames) == 0 {
		return nil, missing("AlarmNames")
	}
	return nil, h.svc.SetActionsEnabled(ctx, req.Scope, in.AlarmNames, true)
}

func (h *Handler) disableAlarmActions(ctx context.Context, req *api.Request, in *cw.DisableAlarmActionsInput) (*struct{}, error) {
	if len(in.AlarmNames) == 0 {
		return nil, missing("AlarmNames")
	}
	return nil, h.svc.SetActionsEnabled(ctx, req.Scope, in.AlarmNames, false)
}

func (h *Handler) tagResource(ctx context.Context, req *api.Request, in *cw.TagResourceInput) (*struct{}, error) {
	if in.ResourceARN == nil {
		return nil, missing("ResourceARN")
	}
	tags, err := tagsOf(in.Tags)
	if err != nil {
		return nil, err
	}
	return nil, h.svc.Tag(ctx, req.Scope, *in.ResourceARN, tags)
}

func (h *Handler) untagResource(ctx context.Context, req *api.Request, in *cw.UntagResourceInput) (*struct{}, error) {
	if in.ResourceARN == nil {
		return nil, missing("ResourceARN")
	}
	return nil, h.svc.Untag(ctx, req.Scope, *in.ResourceARN, in.TagKeys)
}

func (h *Handler) listTagsForResource(ctx context.Context, req *api.Request, in *cw.ListTagsForResourceInput) (*cw.ListTagsForResourceOutput, error) {
	if in.ResourceARN == nil {
		return nil, missing("ResourceARN")
	}
	tags, err := h.svc.Tags(ctx, req.Scope, *in.ResourceARN)
	if err != nil {
		return nil, err
	}
	out := &cw.ListTagsForResourceOutput{Tags: []cw.Tag{}}
	for _, t := range tags {
		out.Tags = append(out.Tags, cw.Tag{Key: wire.String(t.Key), Value: wire.String(t.Value)})
	}
	return out, nil
}
