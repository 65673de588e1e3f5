package servicediscovery

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/servicediscoverywire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/discovery"
)

// instanceRef checks the serviceId and instanceId members, in that order.
func instanceRef(serviceID, instanceID *string) (svc, id string, err error) {
	if svc, err = required(serviceID, "serviceId"); err != nil {
		return "", "", err
	}
	if id, err = required(instanceID, "instanceId"); err != nil {
		return "", "", err
	}
	return svc, id, nil
}

func (a *Adapter) registerInstance(ctx context.Context, req *api.Request, in *w.RegisterInstanceRequest) (*w.RegisterInstanceResponse, error) {
	svc, id, err := instanceRef(in.ServiceId, in.InstanceId)
	if err != nil {
		return nil, err
	}
	if in.Attributes == nil {
		return nil, &api.Error{Code: "InvalidInput", Message: "1 validation error detected: Value null at 'attributes' failed to satisfy constraint: Member must not be null"}
	}
	op, err := a.d.RegisterInstance(ctx, req.Scope, svc, id, in.Attributes, str(in.CreatorRequestId))
	if err != nil {
		return nil, err
	}
	return &w.RegisterInstanceResponse{OperationId: &op}, nil
}

func (a *Adapter) deregisterInstance(ctx context.Context, req *api.Request, in *w.DeregisterInstanceRequest) (*w.DeregisterInstanceResponse, error) {
	svc, id, err := instanceRef(in.ServiceId, in.InstanceId)
	if err != nil {
		return nil, err
	}
	op, err := a.d.DeregisterInstance(ctx, req.Scope, svc, id)
	if err != nil {
		return nil, err
	}
	return &w.DeregisterInstanceResponse{OperationId: &op}, nil
}

func (a *Adapter) getInstance(ctx context.Context, req *api.Request, in *w.GetInstanceRequest) (*w.GetInstanceResponse, error) {
	svc, id, err := instanceRef(in.ServiceId, in.InstanceId)
	if err != nil {
		return nil, err
	}
	inst, err := a.d.GetInstance(ctx, req.Scope, svc, id)
	if err != nil {
		return nil, err
	}
	out := &w.Instance{Id: ptr(inst.ID), Attributes: inst.Attributes, CreatedByAccount: ptr(req.Scope.Account)}
	if inst.CreatorRequestID != "" {
		out.CreatorRequestId = ptr(inst.CreatorRequestID)
	}
	return &w.GetInstanceResponse{Instance: out, ResourceOwner: ptr(req.Scope.Account)}, nil
}

func (a *Adapter) listInstances(ctx context.Context, req *api.Request, in *w.ListInstancesRequest) (*w.ListInstancesResponse, error) {
	svc, err := required(in.ServiceId, "serviceId")
	if err != nil {
		return nil, err
	}
	p, err := page(in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	insts, tok, err := a.d.ListInstances(ctx, req.Scope, svc, p)
	if err != nil {
		return nil, err
	}
	out := &w.ListInstancesResponse{NextToken: next(tok), ResourceOwner: ptr(req.Scope.Account)}
	for _, i := range insts {
		out.Instances = append(out.Instances, w.InstanceSummary{Id: ptr(i.ID), Attributes: i.Attributes, CreatedByAccount: ptr(req.Scope.Account)})
	}
	return out, nil
}

func (a *Adapter) getInstancesHealthStatus(ctx context.Context, req *api.Request, in *w.GetInstancesHealthStatusRequest) (*w.GetInstancesHealthStatusResponse, error) {
	svc, err := required(in.ServiceId, "serviceId")
	if err != nil {
		return nil, err
	}
	p, err := page(in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	hs, tok, err := a.d.GetInstancesHealthStatus(ctx, req.Scope, svc, in.Instances, p)
	if err != nil {
		return nil, err
	}
	out := &w.GetInstancesHealthStatusResponse{NextToken: next(tok), Status: map[string]string{}}
	for _, h := range hs {
		out.Status[h.ID] = h.Status
	}
	return out, nil
}

// updateInstanceCustomHealthStatusResponse: the operation has no output
// shape; AWS answers an empty body.
type updateInstanceCustomHealthStatusResponse struct{}

func (a *Adapter) updateInstanceCustomHealthStatus(ctx context.Context, req *api.Request, in *w.UpdateInstanceCustomHealthStatusRequest) (*updateInstanceCustomHealthStatusResponse, error) {
	svc, id, err := instanceRef(in.ServiceId, in.InstanceId)
	if err != nil {
		return nil, err
	}
	st, err := required(in.Status, "status")
	if err != nil {
		return nil, err
	}
	return nil, a.d.UpdateInstanceCustomHealthStatus(ctx, req.Scope, svc, id, st)
}

func (a *Adapter) discoverInstances(ctx context.Context, req *api.Request, in *w.DiscoverInstancesRequest) (*w.DiscoverInstancesResponse, error) {
	ns, err := required(in.NamespaceName, "namespaceName")
	if err != nil {
		return nil, err
	}
	svc, err := required(in.ServiceName, "serviceName")
	if err != nil {
		return nil, err
	}
	if o := str(in.OwnerAccount); o != "" && o != req.Scope.Account {
		return nil, &api.Error{Code: "NamespaceNotFound", Message: "Namespace not found: " + ns}
	}
	res, err := a.d.DiscoverInstances(ctx, req.Scope, discovery.DiscoverQuery{
		Namespace: ns, Service: svc, Health: str(in.HealthStatus), Query: in.QueryParameters, Optional: in.OptionalParameters,
		MaxResults: int(wire.ToInt32(in.MaxResults)),
	})
	if err != nil {
		return nil, err
	}
	out := &w.DiscoverInstancesResponse{InstancesRevision: ptr(res.Revision)}
	for _, i := range res.Instances {
		out.Instances = append(out.Instances, w.HttpInstanceSummary{
			InstanceId: ptr(i.ID), NamespaceName: ptr(res.Namespace), ServiceName: ptr(res.Service),
			HealthStatus: ptr(i.HealthStatus()), Attributes: i.Attributes,
		})
	}
	return out, nil
}

func (a *Adapter) discoverInstancesRevision(ctx context.Context, req *api.Request, in *w.DiscoverInstancesRevisionRequest) (*w.DiscoverInstancesRevisionResponse, error) {
	ns, err := required(in.NamespaceName, "namespaceName")
	if err != nil {
		return nil, err
	}
	svc, err := required(in.ServiceName, "serviceName")
	if err != nil {
		return nil, err
	}
	rev, err := a.d.DiscoverInstancesRevision(ctx, req.Scope, ns, svc)
	if err != nil {
		return nil, err
	}
	return &w.DiscoverInstancesRevisionResponse{InstancesRevision: &rev}, nil
}
