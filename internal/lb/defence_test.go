package lb

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// rawExchange sends raw bytes and returns what the server answers until it
// closes or goes quiet.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(c)
	return string(b)
}

func lbWithBackend(t *testing.T, mc ManagerConfig, idle time.Duration) (string, *backend) {
	t.Helper()
	a := newBackend(t, "a")
	m := newManager(t, mc)
	port := freePort(t)
	tg := tgOf("tg", a)
	tg.HealthCheck.Enabled = false
	apply(t, m, oneLB(port, idle, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tg))
	return "127.0.0.1:" + strconv.Itoa(port), a
}

func TestRequestSmuggling(t *testing.T) {
	addr, a := lbWithBackend(t, ManagerConfig{}, 0)
	tests := []struct {
		name, req, status string
		reachesTarget     bool
	}{
		{"content-length and chunked",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
			"HTTP/1.1 400 ", false},
		{"chunked and content-length, other case",
			"POST / HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 30\r\n\r\n0\r\n\r\n",
			"HTTP/1.1 400 ", false},
		{"two different content-lengths",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
			"HTTP/1.1 400 ", false},
		{"obfuscated transfer-encoding",
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n",
			"HTTP/1.1 501 ", false},
		{"two transfer-encodings",
			"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n\r\n0\r\n\r\n",
			"HTTP/1.1 501 ", false},
		{"space before colon",
			"POST / HTTP/1.1\r\nHost: x\r\nContent-Length : 4\r\n\r\nabcd",
			"HTTP/1.1 400 ", false},
		{"chunked alone is fine",
			"POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
			"HTTP/1.1 200 ", true},
		{"content-length alone is fine",
			"POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd",
			"HTTP/1.1 200 ", true},
		{"keep-alive: content-length then chunked",
			"POST /l HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcdPOST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nabcd\r\n0\r\n\r\n",
			"HTTP/1.1 200 ", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := a.hits.Load()
			got := rawExchange(t, addr, tc.req)
			if !strings.HasPrefix(got, tc.status) {
				t.Fatalf("answer %q, want %q", got, tc.status)
			}
			if strings.Contains(got, "smuggled") {
				t.Fatalf("smuggled request answered: %q", got)
			}
			if reached := a.hits.Load() > before; reached != tc.reachesTarget {
				t.Fatalf("reached target %v, want %v: %q", reached, tc.reachesTarget, got)
			}
			if tc.reachesTarget && !strings.Contains(got, "abcd") {
				t.Errorf("body lost: %q", got)
			}
		})
	}
	if n := strings.Count(rawExchange(t, addr, tests[8].req), "HTTP/1.1 200 "); n != 2 {
		t.Errorf("pipelined requests answered %d times, want 2", n)
	}
}

func TestSlowlorisAndHeaderLimits(t *testing.T) {
	addr, _ := lbWithBackend(t, ManagerConfig{ReadHeaderTimeout: 300 * time.Millisecond, MaxHeaderBytes: 8 << 10}, 0)
	// A client that trickles its headers is cut off.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n")
	closed := make(chan time.Duration, 1)
	go func() {
		buf := make([]byte, 1024)
		for {
			if _, err := c.Read(buf); err != nil {
				closed <- time.Since(start)
				return
			}
		}
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var took time.Duration
loop:
	for i := 0; ; i++ {
		select {
		case took = <-closed:
			break loop
		case <-tick.C:
			io.WriteString(c, "X-Slow-"+strconv.Itoa(i)+": y\r\n")
		case <-time.After(5 * time.Second):
			t.Fatal("slow client kept its connection for 5s")
		}
	}
	if took > 2*time.Second {
		t.Errorf("slow client cut off after %v", took)
	}

	// Oversized headers: 431.
	big := "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 20<<10) + "\r\n\r\n"
	if got := rawExchange(t, addr, big); !strings.HasPrefix(got, "HTTP/1.1 431 ") {
		t.Errorf("oversized header: %.60q", got)
	}
	// Garbage.
	if got := rawExchange(t, addr, "\x16\x03\x01garbage\r\n\r\n"); !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("garbage: %.60q", got)
	}
}

func selfSigned(t *testing.T, names ...string) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestHTTPSAndHTTP2(t *testing.T) {
	a := newBackend(t, "a")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	cfg := oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tgOf("tg", a))
	l := &cfg.LoadBalancers[0].Listeners[0]
	l.Protocol = "HTTPS"
	l.Certificates = []tls.Certificate{selfSigned(t, "default.example"), selfSigned(t, "api.example")}
	apply(t, m, cfg)
	waitHealth(t, m, "tg", map[int]string{a.port: StateHealthy})

	for _, sni := range []string{"default.example", "api.example"} {
		tr := &http.Transport{ForceAttemptHTTP2: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true, ServerName: sni}}
		c := &http.Client{Transport: tr}
		resp, body := get(t, c, "https://127.0.0.1:"+strconv.Itoa(port)+"/s")
		tr.CloseIdleConnections()
		if resp.StatusCode != 200 || !strings.HasPrefix(body, "a /s") {
			t.Fatalf("%s: %d %q", sni, resp.StatusCode, body)
		}
		if resp.Proto != "HTTP/2.0" {
			t.Errorf("%s: protocol %s, want HTTP/2.0", sni, resp.Proto)
		}
		if got := resp.TLS.PeerCertificates[0].Subject.CommonName; got != sni {
			t.Errorf("certificate for %s: %s", sni, got)
		}
		if resp.Header.Get("Seen-X-Forwarded-Proto") != "https" {
			t.Errorf("X-Forwarded-Proto %q", resp.Header.Get("Seen-X-Forwarded-Proto"))
		}
	}
}

func TestHTTPS11AndSmugglingOverTLS(t *testing.T) {
	a := newBackend(t, "a")
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	tg := tgOf("tg", a)
	tg.HealthCheck.Enabled = false
	cfg := oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tg)
	l := &cfg.LoadBalancers[0].Listeners[0]
	l.Protocol, l.Certificates = "HTTPS", []tls.Certificate{selfSigned(t, "lb.example")}
	apply(t, m, cfg)
	exchange := func(req string) string {
		c, err := tls.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if p := c.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
			t.Fatalf("ALPN %q", p)
		}
		io.WriteString(c, req)
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		b, _ := io.ReadAll(c)
		return string(b)
	}
	got := exchange("GET /t HTTP/1.1\r\nHost: lb.example\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 200 ") || !strings.Contains(got, "Seen-X-Forwarded-Proto: https") {
		t.Errorf("HTTPS/1.1: %q", got)
	}
	got = exchange("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") {
		t.Errorf("smuggling over TLS: %q", got)
	}
}

func TestWebSocketUpgrade(t *testing.T) {
	// A target that switches protocols and echoes lines.
	ws := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		if !strings.EqualFold(r.Header.Get("Upgrade"), "websocket") {
			http.Error(w, "want upgrade", 400)
			return
		}
		c, brw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			return
		}
		defer c.Close()
		io.WriteString(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n")
		for {
			line, err := brw.ReadString('\n')
			if err != nil {
				return
			}
			io.WriteString(c, "echo "+line)
		}
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go ws.Serve(ln)
	t.Cleanup(func() { ws.Close() })
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	tg := TargetGroup{ARN: "tg", Protocol: "HTTP", HealthCheck: fastHC(),
		Targets: []Target{{ID: "127.0.0.1", Addr: loopback, Port: ln.Addr().(*net.TCPAddr).Port}}}
	apply(t, m, oneLB(port, 0, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tg))
	waitHealth(t, m, "tg", map[int]string{tg.Targets[0].Port: StateHealthy})

	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(c, "GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 101 {
		t.Fatalf("upgrade: %d", resp.StatusCode)
	}
	for _, msg := range []string{"hello\n", "again\n"} {
		io.WriteString(c, msg)
		got, err := br.ReadString('\n')
		if err != nil || got != "echo "+msg {
			t.Fatalf("echo of %q: %q %v", msg, got, err)
		}
	}
}

func TestHTTP1Server(t *testing.T) {
	a := newBackend(t, "a")
	chunky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		w.Header().Set("X-Kind", "chunked")
		io.WriteString(w, "part1;")
		w.(http.Flusher).Flush()
		io.WriteString(w, "part2")
	}))
	defer chunky.Close()
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	tgA := tgOf("tg", a)
	tgA.HealthCheck.Enabled = false
	tgC := TargetGroup{ARN: "tg-c", Protocol: "HTTP", HealthCheck: HealthCheck{},
		Targets: []Target{{ID: "127.0.0.1", Addr: loopback, Port: chunky.Listener.Addr().(*net.TCPAddr).Port}}}
	apply(t, m, oneLB(port, 500*time.Millisecond, []Rule{
		{ARN: "r1", Priority: 1, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/chunky"}}}, Actions: forwardTo("tg-c")},
		{ARN: "r2", Priority: 2, Conditions: []Condition{{Field: "path-pattern", Values: []string{"/go/*"}}},
			Actions: []Action{{Type: "redirect", Redirect: &Redirect{Host: "example.com", Path: "/#{path}", StatusCode: 302}}}},
		{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tgA, tgC))
	addr := "127.0.0.1:" + strconv.Itoa(port)

	for _, tc := range []struct{ name, req, want string }{
		{"http/1.0", "GET /x HTTP/1.0\r\n\r\n", "HTTP/1.1 200 OK"},
		{"missing host", "GET / HTTP/1.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 400 "},
		{"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n", "HTTP/1.1 400 "},
		{"bad host", "GET / HTTP/1.1\r\nHost: a b\r\nConnection: close\r\n\r\n", "HTTP/1.1 400 "},
		{"control char", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\nConnection: close\r\n\r\n", "HTTP/1.1 400 "},
		{"http/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "HTTP/1.1 505 "},
		{"expect", "POST /e HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\nabcd", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"},
		{"bad expect", "POST /e HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 4\r\n\r\nabcd", "HTTP/1.1 417 "},
		{"head", "HEAD /h HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
		{"chunked from target", "GET /chunky HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n", "HTTP/1.1 200 OK"},
	} {
		got := rawExchange(t, addr, tc.req)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: %.120q, want %q", tc.name, got, tc.want)
		}
		switch tc.name {
		case "http/1.0":
			if !strings.Contains(got, "a /x ") {
				t.Errorf("http/1.0 body: %q", got)
			}
		case "expect":
			if !strings.HasSuffix(got, "a /e abcd") {
				t.Errorf("expect body: %q", got)
			}
		case "head":
			if !strings.Contains(got, "Content-Length: ") || strings.Contains(got, "a /h") {
				t.Errorf("HEAD answer: %q", got)
			}
		case "chunked from target":
			if !strings.Contains(got, "Transfer-Encoding: chunked") || !strings.Contains(got, "part1;") || !strings.Contains(got, "part2") ||
				!strings.HasSuffix(got, "0\r\n\r\n") {
				t.Errorf("chunked answer: %q", got)
			}
		}
	}

	// A decoded CR LF in the path cannot split the redirect's headers.
	got := rawExchange(t, addr, "GET /go/x%0d%0aSet-Cookie:%20evil=1 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
	if !strings.HasPrefix(got, "HTTP/1.1 302 ") || strings.Contains(got, "\r\nSet-Cookie: evil") {
		t.Errorf("redirect with CR LF in the path: %q", got)
	}

	// An idle keep-alive connection is closed after the idle timeout.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: a\r\n\r\n")
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("keep-alive request: %v %v", resp, err)
	}
	io.Copy(io.Discard, resp.Body)
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := br.ReadByte(); err == nil || time.Since(start) > 2*time.Second {
		t.Errorf("idle connection: %v after %v, want closed after 500ms", err, time.Since(start))
	}
}

func TestApplyReopensOnProtocolAndIdleChange(t *testing.T) {
	m := newManager(t, ManagerConfig{DrainTimeout: 200 * time.Millisecond})
	port := freePort(t)
	fixed := []Rule{{ARN: "default", IsDefault: true, Actions: []Action{{Type: "fixed-response", Fixed: &FixedResponse{StatusCode: 200, Body: "hi"}}}}}
	cfg := oneLB(port, time.Second, fixed)
	apply(t, m, cfg)
	url := "127.0.0.1:" + strconv.Itoa(port)
	if _, body := get(t, http.DefaultClient, "http://"+url+"/"); body != "hi" {
		t.Fatalf("http: %q", body)
	}
	// Same port, now HTTPS.
	l := &cfg.LoadBalancers[0].Listeners[0]
	l.Protocol, l.Certificates = "HTTPS", []tls.Certificate{selfSigned(t, "x")}
	apply(t, m, cfg)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	if _, body := get(t, c, "https://"+url+"/"); body != "hi" {
		t.Fatalf("https: %q", body)
	}
	// New idle timeout: reopened, still serving.
	cfg.LoadBalancers[0].IdleTimeout = 2 * time.Second
	apply(t, m, cfg)
	if _, body := get(t, c, "https://"+url+"/"); body != "hi" {
		t.Fatalf("after the idle timeout changed: %q", body)
	}
}

func TestClientThatStopsReadingIsCutOff(t *testing.T) {
	big := strings.Repeat("x", 8<<20)
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, big)
	}))
	defer target.Close()
	m := newManager(t, ManagerConfig{})
	port := freePort(t)
	tg := TargetGroup{ARN: "tg", Protocol: "HTTP", Targets: []Target{{ID: "127.0.0.1", Addr: loopback, Port: target.Listener.Addr().(*net.TCPAddr).Port}}}
	apply(t, m, oneLB(port, 300*time.Millisecond, []Rule{{ARN: "default", IsDefault: true, Actions: forwardTo("tg")}}, tg))
	c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096)
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	// It never reads: after about an idle timeout without progress the load
	// balancer gives up on it and closes its side.
	h1 := m.listeners["127.0.0.1:"+strconv.Itoa(port)].h1
	open := func() int {
		h1.mu.Lock()
		defer h1.mu.Unlock()
		return len(h1.conns)
	}
	time.Sleep(100 * time.Millisecond)
	if open() != 1 {
		t.Fatalf("%d client connections, want 1", open())
	}
	deadline := time.Now().Add(3 * time.Second)
	for open() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that stopped reading still holds its connection after 10 idle timeouts")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
