// Package connlimit bounds what clients can hold of a server: how many
// connections (in all and per client address, a listener wrapper that
// closes the extra ones at once) and how slowly a request body may arrive
// (a minimum-rate rule, so that long uploads still work while a body that
// trickles is cut off).
//
//	accept ──> over the total or the client's share? ──yes──> close (RST)
//	             │ no
//	             v
//	           conn (counted until Close)
package connlimit

import (
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
)

// Config are a Listener's limits; zero means unbounded.
type Config struct {
	// Max bounds the open connections in all.
	Max int
	// MaxPerClient bounds the open connections of one client address
	// (its IP; a task of the metadata endpoint is its IP).
	MaxPerClient int
}

// Listener is a net.Listener that keeps at most Config's connections
// open. An extra connection is accepted and closed at once (with a
// reset, so that it holds no socket in TIME_WAIT), never queued: the
// kernel's backlog would hold it as well.
type Listener struct {
	net.Listener
	cfg      Config
	mu       sync.Mutex
	open     int
	byClient map[netip.Addr]int
	refused  atomic.Uint64
}

// New wraps ln.
func New(ln net.Listener, cfg Config) *Listener {
	return &Listener{Listener: ln, cfg: cfg, byClient: map[netip.Addr]int{}}
}

// Accept returns the next connection within the limits.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		client := clientAddr(c.RemoteAddr())
		if !l.acquire(client) {
			l.refused.Add(1)
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			_ = c.Close()
			continue
		}
		return &conn{Conn: c, l: l, client: client}, nil
	}
}

// Open is the number of open connections.
func (l *Listener) Open() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.open
}

// Refused is the number of connections closed for being over a limit.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

func (l *Listener) acquire(client netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Max > 0 && l.open >= l.cfg.Max {
		return false
	}
	if l.cfg.MaxPerClient > 0 && l.byClient[client] >= l.cfg.MaxPerClient {
		return false
	}
	l.open++
	l.byClient[client]++
	return true
}

func (l *Listener) release(client netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open--
	if l.byClient[client]--; l.byClient[client] <= 0 {
		delete(l.byClient, client)
	}
}

// clientAddr is the IP a connection counts against (the zero Addr for a
// non-IP address: all such clients share one share).
func clientAddr(a net.Addr) netip.Addr {
	if ta, ok := a.(*net.TCPAddr); ok {
		return ta.AddrPort().Addr().Unmap()
	}
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// conn gives back its place on the first Close.
type conn struct {
	net.Conn
	l      *Listener
	client netip.Addr
	once   sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.release(c.client) })
	return err
}

// CloseWrite half-closes a TCP connection (net/http uses it for a
// graceful close).
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
