// Package lb is the Application Load Balancer data plane: it listens on
// every listener of every load balancer, matches requests against the
// listener's rules, forwards them to healthy targets (reverse proxy with
// keep-alive), answers redirects and fixed responses, and health-checks
// every registered target.
//
// It has its own model of what to serve (Config, below): the ELBv2 control
// plane (internal/elbv2) owns the records, their rules and their
// durability, and hands the data plane a whole Config each time something
// changes (Manager.Apply, idempotent, like an xDS snapshot). The data plane
// owns only what is live: sockets, connections and the health state of
// each target, which it reports back (HealthFunc) and answers on demand
// (Manager.Health).
//
//	elbv2 records ──► Config ──► Manager.Apply ──► listeners ──► targets
//	                                   │
//	       elbv2 (DescribeTargetHealth) ◄── Health / HealthFunc ◄── checks
//
// # Serving
//
// Each listener binds LoadBalancer.Addr:Port. HTTP/1.x, plain or inside
// TLS, is served by the package's own HTTP/1 server (h1.go): request heads
// bounded in time (ManagerConfig.ReadHeaderTimeout, capped by the idle
// timeout) and size (MaxHeaderBytes, 431), a head carrying both
// Content-Length and Transfer-Encoding, or two Host lines, refused with
// 400 (request smuggling), keep-alive connections closed after the load
// balancer's idle timeout. HTTPS listeners choose the certificate by SNI
// (the first is the default) and speak HTTP/2 to clients that offer it
// (ALPN h2, served by net/http). Rules are matched in order (match.go);
// forward picks a target group by weight and a target round robin among
// the healthy ones (all of them when none is: fail open), honours
// lb_cookie stickiness (AWSALB) and slow start, and proxies over pooled
// keep-alive connections (forward.go); WebSocket upgrades and HTTPS
// targets go through httputil.ReverseProxy. Errors answer as ALB does:
// 502 when a target refuses, resets or closes, 503 when no target may
// take the request, 504 when it does not answer within the idle timeout.
//
// Apply swaps a listener's rules and targets in place (open connections
// keep going), opens and closes listeners as they come and go (a closed
// listener's requests in flight may finish for DrainTimeout), and keeps
// each target's health across calls; a listener that cannot be served is
// named in Apply's error and the others serve on.
//
// # Health
//
// Every target of a target group used by a listener is checked on its
// own schedule (health.go, group.go): initial → healthy after one passed
// check, → unhealthy after UnhealthyThreshold failed ones (reason
// Target.ResponseCodeMismatch, Target.Timeout or Target.FailedHealthChecks
// with ELBv2's descriptions), unhealthy → healthy after HealthyThreshold
// passed ones; draining targets (Target.Draining) get no new request and
// are not checked; targets of a group no listener uses are unused
// (Target.NotInUse); with checks disabled they are unavailable and get
// traffic.
package lb

import (
	"crypto/tls"
	"net/netip"
	"time"
)

// Config is everything the data plane serves.
type Config struct {
	LoadBalancers []LoadBalancer
	TargetGroups  []TargetGroup
}

// LoadBalancer is one application load balancer: an address of its own,
// and its listeners.
type LoadBalancer struct {
	ARN string
	// Account and Region own it (metrics are published under them).
	Account, Region string
	// Addr is the load balancer's own address (see internal/network):
	// every listener binds Addr:Port.
	Addr netip.Addr
	// IdleTimeout is idle_timeout.timeout_seconds (AWS default 60s).
	IdleTimeout time.Duration
	Listeners   []Listener
}

// Listener is one port of a load balancer.
type Listener struct {
	ARN      string
	Port     int
	Protocol string // "HTTP" or "HTTPS"
	// Certificates serve HTTPS (the first is the default; others are
	// chosen by SNI).
	Certificates []tls.Certificate
	// Rules are in evaluation order: ascending priority, the default rule
	// (no conditions) last.
	Rules []Rule
}

// Rule is a listener rule: when every condition matches, its actions run.
type Rule struct {
	ARN        string
	Priority   int // 0 for the default rule
	IsDefault  bool
	Conditions []Condition
	Actions    []Action
}

// Condition is one rule condition, as ELBv2 names them.
type Condition struct {
	// Field is host-header, path-pattern, http-header,
	// http-request-method, query-string or source-ip.
	Field string
	// Values are the patterns (host, path, header value, method, CIDR);
	// any one matching satisfies the condition.
	Values []string
	// HeaderName is http-header's header.
	HeaderName string
	// Query are query-string's key/value patterns (Key may be empty).
	Query []KeyValue
}

// KeyValue is a query-string pattern.
type KeyValue struct{ Key, Value string }

// Action is what a rule does; the last action of a rule answers.
type Action struct {
	// Type is forward, redirect or fixed-response.
	Type     string
	Forward  *Forward
	Redirect *Redirect
	Fixed    *FixedResponse
}

// Forward sends to target groups, split by weight.
type Forward struct {
	TargetGroups []WeightedTargetGroup
	// Stickiness is the group-level stickiness (0: none).
	StickinessDuration time.Duration
}

// WeightedTargetGroup is a forward destination.
type WeightedTargetGroup struct {
	ARN    string
	Weight int
}

// Redirect is a redirect action; empty fields keep the request's own
// (#{protocol}, #{host}, #{port}, #{path}, #{query} placeholders as ALB).
type Redirect struct {
	Protocol, Host, Port, Path, Query string
	StatusCode                        int // 301 or 302
}

// FixedResponse answers without a target.
type FixedResponse struct {
	StatusCode  int
	ContentType string
	Body        string
}

// TargetGroup is a set of targets with one health check.
type TargetGroup struct {
	ARN      string
	Protocol string // HTTP or HTTPS
	Port     int
	// TargetType is ip or instance (both are an address and a port here).
	TargetType  string
	HealthCheck HealthCheck
	// DeregistrationDelay is how long a draining target keeps its open
	// connections (the control plane removes it after; the data plane
	// sends it no new request meanwhile).
	DeregistrationDelay time.Duration
	SlowStart           time.Duration
	// Stickiness is stickiness.enabled with lb_cookie (0: off).
	Stickiness time.Duration
	Targets    []Target
}

// HealthCheck is a target group's health check, defaults applied by the
// control plane (AWS's: HTTP, "/", traffic-port, 30s interval, 5s
// timeout, 5 healthy, 2 unhealthy, matcher 200).
type HealthCheck struct {
	Enabled  bool
	Protocol string
	Path     string
	// Port is 0 for traffic-port (the target's own port).
	Port               int
	Interval, Timeout  time.Duration
	HealthyThreshold   int
	UnhealthyThreshold int
	// Matcher is ELBv2's HttpCode: "200", "200,202", "200-299".
	Matcher string
}

// Target is a registered target.
type Target struct {
	// ID is the target as registered (an IP address for ip, an instance
	// ID for instance); Addr and Port are where the data plane connects.
	ID   string
	Addr netip.Addr
	Port int
	// Draining targets get no new request; their health is "draining".
	Draining bool
	// RegisteredAt starts slow start.
	RegisteredAt time.Time
}

// Health states and reason codes, as ELBv2 answers them.
const (
	StateInitial     = "initial"
	StateHealthy     = "healthy"
	StateUnhealthy   = "unhealthy"
	StateUnused      = "unused"
	StateDraining    = "draining"
	StateUnavailable = "unavailable"

	ReasonRegistrationInProgress   = "Elb.RegistrationInProgress"
	ReasonInitialHealthChecking    = "Elb.InitialHealthChecking"
	ReasonResponseCodeMismatch     = "Target.ResponseCodeMismatch"
	ReasonTimeout                  = "Target.Timeout"
	ReasonFailedHealthChecks       = "Target.FailedHealthChecks"
	ReasonNotRegistered            = "Target.NotRegistered"
	ReasonNotInUse                 = "Target.NotInUse"
	ReasonDeregistrationInProgress = "Target.DeregistrationInProgress"
	ReasonHealthCheckDisabled      = "Target.HealthCheckDisabled"
	ReasonInternalError            = "Elb.InternalError"
)

// TargetHealth is one target's health as the data plane sees it.
type TargetHealth struct {
	TargetGroupARN string
	Target         Target
	State          string
	Reason         string // "" when healthy
	Description    string
}

// HealthFunc receives every change of a target's health state.
type HealthFunc func(TargetHealth)
