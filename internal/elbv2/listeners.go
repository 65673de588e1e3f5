package elbv2

import (
	"context"
	"errors"
	"reflect"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// DefaultSSLPolicy is the policy of an HTTPS listener that names none.
const DefaultSSLPolicy = "ELBSecurityPolicy-2016-08"

// ListenerSpec is what CreateListener and ModifyListener ask for (zero
// values keep the current setting in ModifyListener).
type ListenerSpec struct {
	LoadBalancerARN string
	Protocol        string
	Port            int
	SslPolicy       string
	Certificates    []string
	DefaultActions  []Action
	Tags            []Tag
}

// defaultListenerAttributes are an ALB listener's attributes as AWS
// answers them.
var defaultListenerAttributes = []Attribute{
	{"routing.http.response.server.enabled", "true"},
}

func listenerARN(s tenant.Scope, lb *LoadBalancer, id string) string {
	return strings.Replace(lb.ARN, ":loadbalancer/", ":listener/", 1) + "/" + id
}

func ruleARN(l *Listener, id string) string {
	return strings.Replace(l.ARN, ":listener/", ":listener-rule/", 1) + "/" + id
}

func checkListener(spec *ListenerSpec) error {
	switch spec.Protocol {
	case "HTTP", "HTTPS":
	case "":
		return validationf("A listener protocol must be specified")
	case "TCP", "TLS", "UDP", "TCP_UDP", "GENEVE", "QUIC", "TCP_QUIC":
		return newErr(errdefs.ErrInvalidArgument, CodeIncompatibleProtocols, "Listener protocol '%s' is not supported with a load balancer of type 'application'", spec.Protocol)
	default:
		return validationf("Listener protocol '%s' is not valid", spec.Protocol)
	}
	if spec.Port < 1 || spec.Port > 65535 {
		return validationf("Listener port '%d' must be between 1 and 65535", spec.Port)
	}
	if spec.Protocol == "HTTPS" {
		if len(spec.Certificates) == 0 {
			return validationf("A certificate must be specified for HTTPS listeners")
		}
		if spec.SslPolicy == "" {
			spec.SslPolicy = DefaultSSLPolicy
		}
		if !slices.ContainsFunc(SSLPolicies(), func(p SSLPolicy) bool { return p.Name == spec.SslPolicy }) {
			return newErr(errdefs.ErrNotFound, CodeSSLPolicyNotFound, "SSL policy '%s' not found", spec.SslPolicy)
		}
		if len(spec.Certificates) > LimitCertificatesPerLB {
			return tooMany(CodeTooManyCertificates, "A listener can have at most %d certificates", LimitCertificatesPerLB)
		}
		for _, c := range spec.Certificates {
			if _, err := certID(c); err != nil {
				return err
			}
		}
	} else {
		if len(spec.Certificates) > 0 {
			return validationf("Certificates can only be specified for HTTPS listeners")
		}
		if spec.SslPolicy != "" {
			return validationf("An SSL policy can only be specified for HTTPS listeners")
		}
	}
	return nil
}

// CreateListener adds a listener to a load balancer. When the data plane
// cannot take it (the port is taken on the host), it is removed again
// and the call fails.
func (sv *Service) CreateListener(ctx context.Context, s tenant.Scope, spec ListenerSpec) (*Listener, error) {
	if err := checkListener(&spec); err != nil {
		return nil, err
	}
	if err := validTags(spec.Tags); err != nil {
		return nil, err
	}
	if _, err := parseARN(s, spec.LoadBalancerARN, "loadbalancer", lbNotFound(spec.LoadBalancerARN)); err != nil {
		return nil, err
	}
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var l *Listener
	var key string
	_, err := sv.st.Update(ctx, func(tx store.Tx) error {
		lb, err := getLB(tx, s, spec.LoadBalancerARN)
		if err != nil {
			return err
		}
		lss, err := store.ListJSON[Listener](tx, listenersPrefix(s, lb.Name))
		if err != nil {
			return err
		}
		if err := checkActions(tx, s, lb, spec.DefaultActions); err != nil {
			return err
		}
		for _, o := range lss {
			if o.Port != spec.Port {
				continue
			}
			// CreateListener is idempotent: the same settings answer the
			// listener that has them.
			if o.Protocol == spec.Protocol && o.SslPolicy == spec.SslPolicy && slices.Equal(o.Certificates, spec.Certificates) &&
				reflect.DeepEqual(o.DefaultActions, spec.DefaultActions) {
				l, key = o, ""
				return nil
			}
			return newErr(errdefs.ErrAlreadyExists, CodeDuplicateListener, "A listener already exists on this port for this load balancer")
		}
		if len(lss) >= LimitListenersPerLB {
			return tooMany(CodeTooManyListeners, "The maximum number of listeners per load balancer has been reached")
		}
		if err := ensureCerts(tx, s, lb, spec.Certificates); err != nil {
			return err
		}
		id := newID()
		l = &Listener{
			ARN: listenerARN(s, lb, id), LoadBalancerARN: lb.ARN, Port: spec.Port, Protocol: spec.Protocol,
			SslPolicy: spec.SslPolicy, Certificates: spec.Certificates, DefaultActions: spec.DefaultActions,
			Attributes: slices.Clone(defaultListenerAttributes), Tags: spec.Tags,
		}
		l.DefaultRuleARN = ruleARN(l, newID())
		key = listenerKey(s, lb.Name, id)
		return store.PutJSON(tx, key, l)
	})
	if err != nil {
		return nil, err
	}
	if key == "" {
		return l, nil // the existing listener
	}
	if err := sv.syncLocked(ctx); err != nil {
		// The data plane could not serve it: take it back.
		if _, derr := sv.st.Update(ctx, func(tx store.Tx) error { return tx.Delete(key) }); derr != nil {
			sv.log.Error("elbv2: remove a listener the data plane refused", "arn", l.ARN, "err", derr)
		}
		if serr := sv.syncLocked(ctx); serr != nil {
			sv.log.Warn("elbv2: the data plane did not take the configuration", "err", serr)
		}
		return nil, invalidConfigf("Listener port %d cannot be served: %v", spec.Port, err)
	}
	return l, nil
}

// getListener reads a listener by ARN.
func getListener(tx store.ReadTx, s tenant.Scope, arn string) (*Listener, arnParts, error) {
	p, err := parseARN(s, arn, "listener", listenerNotFound(arn))
	if err != nil {
		return nil, p, err
	}
	l, err := store.GetJSON[Listener](tx, listenerKey(s, p.lb, p.lsID))
	if err != nil {
		return nil, p, notFound(err, listenerNotFound(arn))
	}
	if l.ARN != arn {
		return nil, p, listenerNotFound(arn)
	}
	return l, p, nil
}

// DescribeListeners answers a load balancer's listeners, or listeners
// by ARN.
func (sv *Service) DescribeListeners(ctx context.Context, s tenant.Scope, lbARN string, arns []string) ([]*Listener, error) {
	if lbARN == "" && len(arns) == 0 {
		return nil, validationf("You must specify either listener ARNs or a load balancer ARN")
	}
	if lbARN != "" && len(arns) > 0 {
		return nil, validationf("Listener ARNs and a load balancer ARN cannot be specified at the same time")
	}
	var out []*Listener
	err := sv.view(ctx, func(tx store.ReadTx) error {
		if lbARN != "" {
			lb, err := getLB(tx, s, lbARN)
			if err != nil {
				return err
			}
			out, err = store.ListJSON[Listener](tx, listenersPrefix(s, lb.Name))
			slices.SortFunc(out, func(a, b *Listener) int { return a.Port - b.Port })
			return err
		}
		for _, a := range arns {
			l, _, err := getListener(tx, s, a)
			if err != nil {
				return err
			}
			out = append(out, l)
		}
		return nil
	})
	return out, err
}

// ModifyListener changes a listener's port, protocol, certificates, SSL
// policy or default actions.
func (sv *Service) ModifyListener(ctx context.Context, s tenant.Scope, arn string, spec ListenerSpec) (*Listener, error) {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	var l, old *Listener
	var key string
	_, err := sv.st.Update(ctx, func(tx store.Tx) error {
		var p arnParts
		var err error
		l, p, err = getListener(tx, s, arn)
		if err != nil {
			return err
		}
		prev := *l
		old, key = &prev, listenerKey(s, p.lb, p.lsID)
		lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, p.lb))
		if err != nil {
			return err
		}
		next := ListenerSpec{Protocol: l.Protocol, Port: l.Port, SslPolicy: l.SslPolicy, Certificates: l.Certificates}
		if spec.Protocol != "" && spec.Protocol != l.Protocol {
			next.Protocol = spec.Protocol
			if spec.Protocol == "HTTP" {
				next.SslPolicy, next.Certificates = "", nil
			}
		}
		if spec.Port != 0 {
			next.Port = spec.Port
		}
		if spec.SslPolicy != "" {
			next.SslPolicy = spec.SslPolicy
		}
		if spec.Certificates != nil {
			next.Certificates = spec.Certificates
		}
		if err := checkListener(&next); err != nil {
			return err
		}
		if next.Port != l.Port {
			lss, err := store.ListJSON[Listener](tx, listenersPrefix(s, p.lb))
			if err != nil {
				return err
			}
			for _, o := range lss {
				if o.Port == next.Port {
					return newErr(errdefs.ErrAlreadyExists, CodeDuplicateListener, "A listener already exists on this port for this load balancer")
				}
			}
		}
		if spec.DefaultActions != nil {
			if err := checkActions(tx, s, lb, spec.DefaultActions); err != nil {
				return err
			}
			l.DefaultActions = spec.DefaultActions
		}
		if err := ensureCerts(tx, s, lb, next.Certificates); err != nil {
			return err
		}
		l.Protocol, l.Port, l.SslPolicy, l.Certificates = next.Protocol, next.Port, next.SslPolicy, next.Certificates
		return store.PutJSON(tx, listenerKey(s, p.lb, p.lsID), l)
	})
	if err != nil {
		return nil, err
	}
	if err := sv.syncLocked(ctx); err != nil {
		// The data plane cannot serve the change (a port taken): undo it.
		if _, uerr := sv.st.Update(ctx, func(tx store.Tx) error { return store.PutJSON(tx, key, old) }); uerr != nil {
			sv.log.Error("elbv2: restore a listener the data plane refused", "arn", arn, "err", uerr)
		}
		if serr := sv.syncLocked(ctx); serr != nil {
			sv.log.Warn("elbv2: the data plane did not take the configuration", "err", serr)
		}
		return nil, invalidConfigf("Listener port %d cannot be served: %v", l.Port, err)
	}
	return l, nil
}

// DeleteListener deletes a listener and its rules.
func (sv *Service) DeleteListener(ctx context.Context, s tenant.Scope, arn string) error {
	return sv.update(ctx, func(tx store.Tx) error {
		_, p, err := getListener(tx, s, arn)
		if err != nil {
			return err
		}
		kvs, err := tx.List(rulesPrefix(s, p.lb, p.lsID))
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			if err := tx.Delete(kv.Key); err != nil {
				return err
			}
		}
		return tx.Delete(listenerKey(s, p.lb, p.lsID))
	})
}

// ListenerAttributes answers a listener's attributes.
func (sv *Service) ListenerAttributes(ctx context.Context, s tenant.Scope, arn string) ([]Attribute, error) {
	var out []Attribute
	err := sv.view(ctx, func(tx store.ReadTx) error {
		l, _, err := getListener(tx, s, arn)
		if err == nil {
			out = l.Attributes
		}
		return err
	})
	return out, err
}

// ModifyListenerAttributes changes a listener's attributes.
func (sv *Service) ModifyListenerAttributes(ctx context.Context, s tenant.Scope, arn string, attrs []Attribute) ([]Attribute, error) {
	if len(attrs) == 0 {
		return nil, validationf("Attributes must contain at least one attribute")
	}
	for _, a := range attrs {
		switch {
		case a.Key == "routing.http.response.server.enabled":
			if err := enumAttr(a, "true", "false"); err != nil {
				return nil, err
			}
		case strings.HasPrefix(a.Key, "routing.http.response.") && strings.HasSuffix(a.Key, ".header_value"),
			strings.HasPrefix(a.Key, "routing.http.request.") && strings.HasSuffix(a.Key, ".header_name"):
			if len(a.Value) > 1024 {
				return nil, validationf("Listener attribute '%s' can be at most 1024 characters", a.Key)
			}
		default:
			return nil, validationf("Listener attribute key '%s' is not recognized", a.Key)
		}
	}
	var out []Attribute
	err := sv.update(ctx, func(tx store.Tx) error {
		l, p, err := getListener(tx, s, arn)
		if err != nil {
			return err
		}
		l.Attributes = setAttrs(l.Attributes, attrs)
		out = l.Attributes
		return store.PutJSON(tx, listenerKey(s, p.lb, p.lsID), l)
	})
	return out, err
}

// errIs reports whether err is the ELBv2 error of code.
func errIs(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
