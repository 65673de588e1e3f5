// Package elbv2 serves the Elastic Load Balancing v2 API (awsQuery: form
// Action=...&Version=2015-12-01, XML answers) over internal/elbv2. It
// decodes forms into the generated wire types (internal/api/elbv2wire),
// converts them to domain values and back, and maps domain errors to
// AWS's codes once, in mapError.
package elbv2

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/elbv2"
)

// XMLNS is the namespace of ELBv2 answers.
const XMLNS = "http://elasticloadbalancing.amazonaws.com/doc/" + elbv2wire.APIVersion + "/"

// New returns the ELBv2 query service over sv.
func New(sv *elbv2.Service) *api.QueryService {
	h := &handlers{sv: sv}
	return &api.QueryService{
		Name:    elbv2wire.SigningName,
		Version: elbv2wire.APIVersion,
		XMLNS:   XMLNS,
		Handlers: map[string]api.Handler{
			"CreateLoadBalancer":             op(h.createLoadBalancer),
			"DescribeLoadBalancers":          op(h.describeLoadBalancers),
			"DeleteLoadBalancer":             op(h.deleteLoadBalancer),
			"DescribeLoadBalancerAttributes": op(h.describeLoadBalancerAttributes),
			"ModifyLoadBalancerAttributes":   op(h.modifyLoadBalancerAttributes),
			"CreateTargetGroup":              op(h.createTargetGroup),
			"DescribeTargetGroups":           op(h.describeTargetGroups),
			"ModifyTargetGroup":              op(h.modifyTargetGroup),
			"DeleteTargetGroup":              op(h.deleteTargetGroup),
			"DescribeTargetGroupAttributes":  op(h.describeTargetGroupAttributes),
			"ModifyTargetGroupAttributes":    op(h.modifyTargetGroupAttributes),
			"RegisterTargets":                op(h.registerTargets),
			"DeregisterTargets":              op(h.deregisterTargets),
			"DescribeTargetHealth":           op(h.describeTargetHealth),
			"CreateListener":                 op(h.createListener),
			"DescribeListeners":              op(h.describeListeners),
			"ModifyListener":                 op(h.modifyListener),
			"DeleteListener":                 op(h.deleteListener),
			"DescribeListenerAttributes":     op(h.describeListenerAttributes),
			"ModifyListenerAttributes":       op(h.modifyListenerAttributes),
			"DescribeListenerCertificates":   op(h.describeListenerCertificates),
			"AddListenerCertificates":        op(h.addListenerCertificates),
			"RemoveListenerCertificates":     op(h.removeListenerCertificates),
			"SetSecurityGroups":              op(h.setSecurityGroups),
			"SetSubnets":                     op(h.setSubnets),
			"SetIpAddressType":               op(h.setIPAddressType),
			"CreateRule":                     op(h.createRule),
			"DescribeRules":                  op(h.describeRules),
			"ModifyRule":                     op(h.modifyRule),
			"DeleteRule":                     op(h.deleteRule),
			"SetRulePriorities":              op(h.setRulePriorities),
			"AddTags":                        op(h.addTags),
			"RemoveTags":                     op(h.removeTags),
			"DescribeTags":                   op(h.describeTags),
			"DescribeSSLPolicies":            op(h.describeSSLPolicies),
			"DescribeAccountLimits":          op(h.describeAccountLimits),
		},
		MapError: mapError,
	}
}

type handlers struct{ sv *elbv2.Service }

// op adapts a typed operation: the form decodes into a fresh In.
func op[In, Out any](f func(ctx context.Context, req *api.Request, in *In) (*Out, error)) api.Handler {
	return func(ctx context.Context, req *api.Request) (any, error) {
		in := new(In)
		if err := decodeForm(req.Form, in); err != nil {
			return nil, err
		}
		out, err := f(ctx, req, in)
		if err != nil {
			return nil, err
		}
		return out, nil
	}
}

// mapError maps domain errors to AWS codes (the model's error codes).
func mapError(err error) *api.Error {
	var e *elbv2.Error
	if !errors.As(err, &e) {
		return nil
	}
	status := http.StatusBadRequest
	switch e.Code {
	case "PriorRequestNotComplete":
		status = http.StatusTooManyRequests
	case "HealthUnavailable":
		status = http.StatusInternalServerError
	}
	return &api.Error{Code: e.Code, Message: e.Message, Status: status}
}

func required(p *string, name string) (string, error) {
	if p == nil || *p == "" {
		return "", api.Errorf("ValidationError", "1 validation error detected: Value null at '%s' failed to satisfy constraint: Member must not be null", lowerFirst(name))
	}
	return *p, nil
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]|0x20) + s[1:]
}

// pageOut pages items like page and converts the page's items with conv.
func pageOut[T, O any](items []T, marker *string, size *int32, conv func(T) O) ([]O, *string, error) {
	items, next, err := page(items, marker, size)
	if err != nil {
		return nil, nil, err
	}
	var out []O
	for _, it := range items {
		out = append(out, conv(it))
	}
	return out, next, nil
}

// page cuts items to one page: marker is the opaque offset a previous
// page answered, size 1-400 (default 400).
func page[T any](items []T, marker *string, size *int32) ([]T, *string, error) {
	n := 400
	if size != nil {
		if *size < 1 || *size > 400 {
			return nil, nil, api.Errorf("ValidationError", "Page size must be between 1 and 400")
		}
		n = int(*size)
	}
	start := 0
	if marker != nil && *marker != "" {
		b, err := base64.RawURLEncoding.DecodeString(*marker)
		if err == nil {
			start, err = strconv.Atoi(string(b))
		}
		if err != nil || start < 0 || start > len(items) {
			return nil, nil, api.Errorf("ValidationError", "Invalid marker '%s'", truncate(*marker))
		}
	}
	end := min(start+n, len(items))
	var next *string
	if end < len(items) {
		m := base64.RawURLEncoding.EncodeToString([]byte(strconv.Itoa(end)))
		next = &m
	}
	return items[start:end], next, nil
}
