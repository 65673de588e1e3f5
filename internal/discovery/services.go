package discovery

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ServiceInput is what CreateService asks for. DNS is nil for a service
// without DnsConfig (HTTP only).
type ServiceInput struct {
	Name             string
	NamespaceID      string
	Description      string
	DNS              *DNSConfig
	CustomHealth     bool
	FailureThreshold int
	HealthCheck      bool // HealthCheckConfig was given (public namespaces only)
	TypeHTTP         bool // Type "HTTP" was asked for
	CreatorRequestID string
	Tags             []Tag
}

// DNSConfig is a service's DnsConfig.
type DNSConfig struct {
	RoutingPolicy string
	Records       []DNSRecord
}

// ValidServiceName is the model's ServiceName: dot-separated labels, 127
// characters in all.
func ValidServiceName(name string) bool { return ValidDNSName(name, 127) }

func checkRecords(policy string, recs []DNSRecord) error {
	if len(recs) == 0 {
		return invalidf("DnsRecords must contain at least one record.")
	}
	seen := map[string]bool{}
	for _, r := range recs {
		switch r.Type {
		case RecordA, RecordAAAA, RecordSRV, RecordCNAM:
		default:
			return invalidf("Record type %q is not one of A, AAAA, SRV, CNAME.", truncate(r.Type))
		}
		if seen[r.Type] {
			return invalidf("DnsRecords contains the type %s more than once.", r.Type)
		}
		seen[r.Type] = true
		if r.TTL < 0 || r.TTL > 2147483647 {
			return invalidf("TTL must be between 0 and 2147483647.")
		}
	}
	if seen[RecordCNAM] && len(recs) > 1 {
		return invalidf("A CNAME record cannot be combined with other record types.")
	}
	if seen[RecordCNAM] && policy != Weighted {
		return invalidf("CNAME records require the WEIGHTED routing policy.")
	}
	return nil
}

func (in *ServiceInput) check(ns *Namespace) error {
	if !ValidServiceName(in.Name) {
		return invalidf("Service name %q is not valid: labels of 1-63 letters, digits, hyphens or underscores, 127 characters in all.", truncate(in.Name))
	}
	if len(in.Description) > 1024 {
		return invalidf("Description must be at most 1024 characters.")
	}
	if in.HealthCheck {
		return invalidf("HealthCheckConfig is only valid for services in public DNS namespaces; use HealthCheckCustomConfig.")
	}
	if in.FailureThreshold != 0 && (in.FailureThreshold < 1 || in.FailureThreshold > 10) {
		return invalidf("FailureThreshold must be between 1 and 10.")
	}
	if in.DNS != nil {
		if ns.Type == TypeHTTP {
			return invalidf("DnsConfig is not valid for a service in an HTTP namespace.")
		}
		if in.TypeHTTP {
			return invalidf("A service of type HTTP cannot have a DnsConfig.")
		}
		if in.DNS.RoutingPolicy == "" {
			in.DNS.RoutingPolicy = Multivalue
		}
		if in.DNS.RoutingPolicy != Multivalue && in.DNS.RoutingPolicy != Weighted {
			return invalidf("RoutingPolicy must be MULTIVALUE or WEIGHTED.")
		}
		if err := checkRecords(in.DNS.RoutingPolicy, in.DNS.Records); err != nil {
			return err
		}
	}
	return checkTags(in.Tags)
}

// CreateService creates a service in a namespace.
func (d *Directory) CreateService(ctx context.Context, s tenant.Scope, in ServiceInput) (*Service, error) {
	if in.NamespaceID == "" {
		return nil, invalidf("NamespaceId is required.")
	}
	hash := hashOf(in)
	var out *Service
	err := d.update(ctx, s, func(tx store.Tx) error {
		ns, err := getNamespace(tx, s, in.NamespaceID)
		if err != nil {
			return err
		}
		if err := in.check(ns); err != nil {
			return err
		}
		r, err := checkRequest(tx, s, in.CreatorRequestID, hash)
		if err != nil {
			return err
		}
		if r != nil {
			out, err = getService(tx, s, r.ResourceID)
			return err
		}
		nameKey := svcNameKey(s, ns.ID, in.Name)
		if kv, err := tx.Get(nameKey); err == nil {
			other, _ := store.GetJSON[Service](tx, serviceKey(s, string(kv.Value)))
			e := &Error{Kind: KindServiceAlreadyExists, Message: fmt.Sprintf("Service already exists: %s", in.Name), ServiceID: string(kv.Value)}
			if other != nil {
				e.ServiceARN, e.CreatorRequestID = other.ARN, other.CreatorRequestID
			}
			return e
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		svc := &Service{
			ID: newID("srv-", 16), Name: in.Name, NamespaceID: ns.ID, Description: in.Description,
			CustomHealth: in.CustomHealth, FailureThreshold: in.FailureThreshold,
			CreatorRequestID: in.CreatorRequestID, CreatedAt: d.now().UTC(), Tags: in.Tags, Type: TypeHTTP,
		}
		svc.ARN = s.ARN(service, "service/"+svc.ID)
		if in.DNS != nil {
			svc.Type, svc.RoutingPolicy, svc.Records = "DNS_HTTP", in.DNS.RoutingPolicy, in.DNS.Records
		}
		if svc.CustomHealth && svc.FailureThreshold == 0 {
			svc.FailureThreshold = 1
		}
		if err := store.PutJSON(tx, serviceKey(s, svc.ID), svc); err != nil {
			return err
		}
		if err := tx.Put(nameKey, []byte(svc.ID)); err != nil {
			return err
		}
		out = svc
		return putRequest(tx, s, in.CreatorRequestID, request{Hash: hash, ResourceID: svc.ID})
	})
	if err != nil {
		return nil, err
	}
	d.log.Info("service created", "account", s.Account, "service", out.Name, "id", out.ID, "namespace", out.NamespaceID)
	return out, nil
}

func getService(tx store.ReadTx, s tenant.Scope, id string) (*Service, error) {
	if !strings.HasPrefix(id, "srv-") || len(id) > 64 || strings.Contains(id, "/") {
		return nil, errServiceNotFound(truncate(id))
	}
	svc, err := store.GetJSON[Service](tx, serviceKey(s, id))
	if errors.Is(err, store.ErrNotFound) {
		return nil, errServiceNotFound(id)
	}
	if err != nil {
		return nil, err
	}
	kvs, err := tx.List(instancesPrefix(s, id))
	if err != nil {
		return nil, err
	}
	svc.InstanceCount = len(kvs)
	return svc, nil
}

// GetService reads a service (id or ARN).
func (d *Directory) GetService(ctx context.Context, s tenant.Scope, id string) (*Service, error) {
	id = serviceIDOf(s, id)
	var svc *Service
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		svc, err = getService(tx, s, id)
		return err
	})
	return svc, err
}

// serviceIDOf takes a service id or the ARN of a service of the scope.
func serviceIDOf(s tenant.Scope, ref string) string {
	if id, ok := strings.CutPrefix(ref, s.ARN(service, "service/")); ok {
		return id
	}
	return ref
}

// ServiceUpdate is what UpdateService changes (nil: unchanged).
type ServiceUpdate struct {
	Description *string
	Records     []DNSRecord // nil: unchanged
	HealthCheck bool
}

// UpdateService changes a service's description and DNS records.
func (d *Directory) UpdateService(ctx context.Context, s tenant.Scope, id string, u ServiceUpdate) (string, error) {
	if u.HealthCheck {
		return "", invalidf("HealthCheckConfig is only valid for services in public DNS namespaces.")
	}
	if u.Description != nil && len(*u.Description) > 1024 {
		return "", invalidf("Description must be at most 1024 characters.")
	}
	var opID string
	err := d.update(ctx, s, func(tx store.Tx) error {
		svc, err := getService(tx, s, id)
		if err != nil {
			return err
		}
		if u.Description != nil {
			svc.Description = *u.Description
		}
		if u.Records != nil {
			if svc.Type == TypeHTTP {
				return invalidf("Service %s has no DnsConfig to update.", svc.ID)
			}
			if err := checkRecords(svc.RoutingPolicy, u.Records); err != nil {
				return err
			}
			svc.Records = u.Records
			svc.Revision++
		}
		if err := store.PutJSON(tx, serviceKey(s, svc.ID), svc); err != nil {
			return err
		}
		opID, err = d.newOperation(tx, s, OpUpdateService, map[string]string{"SERVICE": svc.ID})
		return err
	})
	return opID, err
}

// DeleteService deletes a service that has no instances left.
func (d *Directory) DeleteService(ctx context.Context, s tenant.Scope, id string) error {
	id = serviceIDOf(s, id)
	return d.update(ctx, s, func(tx store.Tx) error {
		svc, err := getService(tx, s, id)
		if err != nil {
			return err
		}
		if svc.InstanceCount > 0 {
			return &Error{Kind: KindResourceInUse, Message: fmt.Sprintf("Service %s has %d registered instances; deregister them first.", svc.ID, svc.InstanceCount)}
		}
		if err := tx.Delete(serviceKey(s, svc.ID)); err != nil {
			return err
		}
		return tx.Delete(svcNameKey(s, svc.NamespaceID, svc.Name))
	})
}

// ListServices lists services; the NAMESPACE_ID filter (EQ, IN) applies.
func (d *Directory) ListServices(ctx context.Context, s tenant.Scope, filters []Filter, p Page) ([]*Service, string, error) {
	for _, f := range filters {
		if err := checkFilter(f, map[string][]string{"NAMESPACE_ID": {"EQ", "IN"}, "RESOURCE_OWNER": {"EQ"}}); err != nil {
			return nil, "", err
		}
	}
	var all []*Service
	err := d.st.View(ctx, func(tx store.ReadTx) error {
		var err error
		all, err = store.ListJSON[Service](tx, prefix(s)+"services/")
		if err != nil {
			return err
		}
		for _, svc := range all {
			kvs, err := tx.List(instancesPrefix(s, svc.ID))
			if err != nil {
				return err
			}
			svc.InstanceCount = len(kvs)
		}
		return nil
	})
	if err != nil {
		return nil, "", err
	}
	all = slices.DeleteFunc(all, func(svc *Service) bool {
		for _, f := range filters {
			v := map[string]string{"NAMESPACE_ID": svc.NamespaceID, "RESOURCE_OWNER": "SELF"}[f.Name]
			if !f.match(v) {
				return true
			}
		}
		return false
	})
	return pageOf(all, func(svc *Service) string { return svc.ID }, "ListServices", p)
}

// UpdateServiceAttributes adds or replaces service attributes (at most 30).
func (d *Directory) UpdateServiceAttributes(ctx context.Context, s tenant.Scope, id string, attrs map[string]string) error {
	if len(attrs) == 0 {
		return invalidf("Attributes must not be empty.")
	}
	return d.update(ctx, s, func(tx store.Tx) error {
		svc, err := getService(tx, s, serviceIDOf(s, id))
		if err != nil {
			return err
		}
		merged := maps.Clone(svc.Attributes)
		if merged == nil {
			merged = map[string]string{}
		}
		for k, v := range attrs {
			if k == "" || len(k) > 255 || len(v) > 1024 {
				return invalidf("Service attribute keys must be 1-255 characters and values at most 1024.")
			}
			merged[k] = v
		}
		if len(merged) > 30 {
			return &Error{Kind: KindResourceLimitExceeded, Message: "A service can have at most 30 attributes."}
		}
		svc.Attributes = merged
		return store.PutJSON(tx, serviceKey(s, svc.ID), svc)
	})
}

// DeleteServiceAttributes removes service attributes.
func (d *Directory) DeleteServiceAttributes(ctx context.Context, s tenant.Scope, id string, keys []string) error {
	if len(keys) == 0 {
		return invalidf("Attributes must not be empty.")
	}
	return d.update(ctx, s, func(tx store.Tx) error {
		svc, err := getService(tx, s, serviceIDOf(s, id))
		if err != nil {
			return err
		}
		for _, k := range keys {
			delete(svc.Attributes, k)
		}
		return store.PutJSON(tx, serviceKey(s, svc.ID), svc)
	})
}
