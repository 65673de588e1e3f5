package lb

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/fnv"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"
)

// listenerState is what a listener serves; Apply swaps it whole, in place,
// so open connections keep going with the new rules.
type listenerState struct {
	lbARN   string
	cfg     Listener
	scheme  string // "http" or "https"
	port    string
	rules   []compiledRule
	groups  map[string]*group
	proxy   *httputil.ReverseProxy
	pool    *connPool
	idle    time.Duration
	nowFunc func() time.Time
}

// Cookie names of ALB's stickiness.
const (
	cookieTarget      = "AWSALB"
	cookieTargetCORS  = "AWSALBCORS"
	cookieGroup       = "AWSALBTG"
	cookieGroupCORS   = "AWSALBTGCORS"
	serverHeaderValue = "awselb/2.0"
)

// ServeHTTP is the listener's handler.
func (l *listener) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	st := l.state.Load()
	src := remoteAddr(r)
	for i := range st.rules {
		cr := &st.rules[i]
		if !cr.matches(r, src) {
			continue
		}
		switch a := cr.action; a.Type {
		case "forward":
			st.forward(w, r, a.Forward)
		case "redirect":
			st.redirect(w, r, a.Redirect)
		case "fixed-response":
			fixedResponse(w, a.Fixed)
		}
		return
	}
	errorPage(w, http.StatusServiceUnavailable)
}

func remoteAddr(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// forward proxies the request to a target of one of the action's groups.
func (st *listenerState) forward(w http.ResponseWriter, r *http.Request, f *Forward) {
	g := st.chooseGroup(w, r, f)
	if g == nil {
		errorPage(w, http.StatusServiceUnavailable)
		return
	}
	var t *target
	sel := g.sel.Load()
	stick := sel.stickiness
	if stick > 0 {
		if c, err := r.Cookie(cookieTarget); err == nil {
			if host, ok := decodeSticky(g.arn, c.Value); ok {
				t = g.sticky(host)
			}
		}
	}
	if t == nil {
		t = g.pick()
	}
	if t == nil {
		errorPage(w, http.StatusServiceUnavailable)
		return
	}
	if stick > 0 {
		v := encodeSticky(g.arn, t.host)
		exp := st.nowFunc().Add(stick).UTC().Format(http.TimeFormat)
		w.Header().Add("Set-Cookie", cookieTarget+"="+v+"; Expires="+exp+"; Path=/")
		w.Header().Add("Set-Cookie", cookieTargetCORS+"="+v+"; Expires="+exp+"; Path=/; SameSite=None; Secure")
	}
	r.URL.Scheme = sel.scheme
	r.URL.Host = t.host
	if r.URL.Scheme == "http" && r.Header["Upgrade"] == nil {
		st.fastForward(w, r, t.host)
		return
	}
	st.proxy.ServeHTTP(w, r)
}

// chooseGroup picks a forward action's target group by weight (or by the
// group stickiness cookie).
func (st *listenerState) chooseGroup(w http.ResponseWriter, r *http.Request, f *Forward) *group {
	tgs := f.TargetGroups
	if len(tgs) == 1 {
		return st.groups[tgs[0].ARN]
	}
	if f.StickinessDuration > 0 {
		if c, err := r.Cookie(cookieGroup); err == nil {
			for _, wt := range tgs {
				if wt.Weight > 0 && c.Value == groupHash(wt.ARN) {
					return st.groups[wt.ARN]
				}
			}
		}
	}
	total := 0
	for _, wt := range tgs {
		total += max(wt.Weight, 0)
	}
	if total == 0 {
		return nil
	}
	n := mrand.IntN(total)
	var chosen string
	for _, wt := range tgs {
		if n < max(wt.Weight, 0) {
			chosen = wt.ARN
			break
		}
		n -= max(wt.Weight, 0)
	}
	if f.StickinessDuration > 0 {
		exp := st.nowFunc().Add(f.StickinessDuration).UTC().Format(http.TimeFormat)
		v := groupHash(chosen)
		w.Header().Add("Set-Cookie", cookieGroup+"="+v+"; Expires="+exp+"; Path=/")
		w.Header().Add("Set-Cookie", cookieGroupCORS+"="+v+"; Expires="+exp+"; Path=/; SameSite=None; Secure")
	}
	return st.groups[chosen]
}

func groupHash(arn string) string {
	h := fnv.New64a()
	h.Write([]byte(arn))
	return strconv.FormatUint(h.Sum64(), 36)
}

// encodeSticky names a target of a group in the stickiness cookie.
func encodeSticky(arn, host string) string {
	return groupHash(arn) + "." + base64.RawURLEncoding.EncodeToString([]byte(host))
}

func decodeSticky(arn, v string) (string, bool) {
	gh, enc, ok := strings.Cut(v, ".")
	if !ok || gh != groupHash(arn) {
		return "", false
	}
	b, err := base64.RawURLEncoding.DecodeString(enc)
	return string(b), err == nil
}

// rewrite sets the headers ALB adds to what it forwards.
func (st *listenerState) rewrite(pr *httputil.ProxyRequest) {
	in, out := pr.In, pr.Out
	client := remoteAddr(in).String()
	if prior := in.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		client = strings.Join(prior, ", ") + ", " + client
	}
	out.Header["X-Forwarded-For"] = []string{client}
	out.Header["X-Forwarded-Proto"] = []string{st.scheme}
	out.Header["X-Forwarded-Port"] = []string{st.port}
	out.Header["X-Amzn-Trace-Id"] = []string{traceID(in.Header.Get("X-Amzn-Trace-Id"), st.nowFunc())}
}

// traceID is ALB's X-Amzn-Trace-Id: a new Root, or Self added before the
// client's own Root.
func traceID(prior string, now time.Time) string {
	// 96 random bits: unguessable enough for a trace ID, and without a
	// getrandom system call per request.
	var b [12]byte
	binary.LittleEndian.PutUint64(b[:8], mrand.Uint64())
	binary.LittleEndian.PutUint32(b[8:], mrand.Uint32())
	id := "1-" + strconv.FormatInt(now.Unix(), 16) + "-" + hex.EncodeToString(b[:])
	if strings.Contains(prior, "Root=") {
		if i := strings.Index(prior, "Self="); i >= 0 {
			// Replace an earlier load balancer's Self.
			end := strings.IndexByte(prior[i:], ';')
			if end < 0 {
				prior = strings.TrimSuffix(prior[:i], ";")
			} else {
				prior = prior[:i] + prior[i+end+1:]
			}
		}
		return "Self=" + id + ";" + prior
	}
	return "Root=" + id
}

// proxyError answers a failed forward as ALB does: 504 when the target did
// not answer in time, 502 when it refused, reset or closed.
func proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		return // the client left (ALB logs 460)
	}
	if isTimeout(err) || errors.Is(err, context.DeadlineExceeded) {
		errorPage(w, http.StatusGatewayTimeout)
		return
	}
	errorPage(w, http.StatusBadGateway)
}

// errorPage is ALB's own error answer.
func errorPage(w http.ResponseWriter, code int) {
	h := w.Header()
	h.Del("Set-Cookie")
	h.Set("Server", serverHeaderValue)
	h.Set("Content-Type", "text/html")
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	body := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n</body>\r\n</html>\r\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

func fixedResponse(w http.ResponseWriter, f *FixedResponse) {
	h := w.Header()
	h.Set("Server", serverHeaderValue)
	ct := f.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
	}
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(f.Body)))
	code := f.StatusCode
	if code < 200 || code > 599 {
		code = http.StatusOK
	}
	w.WriteHeader(code)
	_, _ = w.Write([]byte(f.Body))
}

// redirect answers a redirect action, filling ALB's #{...} placeholders.
func (st *listenerState) redirect(w http.ResponseWriter, r *http.Request, rd *Redirect) {
	loc := redirectLocation(rd, st.scheme, hostOnly(r.Host), st.port, r.URL.Path, r.URL.RawQuery)
	h := w.Header()
	h.Set("Server", serverHeaderValue)
	h.Set("Location", loc)
	h.Set("Content-Type", "text/html")
	code := rd.StatusCode
	if code != http.StatusMovedPermanently && code != http.StatusFound {
		code = http.StatusFound
	}
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	body := "<html>\r\n<head><title>" + text + "</title></head>\r\n<body>\r\n<center><h1>" + text +
		"</h1></center>\r\n</body>\r\n</html>\r\n"
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write([]byte(body))
}

// redirectLocation builds a redirect's Location. Empty components keep
// the request's: protocol #{protocol}, host #{host}, port #{port}, path
// "/#{path}", query #{query}. The port is left out when it is the
// protocol's default.
func redirectLocation(rd *Redirect, scheme, host, port, path, query string) string {
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	rep := strings.NewReplacer(
		"#{protocol}", scheme, "#{host}", host, "#{port}", port,
		"#{path}", strings.TrimPrefix(path, "/"), "#{query}", query)
	proto := strings.ToLower(rep.Replace(or(rd.Protocol, "#{protocol}")))
	h := rep.Replace(or(rd.Host, "#{host}"))
	p := rep.Replace(or(rd.Port, "#{port}"))
	pa := rep.Replace(or(rd.Path, "/#{path}"))
	if !strings.HasPrefix(pa, "/") {
		pa = "/" + pa
	}
	q := rep.Replace(or(rd.Query, "#{query}"))
	loc := proto + "://" + h
	if !(proto == "http" && p == "80") && !(proto == "https" && p == "443") && p != "" {
		loc += ":" + p
	}
	loc += pa
	if q != "" {
		loc += "?" + q
	}
	return loc
}

// scanConn watches the request heads of a plain HTTP connection for a
// Content-Length and a Transfer-Encoding in the same head, which Go's
// server would accept (dropping Content-Length) and ALB rejects. Lines are
// cut at LF; an empty line ends a head (or a chunked body).
type scanConn struct {
	net.Conn
	mu     sync.Mutex
	line   []byte // the current line's first bytes, up to 20
	cl, te bool   // seen in the current head
	hosts  int    // Host lines in the current head
	clash  bool   // a finished head had both, or two Hosts
}

func newScanConn(c net.Conn) *scanConn { return &scanConn{Conn: c, line: make([]byte, 0, 20)} }

func (c *scanConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.scan(p[:n])
		c.mu.Unlock()
	}
	return n, err
}

func (c *scanConn) scan(b []byte) {
	for len(b) > 0 {
		end := bytes.IndexByte(b, '\n')
		seg := b
		if end >= 0 {
			seg = b[:end+1]
		}
		if room := 20 - len(c.line); room > 0 {
			c.line = append(c.line, seg[:min(room, len(seg))]...)
		}
		if end < 0 {
			return
		}
		c.endLine()
		b = b[end+1:]
	}
}

func (c *scanConn) endLine() {
	l := c.line
	c.line = c.line[:0]
	switch {
	case len(l) == 1 || (len(l) == 2 && l[0] == '\r'):
		if c.cl && c.te || c.hosts > 1 {
			c.clash = true
		}
		c.cl, c.te, c.hosts = false, false, 0
	case hasFoldPrefix(l, "content-length:"):
		c.cl = true
	case hasFoldPrefix(l, "transfer-encoding:"):
		c.te = true
	case hasFoldPrefix(l, "host:"):
		c.hosts++
	}
}

// conflict reports (and clears) a clash seen since the last call.
func (c *scanConn) conflict() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := c.clash
	c.clash = false
	return v
}

func hasFoldPrefix(b []byte, p string) bool {
	if len(b) < len(p) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if lower(b[i]) != p[i] {
			return false
		}
	}
	return true
}
