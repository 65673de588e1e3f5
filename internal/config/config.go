// Package config holds the settings of each fargo role as one plain struct,
// with documented defaults and a Validate method. Flags and environment
// variables are parsed into these structs by internal/cli; nothing here reads
// the process environment itself.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Defaults.
const (
	DefaultListen    = "127.0.0.1:4566"
	DefaultRegion    = "us-east-1"
	DefaultAccountID = "000000000000"
	// DevAccessKeyID and DevSecretAccessKey are the well-known test keys
	// that dev mode accepts, as other emulators do.
	DevAccessKeyID     = "test"
	DevSecretAccessKey = "test"
	// DefaultMaxBodyBytes bounds an API request body. ECR's UploadLayerPart
	// carries up to 20 MiB of layer data, base64-encoded in JSON.
	DefaultMaxBodyBytes = 32 << 20
)

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]+$`)
)

// Server is the configuration of `fargo server`.
type Server struct {
	// Listen is the address of the one listener that serves every API.
	Listen string
	// DataDir holds the store and the credentials.
	DataDir string
	// AccountID is the account of the administrator key pair and of dev
	// mode's test keys.
	AccountID string
	// Region is the default region: the one written into the AWS CLI
	// profile and meant by registry hosts that don't name one.
	Region string
	// Dev accepts the well-known test keys (see internal/auth).
	Dev bool
	// WriteProfile writes the AWS CLI profile "fargo" on start.
	WriteProfile bool
	// MaxBodyBytes bounds API request bodies.
	MaxBodyBytes int64
	// AllowHostAccess runs tasks that reach the host: privileged
	// containers, host volumes, added capabilities, host devices and the
	// host network mode (EC2 launch type). Off, they are refused, as every
	// account's tasks share the host.
	AllowHostAccess bool
	// AllowRegistries are the registries other than fargo's own that
	// tasks may pull images from: "host" or "host:port" entries, or "*"
	// for any host with public addresses only. Empty (the default): fargo's
	// own registry only. Loopback, link-local and fargo's own addresses
	// are reached only when an entry names them (an IP literal, or a
	// localhost name).
	AllowRegistries []string
	// KeepTasks leaves tasks running when fargo stops (live restore, for
	// upgrades); otherwise a graceful stop stops them.
	KeepTasks bool
	// HealthyAfter is how long a service task without container health
	// checks must have been RUNNING to count as healthy (default 5s so
	// that local deployments are quick; AWS waits 40s; 0: at once).
	HealthyAfter time.Duration
	// MetricsPeriod is CloudWatch's minute: the period fargo publishes
	// AWS/ECS and AWS/Logs metrics at, and what an alarm period of 60 s
	// lasts (alarm periods scale by MetricsPeriod/1m). Default 1m, AWS's;
	// shorter for demos and tests (below 1m every datapoint is also kept
	// per second, for 3 hours). 0 means 1m.
	MetricsPeriod time.Duration
	// NoAgent runs the control plane without this host's agent: tasks
	// are placed only on agents that register from elsewhere.
	NoAgent bool
	// CPUOvercommit and MemoryOvercommit multiply the host's CPUs and
	// memory into the capacity the scheduler may place (one task may
	// still use at most the whole host). CPU time is shared by the
	// kernel's scheduler; memory limits are limits, not reservations.
	CPUOvercommit, MemoryOvercommit float64
	// TaskPool is the IPv4 range task subnets are cut from ("" = the
	// network package's default, 10.218.0.0/16), NetworkPrefix names the
	// links, netns files and nftables table of this fargo ("" = "fgo"),
	// and MetadataIP is the task metadata endpoint's address ("" =
	// 169.254.170.2). Two fargo on one host need different values of all
	// three.
	TaskPool, NetworkPrefix, MetadataIP string
	// Connection limits (issue 17: one client could take all of fargo's
	// file descriptors). APIMaxConns and APIMaxConnsPerClient bound the
	// API listener's open connections in all and per client IP;
	// MetadataMaxConns and MetadataMaxConnsPerTask those of the task
	// metadata endpoint (a task is its IP). A connection over a limit is
	// closed at once. 0: unbounded.
	APIMaxConns, APIMaxConnsPerClient, MetadataMaxConns, MetadataMaxConnsPerTask int
	// IdleTimeout closes keep-alive connections idle this long, on both
	// listeners.
	IdleTimeout time.Duration
	// BodyTimeout and BodyMinRate are the minimum-rate rule for request
	// bodies (API and registry uploads alike): after BodyTimeout, a body
	// must have arrived at BodyMinRate bytes a second on average, and it
	// may never stall longer than BodyTimeout. 0 BodyMinRate: no rule.
	BodyTimeout time.Duration
	BodyMinRate int64
	// EphemeralStorage is how tasks' ephemeral storage is bounded:
	// EphemeralAuto (default) gives each task a loop-mounted filesystem
	// of its size where the host allows (root, loop devices, mkfs.ext4)
	// and warns and runs tasks unbounded where it does not;
	// EphemeralEnforce refuses to start without; EphemeralOff never
	// bounds (tasks write to the host's disk).
	EphemeralStorage string
	// DNSPort is the port of the DNS server tasks resolve through (issue
	// 12), on the metadata address, UDP and TCP (0: no DNS server; tasks
	// keep their image's /etc/resolv.conf). DNSRate bounds each source's
	// queries a second (0: unbounded). DNSUpstreams are the resolvers
	// names outside Cloud Map go to (nil: /etc/resolv.conf's).
	DNSPort, DNSRate int
	DNSUpstreams     []string
}

// Default connection limits and timeouts (see Server).
const (
	DefaultAPIMaxConns             = 4096
	DefaultAPIMaxConnsPerClient    = 1024
	DefaultMetadataMaxConns        = 1024
	DefaultMetadataMaxConnsPerTask = 64
	DefaultIdleTimeout             = 60 * time.Second
	DefaultBodyTimeout             = 30 * time.Second
	DefaultBodyMinRate             = 4 << 10
)

// Defaults of the DNS server (see Server.DNSPort).
const (
	DefaultDNSPort = 53
	DefaultDNSRate = 500
)

// EphemeralStorage settings.
const (
	EphemeralAuto    = "auto"
	EphemeralEnforce = "enforce"
	EphemeralOff     = "off"
)

// DefaultServer returns a Server with every default filled in.
func DefaultServer() Server {
	return Server{
		Listen:           DefaultListen,
		DataDir:          defaultDataDir(),
		AccountID:        DefaultAccountID,
		Region:           DefaultRegion,
		WriteProfile:     true,
		MaxBodyBytes:     DefaultMaxBodyBytes,
		CPUOvercommit:    4,
		MemoryOvercommit: 2,
		HealthyAfter:     5 * time.Second,
		MetricsPeriod:    time.Minute,

		APIMaxConns:             DefaultAPIMaxConns,
		APIMaxConnsPerClient:    DefaultAPIMaxConnsPerClient,
		MetadataMaxConns:        DefaultMetadataMaxConns,
		MetadataMaxConnsPerTask: DefaultMetadataMaxConnsPerTask,
		IdleTimeout:             DefaultIdleTimeout,
		BodyTimeout:             DefaultBodyTimeout,
		BodyMinRate:             DefaultBodyMinRate,
		EphemeralStorage:        EphemeralAuto,
		DNSPort:                 DefaultDNSPort,
		DNSRate:                 DefaultDNSRate,
	}
}

func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "fargo")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "fargo")
	}
	return "fargo-data"
}

// Validate reports the first invalid setting.
func (c Server) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		errs = append(errs, fmt.Errorf("listen %q: %w", c.Listen, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("data-dir must not be empty"))
	}
	if !accountRe.MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("account-id %q: must be 12 digits", c.AccountID))
	}
	if !regionRe.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region %q: not a region name such as us-east-1", c.Region))
	}
	if c.MetricsPeriod != 0 && (c.MetricsPeriod < time.Second || c.MetricsPeriod > time.Minute || c.MetricsPeriod%time.Second != 0) {
		errs = append(errs, fmt.Errorf("metrics-period %v: must be whole seconds from 1s to 1m", c.MetricsPeriod))
	}
	if c.HealthyAfter < 0 {
		errs = append(errs, fmt.Errorf("healthy-after %v: must not be negative", c.HealthyAfter))
	}
	if c.CPUOvercommit < 1 || c.MemoryOvercommit < 1 {
		errs = append(errs, errors.New("overcommit factors must be at least 1"))
	}
	if c.TaskPool != "" {
		if p, err := netip.ParsePrefix(c.TaskPool); err != nil || !p.Addr().Is4() {
			errs = append(errs, fmt.Errorf("task-pool %q: not an IPv4 prefix such as 10.218.0.0/16", c.TaskPool))
		}
	}
	if c.MetadataIP != "" {
		if a, err := netip.ParseAddr(c.MetadataIP); err != nil || !a.Is4() {
			errs = append(errs, fmt.Errorf("metadata-ip %q: not an IPv4 address", c.MetadataIP))
		}
	}
	if c.APIMaxConns < 0 || c.APIMaxConnsPerClient < 0 || c.MetadataMaxConns < 0 || c.MetadataMaxConnsPerTask < 0 ||
		c.IdleTimeout < 0 || c.BodyTimeout < 0 || c.BodyMinRate < 0 {
		errs = append(errs, errors.New("connection limits, timeouts and the body rate must not be negative"))
	}
	if c.DNSPort < 0 || c.DNSPort > 65535 || c.DNSRate < 0 {
		errs = append(errs, errors.New("dns-port must be 0-65535 and dns-rate not negative"))
	}
	for _, u := range c.DNSUpstreams {
		if _, err := netip.ParseAddrPort(u); err != nil {
			errs = append(errs, fmt.Errorf("dns-upstreams %q: not an ip:port", u))
		}
	}
	for _, r := range c.AllowRegistries {
		if err := validRegistry(r); err != nil {
			errs = append(errs, err)
		}
	}
	if c.MaxBodyBytes <= 0 {
		errs = append(errs, errors.New("max body bytes must be positive"))
	}
	switch c.EphemeralStorage {
	case "", EphemeralAuto, EphemeralEnforce, EphemeralOff:
	default:
		errs = append(errs, fmt.Errorf("ephemeral-storage %q: must be auto, enforce or off", c.EphemeralStorage))
	}
	return errors.Join(errs...)
}

// validRegistry checks an allow-registries entry: "*", "host",
// "host:port", "[v6]" or "[v6]:port", without scheme or path.
func validRegistry(r string) error {
	if r == "*" {
		return nil
	}
	host := r
	if h, port, err := net.SplitHostPort(r); err == nil {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("allow-registries %q: bad port", r)
		}
		host = h
	} else if strings.HasPrefix(r, "[") && strings.HasSuffix(r, "]") {
		host = r[1 : len(r)-1]
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if host == "" || len(host) > 253 || strings.Trim(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-") != "" {
		return fmt.Errorf("allow-registries %q: want *, host or host:port", r)
	}
	return nil
}
