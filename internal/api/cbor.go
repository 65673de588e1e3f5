package api

import (
	"errors"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Smithy RPC v2 CBOR (smithy-rpc-v2-cbor), the protocol the newest SDKs
// (botocore 1.43, aws-sdk-go-v2 cloudwatch >= 1.53) pick for services that
// list it, CloudWatch first:
//
//	POST /service/<ServiceName>/operation/<Op>
//	smithy-protocol: rpc-v2-cbor      Content-Type: application/cbor
//	body: the operation's input as a CBOR map (members by name; timestamps
//	      tag 1 epoch seconds; blobs byte strings); an empty body is {}.
//	answer: 200 + CBOR output, or the error status + {"__type", "message"}.
//
// A JSONService with RPCv2 set is served on this route too, with its
// TargetPrefix as the service name and the same handlers: api.JSON decodes
// the input with the codec of the request's Protocol and the router encodes
// the output the same way, so one typed handler serves both protocols.

// Protocol is the codec of a JSON-family request.
type Protocol int

// Protocols of Request.Protocol.
const (
	// ProtocolJSON is awsJson1_0/1_1 (the zero value).
	ProtocolJSON Protocol = iota
	// ProtocolCBOR is smithy-rpc-v2-cbor.
	ProtocolCBOR
)

const (
	cborContentType = "application/cbor"
	// maxCBORNesting bounds the depth of decoded bodies: AWS inputs nest a
	// few levels (metric math queries in lists in structures), never 32.
	maxCBORNesting = 32
)

// The codec modes are immutable settings, built once.
var (
	cborDec = mustDecMode()
	cborEnc = mustEncMode()
)

func mustDecMode() cbor.DecMode {
	m, err := cbor.DecOptions{
		MaxNestedLevels:  maxCBORNesting,
		MaxArrayElements: 1 << 16,
		MaxMapPairs:      1 << 16,
		IndefLength:      cbor.IndefLengthAllowed,
		DupMapKey:        cbor.DupMapKeyQuiet,
		IntDec:           cbor.IntDecConvertSigned,
		DefaultMapType:   reflect.TypeOf(map[string]any(nil)),
	}.DecMode()
	if err != nil {
		panic(err) // the options above are constant: a test catches this
	}
	return m
}

func mustEncMode() cbor.EncMode {
	m, err := cbor.EncOptions{Sort: cbor.SortNone, Time: cbor.TimeUnixDynamic, TimeTag: cbor.EncTagRequired}.EncMode()
	if err != nil {
		panic(err) // constant options
	}
	return m
}

// DecodeCBOR decodes a smithy-rpc-v2-cbor request body into v. An empty
// body counts as an empty map; anything but a CBOR map of the right member
// types is a SerializationException.
func DecodeCBOR(body []byte, v any) (err error) {
	if len(body) == 0 {
		return nil
	}
	defer func() {
		// The decoder does not panic on bad input by design; this keeps a
		// library bug from taking the listener's goroutine with it.
		if p := recover(); p != nil {
			err = Errorf("SerializationException", "Malformed CBOR request body.")
		}
	}()
	// The body must be one map (major type 5: 0xa0-0xbf).
	if body[0]>>5 != 5 {
		return Errorf("SerializationException", "Start of structure or map found where not expected.")
	}
	if err := cborDec.Unmarshal(body, v); err != nil {
		var te *cbor.UnmarshalTypeError
		if errors.As(err, &te) {
			return Errorf("SerializationException", "Unexpected value type: %s", sanitizeJSONError(te))
		}
		return Errorf("SerializationException", "Malformed CBOR request body: %s", sanitizeJSONError(err))
	}
	return nil
}

// EncodeCBOR encodes an output for smithy-rpc-v2-cbor.
func EncodeCBOR(v any) ([]byte, error) { return cborEnc.Marshal(v) }

// decodeInput decodes the request body with the codec of its protocol.
func (req *Request) decodeInput(v any) error {
	if req.Protocol == ProtocolCBOR {
		return DecodeCBOR(req.Body, v)
	}
	return DecodeJSON(req.Body, v)
}

// serveRPCv2 serves POST /service/<ServiceName>/operation/<Op>.
func (rt *Router) serveRPCv2(w http.ResponseWriter, r *http.Request, reqID string, start time.Time) {
	rest := strings.TrimPrefix(r.URL.Path, "/service/")
	name, op, ok := strings.Cut(rest, "/operation/")
	svc := rt.json[name]
	if svc != nil && !svc.RPCv2 {
		svc = nil
	}
	svcName, opLabel := svc.metricLabels(op)
	fail := func(e *Error) {
		rt.metrics.observe(svcName, opLabel, e.Code, start)
		writeCBORError(w, svc, e)
	}
	if r.Method != http.MethodPost {
		fail(&Error{Code: "UnknownOperationException", Status: http.StatusMethodNotAllowed, Message: "rpc-v2-cbor requests must use POST."})
		return
	}
	known := ok && svc != nil && !strings.Contains(op, "/") && svc.Known(op)
	out, ok := rt.invoke(w, r, svc, op, known, rest, ProtocolCBOR, reqID, fail)
	if !ok {
		return
	}
	if _, raw := out.(*RawJSON); raw {
		fail(rt.mapError(r.Context(), svc.Name, op, nil, errors.New("handler answered raw JSON to a CBOR request")))
		return
	}
	buf, err := EncodeCBOR(out)
	if err != nil {
		fail(rt.mapError(r.Context(), svc.Name, op, nil, err))
		return
	}
	rt.metrics.observe(svcName, opLabel, "200", start)
	h2 := w.Header()
	h2.Set("smithy-protocol", "rpc-v2-cbor")
	h2.Set("Content-Type", cborContentType)
	h2.Set("Content-Length", strconv.Itoa(len(buf)))
	_, _ = w.Write(buf)
}

func writeCBORError(w http.ResponseWriter, svc *JSONService, e *Error) {
	typ := e.Code
	if svc != nil {
		typ = svc.errorType(w, e)
	}
	body := make(map[string]any, 2+len(e.Fields))
	for k, v := range e.Fields {
		body[k] = v
	}
	body["__type"] = typ
	body["message"] = e.Message
	buf, _ := cborEnc.Marshal(body)
	h := w.Header()
	h.Set("smithy-protocol", "rpc-v2-cbor")
	h.Set("Content-Type", cborContentType)
	h.Set("X-Amzn-ErrorType", typ)
	w.WriteHeader(e.status())
	_, _ = w.Write(buf)
}

// errorType is the __type of e: its code, or, for a service compatible with
// its awsQuery form (QueryErrors), the error shape's name, with the query
// code in x-amzn-query-error as AWS sends it ("Code;Sender").
func (s *JSONService) errorType(w http.ResponseWriter, e *Error) string {
	shape, ok := s.QueryErrors[e.Code]
	if !ok {
		return e.Code
	}
	fault := "Sender"
	if e.status() >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("x-amzn-query-error", e.Code+";"+fault)
	return shape
}
