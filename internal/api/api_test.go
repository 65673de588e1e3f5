package api

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-run/fargo/internal/api/sigv4"
	"github.com/fargo-run/fargo/internal/errdefs"
)

type okVerifier struct{ service string }

func (v okVerifier) Verify(*http.Request, []byte) (sigv4.Identity, error) {
	return sigv4.Identity{AccessKeyID: "AKIA", Account: "123456789012", Region: "us-east-1", Service: v.service}, nil
}

type echoIn struct {
	Name  *string           `json:"name,omitempty"`
	Count *int32            `json:"count,omitempty"`
	Items []echoItem        `json:"items,omitempty"`
	Tags  map[string]string `json:"tags,omitempty"`
}

type echoItem struct {
	Port *int32 `json:"port,omitempty"`
}

type echoOut struct {
	Name  *string `json:"name,omitempty"`
	Count *int32  `json:"count,omitempty"`
}

func testRouter(t testing.TB, service string) *Router {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	svc := &JSONService{
		Name: "svc", TargetPrefix: "Svc_2020", JSONVersion: "1.1", MessageKey: "message",
		Known: func(op string) bool { return op == "Echo" || op == "Fail" || op == "Later" },
		Handlers: map[string]Handler{
			"Echo": JSON(func(_ context.Context, _ *Request, in *echoIn) (*echoOut, error) {
				return &echoOut{Name: in.Name, Count: in.Count}, nil
			}),
			"Fail": JSON(func(_ context.Context, _ *Request, in *echoIn) (*echoOut, error) {
				if in.Name != nil && *in.Name == "internal" {
					return nil, context.DeadlineExceeded
				}
				return nil, errdefs.NotFoundf("thing %s not found", "x")
			}),
		},
		MapError: func(err error) *Error {
			if errors.Is(err, errdefs.ErrNotFound) {
				return Errorf("ThingNotFoundException", "%s", errdefs.Message(err))
			}
			return nil
		},
	}
	q := &QueryService{Name: "query", Version: "2015-12-01", XMLNS: "http://example.com/doc/",
		Handlers: map[string]Handler{"Who": func(_ context.Context, r *Request) (any, error) {
			return &struct {
				Account string   `xml:"Account"`
				Names   []string `xml:"Names>member"`
			}{Account: r.Scope.Account, Names: []string{"a", "b"}}, nil
		}}}
	return NewRouter(Config{MaxBodyBytes: 1 << 10, Verifier: okVerifier{service}}, m, []*JSONService{svc}, []*QueryService{q})
}

func post(rt http.Handler, target, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	return rec
}

func TestJSONDispatch(t *testing.T) {
	rt := testRouter(t, "svc")
	for _, tc := range []struct {
		name, target, body string
		status             int
		want               string
	}{
		{"ok", "Svc_2020.Echo", `{"name":"a","count":2,"ignored":true}`, 200, `{"name":"a","count":2}`},
		{"empty body", "Svc_2020.Echo", ``, 200, `{}`},
		{"omits unset members", "Svc_2020.Echo", `{}`, 200, `{}`},
		{"mapped error", "Svc_2020.Fail", `{}`, 400, `{"__type":"ThingNotFoundException","message":"thing x not found"}`},
		{"unmapped error is a 500", "Svc_2020.Fail", `{"name":"internal"}`, 500, `{"__type":"ServerException","message":"An internal error occurred."}`},
		{"known, not implemented", "Svc_2020.Later", `{}`, 400, `{"__type":"UnknownOperationException","message":"Operation Later is not implemented by fargo yet."}`},
		{"unknown op", "Svc_2020.Nope", `{}`, 400, `{"__type":"UnknownOperationException","message":"Unknown operation Svc_2020.Nope"}`},
		{"bad json", "Svc_2020.Echo", `{"name":`, 400, ``},
		{"wrong type", "Svc_2020.Echo", `{"count":"x"}`, 400, ``},
		{"too large", "Svc_2020.Echo", `{"name":"` + strings.Repeat("a", 2000) + `"}`, 413, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := post(rt, tc.target, tc.body)
			if rec.Code != tc.status {
				t.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
			if tc.want != "" && strings.TrimSpace(rec.Body.String()) != tc.want {
				t.Fatalf("body %s, want %s", rec.Body, tc.want)
			}
			if rec.Header().Get("x-amzn-RequestId") == "" || rec.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
				t.Fatalf("headers %v", rec.Header())
			}
			if rec.Code != 200 {
				var e map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e["__type"] == nil || rec.Header().Get("X-Amzn-ErrorType") == "" {
					t.Fatalf("error shape %s", rec.Body)
				}
			}
		})
	}
}

func TestQueryDispatch(t *testing.T) {
	rt := testRouter(t, "query")
	rec := post(rt, "", "Action=Who&Version=2015-12-01")
	want := `<WhoResponse xmlns="http://example.com/doc/"><WhoResult><Account>123456789012</Account><Names><member>a</member><member>b</member></Names></WhoResult><ResponseMetadata><RequestId>`
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), want) {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rec = post(rt, "", "Action=Nope&Version=2015-12-01")
	var e struct {
		Error struct{ Type, Code, Message string }
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &e); err != nil || rec.Code != 400 || e.Error.Code != "InvalidAction" || e.Error.Type != "Sender" {
		t.Fatalf("%d %s %v", rec.Code, rec.Body, err)
	}
	rec = post(rt, "", "Version=2015-12-01")
	if rec.Code != 400 || !strings.Contains(rec.Body.String(), "MissingAction") {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
}

// FuzzJSONRequest: no body or target makes the router panic or answer 500.
func FuzzJSONRequest(f *testing.F) {
	for _, s := range []string{`{}`, `{"name":"a","count":1,"items":[{"port":80}],"tags":{"a":"b"}}`, `[`, `{"count":1e999}`,
		`{"items":[{"port":"x"}]}`, `{"name":null}`, `{"tags":{"a":1}}`, "\x00", `{"name":"\ud800"}`} {
		f.Add("Svc_2020.Echo", s)
	}
	rt := testRouter(f, "svc")
	f.Fuzz(func(t *testing.T, target, body string) {
		if strings.HasSuffix(target, ".Fail") {
			return // its 500 for {"name":"internal"} is deliberate
		}
		rec := post(rt, target, body)
		if rec.Code >= 500 {
			t.Fatalf("%q %q: %d %s", target, body, rec.Code, rec.Body)
		}
	})
}

// FuzzQueryRequest: no awsQuery form (ELBv2, STS) makes the router panic
// or answer 500.
func FuzzQueryRequest(f *testing.F) {
	for _, s := range []string{"Action=Who&Version=2015-12-01", "Action=Nope", "Version=2015-12-01", "",
		"Action=Who&Names.member.1=a&Names.member.3=c", "Action=%zz", "Action=Who&Action=Who", "a=b=c&&&", "Action=Who&Tags.member.1.Key="} {
		f.Add(s)
	}
	rt := testRouter(f, "query")
	f.Fuzz(func(t *testing.T, body string) {
		rec := post(rt, "", body)
		if rec.Code >= 500 {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
	})
}

// countingReader counts what the router reads of a body of unknown length.
type countingReader struct {
	n, size int
}

func (c *countingReader) Read(p []byte) (int, error) {
	if c.n >= c.size {
		return 0, io.EOF
	}
	k := min(len(p), c.size-c.n)
	for i := range p[:k] {
		p[i] = ' '
	}
	c.n += k
	return k, nil
}

// TestBodyLimits: an operation's own limit (BodyLimits) or DefaultBodyBytes
// applies, capped by MaxBodyBytes; a body of unknown length (chunked) is
// cut off just past the limit, never read to its end.
func TestBodyLimits(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	echo := JSON(func(_ context.Context, _ *Request, in *echoIn) (*echoOut, error) { return &echoOut{Name: in.Name}, nil })
	svc := &JSONService{
		Name: "svc", TargetPrefix: "Svc_2020", JSONVersion: "1.1", MessageKey: "message",
		Known:      func(string) bool { return true },
		Handlers:   map[string]Handler{"Small": echo, "Big": echo, "Huge": echo},
		BodyLimits: map[string]int64{"Big": 4 << 20, "Huge": 1 << 40},
	}
	rt := NewRouter(Config{MaxBodyBytes: 8 << 20, Verifier: okVerifier{"svc"}}, m, []*JSONService{svc}, nil)
	for _, tc := range []struct {
		op     string
		size   int
		status int
	}{
		{"Small", DefaultBodyBytes, 200},
		{"Small", DefaultBodyBytes + 1, 413},
		{"Big", 4 << 20, 200},
		{"Big", 4<<20 + 1, 413},
		{"Huge", 8 << 20, 200},
		{"Huge", 8<<20 + 1, 413},
	} {
		for _, chunked := range []bool{false, true} {
			body := &countingReader{size: tc.size}
			req := httptest.NewRequest(http.MethodPost, "/", body)
			req.ContentLength = int64(tc.size)
			if chunked {
				req.ContentLength = -1
			}
			req.Header.Set("X-Amz-Target", "Svc_2020."+tc.op)
			rec := httptest.NewRecorder()
			rt.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Errorf("%s %d bytes (chunked %v): %d %.200s", tc.op, tc.size, chunked, rec.Code, rec.Body)
			}
			if tc.status == 413 {
				if !strings.Contains(rec.Body.String(), `"__type":"RequestEntityTooLargeException"`) {
					t.Errorf("%s: %s", tc.op, rec.Body)
				}
				if limit := tc.size - 1; body.n > limit+1 {
					t.Errorf("%s (chunked %v): read %d bytes of a body over the %d-byte limit", tc.op, chunked, body.n, limit)
				}
			}
		}
	}
}
