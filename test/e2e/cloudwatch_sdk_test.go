package e2e

import (
	"context"
	"errors"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go"
)

// cwRecorder records the content type of every request the SDK sends.
type cwRecorder struct {
	next http.RoundTripper
	cts  map[string]bool
}

func (r *cwRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	p, _, _ := strings.Cut(strings.TrimPrefix(req.URL.Path, "/service/"), "/operation/")
	r.cts[req.Header.Get("Content-Type")+" "+p+" "+req.Header.Get("smithy-protocol")] = true
	return r.next.RoundTrip(req)
}

// TestCloudWatchGoSDK: the Go SDK v2 CloudWatch client of go.mod (>= 1.53
// speaks smithy-rpc-v2-cbor) puts and gets metrics, gets AWS's error codes
// for bad data, and drives an alarm by hand.
func TestCloudWatchGoSDK(t *testing.T) {
	in := newInstance(t, "FARGO_METRICS_PERIOD=2s")
	in.start()
	rec := &cwRecorder{next: http.DefaultTransport, cts: map[string]bool{}}
	c := cloudwatch.NewFromConfig(aws.Config{
		Region:       in.profileValue("config", "profile fargo", "region"),
		Credentials:  credentials.NewStaticCredentialsProvider(in.profileValue("credentials", "fargo", "aws_access_key_id"), in.profileValue("credentials", "fargo", "aws_secret_access_key"), ""),
		BaseEndpoint: aws.String("http://" + in.listen),
		HTTPClient:   &http.Client{Transport: rec},
	})
	ctx := context.Background()
	now := time.Now().UTC()
	dims := []types.Dimension{{Name: aws.String("Host"), Value: aws.String("h1")}}
	_, err := c.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Go/SDK"), MetricData: []types.MetricDatum{
		{MetricName: aws.String("Req"), Dimensions: dims, Value: aws.Float64(3), Unit: types.StandardUnitCount, Timestamp: aws.Time(now)},
		{MetricName: aws.String("Req"), Dimensions: dims, Values: []float64{1, 4}, Counts: []float64{2, 1}, Unit: types.StandardUnitCount, Timestamp: aws.Time(now)},
	}})
	if err != nil {
		t.Fatal(err)
	}
	code := func(err error) string {
		var ae smithy.APIError
		if errors.As(err, &ae) {
			return ae.ErrorCode()
		}
		return ""
	}
	_, err = c.PutMetricData(ctx, &cloudwatch.PutMetricDataInput{Namespace: aws.String("Go/SDK"), MetricData: []types.MetricDatum{{MetricName: aws.String("Req"), Value: aws.Float64(math.Inf(1))}}})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("+Inf: %v", err)
	}
	_, err = c.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Go/SDK"), MetricName: aws.String("Req"),
		StartTime: aws.Time(now), EndTime: aws.Time(now.Add(-time.Minute)), Period: aws.Int32(60), Statistics: []types.Statistic{types.StatisticSum}})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("end before start: %v", err)
	}
	st, err := c.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("Go/SDK"), MetricName: aws.String("Req"), Dimensions: dims,
		StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Minute)), Period: aws.Int32(3600),
		Statistics: []types.Statistic{types.StatisticSum, types.StatisticSampleCount, types.StatisticMaximum}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st.Datapoints) != 1 || aws.ToFloat64(st.Datapoints[0].Sum) != 9 || aws.ToFloat64(st.Datapoints[0].SampleCount) != 4 ||
		aws.ToFloat64(st.Datapoints[0].Maximum) != 4 || st.Datapoints[0].Unit != types.StandardUnitCount || st.Datapoints[0].Timestamp == nil {
		t.Errorf("statistics %+v", st.Datapoints)
	}
	md, err := c.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(now.Add(-time.Hour)), EndTime: aws.Time(now.Add(time.Minute)),
		MetricDataQueries: []types.MetricDataQuery{
			{Id: aws.String("r"), MetricStat: &types.MetricStat{Metric: &types.Metric{Namespace: aws.String("Go/SDK"), MetricName: aws.String("Req"), Dimensions: dims}, Period: aws.Int32(3600), Stat: aws.String("Average")}, ReturnData: aws.Bool(false)},
			{Id: aws.String("pct"), Expression: aws.String("r * 100"), Label: aws.String("scaled")},
		}})
	if err != nil {
		t.Fatal(err)
	}
	if len(md.MetricDataResults) != 1 || aws.ToString(md.MetricDataResults[0].Label) != "scaled" || len(md.MetricDataResults[0].Values) != 1 ||
		md.MetricDataResults[0].Values[0] != 225 || md.MetricDataResults[0].StatusCode != types.StatusCodeComplete {
		t.Errorf("metric data %+v", md.MetricDataResults)
	}
	if _, err := c.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("go"), Namespace: aws.String("Go/SDK"), MetricName: aws.String("Nothing"),
		Statistic: types.StatisticAverage, Period: aws.Int32(60), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(1),
		ComparisonOperator: types.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("ignore")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("go"), StateValue: types.StateValueAlarm, StateReason: aws.String("test")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: types.StateValueAlarm, StateReason: aws.String("test")})
	var rnf *types.ResourceNotFound
	if !errors.As(err, &rnf) {
		t.Errorf("SetAlarmState on a missing alarm: %T %v", err, err)
	}
	da, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"go"}})
	if err != nil || len(da.MetricAlarms) != 1 || da.MetricAlarms[0].StateValue != types.StateValueAlarm || da.MetricAlarms[0].StateUpdatedTimestamp == nil {
		t.Errorf("describe alarms %+v %v", da, err)
	}
	if _, err := c.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"go"}}); err != nil {
		t.Fatal(err)
	}
	if len(rec.cts) != 1 || !rec.cts["application/cbor GraniteServiceVersion20100801 rpc-v2-cbor"] {
		t.Errorf("the SDK sent %v, want rpc-v2-cbor to /service/GraniteServiceVersion20100801/operation/...", rec.cts)
	}
}
