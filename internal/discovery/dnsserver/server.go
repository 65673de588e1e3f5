// Package dnsserver is fargo's DNS server: the resolver of every task
// (the first nameserver of its /etc/resolv.conf). It answers the private
// DNS namespaces of Cloud Map (internal/discovery) of the querying task's
// own account and region, names an ExtraNames hook knows (load balancers'
// DNS names), and forwards everything else to the host's resolvers. It is
// built on github.com/miekg/dns (wire format, UDP and TCP serving,
// truncation), not a hand-written codec.
//
//	query ─► source IP ─► rate limit ─► Sources.ScopeOf ─► View(scope)
//	                                             │
//	        in a namespace of the scope ◄────────┤──► ExtraNames ──► forward
//	        (authoritative: records, NODATA, NXDOMAIN)      (host's resolvers)
//
// Another account's namespaces are not this account's zones: their names
// are forwarded like any other name, so they resolve as they would
// outside fargo (not at all).
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/miekg/dns"
	"golang.org/x/sys/unix"

	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Views answers the DNS view of an account and region (discovery.Directory).
type Views interface {
	View(s tenant.Scope) *discovery.View
}

// Sources maps a query's source address to the account and region it
// acts for: a task's own, or the host's default for sources that are not
// tasks. An error refuses the query (a task address fargo cannot place).
type Sources interface {
	ScopeOf(ip netip.Addr) (tenant.Scope, error)
}

// ExtraNames resolves names outside Cloud Map that fargo owns (an ALB's
// DNSName). fqdn is lower case with a trailing dot; nil means "not mine".
type ExtraNames interface {
	LookupName(s tenant.Scope, fqdn string) []netip.Addr
}

// Defaults of Config.
const (
	DefaultRate  = 500  // queries per second per source
	DefaultBurst = 1000 // queries a source may send at once
)

// Config configures a Server.
type Config struct {
	// Addr is the ip:port it listens on, UDP and TCP.
	Addr string
	// Upstreams are the resolvers (host:port) names outside fargo's zones
	// are forwarded to; nil: the nameservers of /etc/resolv.conf.
	Upstreams []string
	// Rate and Burst bound each source's queries (token bucket); a source
	// over its rate gets no answer (UDP) or REFUSED (TCP). 0: defaults;
	// negative Rate: unlimited.
	Rate  float64
	Burst int
	// ForwardTimeout bounds one upstream exchange (0: 2 s).
	ForwardTimeout time.Duration
	Logger         *slog.Logger
}

// Server is a running DNS server.
type Server struct {
	cfg     Config
	views   Views
	sources Sources
	log     *slog.Logger
	limits  *limiter

	mu    sync.RWMutex
	extra ExtraNames

	udp []*dns.Server
	tcp *dns.Server
}

// New returns a server; Start binds it.
func New(cfg Config, views Views, sources Sources) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Rate == 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst == 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.ForwardTimeout == 0 {
		cfg.ForwardTimeout = 2 * time.Second
	}
	if cfg.Upstreams == nil {
		if cc, err := dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil {
			for _, s := range cc.Servers {
				cfg.Upstreams = append(cfg.Upstreams, net.JoinHostPort(s, cc.Port))
			}
		}
	}
	return &Server{cfg: cfg, views: views, sources: sources, log: cfg.Logger, limits: newLimiter(cfg.Rate, cfg.Burst)}
}

// SetExtraNames installs the hook for names outside Cloud Map (safe at
// any time).
func (s *Server) SetExtraNames(x ExtraNames) {
	s.mu.Lock()
	s.extra = x
	s.mu.Unlock()
}

// Start binds UDP and TCP and serves in the background. UDP is served
// from one socket per CPU (SO_REUSEPORT: the kernel spreads the queries
// over them), so that one read loop is not the bottleneck.
func (s *Server) Start() error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		}); err != nil {
			return err
		}
		return serr
	}}
	ctx := context.Background()
	pc, err := lc.ListenPacket(ctx, "udp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("dns: listen udp %s: %w", s.cfg.Addr, err)
	}
	addr := pc.LocalAddr().String() // the port UDP got, when it was 0
	conns := []net.PacketConn{pc}
	for range runtime.GOMAXPROCS(0) - 1 {
		more, err := lc.ListenPacket(ctx, "udp", addr)
		if err != nil {
			break // one socket serves too
		}
		conns = append(conns, more)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		for _, c := range conns {
			_ = c.Close()
		}
		return fmt.Errorf("dns: listen tcp %s: %w", s.cfg.Addr, err)
	}
	// UDPSize bounds what a UDP query may be (bigger ones are cut and fail
	// to parse); TCP queries are bounded by their 2-byte length.
	for _, c := range conns {
		s.udp = append(s.udp, &dns.Server{PacketConn: c, Handler: s, UDPSize: dns.DefaultMsgSize})
	}
	s.tcp = &dns.Server{Listener: ln, Handler: s, ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second,
		IdleTimeout: func() time.Duration { return 8 * time.Second }, MaxTCPQueries: 128}
	for _, srv := range append(slices.Clone(s.udp), s.tcp) {
		go func() {
			if err := srv.ActivateAndServe(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Warn("dns server stopped", "err", err)
			}
		}()
	}
	s.log.Info("dns server listening", "addr", addr, "udp_sockets", len(conns), "upstreams", s.cfg.Upstreams)
	return nil
}

// Addr is the address it listens on.
func (s *Server) Addr() string {
	if len(s.udp) > 0 {
		return s.udp[0].PacketConn.LocalAddr().String()
	}
	return s.cfg.Addr
}

// Close stops serving.
func (s *Server) Close() error {
	var errs []error
	for _, srv := range append(slices.Clone(s.udp), s.tcp) {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(); err != nil {
			// Not started yet: close what it was given.
			if srv.PacketConn != nil {
				errs = append(errs, srv.PacketConn.Close())
			}
			if srv.Listener != nil {
				errs = append(errs, srv.Listener.Close())
			}
		}
	}
	return errors.Join(errs...)
}

func sourceOf(w dns.ResponseWriter) (netip.Addr, bool) {
	switch a := w.RemoteAddr().(type) {
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.Unmap(), ok
	}
	return netip.Addr{}, false
}

func isTCP(w dns.ResponseWriter) bool {
	_, ok := w.RemoteAddr().(*net.TCPAddr)
	return ok
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, r *dns.Msg) {
	src, ok := sourceOf(w)
	if !ok {
		return
	}
	if !s.limits.allow(src, time.Now()) {
		if isTCP(w) {
			s.reply(w, r, new(dns.Msg).SetRcode(r, dns.RcodeRefused))
		}
		return // UDP: drop, as response rate limiting does
	}
	if len(r.Question) != 1 || r.Opcode != dns.OpcodeQuery {
		s.reply(w, r, new(dns.Msg).SetRcode(r, dns.RcodeFormatError))
		return
	}
	q := r.Question[0]
	scope, err := s.sources.ScopeOf(src)
	if err != nil {
		s.log.Debug("dns: query from an unknown source", "source", src, "err", err)
		s.reply(w, r, new(dns.Msg).SetRcode(r, dns.RcodeRefused))
		return
	}
	if q.Qclass == dns.ClassINET {
		if z, rel := s.views.View(scope).FindZone(q.Name); z != nil {
			m := new(dns.Msg).SetReply(r)
			m.RecursionAvailable = true
			answerZone(m, z, rel, q)
			s.reply(w, r, m)
			return
		}
		s.mu.RLock()
		extra := s.extra
		s.mu.RUnlock()
		if extra != nil {
			if addrs := extra.LookupName(scope, dns.Fqdn(strings.ToLower(q.Name))); len(addrs) > 0 {
				m := new(dns.Msg).SetReply(r)
				m.Authoritative, m.RecursionAvailable = true, true
				answerExtra(m, addrs, q)
				s.reply(w, r, m)
				return
			}
		}
	}
	s.forward(w, r)
}

// reply writes m, truncated to what the client can take: its EDNS0 buffer
// size over UDP (512 without EDNS0), 64 KiB over TCP.
func (s *Server) reply(w dns.ResponseWriter, r, m *dns.Msg) {
	size := dns.MinMsgSize
	o := r.IsEdns0()
	if isTCP(w) {
		size = dns.MaxMsgSize
	} else if o != nil {
		size = max(int(o.UDPSize()), dns.MinMsgSize)
	}
	if o != nil && m.IsEdns0() == nil && m.Rcode != dns.RcodeFormatError {
		m.SetEdns0(uint16(min(size, dns.DefaultMsgSize)), false)
	}
	m.Truncate(size)
	if err := w.WriteMsg(m); err != nil {
		s.log.Debug("dns: write answer", "err", err)
	}
}

// forward asks the upstream resolvers, in order, and relays the first
// answer; SERVFAIL when none answers.
func (s *Server) forward(w dns.ResponseWriter, r *dns.Msg) {
	if !r.RecursionDesired || len(s.cfg.Upstreams) == 0 {
		s.reply(w, r, new(dns.Msg).SetRcode(r, dns.RcodeRefused))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ForwardTimeout)
	defer cancel()
	netw := "udp"
	if isTCP(w) {
		netw = "tcp"
	}
	for _, up := range s.cfg.Upstreams {
		c := &dns.Client{Net: netw, Timeout: s.cfg.ForwardTimeout, UDPSize: dns.DefaultMsgSize}
		resp, _, err := c.ExchangeContext(ctx, r, up)
		if err == nil && resp.Truncated && netw == "udp" {
			c.Net = "tcp"
			if r2, _, err2 := c.ExchangeContext(ctx, r, up); err2 == nil {
				resp = r2
			}
		}
		if err != nil {
			s.log.Debug("dns: forward", "upstream", up, "err", err)
			continue
		}
		resp.Id = r.Id
		s.reply(w, r, resp)
		return
	}
	s.reply(w, r, new(dns.Msg).SetRcode(r, dns.RcodeServerFailure))
}
