package network

import (
	"net/netip"
	"testing"
)

// TestFoldBindings: PublishPorts answers one binding per port; a range
// folds back into its first and last.
func TestFoldBindings(t *testing.T) {
	ip := netip.MustParseAddr("127.0.0.1")
	want := []PortMapping{{ContainerPort: 80, Count: 1}, {ContainerPort: 9000, Count: 3}, {ContainerPort: 53, Protocol: "udp"}}
	got := []Binding{
		{HostIP: ip, HostPort: 40000, ContainerPort: 80, Protocol: "tcp"},
		{HostIP: ip, HostPort: 41000, ContainerPort: 9000, Protocol: "tcp"},
		{HostIP: ip, HostPort: 41001, ContainerPort: 9001, Protocol: "tcp"},
		{HostIP: ip, HostPort: 41002, ContainerPort: 9002, Protocol: "tcp"},
		{HostIP: ip, HostPort: 40053, ContainerPort: 53, Protocol: "udp"},
	}
	out, err := FoldBindings(want, got)
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 3 || out[0].First != got[0] || out[0].Last != got[0] ||
		out[1].First != got[1] || out[1].Last != got[3] || out[2].First != got[4] || out[2].Last != got[4] {
		t.Errorf("FoldBindings = %+v", out)
	}
	if _, err := FoldBindings(want, got[:3]); err == nil {
		t.Error("FoldBindings with too few bindings: no error")
	}
}
