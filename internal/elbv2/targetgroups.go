package elbv2

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// TargetGroupSpec is what CreateTargetGroup asks for (nil: default).
type TargetGroupSpec struct {
	Name            string
	Protocol        string
	ProtocolVersion string
	Port            *int
	VpcID           string
	TargetType      string
	IPAddressType   string
	HealthCheck     HealthCheckSpec
	Tags            []Tag
}

// HealthCheckSpec are the health check settings a call gives (nil: keep
// or default).
type HealthCheckSpec struct {
	Enabled            *bool
	Protocol           *string
	Path               *string
	Port               *string
	IntervalSeconds    *int
	TimeoutSeconds     *int
	HealthyThreshold   *int
	UnhealthyThreshold *int
	Matcher            *string
}

// defaultTGAttributes are an ALB target group's attributes as AWS
// answers them for a new one.
var defaultTGAttributes = []Attribute{
	{"deregistration_delay.timeout_seconds", "300"},
	{"stickiness.enabled", "false"},
	{"stickiness.type", "lb_cookie"},
	{"stickiness.lb_cookie.duration_seconds", "86400"},
	{"stickiness.app_cookie.cookie_name", ""},
	{"stickiness.app_cookie.duration_seconds", "86400"},
	{"slow_start.duration_seconds", "0"},
	{"load_balancing.algorithm.type", "round_robin"},
	{"load_balancing.algorithm.anomaly_mitigation", "off"},
	{"load_balancing.cross_zone.enabled", "use_load_balancer_configuration"},
	{"target_group_health.dns_failover.minimum_healthy_targets.count", "1"},
	{"target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1"},
	{"target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off"},
}

func (spec *TargetGroupSpec) build(s tenant.Scope) (*TargetGroup, error) {
	if err := validName("Target group", spec.Name); err != nil {
		return nil, err
	}
	tt := spec.TargetType
	switch tt {
	case "":
		tt = TargetTypeInstance
	case TargetTypeInstance, TargetTypeIP:
	case TargetTypeLambda, TargetTypeALB:
		return nil, invalidConfigf("Target type '%s' is not supported by fargo; use 'ip' or 'instance'", tt)
	default:
		return nil, validationf("Target type '%s' is not valid", tt)
	}
	switch spec.Protocol {
	case "HTTP", "HTTPS":
	case "":
		return nil, validationf("A protocol must be specified")
	case "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC":
		return nil, invalidConfigf("Protocol '%s' is for network and gateway load balancers, which fargo does not support; use HTTP or HTTPS", spec.Protocol)
	default:
		return nil, validationf("Protocol '%s' is not valid", spec.Protocol)
	}
	pv := spec.ProtocolVersion
	switch strings.ToUpper(pv) {
	case "", "HTTP1":
		pv = "HTTP1"
	case "HTTP2", "GRPC":
		return nil, invalidConfigf("Protocol version '%s' is not supported by fargo; use HTTP1", pv)
	default:
		return nil, validationf("Protocol version '%s' is not valid", pv)
	}
	if spec.Port == nil {
		return nil, validationf("A port must be specified")
	}
	if *spec.Port < 1 || *spec.Port > 65535 {
		return nil, validationf("Port '%d' must be between 1 and 65535", *spec.Port)
	}
	if spec.VpcID == "" {
		return nil, validationf("A VPC ID must be specified")
	}
	if !strings.HasPrefix(spec.VpcID, "vpc-") {
		return nil, validationf("The VPC ID '%s' is not found", spec.VpcID)
	}
	ipt := spec.IPAddressType
	switch ipt {
	case "", "ipv4":
		ipt = "ipv4"
	case "ipv6":
		return nil, invalidConfigf("IPv6 target groups are not supported by fargo")
	default:
		return nil, validationf("IP address type '%s' is not valid", ipt)
	}
	if err := validTags(spec.Tags); err != nil {
		return nil, err
	}
	tg := &TargetGroup{
		Name: spec.Name, Protocol: spec.Protocol, ProtocolVersion: pv, Port: *spec.Port, VpcID: spec.VpcID,
		TargetType: tt, IPAddressType: ipt, Attributes: slices.Clone(defaultTGAttributes), Tags: spec.Tags,
		HealthCheck: HealthCheck{
			Enabled: true, Protocol: spec.Protocol, Path: "/", Port: "traffic-port", IntervalSeconds: 30,
			TimeoutSeconds: 5, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200",
		},
	}
	if err := applyHealthCheck(&tg.HealthCheck, spec.HealthCheck); err != nil {
		return nil, err
	}
	return tg, nil
}

// applyHealthCheck sets the given health check fields and validates the
// result.
func applyHealthCheck(hc *HealthCheck, in HealthCheckSpec) error {
	if in.Enabled != nil {
		if !*in.Enabled {
			return invalidConfigf("Health checks cannot be disabled for target groups with target type 'ip' or 'instance'")
		}
		hc.Enabled = true
	}
	if in.Protocol != nil {
		switch *in.Protocol {
		case "HTTP", "HTTPS":
			hc.Protocol = *in.Protocol
		default:
			return validationf("Health check protocol '%s' is not supported; use HTTP or HTTPS", *in.Protocol)
		}
	}
	if in.Path != nil {
		p := *in.Path
		if p == "" || p[0] != '/' || len(p) > 1024 {
			return validationf("Health check path must begin with a '/' character and can be at most 1024 characters")
		}
		hc.Path = p
	}
	if in.Port != nil {
		if *in.Port != "traffic-port" {
			n, err := strconv.Atoi(*in.Port)
			if err != nil || n < 1 || n > 65535 {
				return validationf("Health check port '%s' must be 'traffic-port' or a port between 1 and 65535", *in.Port)
			}
		}
		hc.Port = *in.Port
	}
	if in.IntervalSeconds != nil {
		if *in.IntervalSeconds < 5 || *in.IntervalSeconds > 300 {
			return validationf("Health check interval must be between 5 and 300 seconds")
		}
		hc.IntervalSeconds = *in.IntervalSeconds
	}
	if in.TimeoutSeconds != nil {
		if *in.TimeoutSeconds < 2 || *in.TimeoutSeconds > 120 {
			return validationf("Health check timeout must be between 2 and 120 seconds")
		}
		hc.TimeoutSeconds = *in.TimeoutSeconds
	}
	if in.HealthyThreshold != nil {
		if *in.HealthyThreshold < 2 || *in.HealthyThreshold > 10 {
			return validationf("Healthy threshold count must be between 2 and 10")
		}
		hc.HealthyThreshold = *in.HealthyThreshold
	}
	if in.UnhealthyThreshold != nil {
		if *in.UnhealthyThreshold < 2 || *in.UnhealthyThreshold > 10 {
			return validationf("Unhealthy threshold count must be between 2 and 10")
		}
		hc.UnhealthyThreshold = *in.UnhealthyThreshold
	}
	if in.Matcher != nil {
		if err := validMatcher(*in.Matcher); err != nil {
			return err
		}
		hc.Matcher = *in.Matcher
	}
	if hc.TimeoutSeconds >= hc.IntervalSeconds {
		return validationf("Health check timeout '%d' must be smaller than the interval '%d'", hc.TimeoutSeconds, hc.IntervalSeconds)
	}
	return nil
}

// validMatcher checks an ALB HttpCode: codes 200-499, as "200",
// "200,202" or "200-299".
func validMatcher(m string) error {
	bad := validationf("Health check matcher HTTP code '%s' must be a value between 200 and 499, a list ('200,202') or a range ('200-299')", m)
	if m == "" {
		return bad
	}
	code := func(s string) (int, bool) {
		n, err := strconv.Atoi(s)
		return n, err == nil && n >= 200 && n <= 499
	}
	for _, part := range strings.Split(m, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, ok := code(lo)
		if !ok {
			return bad
		}
		if isRange {
			b, ok := code(hi)
			if !ok || b < a {
				return bad
			}
		}
	}
	return nil
}

// CreateTargetGroup creates a target group, or answers the existing one
// when one of that name has the same settings.
func (sv *Service) CreateTargetGroup(ctx context.Context, s tenant.Scope, spec TargetGroupSpec) (*TargetGroup, error) {
	tg, err := spec.build(s)
	if err != nil {
		return nil, err
	}
	var out *TargetGroup
	err = sv.update(ctx, func(tx store.Tx) error {
		old, err := store.GetJSON[TargetGroup](tx, tgKey(s, tg.Name))
		if err == nil {
			if old.Protocol == tg.Protocol && old.Port == tg.Port && old.VpcID == tg.VpcID && old.TargetType == tg.TargetType && old.HealthCheck == tg.HealthCheck {
				out = old
				return nil
			}
			return newErr(errdefs.ErrAlreadyExists, CodeDuplicateTargetGroupName, "A target group with the same name '%s' exists, but with different settings", tg.Name)
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		kvs, err := tx.List(tgsPrefix(s))
		if err != nil {
			return err
		}
		if len(kvs) >= LimitTargetGroups {
			return tooMany(CodeTooManyTargetGroups, "The maximum number of target groups has been reached")
		}
		fresh := *tg
		fresh.ARN, fresh.CreatedAt = tgARN(s, tg.Name, newID()), sv.now().UTC()
		out = &fresh
		return store.PutJSON(tx, tgKey(s, tg.Name), &fresh)
	})
	return out, err
}

// getTG reads a target group by ARN.
func getTG(tx store.ReadTx, s tenant.Scope, arn string) (*TargetGroup, error) {
	p, err := parseARN(s, arn, "targetgroup", tgNotFound(arn))
	if err != nil {
		return nil, err
	}
	tg, err := store.GetJSON[TargetGroup](tx, tgKey(s, p.tg))
	if err != nil {
		return nil, notFound(err, tgNotFound(arn))
	}
	if tg.ARN != arn {
		return nil, tgNotFound(arn)
	}
	return tg, nil
}

// TargetGroupView is a target group with the load balancers whose
// listeners forward to it.
type TargetGroupView struct {
	*TargetGroup
	LoadBalancerARNs []string
}

// DescribeTargetGroups answers target groups by load balancer, ARN or
// name (every one of the scope when all are empty).
func (sv *Service) DescribeTargetGroups(ctx context.Context, s tenant.Scope, lbARN string, arns, names []string) ([]TargetGroupView, error) {
	n := 0
	for _, set := range []bool{lbARN != "", len(arns) > 0, len(names) > 0} {
		if set {
			n++
		}
	}
	if n > 1 {
		return nil, validationf("A load balancer ARN, target group ARNs and target group names cannot be specified at the same time")
	}
	var out []TargetGroupView
	err := sv.view(ctx, func(tx store.ReadTx) error {
		use, err := usage(tx, s)
		if err != nil {
			return err
		}
		add := func(tg *TargetGroup) {
			out = append(out, TargetGroupView{TargetGroup: tg, LoadBalancerARNs: use[tg.ARN]})
		}
		switch {
		case len(arns) > 0:
			for _, a := range arns {
				tg, err := getTG(tx, s, a)
				if err != nil {
					return err
				}
				add(tg)
			}
		case len(names) > 0:
			for _, nm := range names {
				tg, err := store.GetJSON[TargetGroup](tx, tgKey(s, nm))
				if err != nil {
					return notFound(err, newErr(errdefs.ErrNotFound, CodeTargetGroupNotFound, "One or more target groups not found"))
				}
				add(tg)
			}
		default:
			if lbARN != "" {
				if _, err := getLB(tx, s, lbARN); err != nil {
					return err
				}
			}
			tgs, err := store.ListJSON[TargetGroup](tx, tgsPrefix(s))
			if err != nil {
				return err
			}
			for _, tg := range tgs {
				if lbARN == "" || slices.Contains(use[tg.ARN], lbARN) {
					add(tg)
				}
			}
		}
		return nil
	})
	return out, err
}

// usage maps each target group ARN a listener or rule forwards to, to
// the load balancers of those listeners (sorted, unique).
func usage(tx store.ReadTx, s tenant.Scope) (map[string][]string, error) {
	use := map[string][]string{}
	addAll := func(lb string, actions []Action) {
		for _, a := range actions {
			for _, tg := range a.TargetGroups() {
				if !slices.Contains(use[tg], lb) {
					use[tg] = append(use[tg], lb)
					slices.Sort(use[tg])
				}
			}
		}
	}
	lss, err := store.ListJSON[Listener](tx, prefix(s)+"listeners/")
	if err != nil {
		return nil, err
	}
	lbOf := map[string]string{}
	for _, l := range lss {
		lbOf[l.ARN] = l.LoadBalancerARN
		addAll(l.LoadBalancerARN, l.DefaultActions)
	}
	rules, err := store.ListJSON[Rule](tx, prefix(s)+"rules/")
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		addAll(lbOf[r.ListenerARN], r.Actions)
	}
	return use, nil
}

// DeleteTargetGroup deletes a target group that no listener or rule
// forwards to, with its registrations. Deleting one that does not exist
// succeeds, as in AWS.
func (sv *Service) DeleteTargetGroup(ctx context.Context, s tenant.Scope, arn string) error {
	if _, err := parseARN(s, arn, "targetgroup", nil); err != nil {
		return err
	}
	return sv.update(ctx, func(tx store.Tx) error {
		tg, err := getTG(tx, s, arn)
		if errors.Is(err, errdefs.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		use, err := usage(tx, s)
		if err != nil {
			return err
		}
		if len(use[arn]) > 0 {
			return newErr(errdefs.ErrConflict, CodeResourceInUse, "Target group '%s' is currently in use by a listener or a rule", arn)
		}
		kvs, err := tx.List(targetsPrefix(s, tg.Name))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := tx.Delete(kv.Key); err != nil {
				return err
			}
		}
		return tx.Delete(tgKey(s, tg.Name))
	})
}

// ModifyTargetGroup changes a target group's health check.
func (sv *Service) ModifyTargetGroup(ctx context.Context, s tenant.Scope, arn string, hc HealthCheckSpec) (*TargetGroupView, error) {
	var out *TargetGroupView
	err := sv.update(ctx, func(tx store.Tx) error {
		tg, err := getTG(tx, s, arn)
		if err != nil {
			return err
		}
		if err := applyHealthCheck(&tg.HealthCheck, hc); err != nil {
			return err
		}
		use, err := usage(tx, s)
		if err != nil {
			return err
		}
		out = &TargetGroupView{TargetGroup: tg, LoadBalancerARNs: use[arn]}
		return store.PutJSON(tx, tgKey(s, tg.Name), tg)
	})
	return out, err
}

// TargetGroupAttributes answers a target group's attributes.
func (sv *Service) TargetGroupAttributes(ctx context.Context, s tenant.Scope, arn string) ([]Attribute, error) {
	var out []Attribute
	err := sv.view(ctx, func(tx store.ReadTx) error {
		tg, err := getTG(tx, s, arn)
		if err == nil {
			out = tg.Attributes
		}
		return err
	})
	return out, err
}

// ModifyTargetGroupAttributes changes attributes and answers them all.
func (sv *Service) ModifyTargetGroupAttributes(ctx context.Context, s tenant.Scope, arn string, attrs []Attribute) ([]Attribute, error) {
	if err := checkAttrs(attrs, validTGAttribute); err != nil {
		return nil, err
	}
	var out []Attribute
	err := sv.update(ctx, func(tx store.Tx) error {
		tg, err := getTG(tx, s, arn)
		if err != nil {
			return err
		}
		tg.Attributes = setAttrs(tg.Attributes, attrs)
		out = tg.Attributes
		return store.PutJSON(tx, tgKey(s, tg.Name), tg)
	})
	return out, err
}

func validTGAttribute(a Attribute) error {
	if !slices.ContainsFunc(defaultTGAttributes, func(d Attribute) bool { return d.Key == a.Key }) {
		return validationf("Target group attribute key '%s' is not recognized", a.Key)
	}
	switch a.Key {
	case "deregistration_delay.timeout_seconds":
		return intAttr(a, 0, 3600)
	case "stickiness.enabled":
		return enumAttr(a, "true", "false")
	case "stickiness.type":
		return enumAttr(a, "lb_cookie", "app_cookie")
	case "stickiness.lb_cookie.duration_seconds", "stickiness.app_cookie.duration_seconds":
		return intAttr(a, 1, 604800)
	case "slow_start.duration_seconds":
		if a.Value == "0" {
			return nil
		}
		return intAttr(a, 30, 900)
	case "load_balancing.algorithm.type":
		return enumAttr(a, "round_robin", "least_outstanding_requests", "weighted_random")
	case "load_balancing.algorithm.anomaly_mitigation":
		return enumAttr(a, "on", "off")
	case "load_balancing.cross_zone.enabled":
		return enumAttr(a, "true", "false", "use_load_balancer_configuration")
	}
	return nil
}

func intAttrValue(attrs []Attribute, key string) int {
	n, _ := strconv.Atoi(attr(attrs, key))
	return n
}
