package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/fargo-run/fargo/internal/api/sigv4"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Verifier checks a request's SigV4 signature.
type Verifier interface {
	Verify(r *http.Request, body []byte) (sigv4.Identity, error)
}

// DefaultBodyBytes bounds the body of an operation that declares no limit
// of its own (JSONService.BodyLimits) and of every awsQuery call. AWS
// documents no general request limit for these APIs; every field limit of
// ECS, ECR, Logs, ELBv2, Cloud Map, Application Auto Scaling and STS fits
// in far less (a task definition is 64 KiB, CloudWatch's PutMetricData 1
// MB), so 1 MiB refuses nothing real while bounding what a caller can make
// fargo hold.
const DefaultBodyBytes = 1 << 20

// Config is what a Router needs.
type Config struct {
	// MaxBodyBytes bounds every request body, whatever an operation's own
	// limit (it must leave room for ECR's 20 MiB layer parts in base64).
	MaxBodyBytes int64
	// Verifier checks signatures.
	Verifier Verifier
	// Logger receives one line per failed request.
	Logger *slog.Logger
	// Registry serves /v2/ (nil: reserved, answers UNSUPPORTED).
	Registry http.Handler
	// Metrics serves GET /metrics (nil: 404).
	Metrics http.Handler
}

// Router is the http.Handler of fargo's listener.
type Router struct {
	cfg     Config
	json    map[string]*JSONService  // by target prefix
	query   map[string]*QueryService // by signing name
	metrics *Metrics
	ready   atomic.Bool
}

// NewRouter returns a router serving the given services.
func NewRouter(cfg Config, m *Metrics, jsonServices []*JSONService, queryServices []*QueryService) *Router {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Router{cfg: cfg, json: map[string]*JSONService{}, query: map[string]*QueryService{}, metrics: m}
	for _, s := range jsonServices {
		r.json[s.TargetPrefix] = s
	}
	for _, s := range queryServices {
		r.query[s.Name] = s
	}
	return r
}

// SetReady makes /healthz answer 200.
func (rt *Router) SetReady(ok bool) { rt.ready.Store(ok) }

// ServeHTTP implements http.Handler.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/"):
		if rt.cfg.Registry != nil {
			rt.cfg.Registry.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNSUPPORTED","message":"the registry is not enabled"}]}`)
		return
	case r.URL.Path == "/healthz" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if !rt.ready.Load() {
			http.Error(w, "starting", http.StatusServiceUnavailable)
			return
		}
		_, _ = io.WriteString(w, "ok\n")
		return
	case r.URL.Path == "/metrics" && r.Method == http.MethodGet && rt.cfg.Metrics != nil:
		rt.cfg.Metrics.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	reqID := uuid.NewString()
	w.Header().Set("x-amzn-RequestId", reqID)

	if target := r.Header.Get("X-Amz-Target"); target != "" {
		rt.serveJSON(w, r, target, reqID, start)
		return
	}
	if strings.HasPrefix(r.URL.Path, "/service/") {
		rt.serveRPCv2(w, r, reqID, start)
		return
	}
	rt.serveQuery(w, r, reqID, start)
}

// bodyLimit is the most a call to op of svc (nil: unknown, or a query
// service) may send.
func (rt *Router) bodyLimit(svc *JSONService, op string) int64 {
	limit := int64(DefaultBodyBytes)
	if svc != nil {
		if l, ok := svc.BodyLimits[op]; ok {
			limit = l
		}
	}
	return min(limit, rt.cfg.MaxBodyBytes)
}

// readBody reads the whole body, failing with 413 past limit: at once when
// Content-Length says so (nothing is read), else as soon as the limit is
// crossed; http.MaxBytesReader then has the server close the connection
// rather than drain the rest.
func (rt *Router) readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, *Error) {
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body := r.Body
	if body == nil {
		return nil, nil
	}
	rd := http.MaxBytesReader(w, body, limit)
	var buf []byte
	if r.ContentLength > 0 {
		// One allocation of the announced size (at most limit), not a
		// doubling series.
		buf = make([]byte, 0, r.ContentLength+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := rd.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return nil, tooLarge(limit)
			}
			return nil, Errorf("SerializationException", "Could not read the request body.")
		}
	}
}

// inflate returns the body a handler decodes: body itself, or, for
// Content-Encoding gzip (botocore compresses PutMetricData bodies of 10 KiB
// and more: the model's requestcompression trait), its decompressed bytes,
// bounded by limit too. SigV4 covers the bytes as sent, so the caller
// verifies body and decodes what inflate returns.
func inflate(r *http.Request, body []byte, limit int64) ([]byte, *Error) {
	switch enc := r.Header.Get("Content-Encoding"); enc {
	case "", "identity":
		return body, nil
	case "gzip":
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			return nil, Errorf("SerializationException", "The request body is not valid gzip.")
		}
		out, err := io.ReadAll(io.LimitReader(zr, limit+1))
		if err != nil {
			return nil, Errorf("SerializationException", "The request body is not valid gzip.")
		}
		if int64(len(out)) > limit {
			return nil, tooLarge(limit)
		}
		return out, nil
	default:
		return nil, Errorf("SerializationException", "Unsupported Content-Encoding %s.", sanitizeTarget(enc))
	}
}

// tooLarge is the answer to a body over its limit. AWS documents no error
// for it on these APIs; its front ends answer 413, and the awsJson shape
// (__type RequestEntityTooLargeException) lets SDKs surface it as an API
// error with that code rather than as an unparsable response.
func tooLarge(limit int64) *Error {
	return &Error{Code: "RequestEntityTooLargeException", Status: http.StatusRequestEntityTooLarge,
		Message: "Request body is larger than the limit of " + strconv.FormatInt(limit, 10) + " bytes."}
}

func (rt *Router) authenticate(r *http.Request, body []byte, signingName string, query bool) (sigv4.Identity, *Error) {
	id, err := rt.cfg.Verifier.Verify(r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			return id, &Error{Code: se.Code(query), Message: se.Message, Status: se.HTTPStatus(query)}
		}
		return id, &Error{Code: "InternalFailure", Message: "internal error", Status: http.StatusInternalServerError}
	}
	if signingName != "" && id.Service != signingName {
		code, status := "InvalidSignatureException", http.StatusBadRequest
		if query {
			code, status = "SignatureDoesNotMatch", http.StatusForbidden
		}
		return id, &Error{Code: code, Status: status,
			Message: "Credential should be scoped to correct service: '" + signingName + "'. "}
	}
	return id, nil
}

func (rt *Router) serveJSON(w http.ResponseWriter, r *http.Request, target, reqID string, start time.Time) {
	prefix, op, _ := strings.Cut(target, ".")
	svc := rt.json[prefix]
	svcName, opLabel := svc.metricLabels(op)
	contentType := "application/x-amz-json-1.1"
	if svc != nil && svc.JSONVersion == "1.0" {
		contentType = "application/x-amz-json-1.0"
	}
	msgKey := "message"
	if svc != nil && svc.MessageKey != "" {
		msgKey = svc.MessageKey
	}
	fail := func(e *Error) {
		rt.metrics.observe(svcName, opLabel, e.Code, start)
		writeJSONError(w, svc, contentType, msgKey, e)
	}
	if r.Method != http.MethodPost {
		fail(&Error{Code: "UnknownOperationException", Status: http.StatusMethodNotAllowed, Message: "awsJson requests must use POST."})
		return
	}
	out, ok := rt.invoke(w, r, svc, op, svc != nil && svc.Known(op), target, ProtocolJSON, reqID, fail)
	if !ok {
		return
	}
	var buf []byte
	var err error
	if raw, ok := out.(*RawJSON); ok {
		buf = *raw
	} else if buf, err = json.Marshal(out); err != nil {
		fail(rt.mapError(r.Context(), svc.Name, op, nil, err))
		return
	}
	rt.metrics.observe(svcName, opLabel, "200", start)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(buf)))
	_, _ = w.Write(buf)
}

// metricLabels are the service and operation labels of a request's
// metrics: "unknown" for what svc (which may be nil) does not serve.
func (svc *JSONService) metricLabels(op string) (service, operation string) {
	service, operation = "unknown", "unknown"
	if svc != nil {
		service = svc.Name
		if svc.Known(op) {
			operation = op
		}
	}
	return service, operation
}

// invoke runs what the awsJson and rpc-v2-cbor front ends share: it reads,
// authenticates and inflates the body, then calls op's handler. known says
// whether svc (which may be nil) serves op; target is what the
// unknown-operation error names. A failure is reported through fail and
// gives ok false.
func (rt *Router) invoke(w http.ResponseWriter, r *http.Request, svc *JSONService, op string, known bool,
	target string, proto Protocol, reqID string, fail func(*Error)) (out any, ok bool) {
	body, e := rt.readBody(w, r, rt.bodyLimit(svc, op))
	if e != nil {
		fail(e)
		return nil, false
	}
	signing := ""
	if svc != nil {
		signing = svc.Name
	}
	id, e := rt.authenticate(r, body, signing, false)
	if e != nil {
		fail(e)
		return nil, false
	}
	if body, e = inflate(r, body, rt.bodyLimit(svc, op)); e != nil {
		fail(e)
		return nil, false
	}
	if !known {
		fail(Errorf("UnknownOperationException", "Unknown operation %s", sanitizeTarget(target)))
		return nil, false
	}
	h := svc.Handlers[op]
	if h == nil {
		fail(Errorf("UnknownOperationException", "Operation %s is not implemented by fargo yet.", op))
		return nil, false
	}
	req := &Request{
		Scope:     tenant.Scope{Account: id.Account, Region: id.Region},
		Identity:  id,
		Operation: op,
		RequestID: reqID,
		Body:      body,
		Protocol:  proto,
	}
	out, err := h(r.Context(), req)
	if err != nil {
		fail(rt.mapError(r.Context(), svc.Name, op, svc.MapError, err))
		return nil, false
	}
	if l, ok := out.(emptyLists); ok {
		l.SetEmptyLists()
	}
	return out, true
}

// emptyLists is implemented by the generated output shapes that have
// top-level lists: AWS always returns those, [] when empty.
type emptyLists interface{ SetEmptyLists() }

// mapError turns any error into a wire error: *Error as is, then the
// service's mapping, else a logged 500.
func (rt *Router) mapError(ctx context.Context, service, op string, mapFn func(error) *Error, err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	if mapFn != nil {
		if e := mapFn(err); e != nil {
			return e
		}
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Code: "RequestCanceled", Message: "The request was canceled.", Status: 499}
	}
	rt.cfg.Logger.ErrorContext(ctx, "request failed", "service", service, "operation", op, "err", err)
	code := "ServerException"
	switch service {
	case "application-autoscaling":
		code = "InternalServiceException"
	case "servicediscovery", "logs":
		code = "ServiceUnavailableException"
	}
	return &Error{Code: code, Message: "An internal error occurred.", Status: http.StatusInternalServerError}
}

func writeJSONError(w http.ResponseWriter, svc *JSONService, contentType, msgKey string, e *Error) {
	typ := e.Code
	if svc != nil {
		typ = svc.errorType(w, e)
	}
	body := make(map[string]any, 2+len(e.Fields))
	for k, v := range e.Fields {
		body[k] = v
	}
	body["__type"] = typ
	body[msgKey] = e.Message
	buf, _ := json.Marshal(body)
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(e.status())
	_, _ = w.Write(buf)
}

func sanitizeTarget(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}
