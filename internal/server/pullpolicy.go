package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Image pulls run on the host, which reaches what tasks are firewalled
// from (loopback services, the metadata address, the task network). So a
// task's image reference picks only among registries the operator
// allowed, and every connection a pull makes is checked at dial time
// against the addresses its host name resolved to (a DNS answer that
// changes between the check and the dial cannot get around it: fargo dials
// the very address it checked).
//
//	fargo's own registry           always (its listener's port on loopback)
//	entries of --allow-registries:
//	  "*"                          any host whose addresses are all public
//	  "host" / "host:port"         that host; its addresses must not be
//	                               loopback, link-local, multicast,
//	                               unspecified or fargo's own (task pool,
//	                               metadata address), unless the entry is
//	                               an IP literal or a localhost name: that
//	                               is the operator saying so
//	anything else                  refused before any request is sent
//
// Hosts a pull is sent to that the reference did not name (a token realm,
// a blob redirect to a CDN) must resolve to public addresses only, and
// only when some registry besides fargo's own is allowed at all.

// errRegistryNotAllowed is the class of a pull refused by the registry
// allow-list: nothing was sent.
var errRegistryNotAllowed = errdefs.New(errdefs.ErrPermissionDenied, "registry not allowed")

// registryEntry is one allow-list entry other than "*".
type registryEntry struct {
	host string     // lower case, no brackets
	port string     // "" = any port
	ip   netip.Addr // valid when host is an IP literal
}

// pullPolicy is the registry allow-list and address filter of image pulls.
type pullPolicy struct {
	// own reports whether host:port is fargo's own registry.
	own     func(hostport string) bool
	anyHost bool
	entries []registryEntry
	// fargo's own addresses, never dialled unless an entry names them.
	owned []netip.Prefix
	// lookup resolves host names (net.DefaultResolver.LookupNetIP).
	lookup func(ctx context.Context, network, host string) ([]netip.Addr, error)

	// proxies are the proxy addresses the transport chose (operator
	// configuration: HTTPS_PROXY and the like), dialled as they are.
	proxies sync.Map
}

// newPullPolicy parses the allow-list (validated by config).
func newPullPolicy(allow []string, own func(string) bool, owned []netip.Prefix) (*pullPolicy, error) {
	p := &pullPolicy{own: own, owned: owned, lookup: net.DefaultResolver.LookupNetIP}
	for _, e := range allow {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		if e == "*" {
			p.anyHost = true
			continue
		}
		ent, err := parseRegistryEntry(e)
		if err != nil {
			return nil, err
		}
		p.entries = append(p.entries, ent)
	}
	return p, nil
}

// parseRegistryEntry parses "host", "host:port", "[v6]" or "[v6]:port".
func parseRegistryEntry(e string) (registryEntry, error) {
	host, port := e, ""
	if h, p, err := net.SplitHostPort(e); err == nil {
		host, port = h, p
	} else if strings.HasPrefix(e, "[") && strings.HasSuffix(e, "]") {
		host = e[1 : len(e)-1]
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "" || strings.ContainsAny(host, "/@?#* ") || strings.Contains(e, "://") {
		return registryEntry{}, fmt.Errorf("registry %q: want host or host:port", e)
	}
	ent := registryEntry{host: host, port: port}
	if ip, err := netip.ParseAddr(host); err == nil {
		ent.ip = ip.Unmap()
	} else if strings.Contains(host, ":") {
		return registryEntry{}, fmt.Errorf("registry %q: want host or host:port", e)
	}
	return ent, nil
}

// splitHostPort splits a reference's or a dial's "host[:port]".
func splitHostPort(hostport string) (host, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return strings.ToLower(strings.TrimSuffix(h, ".")), p
	}
	return strings.ToLower(strings.TrimSuffix(strings.Trim(hostport, "[]"), ".")), ""
}

// entry returns the allow-list entry naming hostport (its port as the
// reference or dial has it, "" for the scheme's default).
func (p *pullPolicy) entry(hostport string) (registryEntry, bool) {
	host, port := splitHostPort(hostport)
	ip, ipErr := netip.ParseAddr(host)
	for _, e := range p.entries {
		if e.port != "" && e.port != port {
			continue
		}
		if e.host == host || (ipErr == nil && e.ip.IsValid() && e.ip == ip.Unmap()) {
			return e, true
		}
		if dockerHub(e.host) && dockerHub(host) {
			return e, true
		}
	}
	return registryEntry{}, false
}

// dockerHub reports Docker Hub's names (image references say docker.io;
// go-containerregistry calls it index.docker.io).
func dockerHub(host string) bool {
	return host == "docker.io" || host == "index.docker.io" || host == "registry-1.docker.io"
}

// Allowed reports whether an image reference's registry (host[:port], as
// go-containerregistry's RegistryStr gives it) may be pulled from. It
// decides on the name only; the addresses are checked when dialled.
func (p *pullPolicy) Allowed(registry string) bool {
	if p.own(registry) {
		return true
	}
	if _, ok := p.entry(registry); ok {
		return true
	}
	return p.anyHost
}

// checkAddr reports whether a pull may connect to ip for hostport.
func (p *pullPolicy) checkAddr(hostport string, ip netip.Addr) error {
	ip = ip.Unmap()
	if !p.anyHost && len(p.entries) == 0 {
		return errors.New("no registry but fargo's own is allowed")
	}
	e, named := p.entry(hostport)
	if named && e.ip.IsValid() {
		if e.ip == ip {
			return nil // the operator named this very address
		}
		return fmt.Errorf("%s is not %s", ip, e.ip)
	}
	if !ip.IsValid() || ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("%s is not a unicast address", ip)
	}
	for _, o := range p.owned {
		if o.Contains(ip) {
			return fmt.Errorf("%s is fargo's own", ip)
		}
	}
	if ip.IsLoopback() {
		host, _ := splitHostPort(hostport)
		if named && isLocalhostName(host) {
			return nil
		}
		return fmt.Errorf("%s is loopback", ip)
	}
	if ip.IsLinkLocalUnicast() {
		return fmt.Errorf("%s is link-local", ip)
	}
	if named {
		return nil // private networks too: the operator named the host
	}
	if !publicAddr(ip) {
		return fmt.Errorf("%s is not public", ip)
	}
	return nil
}

// nonPublic are the IPv4 and IPv6 ranges that are not the internet's,
// beyond what netip classifies (private, loopback, link-local).
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("192.0.2.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), // NAT64: any IPv4 inside
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2001::/32"),     // Teredo
	netip.MustParsePrefix("2001:db8::/32"), // documentation
	netip.MustParsePrefix("2002::/16"),     // 6to4: any IPv4 inside
	netip.MustParsePrefix("100::/64"),      // discard
}

// publicAddr reports whether ip is a global unicast internet address.
func publicAddr(ip netip.Addr) bool {
	if !ip.IsGlobalUnicast() || ip.IsPrivate() {
		return false
	}
	for _, n := range nonPublic {
		if n.Contains(ip) {
			return false
		}
	}
	return true
}

// dialContext connects for a pull: fargo's own registry on loopback,
// a proxy the transport chose as it is, anything else only to addresses
// checkAddr accepts, dialled by address (never resolved twice).
func (p *pullPolicy) dialContext(d *net.Dialer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if p.own(addr) {
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
		if _, ok := p.proxies.Load(addr); ok {
			return d.DialContext(ctx, network, addr)
		}
		var ips []netip.Addr
		if ip, err := netip.ParseAddr(host); err == nil {
			ips = []netip.Addr{ip}
		} else if isLocalhostName(host) {
			ips = []netip.Addr{netip.MustParseAddr("127.0.0.1")} // RFC 6761, whatever the resolver says
		} else if ips, err = p.lookup(ctx, "ip", host); err != nil {
			return nil, err
		}
		var refused, failed error
		for _, ip := range ips {
			ip = ip.Unmap()
			if err := p.checkAddr(addr, ip); err != nil {
				refused = errors.Join(refused, err)
				continue
			}
			c, err := d.DialContext(ctx, network, net.JoinHostPort(ip.String(), port))
			if err == nil {
				return c, nil
			}
			failed = err
		}
		if failed != nil {
			return nil, failed // an allowed address did not answer
		}
		if refused == nil {
			refused = errors.New("no address")
		}
		return nil, &addrRefusedError{host: addr, err: refused}
	}
}

// addrRefusedError is a dial the address filter refused: the host had no
// address a pull may connect to.
type addrRefusedError struct {
	host string
	err  error
}

func (e *addrRefusedError) Error() string { return "dial " + e.host + ": " + e.err.Error() }
func (e *addrRefusedError) Unwrap() error { return e.err }

// transport is the image store's HTTP transport: dials through
// dialContext, proxies (from the environment) never for fargo's own
// registry.
func (p *pullPolicy) transport() http.RoundTripper {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = p.dialContext(d)
	t.Proxy = func(r *http.Request) (*url.URL, error) {
		if p.own(r.URL.Host) {
			return nil, nil
		}
		u, err := http.ProxyFromEnvironment(r)
		if u != nil {
			port := u.Port()
			if port == "" { // as the transport dials it
				port = map[string]string{"http": "80", "https": "443", "socks5": "1080"}[u.Scheme]
			}
			p.proxies.Store(net.JoinHostPort(u.Hostname(), port), true)
		}
		return u, err
	}
	return t
}
