package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/agent"
	"github.com/fargo-run/fargo/internal/errdefs"
)

// testPolicy is a pull policy whose own registry is *.localhost:4566 and
// whose host names resolve from names.
func testPolicy(t *testing.T, allow []string, names map[string][]string) *pullPolicy {
	t.Helper()
	own := func(hp string) bool {
		h, port, err := net.SplitHostPort(hp)
		return err == nil && port == "4566" && isLocalhostName(h)
	}
	p, err := newPullPolicy(allow, own, []netip.Prefix{netip.MustParsePrefix("10.221.0.0/16"), netip.MustParsePrefix("169.254.170.11/32")})
	if err != nil {
		t.Fatal(err)
	}
	p.lookup = func(_ context.Context, _, host string) ([]netip.Addr, error) {
		var out []netip.Addr
		for _, a := range names[host] {
			out = append(out, netip.MustParseAddr(a))
		}
		if out == nil {
			return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
		}
		return out, nil
	}
	return p
}

func TestPullPolicyAllowed(t *testing.T) {
	for _, tc := range []struct {
		allow []string
		yes   []string
		no    []string
	}{
		{nil,
			[]string{"000000000000.dkr.ecr.us-east-1.localhost:4566", "localhost:4566"},
			[]string{"127.0.0.1:4897", "localhost:4897", "[::1]:4897", "index.docker.io", "169.254.170.2", "registry.example:5000"}},
		{[]string{"*"},
			[]string{"index.docker.io", "ghcr.io", "127.0.0.1:4897", "localhost:4566"}, // names only: addresses are checked when dialled
			nil},
		{[]string{"registry.example:5000", "docker.io", "127.0.0.1:4897"},
			[]string{"registry.example:5000", "index.docker.io", "127.0.0.1:4897", "REGISTRY.example.:5000"},
			[]string{"registry.example", "registry.example:5001", "ghcr.io", "127.0.0.1:4898", "localhost:4897"}},
		{[]string{"[::1]"}, []string{"[::1]:5000", "::1"}, []string{"127.0.0.1:5000"}},
	} {
		p := testPolicy(t, tc.allow, nil)
		for _, h := range tc.yes {
			if !p.Allowed(h) {
				t.Errorf("allow %q: %s refused", tc.allow, h)
			}
		}
		for _, h := range tc.no {
			if p.Allowed(h) {
				t.Errorf("allow %q: %s allowed", tc.allow, h)
			}
		}
	}
}

// TestPullPolicyAddresses: what a pull may connect to, by the host it
// dials and the address that host resolved to.
func TestPullPolicyAddresses(t *testing.T) {
	p := testPolicy(t, []string{"*", "reg.lan:5000", "127.0.0.1:4897", "localhost:4898", "[fd00::5]:443"}, nil)
	for _, tc := range []struct {
		host, ip string
		ok       bool
	}{
		// "*": public addresses only.
		{"ghcr.io:443", "140.82.112.34", true},
		{"ghcr.io:443", "2606:50c0:8000::154", true},
		{"evil.example:443", "127.0.0.1", false},
		{"evil.example:443", "127.8.9.10", false},
		{"evil.example:443", "::1", false},
		{"evil.example:443", "::ffff:127.0.0.1", false},
		{"evil.example:443", "0.0.0.0", false},
		{"evil.example:443", "::", false},
		{"evil.example:443", "169.254.169.254", false}, // cloud metadata
		{"evil.example:443", "169.254.170.2", false},   // ECS metadata
		{"evil.example:443", "169.254.170.11", false},  // this fargo's metadata IP
		{"evil.example:443", "fe80::1", false},
		{"evil.example:443", "10.221.3.4", false}, // the task pool
		{"evil.example:443", "10.1.2.3", false},   // a private network nobody named
		{"evil.example:443", "192.168.1.1", false},
		{"evil.example:443", "172.16.0.1", false},
		{"evil.example:443", "100.64.0.1", false},
		{"evil.example:443", "fd12::1", false},
		{"evil.example:443", "2002:7f00:1::1", false},  // 6to4 of 127.0.0.1
		{"evil.example:443", "64:ff9b::7f00:1", false}, // NAT64 of 127.0.0.1
		{"evil.example:443", "224.0.0.1", false},
		{"evil.example:443", "ff02::1", false},
		{"127.0.0.1:4899", "127.0.0.1", false}, // literal, but not the one allowed
		{"[::1]:4897", "::1", false},
		// A named host: its private network is fine, loopback, link-local
		// and fargo's own are not (a DNS answer cannot make them so).
		{"reg.lan:5000", "10.1.2.3", true},
		{"reg.lan:5000", "fd00::7", true},
		{"reg.lan:5000", "127.0.0.1", false},
		{"reg.lan:5000", "169.254.170.2", false},
		{"reg.lan:5000", "10.221.0.1", false},
		{"reg.lan:5001", "10.1.2.3", false}, // another port: only public
		// An IP literal or localhost name the operator named: that address.
		{"127.0.0.1:4897", "127.0.0.1", true},
		{"localhost:4898", "127.0.0.1", true},
		{"localhost:4898", "::1", true},
		{"localhost:4898", "10.221.0.1", false},
		{"[fd00::5]:443", "fd00::5", true},
		{"[fd00::5]:443", "fd00::6", false},
	} {
		err := p.checkAddr(tc.host, netip.MustParseAddr(tc.ip))
		if (err == nil) != tc.ok {
			t.Errorf("%s at %s: %v, want ok=%v", tc.host, tc.ip, err, tc.ok)
		}
	}
	// Nothing allowed: not even public addresses (a pull from fargo's
	// own registry is never sent elsewhere).
	none := testPolicy(t, nil, nil)
	if err := none.checkAddr("ghcr.io:443", netip.MustParseAddr("140.82.112.34")); err == nil {
		t.Errorf("default policy dials a public address")
	}
}

// TestPullPolicyDial: the dialler connects only to addresses it checked,
// so a host name that resolves to loopback (DNS rebinding, a hostile
// /etc/hosts entry) reaches nothing; fargo's own registry and an
// operator-named literal are dialled.
func TestPullPolicyDial(t *testing.T) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var accepted atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p := testPolicy(t, []string{"*", "reg.example"}, map[string][]string{
		"rebind.example": {"127.0.0.1"},
		"reg.example":    {"::1", "127.0.0.1"},
		"meta.example":   {"169.254.170.11"},
	})
	dial := p.dialContext(&net.Dialer{Timeout: 2 * time.Second})
	ctx := t.Context()
	for _, addr := range []string{
		"rebind.example:" + port, "reg.example:" + port, "meta.example:" + port,
		"127.0.0.1:" + port, "[::1]:" + port, "[::ffff:127.0.0.1]:" + port, "localhost:" + port,
		"0.0.0.0:" + port, "x.localhost:" + port,
	} {
		c, err := dial(ctx, "tcp", addr)
		if err == nil {
			c.Close()
			t.Errorf("dial %s connected", addr)
			continue
		}
		var refused *addrRefusedError
		if !errors.As(err, &refused) {
			t.Errorf("dial %s: %v, want an address refusal", addr, err)
		}
	}
	if _, err := dial(ctx, "tcp", "nx.example:443"); err == nil || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("unknown host: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted.Load(); n != 0 {
		t.Fatalf("the loopback listener accepted %d connections", n)
	}

	// fargo's own registry (its port, any localhost name) and a literal
	// the operator allowed are dialled.
	own := testPolicy(t, []string{"127.0.0.1:" + port}, nil)
	own.own = func(hp string) bool { h, pt, _ := net.SplitHostPort(hp); return pt == port && isLocalhostName(h) }
	odial := own.dialContext(&net.Dialer{Timeout: 2 * time.Second})
	for _, addr := range []string{"000000000000.dkr.ecr.us-east-1.localhost:" + port, "127.0.0.1:" + port} {
		c, err := odial(ctx, "tcp", addr)
		if err != nil {
			t.Errorf("dial %s: %v", addr, err)
			continue
		}
		c.Close()
	}
}

// TestTenantPullError: a failed pull's text, which ends in the task's
// stoppedReason, is fargo's short reason, never the registry's words.
func TestTenantPullError(t *testing.T) {
	const secret = "SECRET body of a host-local service at /var/lib/x"
	for _, tc := range []struct {
		err   error
		want  string
		class error
	}{
		{errdefs.New(errdefs.ErrNotFound, secret), "not found", agent.ErrImageNotFound},
		{errdefs.New(errdefs.ErrPermissionDenied, secret), "access denied", agent.ErrImageAuth},
		{fmt.Errorf("pull: %w", &addrRefusedError{host: "x:1", err: errors.New(secret)}), "registry not allowed", agent.ErrImageAuth},
		{errdefs.New(errdefs.ErrUnavailable, secret), "registry unavailable", errdefs.ErrUnavailable},
		{errors.New(secret), "registry unavailable", errdefs.ErrUnavailable},
		{errdefs.New(errdefs.ErrInvalidArgument, secret), "invalid image reference or image", errdefs.ErrInvalidArgument},
	} {
		got := tenantPullError(tc.err)
		if got.Error() != tc.want || !errors.Is(got, tc.class) {
			t.Errorf("%v: %q (class %v), want %q", tc.err, got, errors.Is(got, tc.class), tc.want)
		}
	}
}
