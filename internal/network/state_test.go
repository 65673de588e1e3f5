package network

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// These tests need no root: address plan, IPAM and persistence.

func TestConfigDefaultsAndValidation(t *testing.T) {
	c, err := Config{StateDir: "/x"}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.Pool != DefaultPool || c.SubnetBits != 24 || c.NamePrefix != "fgo" || c.TableName != "fargo" ||
		c.MetadataIP != DefaultMetadataIP || c.NetNSDir != "/run/netns" || c.PublishIP != netip.IPv4Unspecified() {
		t.Errorf("defaults: %+v", c)
	}
	for name, bad := range map[string]Config{
		"no state dir":       {},
		"ipv6 pool":          {StateDir: "/x", Pool: netip.MustParsePrefix("fd00::/64")},
		"subnet too big":     {StateDir: "/x", SubnetBits: 8},
		"subnet too small":   {StateDir: "/x", SubnetBits: 31},
		"long prefix":        {StateDir: "/x", NamePrefix: "fargo1"},
		"bad prefix":         {StateDir: "/x", NamePrefix: "f-g"},
		"metadata in pool":   {StateDir: "/x", MetadataIP: netip.MustParseAddr("10.218.3.4")},
		"too many subnets":   {StateDir: "/x", Pool: netip.MustParsePrefix("10.0.0.0/8"), SubnetBits: 30},
		"ipv6 metadata addr": {StateDir: "/x", MetadataIP: netip.MustParseAddr("fd00::2")},
	} {
		if _, err := bad.withDefaults(); !errors.Is(err, errdefs.ErrInvalidArgument) {
			t.Errorf("%s: %v, want invalid argument", name, err)
		}
	}
	if n := c.vethName("0123456789abcdef0123456789abcdef"); len(n) != 15 {
		t.Errorf("veth name %q is not 15 bytes", n)
	}
}

func TestSubnetsAndIPs(t *testing.T) {
	cfg, err := Config{StateDir: "/x", Pool: netip.MustParsePrefix("10.219.0.0/16"), SubnetBits: 30}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Pool = netip.MustParsePrefix("10.219.0.0/28") // 4 subnets of /30: one task each
	st := newState()
	add := func(id, acct string) (netip.Addr, error) {
		s, err := st.subnetFor(cfg, acct, "r")
		if err != nil {
			return netip.Addr{}, err
		}
		ip, err := st.allocIP(s)
		if err != nil {
			return netip.Addr{}, err
		}
		st.Tasks[id] = &taskInfo{TaskID: id, Account: acct, Region: "r", IP: ip}
		return ip, nil
	}
	for i, want := range []string{"10.219.0.2", "10.219.0.6", "10.219.0.10", "10.219.0.14"} {
		acct := string(rune('a' + i))
		ip, err := add("t"+acct, acct)
		if err != nil || ip.String() != want {
			t.Fatalf("task of %s: %v, %v; want %s", acct, ip, err, want)
		}
	}
	if _, err := add("t2", "a"); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Errorf("full subnet: %v", err)
	}
	if _, err := add("te", "e"); !errors.Is(err, errdefs.ErrLimitExceeded) {
		t.Errorf("full pool: %v", err)
	}
	// Account b leaves: its subnet is reclaimed for e only once the pool is
	// exhausted, and a keeps its subnet id.
	idA := st.Subnets["a/r"].ID
	delete(st.Tasks, "tb")
	ip, err := add("te", "e")
	if err != nil || ip.String() != "10.219.0.6" {
		t.Errorf("reclaimed subnet: %v, %v", ip, err)
	}
	if _, ok := st.Subnets["b/r"]; ok {
		t.Errorf("b's subnet still allocated after reclaim")
	}
	if st.Subnets["a/r"].ID != idA || idA != "subnet-"+hashHex("subnet/a/r")[:17] {
		t.Errorf("subnet id changed")
	}
}

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	st := newState()
	st.Subnets["a/r"] = &subnetInfo{Account: "a", Region: "r", Index: 3, CIDR: netip.MustParsePrefix("10.219.3.0/24"), ID: "subnet-x"}
	st.Tasks["t"] = &taskInfo{TaskID: "t", Account: "a", Region: "r", IP: netip.MustParseAddr("10.219.3.2"), ENIID: "eni-x", Ready: true,
		Ports: []Binding{{HostIP: netip.IPv4Unspecified(), HostPort: 49153, ContainerPort: 80, Protocol: "tcp"}}}
	if err := st.save(dir); err != nil {
		t.Fatal(err)
	}
	got, err := loadState(dir)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Subnets["a/r"] != *st.Subnets["a/r"] || got.Tasks["t"].IP != st.Tasks["t"].IP ||
		!got.Tasks["t"].Ready || got.Tasks["t"].Ports[0] != st.Tasks["t"].Ports[0] {
		t.Errorf("round trip: %+v", got)
	}
	empty, err := loadState(t.TempDir())
	if err != nil || len(empty.Tasks) != 0 {
		t.Errorf("missing file: %v, %v", empty, err)
	}
	if mac := macFor(netip.MustParseAddr("10.219.3.2")); mac != "0a:fa:0a:db:03:02" {
		t.Errorf("mac %s", mac)
	}
	if eni, err := newENIID(); err != nil || len(eni) != 21 {
		t.Errorf("eni %q, %v", eni, err)
	}
}
