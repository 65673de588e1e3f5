package servicediscovery

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/servicediscoverywire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/discovery"
)

func (a *Adapter) createNamespace(ctx context.Context, req *api.Request, in discovery.NamespaceInput, name *string) (*string, error) {
	n, err := required(name, "name")
	if err != nil {
		return nil, err
	}
	in.Name = n
	id, err := a.d.CreateNamespace(ctx, req.Scope, in)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

func (a *Adapter) createHttpNamespace(ctx context.Context, req *api.Request, in *w.CreateHttpNamespaceRequest) (*w.CreateHttpNamespaceResponse, error) {
	id, err := a.createNamespace(ctx, req, discovery.NamespaceInput{
		Type: discovery.TypeHTTP, Description: str(in.Description), CreatorRequestID: str(in.CreatorRequestId), Tags: tagsIn(in.Tags),
	}, in.Name)
	if err != nil {
		return nil, err
	}
	return &w.CreateHttpNamespaceResponse{OperationId: id}, nil
}

func (a *Adapter) createPrivateDnsNamespace(ctx context.Context, req *api.Request, in *w.CreatePrivateDnsNamespaceRequest) (*w.CreatePrivateDnsNamespaceResponse, error) {
	ni := discovery.NamespaceInput{
		Type: discovery.TypeDNSPrivate, Description: str(in.Description), Vpc: str(in.Vpc),
		CreatorRequestID: str(in.CreatorRequestId), Tags: tagsIn(in.Tags),
	}
	if p := in.Properties; p != nil && p.DnsProperties != nil && p.DnsProperties.SOA != nil {
		ni.SOATTL = p.DnsProperties.SOA.TTL
	}
	id, err := a.createNamespace(ctx, req, ni, in.Name)
	if err != nil {
		return nil, err
	}
	return &w.CreatePrivateDnsNamespaceResponse{OperationId: id}, nil
}

func (a *Adapter) createPublicDnsNamespace(ctx context.Context, req *api.Request, in *w.CreatePublicDnsNamespaceRequest) (*w.CreatePublicDnsNamespaceResponse, error) {
	id, err := a.createNamespace(ctx, req, discovery.NamespaceInput{Type: discovery.TypeDNSPublic}, in.Name)
	if err != nil {
		return nil, err
	}
	return &w.CreatePublicDnsNamespaceResponse{OperationId: id}, nil
}

func namespaceProperties(ns *discovery.Namespace) *w.NamespaceProperties {
	p := &w.NamespaceProperties{HttpProperties: &w.HttpProperties{HttpName: ptr(ns.Name)}}
	if ns.Type != discovery.TypeHTTP {
		p.DnsProperties = &w.DnsProperties{HostedZoneId: ptr(ns.HostedZoneID), SOA: &w.SOA{TTL: ptr(ns.SOATTL)}}
	}
	return p
}

func namespaceOut(ns *discovery.Namespace) *w.Namespace {
	out := &w.Namespace{
		Id: ptr(ns.ID), Arn: ptr(ns.ARN), Name: ptr(ns.Name), Type: ptr(ns.Type), CreateDate: wire.NewTimestamp(ns.CreatedAt),
		ServiceCount: ptr(int32(ns.ServiceCount)), Properties: namespaceProperties(ns), ResourceOwner: ptr(accountOf(ns.ARN)),
	}
	if ns.Description != "" {
		out.Description = ptr(ns.Description)
	}
	if ns.CreatorRequestID != "" {
		out.CreatorRequestId = ptr(ns.CreatorRequestID)
	}
	return out
}

// accountOf is the account field of an ARN.
func accountOf(arn string) string {
	n := 0
	for i := 0; i < len(arn); i++ {
		if arn[i] == ':' {
			n++
			if n == 4 {
				rest := arn[i+1:]
				for j := 0; j < len(rest); j++ {
					if rest[j] == ':' {
						return rest[:j]
					}
				}
			}
		}
	}
	return ""
}

func (a *Adapter) getNamespace(ctx context.Context, req *api.Request, in *w.GetNamespaceRequest) (*w.GetNamespaceResponse, error) {
	id, err := required(in.Id, "id")
	if err != nil {
		return nil, err
	}
	ns, err := a.d.GetNamespace(ctx, req.Scope, id)
	if err != nil {
		return nil, err
	}
	return &w.GetNamespaceResponse{Namespace: namespaceOut(ns)}, nil
}

func (a *Adapter) listNamespaces(ctx context.Context, req *api.Request, in *w.ListNamespacesRequest) (*w.ListNamespacesResponse, error) {
	p, err := page(in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	nss, tok, err := a.d.ListNamespaces(ctx, req.Scope, filters(in.Filters), p)
	if err != nil {
		return nil, err
	}
	out := &w.ListNamespacesResponse{NextToken: next(tok)}
	for _, ns := range nss {
		n := namespaceOut(ns)
		out.Namespaces = append(out.Namespaces, w.NamespaceSummary{
			Id: n.Id, Arn: n.Arn, Name: n.Name, Type: n.Type, CreateDate: n.CreateDate, Description: n.Description,
			Properties: n.Properties, ServiceCount: n.ServiceCount, ResourceOwner: n.ResourceOwner,
		})
	}
	return out, nil
}

func (a *Adapter) deleteNamespace(ctx context.Context, req *api.Request, in *w.DeleteNamespaceRequest) (*w.DeleteNamespaceResponse, error) {
	id, err := required(in.Id, "id")
	if err != nil {
		return nil, err
	}
	op, err := a.d.DeleteNamespace(ctx, req.Scope, id)
	if err != nil {
		return nil, err
	}
	return &w.DeleteNamespaceResponse{OperationId: &op}, nil
}

func (a *Adapter) updateNamespace(ctx context.Context, req *api.Request, id *string, u discovery.NamespaceUpdate, present bool) (*string, error) {
	nsID, err := required(id, "id")
	if err != nil {
		return nil, err
	}
	if !present {
		return nil, &api.Error{Code: "InvalidInput", Message: "1 validation error detected: Value null at 'namespace' failed to satisfy constraint: Member must not be null"}
	}
	op, err := a.d.UpdateNamespace(ctx, req.Scope, nsID, u)
	if err != nil {
		return nil, err
	}
	return &op, nil
}

func (a *Adapter) updateHttpNamespace(ctx context.Context, req *api.Request, in *w.UpdateHttpNamespaceRequest) (*w.UpdateHttpNamespaceResponse, error) {
	u := discovery.NamespaceUpdate{Type: discovery.TypeHTTP}
	if in.Namespace != nil {
		u.Description = in.Namespace.Description
	}
	op, err := a.updateNamespace(ctx, req, in.Id, u, in.Namespace != nil)
	if err != nil {
		return nil, err
	}
	return &w.UpdateHttpNamespaceResponse{OperationId: op}, nil
}

func (a *Adapter) updatePrivateDnsNamespace(ctx context.Context, req *api.Request, in *w.UpdatePrivateDnsNamespaceRequest) (*w.UpdatePrivateDnsNamespaceResponse, error) {
	u := discovery.NamespaceUpdate{Type: discovery.TypeDNSPrivate}
	if n := in.Namespace; n != nil {
		u.Description = n.Description
		if n.Properties != nil && n.Properties.DnsProperties != nil && n.Properties.DnsProperties.SOA != nil {
			u.SOATTL = n.Properties.DnsProperties.SOA.TTL
		}
	}
	op, err := a.updateNamespace(ctx, req, in.Id, u, in.Namespace != nil)
	if err != nil {
		return nil, err
	}
	return &w.UpdatePrivateDnsNamespaceResponse{OperationId: op}, nil
}

func (a *Adapter) updatePublicDnsNamespace(ctx context.Context, req *api.Request, in *w.UpdatePublicDnsNamespaceRequest) (*w.UpdatePublicDnsNamespaceResponse, error) {
	op, err := a.updateNamespace(ctx, req, in.Id, discovery.NamespaceUpdate{Type: discovery.TypeDNSPublic}, in.Namespace != nil)
	if err != nil {
		return nil, err
	}
	return &w.UpdatePublicDnsNamespaceResponse{OperationId: op}, nil
}

func dnsConfigOut(svc *discovery.Service) *w.DnsConfig {
	if len(svc.Records) == 0 {
		return nil
	}
	c := &w.DnsConfig{RoutingPolicy: ptr(svc.RoutingPolicy), NamespaceId: ptr(svc.NamespaceID), DnsRecords: []w.DnsRecord{}}
	for _, r := range svc.Records {
		c.DnsRecords = append(c.DnsRecords, w.DnsRecord{Type: ptr(r.Type), TTL: ptr(r.TTL)})
	}
	return c
}

func serviceOut(svc *discovery.Service) *w.Service {
	out := &w.Service{
		Id: ptr(svc.ID), Arn: ptr(svc.ARN), Name: ptr(svc.Name), NamespaceId: ptr(svc.NamespaceID), Type: ptr(svc.Type),
		CreateDate: wire.NewTimestamp(svc.CreatedAt), InstanceCount: ptr(int32(svc.InstanceCount)), DnsConfig: dnsConfigOut(svc),
		ResourceOwner: ptr(accountOf(svc.ARN)), CreatedByAccount: ptr(accountOf(svc.ARN)),
	}
	if svc.Description != "" {
		out.Description = ptr(svc.Description)
	}
	if svc.CreatorRequestID != "" {
		out.CreatorRequestId = ptr(svc.CreatorRequestID)
	}
	if svc.CustomHealth {
		out.HealthCheckCustomConfig = &w.HealthCheckCustomConfig{FailureThreshold: ptr(int32(svc.FailureThreshold))}
	}
	return out
}

func recordsIn(recs []w.DnsRecord) []discovery.DNSRecord {
	out := make([]discovery.DNSRecord, 0, len(recs))
	for _, r := range recs {
		out = append(out, discovery.DNSRecord{Type: str(r.Type), TTL: wire.ToInt64(r.TTL)})
	}
	return out
}

func (a *Adapter) createService(ctx context.Context, req *api.Request, in *w.CreateServiceRequest) (*w.CreateServiceResponse, error) {
	name, err := required(in.Name, "name")
	if err != nil {
		return nil, err
	}
	si := discovery.ServiceInput{
		Name: name, NamespaceID: str(in.NamespaceId), Description: str(in.Description), HealthCheck: in.HealthCheckConfig != nil,
		TypeHTTP: str(in.Type) == "HTTP", CreatorRequestID: str(in.CreatorRequestId), Tags: tagsIn(in.Tags),
	}
	if t := str(in.Type); t != "" && t != "HTTP" {
		return nil, &api.Error{Code: "InvalidInput", Message: "Type must be HTTP."}
	}
	if c := in.DnsConfig; c != nil {
		if si.NamespaceID == "" {
			si.NamespaceID = str(c.NamespaceId)
		}
		si.DNS = &discovery.DNSConfig{RoutingPolicy: str(c.RoutingPolicy), Records: recordsIn(c.DnsRecords)}
	}
	if c := in.HealthCheckCustomConfig; c != nil {
		si.CustomHealth = true
		si.FailureThreshold = int(wire.ToInt32(c.FailureThreshold))
	}
	svc, err := a.d.CreateService(ctx, req.Scope, si)
	if err != nil {
		return nil, err
	}
	return &w.CreateServiceResponse{Service: serviceOut(svc)}, nil
}

func (a *Adapter) getService(ctx context.Context, req *api.Request, in *w.GetServiceRequest) (*w.GetServiceResponse, error) {
	id, err := required(in.Id, "id")
	if err != nil {
		return nil, err
	}
	svc, err := a.d.GetService(ctx, req.Scope, id)
	if err != nil {
		return nil, err
	}
	return &w.GetServiceResponse{Service: serviceOut(svc)}, nil
}

func (a *Adapter) listServices(ctx context.Context, req *api.Request, in *w.ListServicesRequest) (*w.ListServicesResponse, error) {
	p, err := page(in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	svcs, tok, err := a.d.ListServices(ctx, req.Scope, filters(in.Filters), p)
	if err != nil {
		return nil, err
	}
	out := &w.ListServicesResponse{NextToken: next(tok)}
	for _, svc := range svcs {
		s := serviceOut(svc)
		out.Services = append(out.Services, w.ServiceSummary{
			Id: s.Id, Arn: s.Arn, Name: s.Name, Type: s.Type, Description: s.Description, InstanceCount: s.InstanceCount,
			DnsConfig: s.DnsConfig, HealthCheckCustomConfig: s.HealthCheckCustomConfig, CreateDate: s.CreateDate,
			ResourceOwner: s.ResourceOwner, CreatedByAccount: s.CreatedByAccount,
		})
	}
	return out, nil
}

func (a *Adapter) updateService(ctx context.Context, req *api.Request, in *w.UpdateServiceRequest) (*w.UpdateServiceResponse, error) {
	id, err := required(in.Id, "id")
	if err != nil {
		return nil, err
	}
	if in.Service == nil {
		return nil, &api.Error{Code: "InvalidInput", Message: "1 validation error detected: Value null at 'service' failed to satisfy constraint: Member must not be null"}
	}
	u := discovery.ServiceUpdate{Description: in.Service.Description, HealthCheck: in.Service.HealthCheckConfig != nil}
	if c := in.Service.DnsConfig; c != nil {
		u.Records = recordsIn(c.DnsRecords)
	}
	op, err := a.d.UpdateService(ctx, req.Scope, id, u)
	if err != nil {
		return nil, err
	}
	return &w.UpdateServiceResponse{OperationId: &op}, nil
}

func (a *Adapter) deleteService(ctx context.Context, req *api.Request, in *w.DeleteServiceRequest) (*w.DeleteServiceResponse, error) {
	id, err := required(in.Id, "id")
	if err != nil {
		return nil, err
	}
	return &w.DeleteServiceResponse{}, a.d.DeleteService(ctx, req.Scope, id)
}

func (a *Adapter) getServiceAttributes(ctx context.Context, req *api.Request, in *w.GetServiceAttributesRequest) (*w.GetServiceAttributesResponse, error) {
	id, err := required(in.ServiceId, "serviceId")
	if err != nil {
		return nil, err
	}
	svc, err := a.d.GetService(ctx, req.Scope, id)
	if err != nil {
		return nil, err
	}
	attrs := svc.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	return &w.GetServiceAttributesResponse{ServiceAttributes: &w.ServiceAttributes{
		ServiceArn: ptr(svc.ARN), Attributes: attrs, ResourceOwner: ptr(accountOf(svc.ARN)),
	}}, nil
}

func (a *Adapter) updateServiceAttributes(ctx context.Context, req *api.Request, in *w.UpdateServiceAttributesRequest) (*w.UpdateServiceAttributesResponse, error) {
	id, err := required(in.ServiceId, "serviceId")
	if err != nil {
		return nil, err
	}
	return &w.UpdateServiceAttributesResponse{}, a.d.UpdateServiceAttributes(ctx, req.Scope, id, in.Attributes)
}

func (a *Adapter) deleteServiceAttributes(ctx context.Context, req *api.Request, in *w.DeleteServiceAttributesRequest) (*w.DeleteServiceAttributesResponse, error) {
	id, err := required(in.ServiceId, "serviceId")
	if err != nil {
		return nil, err
	}
	return &w.DeleteServiceAttributesResponse{}, a.d.DeleteServiceAttributes(ctx, req.Scope, id, in.Attributes)
}
