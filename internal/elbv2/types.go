package elbv2

import (
	"net/netip"
	"time"
)

// Load balancer types, schemes and states.
const (
	TypeApplication = "application"
	TypeNetwork     = "network"
	TypeGateway     = "gateway"

	SchemeInternetFacing = "internet-facing"
	SchemeInternal       = "internal"

	StateProvisioning = "provisioning"
	StateActive       = "active"
)

// Target types.
const (
	TargetTypeInstance = "instance"
	TargetTypeIP       = "ip"
	TargetTypeLambda   = "lambda"
	TargetTypeALB      = "alb"
)

// Tag is a resource tag.
type Tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Attribute is a key/value attribute of a load balancer, listener or
// target group.
type Attribute struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// LoadBalancer is an application load balancer.
type LoadBalancer struct {
	ARN            string    `json:"arn"`
	Name           string    `json:"name"`
	DNSName        string    `json:"dnsName"`
	Type           string    `json:"type"`
	Scheme         string    `json:"scheme"`
	IPAddressType  string    `json:"ipAddressType"`
	VpcID          string    `json:"vpcId"`
	Subnets        []string  `json:"subnets"`
	SecurityGroups []string  `json:"securityGroups,omitempty"`
	CreatedAt      time.Time `json:"createdAt"`
	// ActiveAt is when the state turns from provisioning to active.
	ActiveAt time.Time `json:"activeAt"`
	// Addr is the load balancer's own address (Addresses), every
	// listener binds it.
	Addr       netip.Addr  `json:"addr,omitzero"`
	Attributes []Attribute `json:"attributes"`
	Tags       []Tag       `json:"tags,omitempty"`
}

// State is provisioning or active at now.
func (lb *LoadBalancer) State(now time.Time) string {
	if now.Before(lb.ActiveAt) {
		return StateProvisioning
	}
	return StateActive
}

// Listener is a port of a load balancer.
type Listener struct {
	ARN             string `json:"arn"`
	LoadBalancerARN string `json:"loadBalancerArn"`
	Port            int    `json:"port"`
	Protocol        string `json:"protocol"`
	SslPolicy       string `json:"sslPolicy,omitempty"`
	// Certificates are ARNs; the first is the default.
	Certificates   []string    `json:"certificates,omitempty"`
	DefaultActions []Action    `json:"defaultActions"`
	Attributes     []Attribute `json:"attributes,omitempty"`
	Tags           []Tag       `json:"tags,omitempty"`
	// DefaultRuleARN names the default rule (DescribeRules shows it).
	DefaultRuleARN string `json:"defaultRuleArn"`
}

// Rule is a listener rule with a priority (1-50000).
type Rule struct {
	ARN         string      `json:"arn"`
	ListenerARN string      `json:"listenerArn"`
	Priority    int         `json:"priority"`
	Conditions  []Condition `json:"conditions"`
	Actions     []Action    `json:"actions"`
	Tags        []Tag       `json:"tags,omitempty"`
}

// Condition fields.
const (
	FieldHostHeader    = "host-header"
	FieldPathPattern   = "path-pattern"
	FieldHTTPHeader    = "http-header"
	FieldRequestMethod = "http-request-method"
	FieldQueryString   = "query-string"
	FieldSourceIP      = "source-ip"
)

// Condition is a rule condition, normalised: the legacy Values and the
// per-field configurations both land in Values (Query for query-string).
type Condition struct {
	Field      string     `json:"field"`
	Values     []string   `json:"values,omitempty"`
	HeaderName string     `json:"headerName,omitempty"`
	Query      []KeyValue `json:"query,omitempty"`
	// Legacy records whether the caller used the top-level Values (the
	// answer repeats the form the caller used, as AWS does).
	Legacy bool `json:"legacy,omitempty"`
}

// KeyValue is a query-string condition pair (Key may be empty).
type KeyValue struct {
	Key   string `json:"key,omitempty"`
	Value string `json:"value"`
}

// Action types.
const (
	ActionForward       = "forward"
	ActionRedirect      = "redirect"
	ActionFixedResponse = "fixed-response"
)

// Action is a rule or default action.
type Action struct {
	Type  string `json:"type"`
	Order int    `json:"order,omitempty"`
	// TargetGroupARN is the simple forward form.
	TargetGroupARN string               `json:"targetGroupArn,omitempty"`
	Forward        *ForwardConfig       `json:"forward,omitempty"`
	Redirect       *RedirectConfig      `json:"redirect,omitempty"`
	FixedResponse  *FixedResponseConfig `json:"fixedResponse,omitempty"`
}

// ForwardConfig is forward to weighted target groups.
type ForwardConfig struct {
	TargetGroups       []WeightedTargetGroup `json:"targetGroups"`
	StickinessEnabled  bool                  `json:"stickinessEnabled,omitempty"`
	StickinessDuration int                   `json:"stickinessDuration,omitempty"` // seconds
}

// WeightedTargetGroup is a forward destination.
type WeightedTargetGroup struct {
	ARN    string `json:"arn"`
	Weight int    `json:"weight"`
}

// RedirectConfig is a redirect action (empty fields keep #{...}).
type RedirectConfig struct {
	Protocol   string `json:"protocol,omitempty"`
	Host       string `json:"host,omitempty"`
	Port       string `json:"port,omitempty"`
	Path       string `json:"path,omitempty"`
	Query      string `json:"query,omitempty"`
	StatusCode string `json:"statusCode"` // HTTP_301 | HTTP_302
}

// FixedResponseConfig answers without a target.
type FixedResponseConfig struct {
	StatusCode  string `json:"statusCode"`
	ContentType string `json:"contentType,omitempty"`
	MessageBody string `json:"messageBody,omitempty"`
}

// TargetGroups returns the ARNs an action forwards to.
func (a *Action) TargetGroups() []string {
	if a.Type != ActionForward {
		return nil
	}
	if a.Forward != nil && len(a.Forward.TargetGroups) > 0 {
		out := make([]string, 0, len(a.Forward.TargetGroups))
		for _, w := range a.Forward.TargetGroups {
			out = append(out, w.ARN)
		}
		return out
	}
	if a.TargetGroupARN != "" {
		return []string{a.TargetGroupARN}
	}
	return nil
}

// TargetGroup is a set of targets with one health check.
type TargetGroup struct {
	ARN             string      `json:"arn"`
	Name            string      `json:"name"`
	Protocol        string      `json:"protocol"`
	ProtocolVersion string      `json:"protocolVersion"`
	Port            int         `json:"port"`
	VpcID           string      `json:"vpcId"`
	TargetType      string      `json:"targetType"`
	IPAddressType   string      `json:"ipAddressType"`
	HealthCheck     HealthCheck `json:"healthCheck"`
	Attributes      []Attribute `json:"attributes"`
	Tags            []Tag       `json:"tags,omitempty"`
	CreatedAt       time.Time   `json:"createdAt"`
}

// HealthCheck is a target group's health check (AWS's defaults applied).
type HealthCheck struct {
	Enabled            bool   `json:"enabled"`
	Protocol           string `json:"protocol"`
	Path               string `json:"path"`
	Port               string `json:"port"` // "traffic-port" or a number
	IntervalSeconds    int    `json:"intervalSeconds"`
	TimeoutSeconds     int    `json:"timeoutSeconds"`
	HealthyThreshold   int    `json:"healthyThreshold"`
	UnhealthyThreshold int    `json:"unhealthyThreshold"`
	Matcher            string `json:"matcher"` // HttpCode
}

// Registration is a target registered in a target group.
type Registration struct {
	TargetGroupARN string `json:"targetGroupArn"`
	ID             string `json:"id"`
	Port           int    `json:"port"`
	// Addr is where the data plane connects (the IP for ip targets, the
	// host for instance targets).
	Addr             netip.Addr `json:"addr"`
	AvailabilityZone string     `json:"availabilityZone,omitempty"`
	RegisteredAt     time.Time  `json:"registeredAt"`
	// DrainUntil is set while the target drains (deregistered, removed
	// at DrainUntil).
	DrainUntil time.Time `json:"drainUntil,omitzero"`
	// Task is the ARN of the ECS task that registered it (empty for
	// RegisterTargets).
	Task string `json:"task,omitempty"`
}

// Target names a target in a request: Port 0 means the group's port.
type Target struct {
	ID               string
	Port             int
	AvailabilityZone string
}

// TargetHealth is one target's health in DescribeTargetHealth.
type TargetHealth struct {
	Target          Target
	HealthCheckPort string
	State           string
	Reason          string
	Description     string
}

// Certificate is a PEM pair fargo generated for a certificate ARN.
type Certificate struct {
	ARN     string `json:"arn"`
	CertPEM string `json:"certPem"`
	KeyPEM  string `json:"keyPem"`
}
