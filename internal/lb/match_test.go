package lb

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strings"
	"testing"
)

func TestWildcard(t *testing.T) {
	tests := []struct {
		pattern, s string
		fold, want bool
	}{
		{"/api/*", "/api/users", false, true},
		{"/api/*", "/api/", false, true},
		{"/api/*", "/api", false, false},
		{"/API/*", "/api/x", false, false}, // paths are case-sensitive
		{"*.example.com", "www.example.com", true, true},
		{"*.example.com", "WWW.Example.COM", true, true},
		{"*.example.com", "example.com", true, false},
		{"?.example.com", "a.example.com", true, true},
		{"?.example.com", "ab.example.com", true, false},
		{"/img/*.png", "/img/a/b.png", false, true},
		{"/img/*.png", "/img/a/b.jpg", false, false},
		{"*", "", false, true},
		{"", "", false, true},
		{"", "x", false, false},
		{"a*b*c", "aXXbYYc", false, true},
		{"a*b*c", "aXXbYY", false, false},
		{"*a*a*a*a*a*b", strings.Repeat("a", 60), false, false},
		{"/exact", "/exact", false, true},
		{"/exact", "/exact/", false, false},
	}
	for _, tc := range tests {
		if got := wildcard(tc.pattern, tc.s, tc.fold); got != tc.want {
			t.Errorf("wildcard(%q, %q, fold=%v) = %v, want %v", tc.pattern, tc.s, tc.fold, got, tc.want)
		}
	}
}

// FuzzWildcard checks the matcher against a regular expression built from
// the same pattern.
func FuzzWildcard(f *testing.F) {
	for _, s := range [][2]string{{"/api/*", "/api/x"}, {"*.ex?mple.com", "A.example.com"}, {"a*b?c*", "aXbYcZ"}, {"**", ""}} {
		f.Add(s[0], s[1], true)
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, pattern, s string, fold bool) {
		if len(pattern) > 64 || len(s) > 128 {
			return
		}
		var re strings.Builder
		re.WriteString(`(?s)^`)
		if fold {
			// ALB folds ASCII only.
			for _, r := range pattern {
				if r >= 0x80 || r == 'k' || r == 'K' || r == 's' || r == 'S' {
					return // regexp's (?i) folds Unicode (K -> Kelvin sign)
				}
			}
			re.WriteString(`(?i)`)
		}
		for i := 0; i < len(pattern); i++ {
			switch pattern[i] {
			case '*':
				re.WriteString(`(?:.|\n)*`)
			case '?':
				re.WriteString(`[\x00-\xff]`)
			default:
				re.WriteString(regexp.QuoteMeta(string(pattern[i])))
			}
		}
		re.WriteString(`$`)
		// Compare byte-wise: latin1 view of both.
		rx, err := regexp.Compile(strings.ReplaceAll(re.String(), `[\x00-\xff]`, `(?:.|\n)`))
		if err != nil {
			return
		}
		if !isASCII(pattern) || !isASCII(s) {
			_ = wildcard(pattern, s, fold) // must not panic or hang
			return
		}
		want := rx.MatchString(s)
		if got := wildcard(pattern, s, fold); got != want {
			t.Fatalf("wildcard(%q, %q, %v) = %v, regexp %s says %v", pattern, s, fold, got, rx, want)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func TestConditions(t *testing.T) {
	req := func(method, target, host string, hdr map[string]string) *http.Request {
		r := httptest.NewRequest(method, target, nil)
		r.Host = host
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		return r
	}
	src := netip.MustParseAddr("10.0.1.7")
	tests := []struct {
		name string
		c    Condition
		r    *http.Request
		want bool
	}{
		{"host exact", Condition{Field: "host-header", Values: []string{"api.example.com"}}, req("GET", "/", "api.example.com:8080", nil), true},
		{"host case", Condition{Field: "host-header", Values: []string{"API.example.com"}}, req("GET", "/", "api.EXAMPLE.com", nil), true},
		{"host wildcard", Condition{Field: "host-header", Values: []string{"*.example.com"}}, req("GET", "/", "a.b.example.com", nil), true},
		{"host other", Condition{Field: "host-header", Values: []string{"*.example.com"}}, req("GET", "/", "example.org", nil), false},
		{"host any of", Condition{Field: "host-header", Values: []string{"x.com", "y.com"}}, req("GET", "/", "y.com", nil), true},
		{"path", Condition{Field: "path-pattern", Values: []string{"/api/*"}}, req("GET", "/api/v1?x=1", "h", nil), true},
		{"path case", Condition{Field: "path-pattern", Values: []string{"/api/*"}}, req("GET", "/API/v1", "h", nil), false},
		{"path ignores query", Condition{Field: "path-pattern", Values: []string{"/a"}}, req("GET", "/a?b=c", "h", nil), true},
		{"path ?", Condition{Field: "path-pattern", Values: []string{"/v?/x"}}, req("GET", "/v2/x", "h", nil), true},
		{"header", Condition{Field: "http-header", HeaderName: "user-agent", Values: []string{"*Mobile*"}}, req("GET", "/", "h", map[string]string{"User-Agent": "x mobile y"}), true},
		{"header missing", Condition{Field: "http-header", HeaderName: "X-Env", Values: []string{"*"}}, req("GET", "/", "h", nil), false},
		{"method", Condition{Field: "http-request-method", Values: []string{"POST", "PUT"}}, req("PUT", "/", "h", nil), true},
		{"method case", Condition{Field: "http-request-method", Values: []string{"post"}}, req("POST", "/", "h", nil), false},
		{"query kv", Condition{Field: "query-string", Query: []KeyValue{{Key: "version", Value: "v1"}}}, req("GET", "/?version=V1", "h", nil), true},
		{"query value only", Condition{Field: "query-string", Query: []KeyValue{{Value: "beta*"}}}, req("GET", "/?a=1&b=beta2", "h", nil), true},
		{"query encoded", Condition{Field: "query-string", Query: []KeyValue{{Key: "q", Value: "a%20b"}}}, req("GET", "/?q=a+b", "h", nil), true},
		{"query miss", Condition{Field: "query-string", Query: []KeyValue{{Key: "version", Value: "v1"}}}, req("GET", "/?version=v2", "h", nil), false},
		{"source in", Condition{Field: "source-ip", Values: []string{"10.0.0.0/16"}}, req("GET", "/", "h", nil), true},
		{"source out", Condition{Field: "source-ip", Values: []string{"192.168.0.0/16", "10.0.2.0/24"}}, req("GET", "/", "h", nil), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := compileCondition(tc.c)
			if err != nil {
				t.Fatal(err)
			}
			if got := m(tc.r, src); got != tc.want {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
	for _, bad := range []Condition{{Field: "nope"}, {Field: "source-ip", Values: []string{"x"}}, {Field: "http-header"}, {Field: "query-string"}} {
		if _, err := compileCondition(bad); err == nil {
			t.Errorf("compileCondition(%+v) accepted", bad)
		}
	}
}

func TestRuleOrder(t *testing.T) {
	fixed := func(body string) []Action {
		return []Action{{Type: "fixed-response", Fixed: &FixedResponse{StatusCode: 200, Body: body}}}
	}
	rules, err := compileRules([]Rule{
		{ARN: "r1", Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/a/*"}}, {Field: "http-request-method", Values: []string{"POST"}}}, Actions: fixed("one")},
		{ARN: "r2", Priority: 2, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/a/*"}}}, Actions: fixed("two")},
		{ARN: "def", IsDefault: true, Actions: fixed("default")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/a/x", "one"}, {"GET", "/a/x", "two"}, {"POST", "/b", "default"},
	} {
		r := httptest.NewRequest(tc.method, tc.path, nil)
		got := ""
		for _, cr := range rules {
			if cr.matches(r, netip.Addr{}) {
				got = cr.action.Fixed.Body
				break
			}
		}
		if got != tc.want {
			t.Errorf("%s %s: rule %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}

func TestRedirectLocation(t *testing.T) {
	tests := []struct {
		rd                            Redirect
		scheme, host, port, path, qry string
		want                          string
	}{
		{Redirect{Protocol: "HTTPS", Port: "443"}, "http", "ex.com", "80", "/a/b", "x=1", "https://ex.com/a/b?x=1"},
		{Redirect{}, "http", "ex.com", "8080", "/", "", "http://ex.com:8080/"},
		{Redirect{Host: "new.#{host}", Path: "/v2/#{path}", Query: "#{query}&r=1"}, "http", "ex.com", "80", "/p", "a=b", "http://new.ex.com/v2/p?a=b&r=1"},
		{Redirect{Protocol: "#{protocol}", Port: "#{port}", Path: "/#{path}"}, "https", "h", "443", "/x", "", "https://h/x"},
	}
	for _, tc := range tests {
		if got := redirectLocation(&tc.rd, tc.scheme, tc.host, tc.port, tc.path, tc.qry); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.rd, got, tc.want)
		}
	}
}

func TestTraceID(t *testing.T) {
	re := regexp.MustCompile(`^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$`)
	if id := traceID("", timeNow()); !re.MatchString(id) {
		t.Errorf("new trace id %q", id)
	}
	prior := "Root=1-67891233-abcdef012345678912345678"
	id := traceID(prior, timeNow())
	if !regexp.MustCompile(`^Self=1-[0-9a-f]{8}-[0-9a-f]{24};` + prior + `$`).MatchString(id) {
		t.Errorf("trace id with prior root %q", id)
	}
}

// FuzzScanConn checks the smuggling scanner: however the bytes are cut
// into reads, it flags exactly the heads (blocks ended by an empty line)
// that hold both a Content-Length and a Transfer-Encoding line, or two
// Host lines.
func FuzzScanConn(f *testing.F) {
	f.Add("POST / HTTP/1.1\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n", 10)
	f.Add("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 3)
	f.Add("GET / HTTP/1.1\r\nContent-Length: 1\r\n\r\nGET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 40)
	f.Fuzz(func(t *testing.T, data string, cut int) {
		if len(data) > 4096 {
			return
		}
		// Reference: whole lines, the first 20 bytes of each.
		want := false
		cl, te, hosts := false, false, 0
		lines := strings.SplitAfter(data, "\n")
		for _, l := range lines {
			if !strings.HasSuffix(l, "\n") {
				break // unfinished line
			}
			head := strings.ToLower(l[:min(len(l), 20)])
			switch {
			case l == "\n" || l == "\r\n":
				if cl && te || hosts > 1 {
					want = true
				}
				cl, te, hosts = false, false, 0
			case strings.HasPrefix(head, "content-length:"):
				cl = true
			case strings.HasPrefix(head, "transfer-encoding:"):
				te = true
			case strings.HasPrefix(head, "host:"):
				hosts++
			}
		}
		c := newScanConn(nil)
		if cut < 0 {
			cut = -cut
		}
		if len(data) > 0 {
			cut %= len(data) + 1
		} else {
			cut = 0
		}
		c.scan([]byte(data[:cut]))
		c.scan([]byte(data[cut:]))
		if got := c.conflict(); got != want {
			t.Fatalf("scan(%q | %q) = %v, want %v", data[:cut], data[cut:], got, want)
		}
	})
}
