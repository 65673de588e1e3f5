package network

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"golang.org/x/sys/unix"
)

// PortMapping asks for a container port to be published on the host
// (bridge network mode).
type PortMapping struct {
	HostIP        netip.Addr // zero: Config.PublishIP
	HostPort      uint16     // 0: an ephemeral port the kernel picks
	ContainerPort uint16
	Protocol      string // "tcp" (default) or "udp"
	// Count > 1 publishes the Count container ports from ContainerPort on
	// as many consecutive host ports (ECS's containerPortRange): from
	// HostPort, or with HostPort 0 from the first free run found in the
	// host's ephemeral port range. The bindings come back one per port.
	Count uint16
}

// Binding is a published port, as DescribeTasks' networkBindings and the
// metadata endpoint's Ports show it.
type Binding struct {
	HostIP        netip.Addr `json:"hostIp"`
	HostPort      uint16     `json:"hostPort"`
	ContainerPort uint16     `json:"containerPort"`
	Protocol      string     `json:"protocol"`
}

// Timeouts of the port proxies.
const (
	proxyDialTimeout = 5 * time.Second
	udpIdleTimeout   = 60 * time.Second
)

// PublishPorts publishes container ports of a set-up task on the host, each
// through a userspace proxy to the task's IP (see the package doc for why
// not DNAT). Bindings are persisted and re-published by Recover. On error
// nothing of this call stays published.
func (m *Manager) PublishPorts(ctx context.Context, taskID string, ports []PortMapping) ([]Binding, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errdefs.Newf(errdefs.ErrUnavailable, "network: manager closed")
	}
	t, ok := m.st.Tasks[taskID]
	if !ok || !t.Ready || t.busy {
		return nil, errdefs.NotFoundf("network: no network for task %s", taskID)
	}
	var started []*proxy
	var out, added []Binding
	fail := func(err error) ([]Binding, error) {
		for _, p := range started {
			p.Close()
		}
		return nil, err
	}
	for _, pm := range ports {
		b := Binding{HostIP: pm.HostIP, HostPort: pm.HostPort, ContainerPort: pm.ContainerPort, Protocol: pm.Protocol}
		if !b.HostIP.IsValid() {
			b.HostIP = m.cfg.PublishIP
		}
		if b.Protocol == "" {
			b.Protocol = "tcp"
		}
		if b.Protocol != "tcp" && b.Protocol != "udp" {
			return fail(errdefs.Invalidf("network: protocol %q is not tcp or udp", pm.Protocol))
		}
		if b.ContainerPort == 0 {
			return fail(errdefs.Invalidf("network: container port 0"))
		}
		if pm.Count > 1 {
			if int(b.ContainerPort)+int(pm.Count)-1 > 65535 || int(b.HostPort)+int(pm.Count)-1 > 65535 {
				return fail(errdefs.Invalidf("network: port range %d+%d is out of range", b.ContainerPort, pm.Count))
			}
			if have, ok := publishedRange(t.Ports, b, pm.Count); ok {
				out = append(out, have...)
				continue
			}
			ps, err := startRange(b, pm.Count, t.IP, m.log.With("task", taskID))
			if err != nil {
				return fail(err)
			}
			for _, p := range ps {
				started = append(started, p)
				out = append(out, p.binding)
				added = append(added, p.binding)
			}
			continue
		}
		// Publishing what is already published (an agent re-adopting the
		// task after a restart) answers the existing binding.
		if have, ok := publishedBinding(t.Ports, b); ok {
			out = append(out, have)
			continue
		}
		p, err := startProxy(b, netip.AddrPortFrom(t.IP, b.ContainerPort), m.log.With("task", taskID))
		if err != nil {
			return fail(err)
		}
		started = append(started, p)
		out = append(out, p.binding)
		added = append(added, p.binding)
	}
	t.Ports = append(t.Ports, added...)
	if err := m.st.save(m.cfg.StateDir); err != nil {
		t.Ports = t.Ports[:len(t.Ports)-len(added)]
		return fail(err)
	}
	m.proxies[taskID] = append(m.proxies[taskID], started...)
	return out, nil
}

// publishedBinding finds the binding of a task that already publishes the
// container port and protocol asked for, on the host port asked for (any,
// when 0).
func publishedBinding(have []Binding, want Binding) (Binding, bool) {
	for _, b := range have {
		if b.ContainerPort == want.ContainerPort && b.Protocol == want.Protocol &&
			(want.HostPort == 0 || want.HostPort == b.HostPort) {
			return b, true
		}
	}
	return Binding{}, false
}

// publishedRange finds the bindings of a task that already publish the
// count container ports from want's on consecutive host ports (from want's
// host port, when not 0).
func publishedRange(have []Binding, want Binding, count uint16) ([]Binding, bool) {
	out := make([]Binding, 0, count)
	for i := range count {
		w := want
		w.ContainerPort += i
		if want.HostPort != 0 {
			w.HostPort += i
		} else if i > 0 {
			w.HostPort = out[0].HostPort + i
		}
		b, ok := publishedBinding(have, w)
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// rangeAttempts bounds the search for a free run of host ports.
const rangeAttempts = 64

// startRange starts a proxy for each of count container ports from b's on
// consecutive host ports: from b.HostPort, or from the first free run of
// the ephemeral range (ip_local_port_range) found from a random start. On
// error nothing it started stays.
func startRange(b Binding, count uint16, ip netip.Addr, log *slog.Logger) ([]*proxy, error) {
	try := func(first uint16) ([]*proxy, error) {
		ps := make([]*proxy, 0, count)
		for i := range count {
			pb := b
			pb.HostPort, pb.ContainerPort = first+i, b.ContainerPort+i
			p, err := startProxy(pb, netip.AddrPortFrom(ip, pb.ContainerPort), log)
			if err != nil {
				for _, p := range ps {
					p.Close()
				}
				return nil, err
			}
			ps = append(ps, p)
		}
		return ps, nil
	}
	if b.HostPort != 0 {
		return try(b.HostPort)
	}
	lo, hi := ephemeralPorts()
	if int(hi)-int(lo)+1 < int(count) {
		return nil, errdefs.Conflictf("network: no run of %d free host ports", count)
	}
	span := int(hi) - int(lo) + 2 - int(count) // possible first ports
	first := int(lo) + rand.IntN(span)
	for range rangeAttempts {
		ps, err := try(uint16(first))
		if err == nil {
			return ps, nil
		}
		if !errors.Is(err, errdefs.ErrConflict) {
			return nil, err
		}
		first = int(lo) + (first-int(lo)+int(count))%span // past the run just tried
	}
	return nil, errdefs.Conflictf("network: no run of %d free host ports found", count)
}

// ephemeralPorts is the host's ephemeral port range, where the kernel picks
// ports for hostPort 0.
func ephemeralPorts() (lo, hi uint16) {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if f := strings.Fields(string(b)); err == nil && len(f) == 2 {
		l, err1 := strconv.ParseUint(f[0], 10, 16)
		h, err2 := strconv.ParseUint(f[1], 10, 16)
		if err1 == nil && err2 == nil && l > 0 && l <= h {
			return uint16(l), uint16(h)
		}
	}
	return 32768, 60999 // Linux's default
}

// proxy forwards one published port to a task.
type proxy struct {
	binding Binding
	target  netip.AddrPort
	log     *slog.Logger

	ln  net.Listener // tcp
	pc  *net.UDPConn // udp
	wg  sync.WaitGroup
	mu  sync.Mutex
	cs  map[io.Closer]struct{} // live tcp connections and udp sessions
	end bool
}

// startProxy listens on the binding's host address and serves it. A
// binding with HostPort 0 comes back with the port the kernel chose.
func startProxy(b Binding, target netip.AddrPort, log *slog.Logger) (*proxy, error) {
	p := &proxy{binding: b, target: target, log: log, cs: map[io.Closer]struct{}{}}
	addr := net.JoinHostPort(b.HostIP.String(), strconv.Itoa(int(b.HostPort)))
	var port int
	switch b.Protocol {
	case "tcp":
		ln, err := net.Listen("tcp4", addr)
		if err != nil {
			return nil, portError(b, err)
		}
		p.ln = ln
		port = ln.Addr().(*net.TCPAddr).Port
		p.wg.Go(p.serveTCP)
	case "udp":
		ua, err := net.ResolveUDPAddr("udp4", addr)
		if err != nil {
			return nil, portError(b, err)
		}
		pc, err := net.ListenUDP("udp4", ua)
		if err != nil {
			return nil, portError(b, err)
		}
		p.pc = pc
		port = pc.LocalAddr().(*net.UDPAddr).Port
		p.wg.Go(p.serveUDP)
	}
	p.binding.HostPort = uint16(port)
	log.Info("port published", "host", net.JoinHostPort(b.HostIP.String(), strconv.Itoa(port)), "protocol", b.Protocol, "target", target)
	return p, nil
}

func portError(b Binding, err error) error {
	if errors.Is(err, unix.EADDRINUSE) {
		return errdefs.Conflictf("network: host port %s/%d is in use", b.Protocol, b.HostPort)
	}
	return fmt.Errorf("network: publish %s/%d: %w", b.Protocol, b.HostPort, err)
}

// Close stops listening and cuts the connections in flight.
func (p *proxy) Close() {
	p.mu.Lock()
	p.end = true
	for c := range p.cs {
		c.Close()
	}
	p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
	}
	if p.pc != nil {
		p.pc.Close()
	}
	p.wg.Wait()
}

// track registers a closer to be cut by Close; false when closing.
func (p *proxy) track(c io.Closer) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.end {
		return false
	}
	p.cs[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c io.Closer) {
	p.mu.Lock()
	delete(p.cs, c)
	p.mu.Unlock()
}

func (p *proxy) serveTCP() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Warn("port proxy accept", "err", err)
			}
			return
		}
		if !p.track(c) {
			c.Close()
			return
		}
		p.wg.Go(func() {
			defer p.untrack(c)
			defer c.Close()
			p.pipeTCP(c.(*net.TCPConn))
		})
	}
}

// pipeTCP copies both ways, passing half-closes through.
func (p *proxy) pipeTCP(client *net.TCPConn) {
	d := net.Dialer{Timeout: proxyDialTimeout}
	uc, err := d.Dial("tcp4", p.target.String())
	if err != nil {
		p.log.Debug("port proxy dial", "target", p.target, "err", err)
		return
	}
	upstream := uc.(*net.TCPConn)
	if !p.track(upstream) {
		upstream.Close()
		return
	}
	defer p.untrack(upstream)
	defer upstream.Close()
	var wg sync.WaitGroup
	wg.Go(func() {
		io.Copy(upstream, client) //nolint:errcheck // the peer's close ends it
		upstream.CloseWrite()
	})
	io.Copy(client, upstream) //nolint:errcheck // the peer's close ends it
	client.CloseWrite()
	wg.Wait()
}

// serveUDP keeps one upstream socket per client address; replies go back
// from the published port. Sessions idle for udpIdleTimeout are dropped.
func (p *proxy) serveUDP() {
	sessions := map[netip.AddrPort]*net.UDPConn{}
	var smu sync.Mutex
	buf := make([]byte, 65535)
	for {
		n, client, err := p.pc.ReadFromUDPAddrPort(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				p.log.Warn("port proxy read", "err", err)
			}
			return
		}
		smu.Lock()
		up, ok := sessions[client]
		if !ok {
			up, err = net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(p.target))
			if err != nil || !p.track(up) {
				smu.Unlock()
				if up != nil {
					up.Close()
				}
				continue
			}
			sessions[client] = up
			p.wg.Go(func() {
				defer func() {
					smu.Lock()
					delete(sessions, client)
					smu.Unlock()
					p.untrack(up)
					up.Close()
				}()
				rbuf := make([]byte, 65535)
				for {
					up.SetReadDeadline(time.Now().Add(udpIdleTimeout))
					n, err := up.Read(rbuf)
					if err != nil {
						return
					}
					if _, err := p.pc.WriteToUDPAddrPort(rbuf[:n], client); err != nil {
						return
					}
				}
			})
		}
		smu.Unlock()
		up.Write(buf[:n]) //nolint:errcheck // datagrams may be lost
	}
}

// PublishedRange is what one PortMapping was published as: the binding of
// its first port and of its last (the same binding for a single port).
type PublishedRange struct{ First, Last Binding }

// FoldBindings groups the bindings PublishPorts answered (one per port, in
// the order asked) by the mappings asked for: a range of Count ports
// folds into one.
func FoldBindings(want []PortMapping, got []Binding) ([]PublishedRange, error) {
	out := make([]PublishedRange, 0, len(want))
	for _, pm := range want {
		n := int(max(pm.Count, 1))
		if len(got) < n {
			return nil, fmt.Errorf("network: %d bindings for %d ports", len(got), n)
		}
		out = append(out, PublishedRange{First: got[0], Last: got[n-1]})
		got = got[n:]
	}
	return out, nil
}
