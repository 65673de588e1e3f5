// Package discovery is fargo's Cloud Map: namespaces (HTTP and private DNS),
// services with their DNS configuration, the instances registered in them
// (by hand through the API, or by ECS for the tasks of services that name
// a registry in serviceRegistries), the operations of the asynchronous
// calls, and the in-memory view the DNS server (internal/discovery/dnsserver)
// answers from. It knows nothing about wire formats; internal/api/
// servicediscovery converts to and from the AWS shapes.
//
// Store layout (all under servicediscovery/<account>/<region>/):
//
//	namespaces/<ns-id>                 Namespace (JSON)
//	nsnames/<name>                     the namespace id holding a name (value: id)
//	services/<srv-id>                  Service (JSON), with its instances' revision
//	svcnames/<ns-id>/<lower name>      the service id holding a name in a namespace
//	instances/<srv-id>/<instance id>   Instance (JSON)
//	operations/<op id>                 Operation (JSON)
//	requests/<creator request id>      Request: what a CreatorRequestId was used for
//
// Every change is one store.Update transaction: a namespace and its name,
// a service and its name, an instance and its service's revision, and the
// operation that reports the change are written together, so kill -9
// leaves either all of them or none. The asynchronous calls (namespace
// changes, UpdateService, RegisterInstance, DeregisterInstance) are applied
// in the transaction that records their operation, which is therefore
// SUCCESS as soon as the call returns: clients polling GetOperation see it
// done on their first poll.
//
//	API / ECS registrar ──► Directory (one tx per change) ──► store
//	                              │ after each commit, and at start
//	                              ▼
//	                        view (per account+region, immutable) ──► DNS server
package discovery

import (
	"crypto/rand"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Namespace types.
const (
	TypeDNSPrivate = "DNS_PRIVATE"
	TypeDNSPublic  = "DNS_PUBLIC"
	TypeHTTP       = "HTTP"
)

// Routing policies and record types of a service's DNS configuration.
const (
	Multivalue = "MULTIVALUE"
	Weighted   = "WEIGHTED"
	RecordA    = "A"
	RecordAAAA = "AAAA"
	RecordSRV  = "SRV"
	RecordCNAM = "CNAME"
)

// Health statuses.
const (
	Healthy   = "HEALTHY"
	Unhealthy = "UNHEALTHY"
	Unknown   = "UNKNOWN"
)

// The attributes Cloud Map gives a meaning to.
const (
	AttrIPv4  = "AWS_INSTANCE_IPV4"
	AttrIPv6  = "AWS_INSTANCE_IPV6"
	AttrPort  = "AWS_INSTANCE_PORT"
	AttrCNAME = "AWS_INSTANCE_CNAME"
	AttrAlias = "AWS_ALIAS_DNS_NAME"
	AttrInit  = "AWS_INIT_HEALTH_STATUS"
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Namespace is a Cloud Map namespace.
type Namespace struct {
	ID               string    `json:"id"`
	ARN              string    `json:"arn"`
	Name             string    `json:"name"`
	Type             string    `json:"type"`
	Description      string    `json:"description,omitempty"`
	Vpc              string    `json:"vpc,omitempty"`
	HostedZoneID     string    `json:"hostedZoneId,omitempty"`
	SOATTL           int64     `json:"soaTtl,omitempty"`
	CreatorRequestID string    `json:"creatorRequestId,omitempty"`
	CreatedAt        time.Time `json:"createdAt"`
	Tags             []Tag     `json:"tags,omitempty"`
	// ServiceCount is filled when the namespace is read, never stored.
	ServiceCount int `json:"-"`
}

// DNSRecord is one record type a service publishes for its instances.
type DNSRecord struct {
	Type string `json:"type"`
	TTL  int64  `json:"ttl"`
}

// Service is a Cloud Map service.
type Service struct {
	ID            string      `json:"id"`
	ARN           string      `json:"arn"`
	Name          string      `json:"name"`
	NamespaceID   string      `json:"namespaceId"`
	Description   string      `json:"description,omitempty"`
	Type          string      `json:"type"` // DNS_HTTP, HTTP or DNS
	RoutingPolicy string      `json:"routingPolicy,omitempty"`
	Records       []DNSRecord `json:"records,omitempty"`
	// CustomHealth: HealthCheckCustomConfig was given (instances' health
	// is what UpdateInstanceCustomHealthStatus says).
	CustomHealth     bool              `json:"customHealth,omitempty"`
	FailureThreshold int               `json:"failureThreshold,omitempty"`
	Attributes       map[string]string `json:"attributes,omitempty"`
	CreatorRequestID string            `json:"creatorRequestId,omitempty"`
	CreatedAt        time.Time         `json:"createdAt"`
	Tags             []Tag             `json:"tags,omitempty"`
	// Revision goes up with every change of the service's instances
	// (DiscoverInstancesRevision).
	Revision int64 `json:"revision"`
	// InstanceCount is filled when the service is read, never stored.
	InstanceCount int `json:"-"`
}

// HasRecord reports whether the service publishes a record type.
func (s *Service) HasRecord(t string) bool {
	for _, r := range s.Records {
		if r.Type == t {
			return true
		}
	}
	return false
}

// Instance is a registered instance of a service.
type Instance struct {
	ID               string            `json:"id"`
	ServiceID        string            `json:"serviceId"`
	Attributes       map[string]string `json:"attributes"`
	CreatorRequestID string            `json:"creatorRequestId,omitempty"`
	// Health is the custom health status (services with
	// HealthCheckCustomConfig); "" for services without health checks.
	Health    string    `json:"health,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// HealthStatus is the instance's health as DiscoverInstances reports it:
// instances of services without health checks count as healthy.
func (i *Instance) HealthStatus() string {
	if i.Health == "" {
		return Healthy
	}
	return i.Health
}

// Operation types and statuses.
const (
	OpCreateNamespace    = "CREATE_NAMESPACE"
	OpDeleteNamespace    = "DELETE_NAMESPACE"
	OpUpdateNamespace    = "UPDATE_NAMESPACE"
	OpUpdateService      = "UPDATE_SERVICE"
	OpRegisterInstance   = "REGISTER_INSTANCE"
	OpDeregisterInstance = "DEREGISTER_INSTANCE"

	OpSubmitted = "SUBMITTED"
	OpPending   = "PENDING"
	OpSuccess   = "SUCCESS"
	OpFail      = "FAIL"
)

// Operation is the record of an asynchronous call.
type Operation struct {
	ID           string            `json:"id"`
	Type         string            `json:"type"`
	Status       string            `json:"status"`
	ErrorMessage string            `json:"errorMessage,omitempty"`
	ErrorCode    string            `json:"errorCode,omitempty"`
	Targets      map[string]string `json:"targets"` // NAMESPACE, SERVICE, INSTANCE
	CreatedAt    time.Time         `json:"createdAt"`
	UpdatedAt    time.Time         `json:"updatedAt"`
}

// request is what a CreatorRequestId was used for: a second call with the
// same id and the same request hash answers the first call's result.
type request struct {
	Hash        string `json:"hash"`
	OperationID string `json:"operationId,omitempty"`
	ResourceID  string `json:"resourceId,omitempty"`
}

// Config configures a Directory.
type Config struct {
	// Now is the clock (nil: time.Now).
	Now    func() time.Time
	Logger *slog.Logger
}

// Directory is Cloud Map over a store.
type Directory struct {
	st  store.Store
	now func() time.Time
	log *slog.Logger

	// mu serializes view rebuilds; views holds map[tenant.Scope]*View.
	mu    sync.Mutex
	views atomic.Pointer[map[tenant.Scope]*View]
}

// New returns a Directory over st. Call Load before serving DNS.
func New(cfg Config, st store.Store) *Directory {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Directory{st: st, now: cfg.Now, log: cfg.Logger}
	empty := map[tenant.Scope]*View{}
	d.views.Store(&empty)
	return d
}

const service = "servicediscovery"

func prefix(s tenant.Scope) string { return s.KeyPrefix(service) }

func namespaceKey(s tenant.Scope, id string) string     { return prefix(s) + "namespaces/" + id }
func nsNameKey(s tenant.Scope, name string) string      { return prefix(s) + "nsnames/" + name }
func serviceKey(s tenant.Scope, id string) string       { return prefix(s) + "services/" + id }
func instancesPrefix(s tenant.Scope, srv string) string { return prefix(s) + "instances/" + srv + "/" }
func instanceKey(s tenant.Scope, srv, id string) string { return instancesPrefix(s, srv) + id }
func operationKey(s tenant.Scope, id string) string     { return prefix(s) + "operations/" + id }
func requestKey(s tenant.Scope, id string) string       { return prefix(s) + "requests/" + id }
func svcNameKey(s tenant.Scope, ns, name string) string {
	return prefix(s) + "svcnames/" + ns + "/" + strings.ToLower(name)
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// newID returns prefix + n random lower-case alphanumerics (ns-, srv-).
func newID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = idAlphabet[int(b[i])%len(idAlphabet)]
	}
	return prefix + string(b)
}

// newOperationID is an operation id: 32 lower-case alphanumerics and a
// dash-separated suffix, as Cloud Map's look ("<32>-<8>").
func newOperationID() string {
	return newID("", 32) + "-" + newID("", 8)
}

// hostedZoneID is a Route 53 style zone id.
func hostedZoneID() string {
	return "Z" + strings.ToUpper(newID("", 20))
}
