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

// LoadBalancerSpec is what CreateLoadBalancer asks for.
type LoadBalancerSpec struct {
	Name           string
	Type           string // "" means application
	Scheme         string // "" means internet-facing
	IPAddressType  string // "" means ipv4
	Subnets        []string
	SecurityGroups []string
	Tags           []Tag
}

// defaultLBAttributes are an application load balancer's attributes as
// AWS answers them for a new one.
var defaultLBAttributes = []Attribute{
	{"access_logs.s3.enabled", "false"},
	{"access_logs.s3.bucket", ""},
	{"access_logs.s3.prefix", ""},
	{"connection_logs.s3.enabled", "false"},
	{"connection_logs.s3.bucket", ""},
	{"connection_logs.s3.prefix", ""},
	{"client_keep_alive.seconds", "3600"},
	{"deletion_protection.enabled", "false"},
	{"idle_timeout.timeout_seconds", "60"},
	{"load_balancing.cross_zone.enabled", "true"},
	{"routing.http.desync_mitigation_mode", "defensive"},
	{"routing.http.drop_invalid_header_fields.enabled", "false"},
	{"routing.http.preserve_host_header.enabled", "false"},
	{"routing.http.x_amzn_tls_version_and_cipher_suite.enabled", "false"},
	{"routing.http.xff_client_port.enabled", "false"},
	{"routing.http.xff_header_processing.mode", "append"},
	{"routing.http2.enabled", "true"},
	{"waf.fail_open.enabled", "false"},
	{"zonal_shift.config.enabled", "false"},
}

func (spec *LoadBalancerSpec) normalise() error {
	if spec.Type == "" {
		spec.Type = TypeApplication
	}
	switch spec.Type {
	case TypeApplication:
	case TypeNetwork, TypeGateway:
		return newErr(errdefs.ErrUnsupported, CodeOperationNotPermitted,
			"Load balancers of type '%s' are not supported by fargo; only 'application' load balancers are", spec.Type)
	default:
		return validationf("Load balancer type '%s' is not valid", spec.Type)
	}
	if err := validName("Load balancer", spec.Name); err != nil {
		return err
	}
	switch spec.Scheme {
	case "":
		spec.Scheme = SchemeInternetFacing
	case SchemeInternetFacing, SchemeInternal:
	default:
		return validationf("Scheme '%s' is not valid; it must be one of internet-facing, internal", spec.Scheme)
	}
	switch spec.IPAddressType {
	case "":
		spec.IPAddressType = "ipv4"
	case "ipv4":
	case "dualstack", "dualstack-without-public-ipv4":
		return invalidConfigf("IP address type '%s' is not supported by fargo's load balancers", spec.IPAddressType)
	default:
		return validationf("IP address type '%s' is not valid", spec.IPAddressType)
	}
	if len(spec.Subnets) == 0 {
		return validationf("At least one subnet must be specified")
	}
	for _, sn := range spec.Subnets {
		if !strings.HasPrefix(sn, "subnet-") {
			return newErr(errdefs.ErrNotFound, "SubnetNotFound", "The subnet ID '%s' is not valid", sn)
		}
	}
	for _, sg := range spec.SecurityGroups {
		if !strings.HasPrefix(sg, "sg-") {
			return newErr(errdefs.ErrInvalidArgument, "InvalidSecurityGroup", "Invalid security group '%s'", sg)
		}
	}
	return validTags(spec.Tags)
}

// CreateLoadBalancer creates an application load balancer, or answers
// the existing one when one of that name has the same settings.
func (sv *Service) CreateLoadBalancer(ctx context.Context, s tenant.Scope, spec LoadBalancerSpec) (*LoadBalancer, error) {
	if err := spec.normalise(); err != nil {
		return nil, err
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var existing *LoadBalancer
	var count int
	err := sv.view(ctx, func(tx store.ReadTx) error {
		lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, spec.Name))
		if err == nil {
			existing = lb
			return nil
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		kvs, err := tx.List(lbsPrefix(s))
		count = len(kvs)
		return err
	})
	if err != nil {
		return nil, err
	}
	if existing != nil {
		if existing.Scheme == spec.Scheme && existing.Type == spec.Type && slices.Equal(existing.Subnets, spec.Subnets) {
			return existing, nil
		}
		return nil, newErr(errdefs.ErrAlreadyExists, CodeDuplicateLoadBalancerName, "A load balancer with the same name '%s' exists, but with different settings", spec.Name)
	}
	if count >= LimitLoadBalancers {
		return nil, tooMany(CodeTooManyLoadBalancers, "The maximum number of load balancers has been reached")
	}
	now := sv.now().UTC()
	id := newID()
	lb := &LoadBalancer{
		ARN: lbARN(s, spec.Name, id), Name: spec.Name, DNSName: dnsName(s, spec.Name, id, spec.Scheme),
		Type: spec.Type, Scheme: spec.Scheme, IPAddressType: spec.IPAddressType, VpcID: defaultVPC(s),
		Subnets: spec.Subnets, SecurityGroups: spec.SecurityGroups, CreatedAt: now,
		ActiveAt: now.Add(sv.cfg.ProvisioningTime), Attributes: slices.Clone(defaultLBAttributes), Tags: spec.Tags,
	}
	if sv.cfg.Addresses != nil {
		addr, err := sv.cfg.Addresses.AcquireAddress(ctx, lb.ARN)
		if err != nil {
			return nil, newErr(errdefs.ErrUnavailable, CodeInvalidConfigurationRequest, "No address is free for load balancer '%s': %v", spec.Name, err)
		}
		lb.Addr = addr
	}
	err = sv.updateLocked(ctx, func(tx store.Tx) error {
		if _, err := tx.Get(lbKey(s, spec.Name)); err == nil {
			return newErr(errdefs.ErrAlreadyExists, CodeDuplicateLoadBalancerName, "A load balancer with the same name '%s' exists, but with different settings", spec.Name)
		}
		return store.PutJSON(tx, lbKey(s, spec.Name), lb)
	})
	if err != nil {
		sv.releaseAddress(ctx, lb)
		return nil, err
	}
	sv.log.Info("elbv2: load balancer created", "arn", lb.ARN, "addr", lb.Addr)
	return lb, nil
}

func (sv *Service) releaseAddress(ctx context.Context, lb *LoadBalancer) {
	if sv.cfg.Addresses == nil || !lb.Addr.IsValid() {
		return
	}
	if err := sv.cfg.Addresses.ReleaseAddress(ctx, lb.ARN); err != nil {
		sv.log.Warn("elbv2: release address", "arn", lb.ARN, "err", err)
	}
}

// getLB reads a load balancer by ARN.
func getLB(tx store.ReadTx, s tenant.Scope, arn string) (*LoadBalancer, error) {
	p, err := parseARN(s, arn, "loadbalancer", lbNotFound(arn))
	if err != nil {
		return nil, err
	}
	lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, p.lb))
	if err != nil {
		return nil, notFound(err, lbNotFound(arn))
	}
	if lb.ARN != arn {
		return nil, lbNotFound(arn)
	}
	return lb, nil
}

// DescribeLoadBalancers answers the load balancers named by ARN or name
// (every one of the scope when both are empty), in name order.
func (sv *Service) DescribeLoadBalancers(ctx context.Context, s tenant.Scope, arns, names []string) ([]*LoadBalancer, error) {
	if len(arns) > 0 && len(names) > 0 {
		return nil, validationf("Load balancer names and load balancer ARNs cannot be specified at the same time")
	}
	var out []*LoadBalancer
	err := sv.view(ctx, func(tx store.ReadTx) error {
		switch {
		case len(arns) > 0:
			for _, a := range arns {
				lb, err := getLB(tx, s, a)
				if err != nil {
					return err
				}
				out = append(out, lb)
			}
		case len(names) > 0:
			for _, n := range names {
				lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, n))
				if err != nil {
					return notFound(err, newErr(errdefs.ErrNotFound, CodeLoadBalancerNotFound, "Load balancers '[%s]' not found", n))
				}
				out = append(out, lb)
			}
		default:
			var err error
			out, err = store.ListJSON[LoadBalancer](tx, lbsPrefix(s))
			return err
		}
		return nil
	})
	return out, err
}

// DeleteLoadBalancer deletes a load balancer with its listeners and
// rules, and gives its address back. Deleting one that does not exist
// succeeds, as in AWS.
func (sv *Service) DeleteLoadBalancer(ctx context.Context, s tenant.Scope, arn string) error {
	p, err := parseARN(s, arn, "loadbalancer", errLBNotFound)
	if err == errLBNotFound { //nolint:errorlint // the sentinel itself: another scope's ARN
		return nil
	}
	if err != nil {
		return err
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var deleted *LoadBalancer
	err = sv.updateLocked(ctx, func(tx store.Tx) error {
		deleted = nil
		lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, p.lb))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if lb.ARN != arn {
			return nil
		}
		if attr(lb.Attributes, "deletion_protection.enabled") == "true" {
			return newErr(errdefs.ErrConflict, CodeOperationNotPermitted, "Load balancer '%s' cannot be deleted because deletion protection is enabled", arn)
		}
		for _, pfx := range []string{listenersPrefix(s, p.lb), prefix(s) + "rules/" + p.lb + "/"} {
			kvs, err := tx.List(pfx)
			if err != nil {
				return err
			}
			for _, kv := range kvs {
				if err := tx.Delete(kv.Key); err != nil {
					return err
				}
			}
		}
		deleted = lb
		return tx.Delete(lbKey(s, p.lb))
	})
	if err != nil {
		return err
	}
	if deleted != nil {
		sv.releaseAddress(ctx, deleted)
		sv.log.Info("elbv2: load balancer deleted", "arn", arn)
	}
	return nil
}

// LoadBalancerAttributes answers a load balancer's attributes.
func (sv *Service) LoadBalancerAttributes(ctx context.Context, s tenant.Scope, arn string) ([]Attribute, error) {
	var out []Attribute
	err := sv.view(ctx, func(tx store.ReadTx) error {
		lb, err := getLB(tx, s, arn)
		if err == nil {
			out = lb.Attributes
		}
		return err
	})
	return out, err
}

// ModifyLoadBalancerAttributes changes attributes and answers them all.
func (sv *Service) ModifyLoadBalancerAttributes(ctx context.Context, s tenant.Scope, arn string, attrs []Attribute) ([]Attribute, error) {
	if err := checkAttrs(attrs, validLBAttribute); err != nil {
		return nil, err
	}
	var out []Attribute
	err := sv.update(ctx, func(tx store.Tx) error {
		lb, err := getLB(tx, s, arn)
		if err != nil {
			return err
		}
		lb.Attributes = setAttrs(lb.Attributes, attrs)
		out = lb.Attributes
		return store.PutJSON(tx, lbKey(s, lb.Name), lb)
	})
	return out, err
}

func validLBAttribute(a Attribute) error {
	known := slices.ContainsFunc(defaultLBAttributes, func(d Attribute) bool { return d.Key == a.Key })
	if !known {
		return validationf("Load balancer attribute key '%s' is not recognized", a.Key)
	}
	switch a.Key {
	case "idle_timeout.timeout_seconds":
		return intAttr(a, 1, 4000)
	case "client_keep_alive.seconds":
		return intAttr(a, 60, 604800)
	case "routing.http.desync_mitigation_mode":
		return enumAttr(a, "monitor", "defensive", "strictest")
	case "routing.http.xff_header_processing.mode":
		return enumAttr(a, "append", "preserve", "remove")
	case "access_logs.s3.bucket", "access_logs.s3.prefix", "connection_logs.s3.bucket", "connection_logs.s3.prefix":
		return nil
	}
	return enumAttr(a, "true", "false")
}

func intAttr(a Attribute, lo, hi int) error {
	n, err := strconv.Atoi(a.Value)
	if err != nil || n < lo || n > hi {
		return validationf("'%s' must be an integer between %d and %d, not '%s'", a.Key, lo, hi, a.Value)
	}
	return nil
}

func enumAttr(a Attribute, vals ...string) error {
	if !slices.Contains(vals, a.Value) {
		return validationf("'%s' must be one of %s, not '%s'", a.Key, strings.Join(vals, ", "), a.Value)
	}
	return nil
}

func attr(attrs []Attribute, key string) string {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value
		}
	}
	return ""
}

// checkAttrs validates an attribute change: at least one attribute, each
// one valid.
func checkAttrs(attrs []Attribute, valid func(Attribute) error) error {
	if len(attrs) == 0 {
		return validationf("Attributes must contain at least one attribute")
	}
	for _, a := range attrs {
		if err := valid(a); err != nil {
			return err
		}
	}
	return nil
}

// setAttrs overwrites or appends attrs in base (a fresh slice).
func setAttrs(base, attrs []Attribute) []Attribute {
	out := slices.Clone(base)
	for _, a := range attrs {
		i := slices.IndexFunc(out, func(b Attribute) bool { return b.Key == a.Key })
		if i >= 0 {
			out[i].Value = a.Value
		} else {
			out = append(out, a)
		}
	}
	return out
}
