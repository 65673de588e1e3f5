package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// h1Server serves the HTTP/1.x connections of a plain HTTP listener. It
// does what net/http's server does for them, minus what a proxy pays for
// and does not use (a background read per request to notice a client
// leaving, a cancelable context, a response buffer per request), and
// with the checks a load balancer needs: request heads are bounded in
// time (slowloris) and size (431), a head with both Content-Length and
// Transfer-Encoding is refused (400, smuggling), Host is validated, body
// reads and idle keep-alive connections are bounded by the load
// balancer's idle timeout.
type h1Server struct {
	handler           http.Handler
	readHeaderTimeout time.Duration
	idle              time.Duration
	maxHeaderBytes    int
	log               *slog.Logger

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[*h1Conn]struct{}
	wg      sync.WaitGroup
}

func (s *h1Server) serve(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || s.closing.Load() {
				return
			}
			s.log.Warn("accept", "err", err)
			time.Sleep(10 * time.Millisecond) // EMFILE and the like
			continue
		}
		go s.serveConn(c)
	}
}

// serveConn serves one connection until it closes.
func (s *h1Server) serveConn(c net.Conn) {
	hc := newH1Conn(s, c)
	s.mu.Lock()
	if s.closing.Load() {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.conns[hc] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	hc.serve()
}

// shutdown closes idle connections now and the others after their
// current request; when ctx ends it closes whatever is left.
func (s *h1Server) shutdown(ctx context.Context) {
	s.closing.Store(true)
	s.mu.Lock()
	for c := range s.conns {
		if !c.active.Load() {
			_ = c.raw.SetReadDeadline(time.Now()) // wakes its wait for a request
		}
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.closeAll()
		<-done
	}
}

func (s *h1Server) closeAll() {
	s.closing.Store(true)
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.raw.Close()
	}
}

// h1Conn is one client connection.
type h1Conn struct {
	s      *h1Server
	raw    net.Conn
	sc     *scanConn
	cr     connReader
	br     *bufio.Reader
	bw     *bufio.Writer
	remote string
	active atomic.Bool
}

// connReader bounds what a request head may read and, for bodies, keeps
// the read deadline the idle timeout ahead.
type connReader struct {
	r        io.Reader
	raw      net.Conn
	remain   int64
	body     bool
	idle     time.Duration
	deadline time.Time
}

var errHeadTooLarge = errors.New("lb: request head too large")

func (r *connReader) Read(p []byte) (int, error) {
	if r.remain <= 0 {
		return 0, errHeadTooLarge
	}
	if int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	if r.body {
		if now := time.Now(); r.deadline.Sub(now) < r.idle/2 {
			r.deadline = now.Add(r.idle)
			_ = r.raw.SetReadDeadline(r.deadline)
		}
	}
	n, err := r.r.Read(p)
	r.remain -= int64(n)
	return n, err
}

func newH1Conn(s *h1Server, c net.Conn) *h1Conn {
	hc := &h1Conn{s: s, raw: c, sc: newScanConn(c), remote: c.RemoteAddr().String()}
	hc.cr = connReader{r: hc.sc, raw: c, idle: s.idle}
	hc.br = bufio.NewReaderSize(&hc.cr, 4<<10)
	hc.bw = bufio.NewWriterSize(&idleWriter{c: c, idle: s.idle}, 4<<10)
	return hc
}

func (c *h1Conn) serve() {
	defer func() {
		c.raw.Close()
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
		c.s.wg.Done()
	}()
	if tc, ok := c.raw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	for !c.s.closing.Load() {
		// Keep-alive: wait up to the idle timeout for the next request.
		c.cr.body, c.cr.remain = false, math.MaxInt64
		_ = c.raw.SetReadDeadline(time.Now().Add(c.s.idle))
		if _, err := c.br.Peek(1); err != nil {
			return
		}
		c.active.Store(true)
		_ = c.raw.SetReadDeadline(time.Now().Add(c.s.readHeaderTimeout))
		c.cr.remain = int64(c.s.maxHeaderBytes) + int64(c.br.Size())
		req, err := http.ReadRequest(c.br)
		if err != nil {
			c.refuse(err)
			return
		}
		c.cr.body, c.cr.remain, c.cr.deadline = true, math.MaxInt64, time.Time{}
		if code, msg := c.check(req); code != 0 {
			c.plainError(code, msg)
			return
		}
		req.RemoteAddr = c.remote
		if !c.serveRequest(req) {
			return
		}
		c.active.Store(false)
	}
}

// check validates what ReadRequest leaves to the server.
func (c *h1Conn) check(req *http.Request) (int, string) {
	if req.ProtoMajor != 1 {
		return http.StatusHTTPVersionNotSupported, "unsupported protocol version"
	}
	if c.sc.conflict() {
		return http.StatusBadRequest, "conflicting Content-Length, Transfer-Encoding or Host"
	}
	// ReadRequest has moved Host from the header to req.Host.
	if req.ProtoAtLeast(1, 1) && req.Host == "" {
		return http.StatusBadRequest, "missing required Host header"
	}
	if !validHost(req.Host) {
		return http.StatusBadRequest, "malformed Host header"
	}
	if req.Method == http.MethodConnect {
		return http.StatusMethodNotAllowed, "CONNECT is not supported"
	}
	for _, vv := range req.Header { // names were checked by ReadRequest
		for _, v := range vv {
			if !validHeaderValue(v) {
				return http.StatusBadRequest, "invalid header value"
			}
		}
	}
	if e := req.Header["Expect"]; len(e) > 0 {
		if len(e) != 1 || !strings.EqualFold(e[0], "100-continue") {
			return http.StatusExpectationFailed, "unsupported expectation"
		}
		if req.ContentLength != 0 && req.ProtoAtLeast(1, 1) {
			req.Body = &continueReader{ReadCloser: req.Body, c: c}
		}
	}
	return 0, ""
}

// refuse answers a request head that could not be read, as net/http does.
func (c *h1Conn) refuse(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, errHeadTooLarge) || c.cr.remain <= 0:
		c.plainError(http.StatusRequestHeaderFieldsTooLarge, "")
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &ne):
		// The client left or timed out (slowloris): hang up.
	case strings.Contains(err.Error(), "transfer encoding"):
		c.plainError(http.StatusNotImplemented, "Unsupported transfer encoding")
	default:
		c.plainError(http.StatusBadRequest, "")
	}
}

func (c *h1Conn) plainError(code int, msg string) {
	text := strconv.Itoa(code) + " " + http.StatusText(code)
	if msg != "" {
		text += ": " + msg
	}
	_ = c.raw.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(c.raw, "HTTP/1.1 "+text+"\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"+text)
}

// serveRequest runs the handler for one request and reports whether the
// connection may carry another.
func (c *h1Conn) serveRequest(req *http.Request) (keep bool) {
	w := &h1Writer{c: c, req: req, h: make(http.Header, 8), cl: -1}
	defer func() {
		if p := recover(); p != nil {
			if p != http.ErrAbortHandler {
				c.s.log.Error("handler panic", "panic", p)
			}
			keep = false
		}
	}()
	c.s.handler.ServeHTTP(w, req)
	if w.hijacked {
		// The handler owned the connection (an upgrade, over when the
		// handler returns); it is closed like any other.
		return false
	}
	if !w.finish() {
		return false
	}
	// Whatever the handler left of the body is read away (a little), or
	// the connection cannot be reused.
	if req.Body != nil {
		n, err := io.CopyN(io.Discard, req.Body, 256<<10)
		if n == 256<<10 || err != nil && err != io.EOF {
			return false
		}
		req.Body.Close()
	}
	return !w.closeAfter
}

// continueReader sends "100 Continue" when the handler first reads the
// body.
type continueReader struct {
	io.ReadCloser
	c    *h1Conn
	sent bool
}

func (r *continueReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		_, _ = r.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
		if err := r.c.bw.Flush(); err != nil {
			return 0, err
		}
	}
	return r.ReadCloser.Read(p)
}

// h1Writer is the ResponseWriter of one request.
type h1Writer struct {
	c          *h1Conn
	req        *http.Request
	h          http.Header
	wrote      bool
	chunked    bool
	noBody     bool
	cl         int64 // the declared Content-Length, -1 if none
	written    int64
	closeAfter bool
	hijacked   bool
}

func (w *h1Writer) Header() http.Header { return w.h }

func (w *h1Writer) WriteHeader(code int) {
	if w.wrote || w.hijacked {
		return
	}
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		return // informational answers are not relayed
	}
	w.wrote = true
	bw := w.c.bw
	bw.WriteString("HTTP/1.1 ")
	bw.WriteString(strconv.Itoa(code))
	bw.WriteByte(' ')
	bw.WriteString(http.StatusText(code))
	bw.WriteString("\r\n")
	w.noBody = w.req.Method == http.MethodHead || code == http.StatusNoContent || code == http.StatusNotModified || code < 200
	if v := w.h["Content-Length"]; len(v) == 1 {
		if n, err := strconv.ParseInt(v[0], 10, 64); err == nil && n >= 0 {
			w.cl = n
		} else {
			delete(w.h, "Content-Length")
		}
	} else if len(v) > 1 {
		delete(w.h, "Content-Length")
	}
	if code == http.StatusNoContent || code < 200 {
		delete(w.h, "Content-Length")
		w.cl = -1
	}
	delete(w.h, "Transfer-Encoding")
	if w.cl < 0 && !w.noBody {
		if w.req.ProtoAtLeast(1, 1) {
			w.chunked = true
			bw.WriteString("Transfer-Encoding: chunked\r\n")
		} else {
			w.closeAfter = true
		}
	}
	if w.req.Close || hasToken(w.h["Connection"], "close") || w.c.s.closing.Load() {
		w.closeAfter = true
	}
	delete(w.h, "Connection")
	if w.closeAfter {
		bw.WriteString("Connection: close\r\n")
	} else if !w.req.ProtoAtLeast(1, 1) {
		bw.WriteString("Connection: keep-alive\r\n")
	}
	if _, ok := w.h["Date"]; !ok {
		bw.WriteString("Date: ")
		bw.WriteString(httpDate())
		bw.WriteString("\r\n")
	}
	for k, vs := range w.h {
		for _, v := range vs {
			bw.WriteString(k)
			bw.WriteString(": ")
			if strings.ContainsAny(v, "\r\n") { // never a header split
				v = strings.NewReplacer("\r", " ", "\n", " ").Replace(v)
			}
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
}

func (w *h1Writer) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	if w.noBody || len(p) == 0 {
		return len(p), nil
	}
	if w.cl >= 0 && w.written+int64(len(p)) > w.cl {
		return 0, http.ErrContentLength
	}
	w.written += int64(len(p))
	bw := w.c.bw
	if w.chunked {
		bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
		bw.WriteString("\r\n")
		n, err := bw.Write(p)
		if err == nil {
			_, err = bw.WriteString("\r\n")
		}
		return n, err
	}
	return bw.Write(p)
}

func (w *h1Writer) Flush() {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	_ = w.c.bw.Flush()
}

// FlushError is what http.ResponseController calls.
func (w *h1Writer) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.c.bw.Flush()
}

func (w *h1Writer) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.wrote {
		return nil, nil, errors.New("lb: hijack after the response started")
	}
	w.hijacked = true
	_ = w.c.raw.SetDeadline(time.Time{})
	return w.c.raw, bufio.NewReadWriter(w.c.br, w.c.bw), nil
}

// finish ends the response; false when the connection must close.
func (w *h1Writer) finish() bool {
	if !w.wrote {
		if _, ok := w.h["Content-Length"]; !ok {
			w.h["Content-Length"] = []string{"0"}
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.chunked {
		w.c.bw.WriteString("0\r\n\r\n")
	}
	if err := w.c.bw.Flush(); err != nil {
		return false
	}
	return !(w.cl >= 0 && !w.noBody && w.written < w.cl)
}

func hasToken(vs []string, tok string) bool {
	for _, v := range vs {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), tok) {
				return true
			}
		}
	}
	return false
}

// httpDate is the Date header, formatted once a second.
func httpDate() string {
	now := time.Now().Unix()
	if d := cachedDate.Load(); d != nil && d.unix == now {
		return d.text
	}
	d := &dateText{unix: now, text: time.Unix(now, 0).UTC().Format(http.TimeFormat)}
	cachedDate.Store(d)
	return d.text
}

type dateText struct {
	unix int64
	text string
}

var cachedDate atomic.Pointer[dateText]

// validHost is httpguts.ValidHostHeader: the bytes a Host may hold.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters but horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

// idleWriter writes to a connection that must take data at least once per
// idle timeout: a client (or target) that stops reading is cut off, as
// ALB does. The deadline moves only once half of it has passed.
type idleWriter struct {
	c        net.Conn
	idle     time.Duration
	deadline time.Time
}

func (w *idleWriter) Write(p []byte) (int, error) {
	if now := time.Now(); w.deadline.Sub(now) < w.idle/2 {
		w.deadline = now.Add(w.idle)
		_ = w.c.SetWriteDeadline(w.deadline)
	}
	return w.c.Write(p)
}
