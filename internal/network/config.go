package network

import (
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"regexp"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Defaults of Config.
const (
	DefaultNamePrefix = "fgo"
	DefaultTableName  = "fargo"
	DefaultNetNSDir   = "/run/netns"
	DefaultSubnetBits = 24
)

// Default addresses of Config. 10.218.0.0/16 is clear of docker
// (172.17.0.0/16 and up), kubernetes' usual pod and service ranges and the
// common home-router 10.0/10.1 ranges.
var (
	DefaultPool       = netip.MustParsePrefix("10.218.0.0/16")
	DefaultMetadataIP = netip.MustParseAddr("169.254.170.2")
)

// Config configures a Manager. The zero value of every field but StateDir
// means its default.
type Config struct {
	// StateDir holds network.json, the IPAM state. Required.
	StateDir string
	// Pool is the IPv4 range task subnets are cut from (DefaultPool).
	Pool netip.Prefix
	// SubnetBits is the prefix length of one account+region subnet
	// (DefaultSubnetBits); between Pool.Bits() and 30.
	SubnetBits int
	// NamePrefix starts the name of every link fargo creates: bridges
	// "<p>br<4 hex>", veths "<p>v<hash>", the metadata link "<p>md"; and
	// every netns file "<p>-<task id>". 2 to 5 lower-case letters or digits.
	// Two Managers on one host need different prefixes, pools and tables.
	NamePrefix string
	// TableName is the nftables table (family inet) fargo owns
	// (DefaultTableName).
	TableName string
	// NetNSDir is where netns files are bind-mounted (DefaultNetNSDir, where
	// `ip netns` looks).
	NetNSDir string
	// MetadataIP is the task metadata endpoint address every task reaches
	// through its gateway (DefaultMetadataIP).
	MetadataIP netip.Addr
	// PublishIP is the host address published ports listen on when a
	// PortMapping names none; the zero value means all addresses (0.0.0.0).
	PublishIP netip.Addr
	// Logger receives structured logs; nil discards them.
	Logger *slog.Logger
}

var prefixRE = regexp.MustCompile(`^[a-z][a-z0-9]{1,4}$`)

// withDefaults returns c with its defaults filled in, or an invalid-argument
// error.
func (c Config) withDefaults() (Config, error) {
	if c.StateDir == "" {
		return c, errdefs.Invalidf("network: StateDir is required")
	}
	if !c.Pool.IsValid() {
		c.Pool = DefaultPool
	}
	c.Pool = c.Pool.Masked()
	if !c.Pool.Addr().Is4() {
		return c, errdefs.Invalidf("network: pool %s is not IPv4", c.Pool)
	}
	if c.SubnetBits == 0 {
		c.SubnetBits = DefaultSubnetBits
	}
	if c.SubnetBits < c.Pool.Bits() || c.SubnetBits > 30 {
		return c, errdefs.Invalidf("network: subnet bits %d outside [%d, 30]", c.SubnetBits, c.Pool.Bits())
	}
	if c.SubnetBits-c.Pool.Bits() > 16 {
		return c, errdefs.Invalidf("network: more than 65536 subnets in pool %s", c.Pool)
	}
	if c.NamePrefix == "" {
		c.NamePrefix = DefaultNamePrefix
	}
	if !prefixRE.MatchString(c.NamePrefix) {
		return c, errdefs.Invalidf("network: name prefix %q must match %s", c.NamePrefix, prefixRE)
	}
	if c.TableName == "" {
		c.TableName = DefaultTableName
	}
	if c.NetNSDir == "" {
		c.NetNSDir = DefaultNetNSDir
	}
	if !c.MetadataIP.IsValid() {
		c.MetadataIP = DefaultMetadataIP
	}
	if !c.MetadataIP.Is4() || c.Pool.Contains(c.MetadataIP) {
		return c, errdefs.Invalidf("network: metadata IP %s must be IPv4 outside the pool", c.MetadataIP)
	}
	if !c.PublishIP.IsValid() {
		c.PublishIP = netip.IPv4Unspecified()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c, nil
}

// Names of the kernel objects, all derived from the prefix so that Recover
// and the tests can find them.

func (c Config) bridgeName(index int) string { return fmt.Sprintf("%sbr%04x", c.NamePrefix, index) }

func (c Config) metadataLinkName() string { return c.NamePrefix + "md" }

// vethName hashes the task ID into the 15 bytes Linux allows.
func (c Config) vethName(taskID string) string {
	n := 15 - len(c.NamePrefix) - 1
	return c.NamePrefix + "v" + hashHex(taskID)[:n]
}

func (c Config) netnsName(taskID string) string { return c.NamePrefix + "-" + taskID }
