// Package servicediscovery is the thin Cloud Map adapter of the API front
// door: it decodes the awsJson1_1 shapes of internal/api/servicediscoverywire
// (X-Amz-Target Route53AutoNaming_v20170314.<Op>), calls the domain
// (internal/discovery) and converts answers and errors back. Errors are
// mapped to Cloud Map codes exactly once, in mapError.
//
// DiscoverInstances and DiscoverInstancesRevision are modelled with the
// host prefix "data-": SDKs send them to data-servicediscovery.<region>...
// and, with a custom endpoint, to data-<endpoint host>. fargo routes by
// X-Amz-Target, not by host, so they are served on the one listener
// whatever host the client connected with.
package servicediscovery

import (
	"context"
	"errors"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/servicediscoverywire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/discovery"
	"github.com/fargo-run/fargo/internal/errdefs"
)

// Adapter serves Cloud Map over a discovery.Directory.
type Adapter struct {
	d *discovery.Directory
}

// New returns the Cloud Map service description for the router.
func New(d *discovery.Directory) *api.JSONService {
	a := &Adapter{d: d}
	return &api.JSONService{
		Name:         w.SigningName,
		TargetPrefix: w.TargetPrefix,
		JSONVersion:  w.JSONVersion,
		MessageKey:   "Message",
		Known: func(op string) bool {
			_, ok := w.Operations[op]
			return ok
		},
		Handlers: map[string]api.Handler{
			"CreateHttpNamespace":              api.JSON(a.createHttpNamespace),
			"CreatePrivateDnsNamespace":        api.JSON(a.createPrivateDnsNamespace),
			"CreatePublicDnsNamespace":         api.JSON(a.createPublicDnsNamespace),
			"GetNamespace":                     api.JSON(a.getNamespace),
			"ListNamespaces":                   api.JSON(a.listNamespaces),
			"DeleteNamespace":                  api.JSON(a.deleteNamespace),
			"UpdateHttpNamespace":              api.JSON(a.updateHttpNamespace),
			"UpdatePrivateDnsNamespace":        api.JSON(a.updatePrivateDnsNamespace),
			"UpdatePublicDnsNamespace":         api.JSON(a.updatePublicDnsNamespace),
			"CreateService":                    api.JSON(a.createService),
			"GetService":                       api.JSON(a.getService),
			"ListServices":                     api.JSON(a.listServices),
			"UpdateService":                    api.JSON(a.updateService),
			"DeleteService":                    api.JSON(a.deleteService),
			"GetServiceAttributes":             api.JSON(a.getServiceAttributes),
			"UpdateServiceAttributes":          api.JSON(a.updateServiceAttributes),
			"DeleteServiceAttributes":          api.JSON(a.deleteServiceAttributes),
			"RegisterInstance":                 api.JSON(a.registerInstance),
			"DeregisterInstance":               api.JSON(a.deregisterInstance),
			"GetInstance":                      api.JSON(a.getInstance),
			"ListInstances":                    api.JSON(a.listInstances),
			"GetInstancesHealthStatus":         api.JSON(a.getInstancesHealthStatus),
			"UpdateInstanceCustomHealthStatus": api.JSON(a.updateInstanceCustomHealthStatus),
			"DiscoverInstances":                api.JSON(a.discoverInstances),
			"DiscoverInstancesRevision":        api.JSON(a.discoverInstancesRevision),
			"GetOperation":                     api.JSON(a.getOperation),
			"ListOperations":                   api.JSON(a.listOperations),
			"TagResource":                      api.JSON(a.tagResource),
			"UntagResource":                    api.JSON(a.untagResource),
			"ListTagsForResource":              api.JSON(a.listTagsForResource),
		},
		MapError: mapError,
	}
}

// codes are the Cloud Map error codes of the domain's kinds.
var codes = map[discovery.Kind]string{
	discovery.KindInvalidInput:           "InvalidInput",
	discovery.KindUnsupported:            "InvalidInput",
	discovery.KindNamespaceNotFound:      "NamespaceNotFound",
	discovery.KindServiceNotFound:        "ServiceNotFound",
	discovery.KindInstanceNotFound:       "InstanceNotFound",
	discovery.KindOperationNotFound:      "OperationNotFound",
	discovery.KindCustomHealthNotFound:   "CustomHealthNotFound",
	discovery.KindResourceNotFound:       "ResourceNotFoundException",
	discovery.KindNamespaceAlreadyExists: "NamespaceAlreadyExists",
	discovery.KindServiceAlreadyExists:   "ServiceAlreadyExists",
	discovery.KindResourceInUse:          "ResourceInUse",
	discovery.KindDuplicateRequest:       "DuplicateRequest",
	discovery.KindTooManyTags:            "TooManyTagsException",
	discovery.KindResourceLimitExceeded:  "ResourceLimitExceeded",
}

// mapError maps domain errors to Cloud Map error codes, with the extra
// members their shapes carry.
func mapError(err error) *api.Error {
	var de *discovery.Error
	if errors.As(err, &de) {
		e := &api.Error{Code: codes[de.Kind], Message: de.Message, Fields: map[string]any{}}
		if e.Code == "" {
			e.Code = "InvalidInput"
		}
		add := func(k, v string) {
			if v != "" {
				e.Fields[k] = v
			}
		}
		switch de.Kind {
		case discovery.KindNamespaceAlreadyExists:
			add("NamespaceId", de.NamespaceID)
			add("CreatorRequestId", de.CreatorRequestID)
		case discovery.KindServiceAlreadyExists:
			add("ServiceId", de.ServiceID)
			add("ServiceArn", de.ServiceARN)
			add("CreatorRequestId", de.CreatorRequestID)
		case discovery.KindDuplicateRequest:
			add("DuplicateOperationId", de.OperationID)
		case discovery.KindTooManyTags:
			add("ResourceName", de.ResourceName)
		}
		return e
	}
	switch {
	case errors.Is(err, errdefs.ErrInvalidArgument), errors.Is(err, errdefs.ErrUnsupported):
		return &api.Error{Code: "InvalidInput", Message: errdefs.Message(err)}
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string { return wire.ToString(p) }

// required answers InvalidInput for a missing member.
func required(p *string, member string) (string, error) {
	if p == nil || *p == "" {
		return "", &api.Error{Code: "InvalidInput", Message: "1 validation error detected: Value null at '" + member + "' failed to satisfy constraint: Member must not be null"}
	}
	return *p, nil
}

// filters converts the List operations' filters, which share one shape.
func filters[F w.NamespaceFilter | w.ServiceFilter | w.OperationFilter](in []F) []discovery.Filter {
	var out []discovery.Filter
	for _, f := range in {
		g := w.NamespaceFilter(f)
		out = append(out, discovery.Filter{Name: str(g.Name), Condition: str(g.Condition), Values: g.Values})
	}
	return out
}

func page(max *int32, token *string, upper int32) (discovery.Page, error) {
	p := discovery.Page{Token: str(token)}
	if max != nil {
		if *max < 1 || *max > upper {
			return p, &api.Error{Code: "InvalidInput", Message: "MaxResults is out of range."}
		}
		p.Limit = int(*max)
	}
	return p, nil
}

func next(tok string) *string {
	if tok == "" {
		return nil
	}
	return &tok
}

func tagsIn(tags []w.Tag) []discovery.Tag {
	out := make([]discovery.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, discovery.Tag{Key: str(t.Key), Value: str(t.Value)})
	}
	return out
}

func tagsOut(tags []discovery.Tag) []w.Tag {
	out := make([]w.Tag, 0, len(tags))
	for _, t := range tags {
		out = append(out, w.Tag{Key: ptr(t.Key), Value: ptr(t.Value)})
	}
	return out
}

func (a *Adapter) getOperation(ctx context.Context, req *api.Request, in *w.GetOperationRequest) (*w.GetOperationResponse, error) {
	id, err := required(in.OperationId, "operationId")
	if err != nil {
		return nil, err
	}
	op, err := a.d.GetOperation(ctx, req.Scope, id)
	if err != nil {
		return nil, err
	}
	out := &w.Operation{
		Id: ptr(op.ID), Type: ptr(op.Type), Status: ptr(op.Status), Targets: op.Targets, OwnerAccount: ptr(req.Scope.Account),
		CreateDate: wire.NewTimestamp(op.CreatedAt), UpdateDate: wire.NewTimestamp(op.UpdatedAt),
	}
	if op.ErrorMessage != "" {
		out.ErrorMessage, out.ErrorCode = ptr(op.ErrorMessage), ptr(op.ErrorCode)
	}
	return &w.GetOperationResponse{Operation: out}, nil
}

func (a *Adapter) listOperations(ctx context.Context, req *api.Request, in *w.ListOperationsRequest) (*w.ListOperationsResponse, error) {
	p, err := page(in.MaxResults, in.NextToken, 100)
	if err != nil {
		return nil, err
	}
	ops, tok, err := a.d.ListOperations(ctx, req.Scope, filters(in.Filters), p)
	if err != nil {
		return nil, err
	}
	out := &w.ListOperationsResponse{NextToken: next(tok)}
	for _, op := range ops {
		out.Operations = append(out.Operations, w.OperationSummary{Id: ptr(op.ID), Status: ptr(op.Status)})
	}
	return out, nil
}

func (a *Adapter) tagResource(ctx context.Context, req *api.Request, in *w.TagResourceRequest) (*w.TagResourceResponse, error) {
	arn, err := required(in.ResourceARN, "resourceARN")
	if err != nil {
		return nil, err
	}
	return &w.TagResourceResponse{}, a.d.TagResource(ctx, req.Scope, arn, tagsIn(in.Tags))
}

func (a *Adapter) untagResource(ctx context.Context, req *api.Request, in *w.UntagResourceRequest) (*w.UntagResourceResponse, error) {
	arn, err := required(in.ResourceARN, "resourceARN")
	if err != nil {
		return nil, err
	}
	return &w.UntagResourceResponse{}, a.d.UntagResource(ctx, req.Scope, arn, in.TagKeys)
}

func (a *Adapter) listTagsForResource(ctx context.Context, req *api.Request, in *w.ListTagsForResourceRequest) (*w.ListTagsForResourceResponse, error) {
	arn, err := required(in.ResourceARN, "resourceARN")
	if err != nil {
		return nil, err
	}
	tags, err := a.d.ListTags(ctx, req.Scope, arn)
	if err != nil {
		return nil, err
	}
	return &w.ListTagsForResourceResponse{Tags: tagsOut(tags)}, nil
}
