package lb

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The fast path: plain HTTP/1.1 to a target over a pooled keep-alive
// connection, written and read by the handler's own goroutine. It does
// what httputil.ReverseProxy with an http.Transport does for these
// requests, without the transport's two goroutines per connection and the
// hand-offs between them, which cost about as much as the proxying itself.
// Upgrades (WebSocket) and HTTPS targets take the ReverseProxy path.

// hopHeaders are not forwarded (RFC 9110 7.6.1), nor are the headers the
// load balancer sets itself.
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Expect": true, "Content-Length": true,
	"X-Forwarded-For": true, "X-Forwarded-Proto": true, "X-Forwarded-Port": true, "X-Amzn-Trace-Id": true,
}

// backendConn is one keep-alive connection to a target.
type backendConn struct {
	tcp  *net.TCPConn
	br   *bufio.Reader
	bw   *bufio.Writer
	used time.Time // when it went idle
}

type poolKey struct {
	host string
	idle time.Duration
}

// connPool keeps idle target connections.
type connPool struct {
	mu      sync.Mutex
	idle    map[poolKey][]*backendConn
	maxIdle int
	dialer  net.Dialer
}

func newConnPool(maxIdle int, connect time.Duration) *connPool {
	return &connPool{idle: map[poolKey][]*backendConn{}, maxIdle: maxIdle,
		dialer: net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}}
}

// recentIdle is how long a connection may have been idle and still be
// taken for a replayable request without a liveness check: targets close
// idle keep-alive connections after seconds, not milliseconds, and a
// request that meets a connection closed anyway is retried.
const recentIdle = 250 * time.Millisecond

// get returns an idle connection that is still open, or nil; check asks
// for the liveness check even on a connection used a moment ago.
func (p *connPool) get(k poolKey, check bool) *backendConn {
	for {
		p.mu.Lock()
		list := p.idle[k]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		bc := list[len(list)-1]
		list[len(list)-1] = nil
		p.idle[k] = list[:len(list)-1]
		p.mu.Unlock()
		idle := time.Since(bc.used)
		if idle < k.idle && (!check && idle < recentIdle || bc.alive()) {
			return bc
		}
		bc.tcp.Close()
	}
}

func (p *connPool) put(k poolKey, bc *backendConn) {
	bc.used = time.Now()
	p.mu.Lock()
	if len(p.idle[k]) < p.maxIdle {
		p.idle[k] = append(p.idle[k], bc)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	bc.tcp.Close()
}

func (p *connPool) dial(ctx context.Context, k poolKey) (*backendConn, error) {
	c, err := p.dialer.DialContext(ctx, "tcp", k.host)
	if err != nil {
		return nil, err
	}
	tcp := c.(*net.TCPConn)
	_ = tcp.SetNoDelay(true)
	ic := &idleConn{Conn: tcp, idle: k.idle}
	ic.refresh(time.Now())
	return &backendConn{tcp: tcp, br: bufio.NewReaderSize(ic, 16<<10), bw: bufio.NewWriterSize(&idleWriter{c: tcp, idle: k.idle}, 8<<10)}, nil
}

// poolSweepPeriod is how often idle target connections are checked.
var poolSweepPeriod = 5 * time.Second

// sweepEvery closes, every period until ctx ends, the idle connections
// that outlived their idle timeout or that their target closed (a target
// gone for good is never asked for its connections again).
func (p *connPool) sweepEvery(ctx context.Context, period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		p.mu.Lock()
		var dead []*backendConn
		for k, list := range p.idle {
			kept := list[:0]
			for _, bc := range list {
				if time.Since(bc.used) < k.idle && bc.alive() {
					kept = append(kept, bc)
				} else {
					dead = append(dead, bc)
				}
			}
			clear(list[len(kept):])
			if len(kept) == 0 {
				delete(p.idle, k)
			} else {
				p.idle[k] = kept
			}
		}
		p.mu.Unlock()
		for _, bc := range dead {
			bc.tcp.Close()
		}
	}
}

// closeIdle closes every idle connection.
func (p *connPool) closeIdle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, list := range p.idle {
		for _, bc := range list {
			bc.tcp.Close()
		}
		delete(p.idle, k)
	}
}

// alive peeks at an idle connection without blocking: a target that
// closed it (FIN, RST) or sent something unasked makes it unusable.
func (bc *backendConn) alive() bool {
	if bc.br.Buffered() > 0 {
		return false
	}
	rc, err := bc.tcp.SyscallConn()
	if err != nil {
		return false
	}
	ok := false
	var b [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		n, _, err := unix.Recvfrom(int(fd), b[:], unix.MSG_PEEK|unix.MSG_DONTWAIT)
		ok = n < 0 && (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EWOULDBLOCK))
		return true
	})
	return ok
}

// fastForward proxies r to host over a pooled connection.
func (st *listenerState) fastForward(w http.ResponseWriter, r *http.Request, host string) {
	k := poolKey{host: host, idle: st.idle}
	pool := st.pool
	replayable := r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody
	for attempt := 0; ; attempt++ {
		bc := pool.get(k, !replayable)
		reused := bc != nil
		if bc == nil {
			var err error
			if bc, err = pool.dial(r.Context(), k); err != nil {
				proxyError(w, r, err)
				return
			}
		}
		resp, err := st.roundTrip(bc, r)
		if err != nil {
			bc.tcp.Close()
			if reused && replayable && attempt == 0 && r.Context().Err() == nil && !isTimeout(err) {
				continue // the target closed an idle connection meanwhile
			}
			proxyError(w, r, err)
			return
		}
		if st.copyResponse(w, resp) {
			pool.put(k, bc)
		} else {
			bc.tcp.Close()
		}
		return
	}
}

// roundTrip writes r to the target and reads the response head.
func (st *listenerState) roundTrip(bc *backendConn, r *http.Request) (*http.Response, error) {
	bw := bc.bw
	uri := r.RequestURI
	if uri == "" || uri[0] != '/' && uri != "*" {
		uri = r.URL.RequestURI()
	}
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(uri)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	conn := r.Header["Connection"]
	for name, vs := range r.Header {
		if hopHeaders[name] || inConnection(conn, name) {
			continue
		}
		for _, v := range vs {
			bw.WriteString(name)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("X-Forwarded-For: ")
	if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
		for _, p := range prior {
			bw.WriteString(p)
			bw.WriteString(", ")
		}
	}
	bw.WriteString(remoteAddr(r).String())
	bw.WriteString("\r\nX-Forwarded-Proto: ")
	bw.WriteString(st.scheme)
	bw.WriteString("\r\nX-Forwarded-Port: ")
	bw.WriteString(st.port)
	bw.WriteString("\r\nX-Amzn-Trace-Id: ")
	bw.WriteString(traceID(r.Header.Get("X-Amzn-Trace-Id"), st.nowFunc()))
	bw.WriteString("\r\n")
	hasBody := r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
	switch {
	case hasBody && r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n\r\n")
		if _, err := io.CopyN(bw, r.Body, r.ContentLength); err != nil {
			return nil, clientBodyError{err}
		}
	case hasBody:
		bw.WriteString("Transfer-Encoding: chunked\r\n\r\n")
		buf := copyBufs.Get().(*[]byte)
		for {
			n, err := r.Body.Read(*buf)
			if n > 0 {
				bw.WriteString(strconv.FormatInt(int64(n), 16))
				bw.WriteString("\r\n")
				bw.Write((*buf)[:n])
				bw.WriteString("\r\n")
				if ferr := bw.Flush(); ferr != nil {
					copyBufs.Put(buf)
					return nil, ferr
				}
			}
			if err == io.EOF {
				break
			}
			if err != nil {
				copyBufs.Put(buf)
				return nil, clientBodyError{err}
			}
		}
		copyBufs.Put(buf)
		bw.WriteString("0\r\n\r\n")
	default:
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch:
			bw.WriteString("Content-Length: 0\r\n")
		}
		bw.WriteString("\r\n")
	}
	if err := bw.Flush(); err != nil {
		return nil, err
	}
	for {
		resp, err := http.ReadResponse(bc.br, r)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
			continue // 100 Continue, 103 Early Hints: the final answer follows
		}
		return resp, nil
	}
}

// clientBodyError is the client failing while it sent its body.
type clientBodyError struct{ error }

func inConnection(conn []string, name string) bool {
	for _, v := range conn {
		for tok := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), name) {
				return true
			}
		}
	}
	return false
}

// copyResponse sends the target's response to the client and reports
// whether the target connection can be reused.
func (st *listenerState) copyResponse(w http.ResponseWriter, resp *http.Response) bool {
	h := w.Header()
	conn := resp.Header["Connection"]
	for name, vs := range resp.Header {
		if name != "Content-Length" && hopHeaders[name] || inConnection(conn, name) {
			continue
		}
		if prior, ok := h[name]; ok {
			h[name] = append(prior, vs...)
		} else {
			h[name] = vs
		}
	}
	if resp.ContentLength >= 0 && h["Content-Length"] == nil && resp.StatusCode != http.StatusNoContent && resp.StatusCode != http.StatusNotModified {
		h["Content-Length"] = []string{strconv.FormatInt(resp.ContentLength, 10)}
	}
	w.WriteHeader(resp.StatusCode)
	buf := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(buf)
	flush := resp.ContentLength < 0
	fl, _ := w.(http.Flusher)
	var err error
	for {
		var n int
		n, err = resp.Body.Read(*buf)
		if n > 0 {
			if _, werr := w.Write((*buf)[:n]); werr != nil {
				resp.Body.Close()
				return false
			}
			if flush && fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			break
		}
	}
	resp.Body.Close()
	if err != io.EOF {
		// The target failed mid-body: the client's response is cut short,
		// as ALB does; abort its connection.
		panic(http.ErrAbortHandler)
	}
	return !resp.Close
}
