// Package api is fargo's front door for the AWS APIs: one http.Handler that
// serves every AWS protocol fargo speaks on one listener, checks SigV4,
// resolves the caller's tenant scope, dispatches to a thin per-service
// adapter (internal/api/ecs, ...), and writes AWS-shaped answers and errors.
//
//	request ──► route ──► read body (bounded) ──► SigV4 ──► decode ──► service op
//	   │          │                                                     │
//	   │          ├─ X-Amz-Target: Prefix.Op   → awsJson1_x service     │
//	   │          ├─ /service/Prefix/operation/Op → the same service,   │
//	   │          │     smithy-rpc-v2-cbor (RPCv2 set; cbor.go)          │
//	   │          ├─ form Action=Op            → awsQuery service       │
//	   │          ├─ /v2/...                   → OCI registry           │
//	   │          └─ /healthz, /metrics                                 │
//	   └──────────────────────────── encode output / map error ◄────────┘
//
// Service adapters map domain errors to wire errors exactly once, in their
// MapError function; this package maps its own failures (bad JSON, bad
// signature, unknown operation) and anything unmapped becomes a logged 500.
package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/fargo-run/fargo/internal/api/sigv4"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Error is an AWS error as it goes on the wire.
type Error struct {
	// Code is the __type of JSON protocols and the <Code> of query ones.
	Code string
	// Message is what the client shows.
	Message string
	// Status is the HTTP status; 0 means 400.
	Status int
	// Fields are extra members of the error shape, e.g. resourceIds.
	Fields map[string]any
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func (e *Error) status() int {
	if e.Status == 0 {
		return http.StatusBadRequest
	}
	return e.Status
}

// Errorf returns a client (400) error with a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Request is one decoded API call, as a service handler sees it.
type Request struct {
	// Scope is the account (from the access key) and region (from the
	// SigV4 credential scope) the call acts in.
	Scope tenant.Scope
	// Identity is the verified SigV4 identity.
	Identity sigv4.Identity
	// Operation is the operation name, e.g. "CreateCluster".
	Operation string
	// RequestID is the x-amzn-RequestId of the answer.
	RequestID string
	// Body is the raw request body (JSON for JSON protocols).
	Body []byte
	// Form holds the parameters of query-protocol calls.
	Form map[string][]string
	// Protocol is the codec of Body for JSON-family services: awsJson, or
	// smithy-rpc-v2-cbor for services with RPCv2 set.
	Protocol Protocol
}

// Handler serves one operation. It returns the output value to encode, or
// an error that the service's MapError turns into an *Error.
type Handler func(ctx context.Context, req *Request) (any, error)

// RawJSON is an output already encoded: a handler that returns *RawJSON
// (through JSON) has it written as it is, for answers it renders once and
// serves many times. It must be the JSON the operation's output would
// encode to.
type RawJSON []byte

// JSON adapts a typed operation to a Handler: it decodes the body into a
// fresh In (JSON, or CBOR for smithy-rpc-v2-cbor requests), and answers
// SerializationException for bodies that are not the object the operation
// expects.
func JSON[In, Out any](f func(ctx context.Context, req *Request, in *In) (*Out, error)) Handler {
	return func(ctx context.Context, req *Request) (any, error) {
		in := new(In)
		if err := req.decodeInput(in); err != nil {
			return nil, err
		}
		out, err := f(ctx, req, in)
		if err != nil {
			return nil, err
		}
		if out == nil {
			return struct{}{}, nil
		}
		return out, nil
	}
}

// DecodeJSON decodes an awsJson request body into v. An empty body counts as
// "{}"; anything but a JSON object of the right member types is a
// SerializationException.
func DecodeJSON(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	if body[0] != '{' {
		return Errorf("SerializationException", "Start of structure or map found where not expected.")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "request"
			}
			return Errorf("SerializationException", "Unexpected value type for member '%s': expected %s, got JSON %s.", field, te.Type, te.Value)
		}
		return Errorf("SerializationException", "Malformed JSON request body: %s", sanitizeJSONError(err))
	}
	return nil
}

func sanitizeJSONError(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// JSONService is an awsJson1_0/1_1 service: ECS, ECR, Logs, Application
// Auto Scaling, Cloud Map.
type JSONService struct {
	// Name is the SigV4 signing name, e.g. "ecs"; also the metrics label.
	Name string
	// TargetPrefix is the X-Amz-Target prefix, e.g.
	// "AmazonEC2ContainerServiceV20141113".
	TargetPrefix string
	// JSONVersion is "1.0" or "1.1".
	JSONVersion string
	// MessageKey is "message" (ECS, ECR, Logs) or "Message" (AppAS, Cloud Map).
	MessageKey string
	// Known reports whether an operation exists in the service model;
	// those without a handler answer UnknownOperationException for now.
	Known func(op string) bool
	// Handlers are the implemented operations.
	Handlers map[string]Handler
	// MapError maps a domain error to a wire error, or returns nil when it
	// does not know the error (which becomes a 500).
	MapError func(error) *Error
	// BodyLimits are the operations whose requests may be larger than
	// DefaultBodyBytes, with their limit (still capped by
	// Config.MaxBodyBytes): ECR's layer parts, Logs' event batches.
	BodyLimits map[string]int64
	// RPCv2 serves the service on smithy-rpc-v2-cbor too, at
	// /service/<TargetPrefix>/operation/<Op> (CloudWatch).
	RPCv2 bool
	// QueryErrors, for a service whose model is awsQueryCompatible
	// (CloudWatch), maps the query error codes its handlers answer to the
	// error shape names JSON and CBOR answers carry in __type; those
	// answers also carry x-amzn-query-error: Code;Sender, from which SDKs
	// take the query code.
	QueryErrors map[string]string
}

// QueryService is an awsQuery service: ELBv2, STS, CloudWatch.
type QueryService struct {
	// Name is the SigV4 signing name, e.g. "elasticloadbalancing".
	Name string
	// Version is the API version the form names, e.g. "2015-12-01".
	Version string
	// XMLNS is the namespace of answers.
	XMLNS string
	// Handlers are the implemented actions. A handler returns the value
	// encoded inside <ActionResult>.
	Handlers map[string]Handler
	// MapError maps domain errors (may be nil).
	MapError func(error) *Error
}
