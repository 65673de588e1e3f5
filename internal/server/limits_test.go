package server_test

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/config"
	"github.com/fargo-run/fargo/internal/fargotest"
)

// TestAPIConnectionLimits is finding 2 of issue 17 on the API listener:
// an idle keep-alive is closed after the idle timeout, a trickling body
// after the body rule's grace, and a client's connections past its share
// at once, while another client still gets in.
func TestAPIConnectionLimits(t *testing.T) {
	s := fargotest.Start(t, func(c *config.Server) {
		c.IdleTimeout = 300 * time.Millisecond
		c.BodyTimeout = 300 * time.Millisecond
		c.BodyMinRate = 1 << 20
		c.APIMaxConnsPerClient = 3
	})
	addr := strings.TrimPrefix(s.URL, "http://")
	dial := func(src string) net.Conn {
		t.Helper()
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: 2 * time.Second}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	// closedWithin reports whether the server closes c within d (reading
	// whatever it answers first).
	closedWithin := func(c net.Conn, d time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(d))
		buf := make([]byte, 4096)
		for {
			if _, err := c.Read(buf); err != nil {
				ne, ok := err.(net.Error)
				return !ok || !ne.Timeout()
			}
		}
	}

	idle := dial("127.0.0.1")
	if _, err := idle.Write([]byte("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(idle).ReadString('\n'); err != nil || !strings.HasPrefix(line, "HTTP/1.1 200") {
		t.Fatalf("/healthz: %q %v", line, err)
	}
	start := time.Now()
	if !closedWithin(idle, 3*time.Second) {
		t.Fatal("an idle keep-alive connection was kept past the idle timeout")
	}
	t.Logf("idle connection closed after %v", time.Since(start))

	slow := dial("127.0.0.1")
	start = time.Now()
	if _, err := slow.Write([]byte("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n{\"a")); err != nil {
		t.Fatal(err)
	}
	if !closedWithin(slow, 3*time.Second) {
		t.Fatal("a stalled body's connection was kept past the body rule")
	}
	t.Logf("stalled body's connection closed after %v", time.Since(start))

	for range 3 {
		dial("127.0.0.2")
	}
	time.Sleep(100 * time.Millisecond)
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}, Timeout: 2 * time.Second}
	if c, err := d.Dial("tcp4", addr); err == nil && !closedWithin(c, time.Second) { // a reset while connecting is a refusal too
		t.Fatal("a client's 4th connection was kept (3 per client)")
	}
	other := dial("127.0.0.3")
	if closedWithin(other, 100*time.Millisecond) {
		t.Fatal("another client's connection was refused")
	}
}
