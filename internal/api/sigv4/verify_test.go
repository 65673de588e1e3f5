package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

const (
	testAKID    = "AKIDEXAMPLE"
	testSecret  = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	testAccount = "000000000000"
	testRegion  = "us-east-1"
	testService = "ecs"
)

// signTime is the moment every test request is signed at.
var signTime = time.Date(2026, 11, 22, 10, 21, 0, 0, time.UTC)

type staticCreds map[string][2]string

func (c staticCreds) Lookup(akid string) (string, string, bool) {
	v, ok := c[akid]
	return v[0], v[1], ok
}

var testCreds = staticCreds{testAKID: {testSecret, testAccount}}

// newVerifier returns a verifier at time now with the 5-minute window the
// skew tables below were written for, accepting every session token.
func newVerifier(now time.Time) *Verifier {
	return &Verifier{Credentials: testCreds, Tokens: anyToken{}, MaxSkew: 5 * time.Minute, Now: func() time.Time { return now }}
}

type anyToken struct{}

func (anyToken) ValidSessionToken(_, _ string) bool { return true }

type oneToken string

func (o oneToken) ValidSessionToken(akid, token string) bool {
	return akid == testAKID && token == string(o)
}

// TestVerifyDefaults: AWS's 15-minute window, real region names only, and
// no session token that was not issued.
func TestVerifyDefaults(t *testing.T) {
	s := okSpecs[0]
	v := &Verifier{Credentials: testCreds, Now: func() time.Time { return signTime.Add(15 * time.Minute) }}
	if _, err := v.Verify(s.sign(t), []byte(s.body)); err != nil {
		t.Fatalf("15 min after signing: %v", err)
	}
	v.Now = func() time.Time { return signTime.Add(-15 * time.Minute) }
	if _, err := v.Verify(s.sign(t), []byte(s.body)); err != nil {
		t.Fatalf("15 min before signing: %v", err)
	}
	v.Now = func() time.Time { return signTime.Add(15*time.Minute + time.Second) }
	if e := wantKind(t, func() error { _, err := v.Verify(s.sign(t), []byte(s.body)); return err }(), Expired); !strings.HasSuffix(e.Message, "- 15 min.)") {
		t.Fatal(e.Message)
	}

	v.Now = func() time.Time { return signTime }
	tok := s
	tok.token = "issued"
	_, err := v.Verify(tok.sign(t), []byte(s.body))
	if e := wantKind(t, err, UnrecognizedClient); e.Message != msgUnrecognized {
		t.Fatal(e.Message)
	}
	v.Tokens = oneToken("issued")
	if id, err := v.Verify(tok.sign(t), []byte(s.body)); err != nil || id.SessionToken != "issued" {
		t.Fatalf("issued token: %+v %v", id, err)
	}
	tok.token = "forged"
	_, err = v.Verify(tok.sign(t), []byte(s.body))
	wantKind(t, err, UnrecognizedClient)

	r := s.build(t)
	if err := v4.NewSigner().SignHTTP(context.Background(), s.creds(), r, s.payloadHash(), testService, "us-east-1:111111111111", signTime); err != nil {
		t.Fatal(err)
	}
	_, err = v.Verify(r, []byte(s.body))
	if e := wantKind(t, err, SignatureMismatch); e.Message != "Credential should be scoped to a valid region, not 'us-east-1:111111111111'. " {
		t.Fatal(e.Message)
	}
}

func hashHex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// reqSpec describes a request to sign with aws-sdk-go-v2.
type reqSpec struct {
	name    string
	method  string
	url     string
	host    string // overrides Host when set
	headers [][2]string
	body    string
	payload string // payload hash to sign; "" = sha256(body)
	token   string
}

func (s reqSpec) build(t testing.TB) *http.Request {
	t.Helper()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	r, err := http.NewRequest(s.method, s.url, body)
	if err != nil {
		t.Fatal(err)
	}
	if s.host != "" {
		r.Host = s.host
	}
	for _, h := range s.headers {
		r.Header.Add(h[0], h[1])
	}
	return r
}

func (s reqSpec) payloadHash() string {
	if s.payload != "" {
		return s.payload
	}
	return hashHex([]byte(s.body))
}

func (s reqSpec) creds() aws.Credentials {
	return aws.Credentials{AccessKeyID: testAKID, SecretAccessKey: testSecret, SessionToken: s.token}
}

// sign builds the request and signs it in the Authorization header.
func (s reqSpec) sign(t testing.TB) *http.Request {
	t.Helper()
	r := s.build(t)
	err := v4.NewSigner().SignHTTP(context.Background(), s.creds(), r, s.payloadHash(), testService, testRegion, signTime)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// presign returns a request for the presigned URL (X-Amz-Expires=expires
// when expires > 0), carrying the headers the signer says must be sent.
func (s reqSpec) presign(t testing.TB, expires int) *http.Request {
	t.Helper()
	r := s.build(t)
	if expires > 0 {
		q := r.URL.Query()
		q.Set("X-Amz-Expires", strconv.Itoa(expires))
		r.URL.RawQuery = q.Encode()
	}
	u, hdr, err := v4.NewSigner().PresignHTTP(context.Background(), s.creds(), r, s.payloadHash(), testService, testRegion, signTime)
	if err != nil {
		t.Fatal(err)
	}
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	out, err := http.NewRequest(s.method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range hdr {
		if strings.EqualFold(k, "host") {
			out.Host = vs[0]
			continue
		}
		for _, v := range vs {
			out.Header.Add(k, v)
		}
	}
	return out
}

var okSpecs = []reqSpec{
	{
		name: "awsJson POST /", method: "POST", url: "http://localhost:4566/",
		headers: [][2]string{{"Content-Type", "application/x-amz-json-1.1"}, {"X-Amz-Target", "AmazonEC2ContainerServiceV20141113.ListClusters"}},
		body:    `{"maxResults":10}`,
	},
	{
		name: "awsQuery form POST", method: "POST", url: "http://127.0.0.1:4566/",
		headers: [][2]string{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}},
		body:    "Action=DescribeLoadBalancers&Version=2015-12-01&Names.member.1=a%20b",
	},
	{
		name: "GET empty body no path", method: "GET", url: "http://localhost:4566",
	},
	{
		name: "odd path and query", method: "GET",
		url: "http://localhost:4566/v2/a%20b/c%2Fd/%C3%A9/x+y/~ok/*?b=2&a=1&a=0&empty=&flag&sp=a%20b&plus=a+b&uni=%C3%BC&res=%21%27%28%29%2A&Z=z",
	},
	{
		name: "repeated and spaced headers", method: "PUT", url: "http://localhost:4566/things/1",
		headers: [][2]string{{"X-Custom", "  a   b  c "}, {"X-Custom", "second"}, {"X-Amz-Meta-Tag", "v"}},
		body:    "payload",
	},
	{
		name: "custom host with port", method: "POST", url: "http://10.0.0.1:8080/", host: "ecs.localhost.localstack.cloud:4566",
		headers: [][2]string{{"X-Amz-Target", "x.y"}}, body: "{}",
	},
	{
		name: "unsigned payload", method: "POST", url: "http://localhost:4566/upload",
		headers: [][2]string{{"X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD"}}, body: "anything", payload: "UNSIGNED-PAYLOAD",
	},
	{
		name: "content sha256 header", method: "POST", url: "http://localhost:4566/upload",
		headers: [][2]string{{"X-Amz-Content-Sha256", hashHex([]byte("data"))}}, body: "data",
	},
	{
		name: "session token", method: "POST", url: "http://localhost:4566/", token: "FQoGZXIvYXdzEXAMPLETOKEN//+=",
		headers: [][2]string{{"X-Amz-Target", "Logs_20140328.DescribeLogGroups"}}, body: "{}",
	},
	{
		name: "DELETE with query only", method: "DELETE", url: "http://localhost:4566/r?id=a%2Fb%3Dc",
	},
}

func TestVerifySignedHeaderForm(t *testing.T) {
	for _, s := range okSpecs {
		t.Run(s.name, func(t *testing.T) {
			r := s.sign(t)
			id, err := newVerifier(signTime.Add(time.Minute)).Verify(r, []byte(s.body))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := Identity{AccessKeyID: testAKID, Account: testAccount, Region: testRegion, Service: testService, SessionToken: s.token}
			if id != want {
				t.Fatalf("identity = %+v, want %+v", id, want)
			}
		})
	}
}

func TestVerifyPresigned(t *testing.T) {
	for _, s := range okSpecs {
		if s.payload != "" || s.method == "POST" && s.body != "" {
			// A presigned URL carries no payload hash; only bodiless requests
			// (the realistic use: GET/DELETE links, STS tokens) are covered.
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			r := s.presign(t, 900)
			id, err := newVerifier(signTime.Add(14*time.Minute)).Verify(r, []byte(s.body))
			if err != nil {
				t.Fatalf("Verify %s: %v", r.URL, err)
			}
			if id.AccessKeyID != testAKID || id.SessionToken != s.token {
				t.Fatalf("identity = %+v", id)
			}
			// Past X-Amz-Expires.
			_, err = newVerifier(signTime.Add(15*time.Minute+time.Second)).Verify(r, []byte(s.body))
			wantKind(t, err, Expired)
			// Tampered query.
			r2 := r.Clone(context.Background())
			r2.URL.RawQuery += "&extra=1"
			_, err = newVerifier(signTime).Verify(r2, nil)
			wantKind(t, err, SignatureMismatch)
		})
	}
	t.Run("no X-Amz-Expires uses skew", func(t *testing.T) {
		r := okSpecs[2].presign(t, 0)
		if _, err := newVerifier(signTime.Add(5*time.Minute)).Verify(r, nil); err != nil {
			t.Fatal(err)
		}
		_, err := newVerifier(signTime.Add(5*time.Minute+time.Second)).Verify(r, nil)
		wantKind(t, err, Expired)
	})
	t.Run("session token", func(t *testing.T) {
		s := okSpecs[2]
		s.token = "TOKEN/with+chars="
		id, err := newVerifier(signTime).Verify(s.presign(t, 60), nil)
		if err != nil || id.SessionToken != s.token {
			t.Fatalf("id=%+v err=%v", id, err)
		}
	})
	t.Run("future presign", func(t *testing.T) {
		_, err := newVerifier(signTime.Add(-6*time.Minute)).Verify(okSpecs[2].presign(t, 60), nil)
		wantKind(t, err, NotYetCurrent)
	})
}

// TestVerifyOverTheWire sends SDK-signed requests through a real listener, so
// that RequestURI, Host, Content-Length and header parsing are net/http's.
func TestVerifyOverTheWire(t *testing.T) {
	v := newVerifier(signTime)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if _, err := v.Verify(r, body); err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
		}
	}))
	defer srv.Close()
	base, _ := url.Parse(srv.URL)
	for _, s := range okSpecs {
		for _, presign := range []bool{false, true} {
			if presign && (s.payload != "" || s.body != "") {
				continue
			}
			t.Run(fmt.Sprintf("%s/presign=%v", s.name, presign), func(t *testing.T) {
				u, _ := url.Parse(s.url)
				u.Host = base.Host
				s.url = u.String()
				if s.host != "" {
					s.host = base.Host
				}
				var r *http.Request
				if presign {
					r = s.presign(t, 60)
				} else {
					r = s.sign(t)
				}
				resp, err := srv.Client().Do(r)
				if err != nil {
					t.Fatal(err)
				}
				msg, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d: %s", resp.StatusCode, msg)
				}
			})
		}
	}
}

func wantKind(t *testing.T, err error, k Kind) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want *Error of kind %v", err, k)
	}
	if e.Kind != k {
		t.Fatalf("kind = %v (%q), want %v", e.Kind, e.Message, k)
	}
	return e
}

func TestVerifyTampered(t *testing.T) {
	base := okSpecs[0]
	tests := []struct {
		name   string
		mutate func(r *http.Request, body *[]byte)
		creds  Credentials
		kind   Kind
	}{
		{"body", func(r *http.Request, b *[]byte) { *b = []byte(`{"maxResults":11}`) }, nil, SignatureMismatch},
		{"signed header", func(r *http.Request, b *[]byte) { r.Header.Set("X-Amz-Target", "x.DeleteCluster") }, nil, SignatureMismatch},
		{"unsigned header added is fine", func(r *http.Request, b *[]byte) { r.Header.Set("User-Agent", "other") }, nil, 0},
		{"query added", func(r *http.Request, b *[]byte) { r.URL.RawQuery = "a=1" }, nil, SignatureMismatch},
		{"path", func(r *http.Request, b *[]byte) { r.URL.Path = "/other" }, nil, SignatureMismatch},
		{"method", func(r *http.Request, b *[]byte) { r.Method = "PUT" }, nil, SignatureMismatch},
		{"host", func(r *http.Request, b *[]byte) { r.Host = "localhost:4567" }, nil, SignatureMismatch},
		{"wrong secret", func(r *http.Request, b *[]byte) {}, staticCreds{testAKID: {"other", testAccount}}, SignatureMismatch},
		{"unknown key", func(r *http.Request, b *[]byte) {}, staticCreds{}, UnrecognizedClient},
		{"date same day", func(r *http.Request, b *[]byte) { r.Header.Set("X-Amz-Date", "20261122T102200Z") }, nil, SignatureMismatch},
		{"date other day", func(r *http.Request, b *[]byte) {
			r.Header.Set("X-Amz-Date", "20261123T000000Z")
		}, nil, NotYetCurrent},
		{"signature flipped", func(r *http.Request, b *[]byte) {
			a := r.Header.Get("Authorization")
			last := a[len(a)-1]
			repl := byte('0')
			if last == '0' {
				repl = '1'
			}
			r.Header.Set("Authorization", a[:len(a)-1]+string(repl))
		}, nil, SignatureMismatch},
		{"signature short", func(r *http.Request, b *[]byte) {
			r.Header.Set("Authorization", r.Header.Get("Authorization")[:len(r.Header.Get("Authorization"))-2])
		}, nil, SignatureMismatch},
		{"content sha mismatch", func(r *http.Request, b *[]byte) { r.Header.Set("X-Amz-Content-Sha256", hashHex([]byte("x"))) }, nil, SignatureMismatch},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base.sign(t)
			body := []byte(base.body)
			tt.mutate(r, &body)
			v := newVerifier(signTime)
			if tt.creds != nil {
				v.Credentials = tt.creds
			}
			_, err := v.Verify(r, body)
			if tt.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantKind(t, err, tt.kind)
		})
	}
}

func TestVerifyScopeDate(t *testing.T) {
	r := okSpecs[0].sign(t)
	a := r.Header.Get("Authorization")
	r.Header.Set("Authorization", strings.Replace(a, "/20261122/", "/20261121/", 1))
	_, err := newVerifier(signTime).Verify(r, []byte(okSpecs[0].body))
	e := wantKind(t, err, SignatureMismatch)
	want := "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20261121' != '20261122', from '20261122T102100Z'."
	if e.Message != want {
		t.Fatalf("message = %q", e.Message)
	}
}

func TestVerifySkew(t *testing.T) {
	s := okSpecs[0]
	tests := []struct {
		offset time.Duration // now - signTime
		kind   Kind
		msg    string
	}{
		{0, 0, ""},
		{5 * time.Minute, 0, ""},
		{-5 * time.Minute, 0, ""},
		{5*time.Minute + 999*time.Millisecond, 0, ""}, // AWS works in whole seconds
		{5*time.Minute + time.Second, Expired,
			"Signature expired: 20261122T102100Z is now earlier than 20261122T102101Z (20261122T102601Z - 5 min.)"},
		{-5*time.Minute - time.Second, NotYetCurrent,
			"Signature not yet current: 20261122T102100Z is still later than 20261122T102059Z (20261122T101559Z + 5 min.)"},
		{11 * time.Minute, Expired,
			"Signature expired: 20261122T102100Z is now earlier than 20261122T102700Z (20261122T103200Z - 5 min.)"},
	}
	for _, tt := range tests {
		t.Run(tt.offset.String(), func(t *testing.T) {
			_, err := newVerifier(signTime.Add(tt.offset)).Verify(s.sign(t), []byte(s.body))
			if tt.kind == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if e := wantKind(t, err, tt.kind); e.Message != tt.msg {
				t.Fatalf("message\n got %q\nwant %q", e.Message, tt.msg)
			}
		})
	}
	t.Run("brief example", func(t *testing.T) {
		// Signed 10:15:00, server at 10:26:00.
		s2 := s
		r := s2.build(t)
		_ = v4.NewSigner().SignHTTP(context.Background(), s2.creds(), r, s2.payloadHash(), testService, testRegion,
			time.Date(2026, 11, 22, 10, 15, 0, 0, time.UTC))
		_, err := newVerifier(time.Date(2026, 11, 22, 10, 26, 0, 0, time.UTC)).Verify(r, []byte(s2.body))
		want := "Signature expired: 20261122T101500Z is now earlier than 20261122T102100Z (20261122T102600Z - 5 min.)"
		if e := wantKind(t, err, Expired); e.Message != want {
			t.Fatalf("got %q", e.Message)
		}
	})
	t.Run("custom MaxSkew", func(t *testing.T) {
		v := newVerifier(signTime.Add(14 * time.Minute))
		v.MaxSkew = 15 * time.Minute
		if _, err := v.Verify(s.sign(t), []byte(s.body)); err != nil {
			t.Fatal(err)
		}
		v.Now = func() time.Time { return signTime.Add(16 * time.Minute) }
		e := wantKind(t, func() error { _, err := v.Verify(s.sign(t), []byte(s.body)); return err }(), Expired)
		if !strings.HasSuffix(e.Message, "- 15 min.)") {
			t.Fatal(e.Message)
		}
	})
}

func TestVerifyMalformed(t *testing.T) {
	const cred = "Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request"
	const sh = "SignedHeaders=host;x-amz-date"
	const sig = "Signature=0000000000000000000000000000000000000000000000000000000000000000"
	tests := []struct {
		name    string
		auth    string
		date    string // X-Amz-Date; "-" = none
		query   string
		kind    Kind
		contain string
	}{
		{"no auth", "", "", "", MissingAuthentication, "Missing Authentication Token"},
		{"bearer", "Bearer abc.def", "", "", IncompleteSignature, "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization=Bearer abc.def"},
		{"no date either", "Bearer x", "-", "", IncompleteSignature, "requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=Bearer x"},
		{"algorithm only", "AWS4-HMAC-SHA256", "", "", IncompleteSignature, "requires 'Credential'"},
		{"missing credential", "AWS4-HMAC-SHA256 " + sh + ", " + sig, "", "", IncompleteSignature, "Authorization header requires 'Credential' parameter. Authorization="},
		{"missing signed headers", "AWS4-HMAC-SHA256 " + cred + ", " + sig, "", "", IncompleteSignature, "requires 'SignedHeaders'"},
		{"missing signature", "AWS4-HMAC-SHA256 " + cred + ", " + sh, "", "", IncompleteSignature, "requires 'Signature'"},
		{"sigv4a", "AWS4-ECDSA-P256-SHA256 " + cred + ", " + sh + ", " + sig, "", "", IncompleteSignature, "Unsupported AWS 'algorithm': 'AWS4-ECDSA-P256-SHA256'"},
		{"no equals", "AWS4-HMAC-SHA256 " + cred + ", junk, " + sh + ", " + sig, "", "", IncompleteSignature, "'junk' not a valid key=value pair (missing equal-sign)"},
		{"4-part credential", "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/aws4_request, " + sh + ", " + sig, "", "", IncompleteSignature, "Credential must have exactly 5 slash-delimited elements"},
		{"6-part credential", "AWS4-HMAC-SHA256 Credential=AKID/20261122/us-east-1/ecs/aws4_request/x, " + sh + ", " + sig, "", "", IncompleteSignature, "exactly 5"},
		{"empty region", "AWS4-HMAC-SHA256 Credential=AKID/20261122//ecs/aws4_request, " + sh + ", " + sig, "", "", IncompleteSignature, "exactly 5"},
		{"bad terminator", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws5_request, " + sh + ", " + sig, "", "", SignatureMismatch, "not 'aws5_request'"},
		{"bad date", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig, "2026-11-22T10:21:00Z", "", InvalidDate, "Date must be in ISO-8601 'basic format'. Got '2026-11-22T10:21:00Z'"},
		{"host not signed", "AWS4-HMAC-SHA256 " + cred + ", SignedHeaders=x-amz-date, " + sig, "", "", IncompleteSignature, "'Host' or ':authority' must be a 'SignedHeader'"},
		{"both forms", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig, "", "X-Amz-Algorithm=AWS4-HMAC-SHA256", IncompleteSignature, "Only one auth mechanism"},
		{"partial presign", "", "", "X-Amz-Signature=00", IncompleteSignature, "AWS query-string parameters must include"},
		{"presign bad alg", "", "", "X-Amz-Algorithm=AWS4-X&X-Amz-Credential=a&X-Amz-Signature=b&X-Amz-Date=c&X-Amz-SignedHeaders=host", IncompleteSignature, "Unsupported AWS 'algorithm': 'AWS4-X'"},
		{"presign expires nan", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261122%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Signature=b&X-Amz-Date=20261122T102100Z&X-Amz-SignedHeaders=host&X-Amz-Expires=soon", IncompleteSignature, "X-Amz-Expires should be a number"},
		{"presign expires week", "", "", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261122%2Fus-east-1%2Fecs%2Faws4_request&X-Amz-Signature=b&X-Amz-Date=20261122T102100Z&X-Amz-SignedHeaders=host&X-Amz-Expires=604801", IncompleteSignature, "less than a week"},
		{"streaming payload", "AWS4-HMAC-SHA256 " + cred + ", " + sh + ", " + sig, "", "", IncompleteSignature, "STREAMING"},
		{"commas no spaces ok until signature", "AWS4-HMAC-SHA256 " + cred + "," + sh + "," + sig, "", "", SignatureMismatch, "does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "http://localhost:4566/?"+tt.query, strings.NewReader("{}"))
			if tt.auth != "" {
				r.Header.Set("Authorization", tt.auth)
			}
			switch tt.date {
			case "":
				r.Header.Set("X-Amz-Date", "20261122T102100Z")
			case "-":
			default:
				r.Header.Set("X-Amz-Date", tt.date)
			}
			if tt.name == "streaming payload" {
				r.Header.Set("X-Amz-Content-Sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD")
			}
			_, err := newVerifier(signTime).Verify(r, []byte("{}"))
			e := wantKind(t, err, tt.kind)
			if !strings.Contains(e.Message, tt.contain) {
				t.Fatalf("message %q does not contain %q", e.Message, tt.contain)
			}
		})
	}
}

func TestDateHeaderForm(t *testing.T) {
	// Hand-built: the SDKs always send X-Amz-Date, but AWS accepts Date.
	r := httptest.NewRequest("GET", "http://localhost:4566/", nil)
	r.Header.Set("Date", signTime.Format(http.TimeFormat))
	canon := "GET\n/\n\ndate:" + signTime.Format(http.TimeFormat) + "\nhost:localhost:4566\n\ndate;host\n" + hashHex(nil)
	sts := "AWS4-HMAC-SHA256\n20261122T102100Z\n20261122/us-east-1/ecs/aws4_request\n" + hashHex([]byte(canon))
	key := deriveKey(testSecret, "20261122", testRegion, testService)
	mac := hmacHex(key[:], sts)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=date;host, Signature="+mac)
	if _, err := newVerifier(signTime).Verify(r, nil); err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Date", "yesterday")
	_, err := newVerifier(signTime).Verify(r, nil)
	wantKind(t, err, InvalidDate)
}

func TestErrorCodes(t *testing.T) {
	tests := []struct {
		kind                  Kind
		json, query           string
		jsonStatus, qryStatus int
	}{
		{MissingAuthentication, "MissingAuthenticationTokenException", "MissingAuthenticationToken", 400, 403},
		{IncompleteSignature, "IncompleteSignatureException", "IncompleteSignature", 400, 400},
		{InvalidDate, "IncompleteSignatureException", "IncompleteSignature", 400, 400},
		{UnrecognizedClient, "UnrecognizedClientException", "InvalidClientTokenId", 400, 403},
		{SignatureMismatch, "InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
		{Expired, "InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
		{NotYetCurrent, "InvalidSignatureException", "SignatureDoesNotMatch", 400, 403},
	}
	for _, tt := range tests {
		e := &Error{Kind: tt.kind}
		if got := e.Code(false); got != tt.json {
			t.Errorf("%v json code = %s", tt.kind, got)
		}
		if got := e.Code(true); got != tt.query {
			t.Errorf("%v query code = %s", tt.kind, got)
		}
		if got := e.HTTPStatus(false); got != tt.jsonStatus {
			t.Errorf("%v json status = %d", tt.kind, got)
		}
		if got := e.HTTPStatus(true); got != tt.qryStatus {
			t.Errorf("%v query status = %d", tt.kind, got)
		}
		if !strings.Contains(e.Error(), tt.kind.String()) {
			t.Errorf("Error() = %q", e.Error())
		}
	}
}

func TestBotocoreFlavorPath(t *testing.T) {
	// botocore signs the normalized path; the wire keeps the original.
	r := httptest.NewRequest("GET", "http://localhost:4566/a//b/./c/../d", nil)
	r.Header.Set("X-Amz-Date", "20261122T102100Z")
	r.Header.Set("X-Tab", "a\t\tb")
	canon := "GET\n/a/b/d\n\nhost:localhost:4566\nx-amz-date:20261122T102100Z\nx-tab:a b\n\nhost;x-amz-date;x-tab\n" + hashHex(nil)
	sts := "AWS4-HMAC-SHA256\n20261122T102100Z\n20261122/us-east-1/ecs/aws4_request\n" + hashHex([]byte(canon))
	key := deriveKey(testSecret, "20261122", testRegion, testService)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date;x-tab, Signature="+hmacHex(key[:], sts))
	if _, err := newVerifier(signTime).Verify(r, nil); err != nil {
		t.Fatal(err)
	}
}

func TestKeyCacheBounded(t *testing.T) {
	v := newVerifier(signTime)
	for i := 0; i < keyCacheMax+50; i++ {
		v.keys.get(testSecret, "20261122", "region-"+strconv.Itoa(i), "ecs")
	}
	if n := v.keys.len(); n > keyCacheMax {
		t.Fatalf("cache holds %d keys, max %d", n, keyCacheMax)
	}
	a := v.keys.get(testSecret, "20261122", testRegion, testService)
	if b := deriveKey(testSecret, "20261122", testRegion, testService); a != b {
		t.Fatal("cached key differs from derived key")
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newVerifier(signTime)
	reqs := make([]*http.Request, len(okSpecs))
	for i, s := range okSpecs {
		reqs[i] = s.sign(t)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < 50; n++ {
				i := (g + n) % len(okSpecs)
				if _, err := v.Verify(reqs[i], []byte(okSpecs[i].body)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestVerifyAllocations(t *testing.T) {
	if testing.Short() {
		t.Skip()
	}
	s := okSpecs[0]
	r := s.sign(t)
	body := []byte(s.body)
	v := newVerifier(signTime)
	if _, err := v.Verify(r, body); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(200, func() {
		if _, err := v.Verify(r, body); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Fatalf("Verify allocates %.1f times per call, want <= 2", allocs)
	}
}

func BenchmarkVerify(b *testing.B) {
	for _, s := range []reqSpec{okSpecs[0], okSpecs[3]} {
		b.Run(s.name, func(b *testing.B) {
			r := s.sign(b)
			body := []byte(s.body)
			v := newVerifier(signTime)
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := v.Verify(r, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// hmacHex signs independently of the package's hand-written HMAC.
func hmacHex(key []byte, msg string) string {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return hex.EncodeToString(h.Sum(nil))
}
