package connlimit

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// dialFrom connects to addr from the loopback address src.
func dialFrom(t *testing.T, src, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// refused reports whether a connection from src is refused: reset while
// connecting or closed at once.
func refused(t *testing.T, src, addr string) bool {
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		return true
	}
	defer c.Close()
	return closedQuickly(c)
}

// closedQuickly reports whether the server closed c within a second.
func closedQuickly(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(time.Second))
	_, err := c.Read(make([]byte, 1))
	var ne net.Error
	return err != nil && !(errors.As(err, &ne) && ne.Timeout())
}

// acceptAll accepts and holds connections until the listener closes.
func acceptAll(t *testing.T, l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
}

func TestListenerLimitsPerClientAndInAll(t *testing.T) {
	inner, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(inner, Config{Max: 5, MaxPerClient: 3})
	defer l.Close()
	acceptAll(t, l)
	addr := inner.Addr().String()

	var a []net.Conn
	for range 3 {
		a = append(a, dialFrom(t, "127.0.0.2", addr))
	}
	waitOpen(t, l, 3)
	if !refused(t, "127.0.0.2", addr) {
		t.Fatal("a client's 4th connection was kept (per-client limit 3)")
	}
	// Another client still gets in, up to the total.
	b1, b2 := dialFrom(t, "127.0.0.3", addr), dialFrom(t, "127.0.0.3", addr)
	waitOpen(t, l, 5)
	if closedQuickly(b1) || closedQuickly(b2) {
		t.Fatal("another client's connections were closed under its own limit")
	}
	if !refused(t, "127.0.0.4", addr) {
		t.Fatal("a 6th connection was kept (limit 5 in all)")
	}
	if got := l.Refused(); got != 2 {
		t.Fatalf("refused %d, want 2", got)
	}
	// A closed connection gives its place back.
	a[0].Close()
	waitOpen(t, l, 4)
	again := dialFrom(t, "127.0.0.2", addr)
	waitOpen(t, l, 5)
	if closedQuickly(again) {
		t.Fatal("a client's connection was refused after one of its own closed")
	}
}

func waitOpen(t *testing.T, l *Listener, want int) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if l.Open() == want {
			return
		}
	}
	t.Fatalf("open %d, want %d", l.Open(), want)
}

// slowServer serves h under the rule, with a rate-limited body reader.
func slowServer(t *testing.T, rule BodyRate) (string, chan error) {
	t.Helper()
	errs := make(chan error, 4)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		errs <- err
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	srv := httptest.NewServer(rule.Handler(h))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String(), errs
}

func TestBodyRateCutsTricklingAndStalledBodies(t *testing.T) {
	rule := BodyRate{Grace: 300 * time.Millisecond, MinRate: 1 << 20}
	addr, errs := slowServer(t, rule)
	for _, tc := range []struct {
		name  string
		write func(c net.Conn)
	}{
		{"stalled", func(c net.Conn) { c.Write([]byte("abc")) }},
		{"trickling", func(c net.Conn) {
			for range 20 {
				if _, err := c.Write([]byte("a")); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dialFrom(t, "127.0.0.1", addr)
			start := time.Now()
			c.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n"))
			go tc.write(c)
			select {
			case err := <-errs:
				if err == nil {
					t.Fatal("the body was read whole")
				}
			case <-time.After(5 * time.Second):
				t.Fatal("the slow body was not cut off within 5 s")
			}
			// The connection is closed, not kept alive for the next one.
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := io.ReadAll(c); err != nil {
				t.Fatalf("the connection was not closed: %v", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Fatalf("cut off after %v", d)
			}
		})
	}
}

func TestBodyRateLetsLongFastBodiesAndSlowHandlersThrough(t *testing.T) {
	rule := BodyRate{Grace: 200 * time.Millisecond, MinRate: 1 << 20}
	var slept bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusRequestTimeout)
			return
		}
		// Work longer than the grace after the body is in (a blob's
		// digest, a commit): the request must not be cancelled.
		select {
		case <-time.After(600 * time.Millisecond):
			slept = true
		case <-r.Context().Done():
			http.Error(w, "cancelled", http.StatusInternalServerError)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	})
	srv := httptest.NewServer(rule.Handler(h))
	defer srv.Close()
	// 64 MiB in about 1 s of writes (well above 1 MiB/s, far longer than
	// the grace).
	body := &pacedReader{left: 64 << 20, chunk: 4 << 20, pause: 60 * time.Millisecond}
	resp, err := http.Post(srv.URL, "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(got) != strconv.Itoa(64<<20) || !slept {
		t.Fatalf("%s %q slept %v", resp.Status, got, slept)
	}
	// Keep-alive after such a request still works.
	resp, err = http.Post(srv.URL, "text/plain", bytes.NewReader([]byte("hi")))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
}

type pacedReader struct {
	left, chunk int
	pause       time.Duration
	sent        int
}

func (p *pacedReader) Read(b []byte) (int, error) {
	if p.left == 0 {
		return 0, io.EOF
	}
	if p.sent >= p.chunk {
		time.Sleep(p.pause)
		p.sent = 0
	}
	n := min(len(b), p.left, p.chunk-p.sent)
	p.left -= n
	p.sent += n
	return n, nil
}
