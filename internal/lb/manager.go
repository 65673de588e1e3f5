package lb

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Defaults of ManagerConfig.
const (
	DefaultReadHeaderTimeout = 20 * time.Second
	DefaultMaxHeaderBytes    = 64 << 10 // ALB: 64 KB of request headers
	DefaultDrainTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	// DefaultConnectTimeout bounds a connection to a target (ALB: 10s,
	// then 504).
	DefaultConnectTimeout = 10 * time.Second
)

// ManagerConfig configures a Manager; the zero value of each field is its
// default.
type ManagerConfig struct {
	Logger *slog.Logger
	// OnHealth receives every change of a target's health (may be nil). It
	// is called without the Manager's locks held, from health-check
	// goroutines and from Apply.
	OnHealth HealthFunc
	// Now is the clock (trace IDs, cookie expiry); time.Now by default.
	Now func() time.Time
	// ReadHeaderTimeout bounds the time a client may take to send a
	// request's headers (slowloris); a load balancer's idle timeout caps it.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request's headers (431 beyond).
	MaxHeaderBytes int
	// DrainTimeout is how long connections of a listener that goes away
	// may finish their requests.
	DrainTimeout time.Duration
	// ConnectTimeout bounds connecting to a target.
	ConnectTimeout time.Duration
	// MaxIdleConnsPerTarget is the keep-alive pool per target (default 512).
	MaxIdleConnsPerTarget int
}

// Manager runs the data plane: listeners, proxies and health checks. It
// is safe for concurrent use.
type Manager struct {
	cfg    ManagerConfig
	log    *slog.Logger
	prober *prober
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex           // serialises Apply and Close
	listeners  map[string]*listener // by addr:port
	groups     map[string]*group    // by target group ARN
	transports map[time.Duration]*http.Transport
	pool       *connPool // the fast path's target connections
	closed     bool
}

// listener is one open socket with its server.
type listener struct {
	key   string // addr:port
	proto string // HTTP or HTTPS
	idle  time.Duration
	h1    *h1Server     // HTTP/1.x, plain or over TLS
	srv   *http.Server  // HTTPS: HTTP/2
	h2    *chanListener // the HTTP/2 connections for srv
	raw   net.Listener
	state atomic.Pointer[listenerState]
}

// New returns a Manager serving nothing; Apply gives it work.
func New(cfg ManagerConfig) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxIdleConnsPerTarget <= 0 {
		cfg.MaxIdleConnsPerTarget = 512
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:        cfg,
		log:        cfg.Logger.With("component", "lb"),
		prober:     newProber(),
		ctx:        ctx,
		cancel:     cancel,
		listeners:  map[string]*listener{},
		groups:     map[string]*group{},
		transports: map[time.Duration]*http.Transport{},
		pool:       newConnPool(cfg.MaxIdleConnsPerTarget, cfg.ConnectTimeout),
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.pool.sweepEvery(ctx, poolSweepPeriod)
	}()
	return m
}

func (m *Manager) report(th TargetHealth) {
	if m.cfg.OnHealth != nil {
		m.cfg.OnHealth(th)
	}
}

// Apply makes the data plane serve cfg: listeners that are new are
// opened, those gone are closed (their connections may finish), those
// that stay get the new rules and targets in place. Target health carries
// over for targets that stay. A listener that cannot be served (its port
// cannot be bound, a rule is invalid) is reported in the error, which
// joins one error per listener; everything else is served.
func (m *Manager) Apply(ctx context.Context, cfg Config) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return errors.New("lb: manager closed")
	}
	var errs []error
	var reports []TargetHealth

	// Target groups: which are used by a listener, then update them.
	used := map[string]bool{}
	for _, lb := range cfg.LoadBalancers {
		for _, l := range lb.Listeners {
			for _, ru := range l.Rules {
				for _, a := range ru.Actions {
					if a.Type == "forward" && a.Forward != nil {
						for _, tg := range a.Forward.TargetGroups {
							used[tg.ARN] = true
						}
					}
				}
			}
		}
	}
	groups := make(map[string]*group, len(cfg.TargetGroups))
	for _, tg := range cfg.TargetGroups {
		g := m.groups[tg.ARN]
		if g == nil {
			g = newGroup(m, tg.ARN)
		}
		ch, err := g.update(tg, used[tg.ARN])
		if err != nil {
			errs = append(errs, fmt.Errorf("target group %s: %w", tg.ARN, err))
		}
		reports = append(reports, ch...)
		groups[tg.ARN] = g
	}
	for arn, g := range m.groups {
		if groups[arn] == nil {
			g.stopAll()
		}
	}
	m.groups = groups

	// Listeners.
	type want struct {
		lb LoadBalancer
		l  Listener
		st *listenerState
	}
	wanted := map[string]want{}
	for _, lb := range cfg.LoadBalancers {
		idle := lb.IdleTimeout
		if idle <= 0 {
			idle = DefaultIdleTimeout
		}
		for _, l := range lb.Listeners {
			key := netip.AddrPortFrom(lb.Addr, uint16(l.Port)).String()
			if !lb.Addr.IsValid() || l.Port <= 0 || l.Port > 65535 {
				errs = append(errs, fmt.Errorf("listener %s: no address to listen on (%s port %d)", l.ARN, lb.Addr, l.Port))
				continue
			}
			if _, dup := wanted[key]; dup {
				errs = append(errs, fmt.Errorf("listener %s: %s is already another listener's", l.ARN, key))
				continue
			}
			rules, err := compileRules(l.Rules)
			if err != nil {
				errs = append(errs, fmt.Errorf("listener %s: %w", l.ARN, err))
				continue
			}
			proto := strings.ToUpper(l.Protocol)
			if proto != "HTTP" && proto != "HTTPS" {
				errs = append(errs, fmt.Errorf("listener %s: unsupported protocol %q", l.ARN, l.Protocol))
				continue
			}
			if proto == "HTTPS" && len(l.Certificates) == 0 {
				errs = append(errs, fmt.Errorf("listener %s: HTTPS without a certificate", l.ARN))
				continue
			}
			st := &listenerState{
				lbARN: lb.ARN, cfg: l, scheme: strings.ToLower(proto), port: strconv.Itoa(l.Port),
				rules: rules, groups: groups, idle: idle, nowFunc: m.cfg.Now,
			}
			st.proxy = m.newProxy(st)
			st.pool = m.pool
			wanted[key] = want{lb: lb, l: l, st: st}
		}
	}
	for key, ln := range m.listeners {
		w, ok := wanted[key]
		if ok && w.l.Protocol == ln.proto && w.st.idle == ln.idle {
			continue
		}
		m.log.Info("closing listener", "addr", key)
		m.closeListener(ln, m.cfg.DrainTimeout)
		delete(m.listeners, key)
	}
	for key, w := range wanted {
		if ln, ok := m.listeners[key]; ok {
			ln.state.Store(w.st)
			continue
		}
		ln, err := m.openListener(key, w.st)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %s (%s %s): %w", w.l.ARN, w.l.Protocol, key, err))
			continue
		}
		m.listeners[key] = ln
		m.log.Info("listening", "listener", w.l.ARN, "addr", key, "protocol", w.l.Protocol)
	}
	// Transports no listener uses any more.
	for d, tr := range m.transports {
		inUse := false
		for _, ln := range m.listeners {
			inUse = inUse || ln.idle == d
		}
		if !inUse {
			tr.CloseIdleConnections()
			delete(m.transports, d)
		}
	}
	m.mu.Unlock()
	// Report, then start the new checkers, so that a target's first change
	// (registration) is reported before its checks report theirs.
	for _, th := range reports {
		m.report(th)
	}
	m.mu.Lock()
	if !m.closed { // Close waits for the checkers it knows of
		for _, g := range groups {
			g.startPending()
		}
	}
	m.mu.Unlock()
	return errors.Join(errs...)
}

// transportLocked returns the keep-alive transport for an idle timeout:
// a target that sends nothing for that long gets the request a 504.
func (m *Manager) transportLocked(idle time.Duration) *http.Transport {
	if tr := m.transports[idle]; tr != nil {
		return tr
	}
	d := &net.Dialer{Timeout: m.cfg.ConnectTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetNoDelay(true)
			}
			return &idleConn{Conn: c, idle: idle}, nil
		},
		MaxIdleConns:          0, // no global limit
		MaxIdleConnsPerHost:   m.cfg.MaxIdleConnsPerTarget,
		IdleConnTimeout:       idle,
		ResponseHeaderTimeout: idle,
		ExpectContinueTimeout: time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		TLSClientConfig:       &tls.Config{InsecureSkipVerify: true}, // ALB does not verify targets
		WriteBufferSize:       16 << 10,
		ReadBufferSize:        16 << 10,
	}
	m.transports[idle] = tr
	return tr
}

func (m *Manager) newProxy(st *listenerState) *httputil.ReverseProxy {
	return &httputil.ReverseProxy{
		Rewrite:      st.rewrite,
		Transport:    m.transportLocked(st.idle),
		ErrorHandler: proxyError,
		BufferPool:   bufferPool{},
		ErrorLog:     slog.NewLogLogger(m.log.Handler(), slog.LevelDebug),
	}
}

// openListener binds key and serves it.
func (m *Manager) openListener(key string, st *listenerState) (*listener, error) {
	raw, err := net.Listen("tcp", key)
	if err != nil {
		return nil, err
	}
	ln := &listener{key: key, proto: st.cfg.Protocol, idle: st.idle, raw: raw}
	ln.state.Store(st)
	rht := min(m.cfg.ReadHeaderTimeout, st.idle)
	ln.h1 = &h1Server{handler: ln, readHeaderTimeout: rht, idle: st.idle, maxHeaderBytes: m.cfg.MaxHeaderBytes,
		log: m.log, conns: map[*h1Conn]struct{}{}}
	if !strings.EqualFold(st.cfg.Protocol, "HTTPS") {
		go ln.h1.serve(raw)
		return ln, nil
	}
	// HTTPS: fargo terminates TLS; HTTP/1.1 goes to the same server as
	// plain HTTP, HTTP/2 (ALPN h2) to net/http's.
	tcfg := &tls.Config{
		MinVersion:     tls.VersionTLS12,
		GetCertificate: ln.certificate,
		NextProtos:     []string{"h2", "http/1.1"},
	}
	ln.h2 = newChanListener(raw.Addr())
	ln.srv = &http.Server{
		Handler:           ln,
		ReadHeaderTimeout: rht,
		IdleTimeout:       st.idle,
		MaxHeaderBytes:    m.cfg.MaxHeaderBytes,
		TLSConfig:         tcfg,
		ErrorLog:          slog.NewLogLogger(m.log.Handler(), slog.LevelDebug),
	}
	go func() { _ = ln.srv.Serve(ln.h2) }()
	go ln.acceptTLS(raw, tcfg, rht)
	return ln, nil
}

// acceptTLS accepts HTTPS connections, shakes hands (bounded in time) and
// hands each to the HTTP/1.1 or the HTTP/2 server.
func (l *listener) acceptTLS(raw net.Listener, cfg *tls.Config, handshake time.Duration) {
	for {
		c, err := raw.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				l.h2.Close()
				return
			}
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go func() {
			tc := tls.Server(c, cfg)
			_ = tc.SetDeadline(time.Now().Add(handshake))
			if err := tc.Handshake(); err != nil {
				tc.Close()
				return
			}
			_ = tc.SetDeadline(time.Time{})
			if tc.ConnectionState().NegotiatedProtocol == "h2" {
				if !l.h2.push(tc) {
					tc.Close()
				}
				return
			}
			l.h1.serveConn(tc)
		}()
	}
}

// certificate picks the listener's certificate by SNI, the first by
// default.
func (l *listener) certificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	certs := l.state.Load().cfg.Certificates
	if len(certs) == 0 {
		return nil, errors.New("lb: listener has no certificate")
	}
	for i := range certs {
		if hello.ServerName != "" && hello.SupportsCertificate(&certs[i]) == nil {
			return &certs[i], nil
		}
	}
	return &certs[0], nil
}

// closeListener stops accepting at once and lets requests in flight finish
// for up to drain.
func (m *Manager) closeListener(ln *listener, drain time.Duration) {
	// Close the socket now, so that a listener reopened on the same port
	// can bind; Shutdown then waits for the connections.
	_ = ln.raw.Close()
	// Close (m.ctx) cuts the drain short.
	ctx, cancel := context.WithTimeout(m.ctx, drain)
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer cancel()
		if ln.srv != nil {
			go func() {
				if err := ln.srv.Shutdown(ctx); err != nil {
					_ = ln.srv.Close()
				}
			}()
		}
		ln.h1.shutdown(ctx)
	}()
}

// Health reports the health of every target of a target group, in
// registration order; nil for a target group the data plane does not know.
func (m *Manager) Health(tgARN string) []TargetHealth {
	m.mu.Lock()
	g := m.groups[tgARN]
	m.mu.Unlock()
	if g == nil {
		return nil
	}
	return g.healthList()
}

// Close stops every listener (connections are closed), every health
// check, and waits for them.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.cancel()
	for key, ln := range m.listeners {
		_ = ln.raw.Close()
		ln.h1.closeAll()
		if ln.srv != nil {
			_ = ln.srv.Close()
		}
		delete(m.listeners, key)
	}
	for _, g := range m.groups {
		g.stopAll()
	}
	for _, tr := range m.transports {
		tr.CloseIdleConnections()
	}
	m.pool.closeIdle()
	m.mu.Unlock()
	m.wg.Wait()
	return nil
}

// idleConn closes a target connection that sends nothing for the idle
// timeout (a hanging target).
type idleConn struct {
	net.Conn
	idle     time.Duration
	deadline time.Time
}

// Read moves the read deadline to idle from now; to spare a timer update
// on every read, only once half of the idle time has passed, so a target
// gets between idle/2 and idle of silence.
func (c *idleConn) Read(p []byte) (int, error) {
	if now := time.Now(); c.deadline.Sub(now) < c.idle/2 {
		c.refresh(now)
	}
	return c.Conn.Read(p)
}

func (c *idleConn) refresh(now time.Time) {
	c.deadline = now.Add(c.idle)
	_ = c.Conn.SetReadDeadline(c.deadline)
}

// bufferPool recycles the proxy's copy buffers.
type bufferPool struct{}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

func (bufferPool) Get() []byte  { return *(copyBufs.Get().(*[]byte)) }
func (bufferPool) Put(b []byte) { copyBufs.Put(&b) }

// chanListener is a net.Listener fed by push: the HTTP/2 connections of
// an HTTPS listener, after the handshake.
type chanListener struct {
	ch   chan net.Conn
	done chan struct{}
	once sync.Once
	addr net.Addr
}

func newChanListener(addr net.Addr) *chanListener {
	return &chanListener{ch: make(chan net.Conn), done: make(chan struct{}), addr: addr}
}

func (l *chanListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *chanListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *chanListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *chanListener) Addr() net.Addr { return l.addr }
