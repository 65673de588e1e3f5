package control

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// ServiceDeploymentInfo is a deployment with the service it belongs to.
type ServiceDeploymentInfo struct {
	Service    *Service
	Deployment *Deployment
}

// ServiceDeploymentFilter narrows ListServiceDeployments.
type ServiceDeploymentFilter struct {
	Status        []string
	CreatedAfter  time.Time
	CreatedBefore time.Time
}

// ListServiceDeployments lists a service's deployments, newest first.
func (c *Control) ListServiceDeployments(ctx context.Context, s tenant.Scope, cluster, ref string, f ServiceDeploymentFilter, p Page) ([]ServiceDeploymentInfo, string, error) {
	cl, err := c.ActiveCluster(ctx, s, cluster)
	if err != nil {
		return nil, "", err
	}
	svc, err := c.getService(ctx, s, cl.Name, ref)
	if err != nil {
		return nil, "", err
	}
	if err := c.fillCounts(ctx, s, svc); err != nil {
		return nil, "", err
	}
	var ds []*Deployment
	for _, d := range append(append([]*Deployment{}, svc.Deployments...), svc.History...) {
		switch {
		case len(f.Status) > 0 && !slices.Contains(f.Status, d.DeploymentStatus):
			continue
		case !f.CreatedAfter.IsZero() && d.CreatedAt.Before(f.CreatedAfter):
			continue
		case !f.CreatedBefore.IsZero() && d.CreatedAt.After(f.CreatedBefore):
			continue
		}
		ds = append(ds, d)
	}
	newestFirst := func(d *Deployment) string { return paging.Join(paging.Desc(paging.Time(d.CreatedAt)), d.ID) }
	page, next, err := paginateBy("ListServiceDeployments", ds, newestFirst, false, p)
	if err != nil {
		return nil, "", err
	}
	out := make([]ServiceDeploymentInfo, 0, len(page))
	for _, d := range page {
		out = append(out, ServiceDeploymentInfo{Service: svc, Deployment: d})
	}
	return out, next, nil
}

// DescribeServiceDeployments returns service deployments by ARN (kind
// "service-deployment") or service revisions (kind "service-revision"),
// with MISSING failures for the others.
func (c *Control) DescribeServiceDeployments(ctx context.Context, s tenant.Scope, kind string, arns []string) ([]ServiceDeploymentInfo, []Failure, error) {
	if len(arns) == 0 {
		return nil, nil, InvalidParameterf("ARNs cannot be empty.")
	}
	if len(arns) > 20 {
		return nil, nil, InvalidParameterf("ARNs cannot have more than 20 elements")
	}
	var out []ServiceDeploymentInfo
	var failures []Failure
	for _, arn := range arns {
		info, err := c.findDeployment(ctx, s, kind, arn)
		if errors.Is(err, errdefs.ErrNotFound) || errors.Is(err, errdefs.ErrInvalidArgument) {
			failures = append(failures, Failure{ARN: arn, Reason: "MISSING"})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		out = append(out, info)
	}
	return out, failures, nil
}

func (c *Control) findDeployment(ctx context.Context, s tenant.Scope, kind, arn string) (ServiceDeploymentInfo, error) {
	res, err := parseARN(s, arn)
	if err != nil {
		return ServiceDeploymentInfo{}, err
	}
	parts := strings.Split(res.id, "/")
	if res.kind != kind || len(parts) != 3 {
		return ServiceDeploymentInfo{}, ErrResourceNotFound
	}
	kv, err := c.st.Get(ctx, serviceKey(s, parts[0], parts[1]))
	if errors.Is(err, store.ErrNotFound) {
		return ServiceDeploymentInfo{}, ErrResourceNotFound
	}
	if err != nil {
		return ServiceDeploymentInfo{}, err
	}
	svc, err := decode[Service](kv)
	if err != nil {
		return ServiceDeploymentInfo{}, err
	}
	if err := c.fillCounts(ctx, s, svc); err != nil {
		return ServiceDeploymentInfo{}, err
	}
	d := svc.FindDeployment("ecs-svc/" + parts[2])
	if d == nil {
		return ServiceDeploymentInfo{}, ErrResourceNotFound
	}
	return ServiceDeploymentInfo{Service: svc, Deployment: d}, nil
}
