package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// TestPublishPortRange: a containerPortRange is published on consecutive
// host ports, each reaching its own container port; publishing it again
// answers the same ports; a run with a taken port is skipped (or, when the
// first host port is fixed, is a conflict), and nothing half-published stays.
func TestPublishPortRange(t *testing.T) {
	m, _ := newTestManager(t)
	ctx := context.Background()
	a := setup(t, m, "ranged", acctA)
	for p := 8080; p <= 8082; p++ {
		listenIn(t, a.NetNSPath, fmt.Sprintf("web%d", p), p)
	}
	bs, err := m.PublishPorts(ctx, "ranged", []PortMapping{{ContainerPort: 8080, Count: 3}})
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 3 {
		t.Fatalf("bindings %+v", bs)
	}
	lo, hi := ephemeralPorts()
	for i, b := range bs {
		if b.ContainerPort != uint16(8080+i) || b.HostPort != bs[0].HostPort+uint16(i) || b.Protocol != "tcp" {
			t.Fatalf("binding %d: %+v (all: %+v)", i, b, bs)
		}
		if b.HostPort < lo || b.HostPort > hi {
			t.Errorf("host port %d outside the ephemeral range %d-%d", b.HostPort, lo, hi)
		}
		mustReach(t, "", fmt.Sprintf("127.0.0.1:%d", b.HostPort), fmt.Sprintf("web%d", 8080+i))
	}
	again, err := m.PublishPorts(ctx, "ranged", []PortMapping{{ContainerPort: 8080, Count: 3}})
	if err != nil || len(again) != 3 || again[0] != bs[0] || again[2] != bs[2] {
		t.Errorf("republishing: %+v, %v; want %+v", again, err, bs)
	}

	// A fixed first host port whose run holds a taken port is a conflict,
	// and the ports before the taken one are free again afterwards.
	taken, err := net.Listen("tcp4", "0.0.0.0:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	tp := uint16(taken.Addr().(*net.TCPAddr).Port)
	_, err = m.PublishPorts(ctx, "ranged", []PortMapping{{HostPort: tp - 1, ContainerPort: 9000, Count: 2}})
	if !errors.Is(err, errdefs.ErrConflict) {
		t.Fatalf("a run over a taken port: %v, want conflict", err)
	}
	if ln, err := net.Listen("tcp4", fmt.Sprintf("0.0.0.0:%d", tp-1)); err != nil {
		t.Errorf("the port before the taken one stayed published: %v", err)
	} else {
		ln.Close()
	}
	if _, err := m.PublishPorts(ctx, "ranged", []PortMapping{{ContainerPort: 65535, Count: 2}}); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Errorf("a range past 65535: %v, want invalid", err)
	}

	if err := m.Teardown(ctx, "ranged"); err != nil {
		t.Fatal(err)
	}
	if _, err := dial("", fmt.Sprintf("127.0.0.1:%d", bs[0].HostPort), shortWait); err == nil {
		t.Errorf("proxy still serving after Teardown")
	}
}
