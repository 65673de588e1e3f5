package sigv4

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseAuthorization(f *testing.F) {
	for _, s := range []string{
		"",
		"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature=abcd",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e,SignedHeaders=host,Signature=00",
		"AWS4-HMAC-SHA256 Credential=,SignedHeaders=,Signature=",
		"AWS4-HMAC-SHA256   Credential==x, , ,Signature",
		"AWS4-ECDSA-P256-SHA256 Credential=x",
		"Bearer eyJhbGciOiJIUzI1NiJ9.e30.abc",
		"AWS AKID:c2lnbmF0dXJl",
		"\tAWS4-HMAC-SHA256\tCredential=a/b/c/d/e\tSignedHeaders=host\tSignature=x",
		"AWS4-HMAC-SHA256 Credential=a/b/c/d/e, junk, SignedHeaders=host, Signature=x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		p, err := parseAuthorizationParams(h, true)
		cred, sh, sig := p.credential, p.signedHeaders, p.signature
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Kind != IncompleteSignature || e.Message == "" {
				t.Fatalf("bad error %#v", err)
			}
			return
		}
		if cred == "" || sh == "" || sig == "" {
			t.Fatalf("nil error with empty part: %q %q %q", cred, sh, sig)
		}
		splitCredential(cred)
	})
}

// FuzzVerify feeds arbitrary Authorization headers, paths, queries, header
// values and bodies through Verify: it must never panic and must only
// return *Error values with a message.
func FuzzVerify(f *testing.F) {
	// Seed with a real signed request's parts so the fuzzer starts deep.
	s := okSpecs[0]
	r := s.sign(f)
	f.Add(r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date"), "/", "", "x.y", s.body)
	f.Add(r.Header.Get("Authorization"), "20261122T102100Z", "/a//./../b%zz", "a=%&b=+;c&&=", "a\t\tb", "")
	f.Add("", "", "/", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=a%2Fb%2Fc%2Fd%2Fe&X-Amz-Date=20261122T102100Z&X-Amz-SignedHeaders=host&X-Amz-Signature=00&X-Amz-Expires=-1", "", "")
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261122/us-east-1/ecs/aws4_request, SignedHeaders=host;;x-y;HOST, Signature=zz", "20261122T102100Z", "", "%", "", "")
	v := newVerifier(signTime)
	f.Fuzz(func(t *testing.T, auth, date, path, query, hval, body string) {
		req := &http.Request{
			Method:     "POST",
			URL:        &url.URL{Path: path, RawPath: path, RawQuery: query},
			RequestURI: "/" + strings.TrimPrefix(path, "/") + "?" + query,
			Host:       "localhost:4566",
			Header:     http.Header{},
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if date != "" {
			req.Header.Set("X-Amz-Date", date)
		}
		req.Header.Set("X-Amz-Target", hval)
		_, err := v.Verify(req, []byte(body))
		if err == nil {
			return // only possible with a valid signature, e.g. the seed's
		}
		var e *Error
		if !errors.As(err, &e) || e.Message == "" {
			t.Fatalf("non-*Error or empty message: %#v", err)
		}
	})
}
