package api

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/errdefs"
)

type cborIn struct {
	Name   *string         `json:"Name,omitempty"`
	Value  *float64        `json:"Value,omitempty"`
	When   *wire.Timestamp `json:"When,omitempty"`
	Values []float64       `json:"Values,omitempty"`
	Blob   []byte          `json:"Blob,omitempty"`
}

type cborOut struct {
	Name   *string          `json:"Name,omitempty"`
	Value  *float64         `json:"Value,omitempty"`
	When   *wire.Timestamp  `json:"When,omitempty"`
	Times  []wire.Timestamp `json:"Times,omitempty"`
	Values []float64        `json:"Values,omitempty"`
}

func cborRouter(t testing.TB) *Router {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	svc := &JSONService{
		Name: "monitoring", TargetPrefix: "Granite_2010", JSONVersion: "1.0", MessageKey: "message", RPCv2: true,
		QueryErrors: map[string]string{"ResourceNotFound": "ResourceNotFoundShape"},
		Known:       func(op string) bool { return op == "Echo" || op == "Fail" },
		Handlers: map[string]Handler{
			"Echo": JSON(func(_ context.Context, _ *Request, in *cborIn) (*cborOut, error) {
				out := &cborOut{Name: in.Name, Value: in.Value, When: in.When, Values: in.Values}
				if in.When != nil {
					out.Times = []wire.Timestamp{*in.When}
				}
				return out, nil
			}),
			"Fail": JSON(func(context.Context, *Request, *cborIn) (*cborOut, error) {
				return nil, errdefs.NotFoundf("no such thing")
			}),
		},
		MapError: func(err error) *Error {
			return &Error{Code: "ResourceNotFound", Message: errdefs.Message(err), Status: 404}
		},
	}
	return NewRouter(Config{MaxBodyBytes: 1 << 12, Verifier: okVerifier{"monitoring"}}, m, []*JSONService{svc}, nil)
}

func postCBOR(rt http.Handler, op string, body []byte, hdr ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/service/Granite_2010/operation/"+op, bytes.NewReader(body))
	req.Header.Set("smithy-protocol", "rpc-v2-cbor")
	req.Header.Set("Content-Type", "application/cbor")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	return rec
}

func TestCBORRoundTrip(t *testing.T) {
	rt := cborRouter(t)
	when := time.Date(2026, 12, 7, 10, 0, 0, 500e6, time.UTC)
	// What SDKs send: tag 1 timestamps (as a double), an integer where a
	// double member is, a half-precision float in a list, unknown members.
	body, _ := cbor.Marshal(map[string]any{
		"Name": "a", "Value": 5, "When": cbor.Tag{Number: 1, Content: float64(when.UnixMilli()) / 1000},
		"Values": []any{float32(1.5), 2.25}, "Unknown": []any{1, "x"},
	})
	rec := postCBOR(rt, "Echo", body)
	if rec.Code != 200 || rec.Header().Get("smithy-protocol") != "rpc-v2-cbor" || rec.Header().Get("Content-Type") != "application/cbor" {
		t.Fatalf("status %d headers %v: %x", rec.Code, rec.Header(), rec.Body.Bytes())
	}
	var out map[string]any
	if err := cbor.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	if out["Name"] != "a" || out["Value"] != 5.0 {
		t.Errorf("out %v", out)
	}
	// Timestamps go back as tag 1.
	var raw map[string]cbor.RawMessage
	_ = cbor.Unmarshal(rec.Body.Bytes(), &raw)
	var tag cbor.Tag
	if err := cbor.Unmarshal(raw["When"], &tag); err != nil || tag.Number != 1 || tag.Content != 1796637600.5 {
		t.Errorf("When = %x (%v, %v)", []byte(raw["When"]), tag, err)
	}
	var back struct {
		When  wire.Timestamp   `json:"When"`
		Times []wire.Timestamp `json:"Times"`
	}
	if err := cbor.Unmarshal(rec.Body.Bytes(), &back); err != nil || !back.When.Equal(when) || len(back.Times) != 1 {
		t.Errorf("decoded back %v %v: %v", back.When, back.Times, err)
	}
	// An empty body is an empty input.
	if rec := postCBOR(rt, "Echo", nil); rec.Code != 200 {
		t.Errorf("empty body: %d", rec.Code)
	}
}

func TestCBORErrors(t *testing.T) {
	rt := cborRouter(t)
	decode := func(rec *httptest.ResponseRecorder) map[string]any {
		var m map[string]any
		if err := cbor.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("error body %x: %v", rec.Body.Bytes(), err)
		}
		return m
	}
	rec := postCBOR(rt, "Fail", []byte{0xa0})
	if m := decode(rec); rec.Code != 404 || m["__type"] != "ResourceNotFoundShape" || m["message"] != "no such thing" ||
		rec.Header().Get("x-amzn-query-error") != "ResourceNotFound;Sender" || rec.Header().Get("smithy-protocol") != "rpc-v2-cbor" {
		t.Errorf("mapped error: %d %v %v", rec.Code, m, rec.Header())
	}
	for name, body := range map[string][]byte{
		"not a map":    {0x83, 1, 2, 3},
		"truncated":    {0xa1, 0x64, 'N', 'a'},
		"wrong type":   mustCBOR(map[string]any{"Name": 5}),
		"bad time tag": mustCBOR(map[string]any{"When": cbor.Tag{Number: 1, Content: "x"}}),
		"trailing":     append(mustCBOR(map[string]any{}), 0x01),
	} {
		rec := postCBOR(rt, "Echo", body)
		if m := decode(rec); rec.Code != 400 || m["__type"] != "SerializationException" {
			t.Errorf("%s: %d %v", name, rec.Code, m)
		}
	}
	if rec := postCBOR(rt, "Nope", []byte{0xa0}); rec.Code != 400 || decode(rec)["__type"] != "UnknownOperationException" {
		t.Errorf("unknown op: %d", rec.Code)
	}
	req := httptest.NewRequest(http.MethodPost, "/service/Other/operation/Echo", strings.NewReader(""))
	rec = httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	if rec.Code != 400 || decode(rec)["__type"] != "UnknownOperationException" {
		t.Errorf("unknown service: %d", rec.Code)
	}
}

func mustCBOR(v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestGzipBody: botocore gzips PutMetricData bodies of 10 KiB and more.
func TestGzipBody(t *testing.T) {
	rt := cborRouter(t)
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(mustCBOR(map[string]any{"Name": "zipped"}))
	_ = zw.Close()
	rec := postCBOR(rt, "Echo", buf.Bytes(), "Content-Encoding", "gzip")
	var out map[string]any
	_ = cbor.Unmarshal(rec.Body.Bytes(), &out)
	if rec.Code != 200 || out["Name"] != "zipped" {
		t.Errorf("gzip: %d %v", rec.Code, out)
	}
	// A gzip bomb stops at the body limit.
	buf.Reset()
	zw = gzip.NewWriter(&buf)
	_, _ = zw.Write(append([]byte{0x61, 0x64, 'N', 'a', 'm', 'e', 0x7a, 0, 1, 0, 0}, make([]byte, 1<<16)...))
	_ = zw.Close()
	if rec := postCBOR(rt, "Echo", buf.Bytes(), "Content-Encoding", "gzip"); rec.Code != 413 {
		t.Errorf("gzip bomb: %d", rec.Code)
	}
	if rec := postCBOR(rt, "Echo", []byte("not gzip"), "Content-Encoding", "gzip"); rec.Code != 400 {
		t.Errorf("bad gzip: %d", rec.Code)
	}
}

// FuzzDecodeCBOR: no input makes the decoder panic, hang or accept a body
// that is not one well-formed map; what it accepts re-encodes.
func FuzzDecodeCBOR(f *testing.F) {
	for _, seed := range [][]byte{
		{0xa0}, mustCBOR(map[string]any{"Name": "a", "Value": 1.5, "When": cbor.Tag{Number: 1, Content: 1.7e9}, "Values": []float64{1, 2}}),
		{0xbf, 0x64, 'N', 'a', 'm', 'e', 0x61, 'x', 0xff}, {0xa1, 0x65, 'V', 'a', 'l', 'u', 'e', 0xf9, 0x7e, 0x00},
		{0xa1, 0x64, 'W', 'h', 'e', 'n', 0xc1, 0xfb, 0x41, 0xd9, 0, 0, 0, 0, 0, 0},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var in cborIn
		err := DecodeCBOR(body, &in)
		if err != nil {
			var e *Error
			if !errorsAs(err, &e) || e.Code != "SerializationException" {
				t.Fatalf("error %v is not a SerializationException", err)
			}
			return
		}
		if _, err := EncodeCBOR(&in); err != nil {
			t.Fatalf("accepted input does not re-encode: %v", err)
		}
	})
}

func errorsAs(err error, e **Error) bool {
	v, ok := err.(*Error)
	if ok {
		*e = v
	}
	return ok
}
