// Package cloudwatch serves the CloudWatch metrics API (PutMetricData,
// GetMetricData, GetMetricStatistics, ListMetrics, the metric alarm
// operations and tags) over the three protocols its model lists, all with
// the same typed handlers: smithy-rpc-v2-cbor (botocore 1.43, the AWS CLI,
// aws-sdk-go-v2 cloudwatch >= 1.53), awsJson1_0, and awsQuery (older
// SDKs). It converts wire shapes to internal/metrics' domain types, checks
// them as CloudWatch does, and maps domain errors to CloudWatch's codes.
package cloudwatch

import (
	"bytes"
	"context"
	"errors"
	"net/http"

	"github.com/fargo-run/fargo/internal/api"
	cw "github.com/fargo-run/fargo/internal/api/cloudwatchwire"
	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/metrics"
)

// Handler serves the API from a metrics service.
type Handler struct {
	svc *metrics.Service
}

type op struct{ json, query api.Handler }

func both[In, Out any](f func(ctx context.Context, req *api.Request, in *In) (*Out, error)) op {
	return op{json: api.JSON(f), query: api.Query(f)}
}

// New returns the JSON (and CBOR) service and the query service.
func New(svc *metrics.Service) (*api.JSONService, *api.QueryService) {
	h := &Handler{svc: svc}
	ops := map[string]op{
		"PutMetricData":           both(h.putMetricData),
		"GetMetricStatistics":     both(h.getMetricStatistics),
		"GetMetricData":           both(h.getMetricData),
		"ListMetrics":             both(h.listMetrics),
		"PutMetricAlarm":          both(h.putMetricAlarm),
		"DescribeAlarms":          both(h.describeAlarms),
		"DescribeAlarmsForMetric": both(h.describeAlarmsForMetric),
		"DescribeAlarmHistory":    both(h.describeAlarmHistory),
		"SetAlarmState":           both(h.setAlarmState),
		"DeleteAlarms":            both(h.deleteAlarms),
		"EnableAlarmActions":      both(h.enableAlarmActions),
		"DisableAlarmActions":     both(h.disableAlarmActions),
		"TagResource":             both(h.tagResource),
		"UntagResource":           both(h.untagResource),
		"ListTagsForResource":     both(h.listTagsForResource),
	}
	js := &api.JSONService{
		Name: cw.SigningName, TargetPrefix: cw.TargetPrefix, JSONVersion: cw.JSONVersion, MessageKey: "message",
		Known: func(op string) bool {
			_, ok := cw.Operations[op]
			return ok
		},
		Handlers: map[string]api.Handler{}, MapError: mapError, RPCv2: true,
		QueryErrors: map[string]string{},
	}
	qs := &api.QueryService{
		Name: cw.SigningName, Version: cw.APIVersion, XMLNS: "http://monitoring.amazonaws.com/doc/" + cw.APIVersion + "/",
		Handlers: map[string]api.Handler{}, MapError: mapError,
	}
	for name, o := range ops {
		js.Handlers[name], qs.Handlers[name] = o.json, o.query
	}
	js.Handlers["PutMetricData"] = nonFinite(js.Handlers["PutMetricData"])
	for shape, info := range cw.Errors {
		if _, dup := js.QueryErrors[info.Code]; !dup || shape == preferredShape[info.Code] {
			js.QueryErrors[info.Code] = shape
		}
	}
	return js, qs
}

// nonFinite answers InvalidParameterValue, as CloudWatch does, to JSON
// bodies that carry the non-finite numbers of the awsJson protocols
// ("NaN", "Infinity", "-Infinity" as strings), which a float member cannot
// decode (CBOR and query bodies decode them, and the handler refuses them).
func nonFinite(h api.Handler) api.Handler {
	return func(ctx context.Context, req *api.Request) (any, error) {
		out, err := h(ctx, req)
		var e *api.Error
		if err != nil && req.Protocol == api.ProtocolJSON && errors.As(err, &e) && e.Code == "SerializationException" {
			for _, v := range []string{"NaN", "-Infinity", "Infinity"} {
				if bytes.Contains(req.Body, []byte(`"`+v+`"`)) {
					return nil, invalid("The value %s for parameter MetricData is invalid.", v)
				}
			}
		}
		return out, err
	}
}

// preferredShape settles the query codes two shapes share.
var preferredShape = map[string]string{"ResourceNotFound": "ResourceNotFound"}

// mapError maps domain errors to CloudWatch's query error codes (the JSON
// and CBOR answers name the shape, see api.JSONService.QueryErrors).
func mapError(err error) *api.Error {
	msg := errdefs.Message(err)
	switch {
	case errors.Is(err, metrics.ErrMissingParameter):
		return &api.Error{Code: "MissingParameter", Message: msg}
	case errors.Is(err, metrics.ErrParameterCombination):
		return &api.Error{Code: "InvalidParameterCombination", Message: msg}
	case errors.Is(err, errdefs.ErrNotFound):
		return &api.Error{Code: "ResourceNotFound", Message: msg, Status: http.StatusNotFound}
	case errors.Is(err, errdefs.ErrLimitExceeded):
		return &api.Error{Code: "LimitExceeded", Message: msg}
	case errors.Is(err, errdefs.ErrInvalidArgument), errors.Is(err, errdefs.ErrUnsupported):
		return &api.Error{Code: "InvalidParameterValue", Message: msg}
	}
	return nil
}

func invalid(format string, args ...any) error { return errdefs.Invalidf(format, args...) }

func missing(name string) error {
	return errdefs.Newf(metrics.ErrMissingParameter, "The parameter %s is required.", name)
}

func combination(format string, args ...any) error {
	return errdefs.Newf(metrics.ErrParameterCombination, format, args...)
}
