package ecs

import (
	"context"
	"encoding/json"
	"slices"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/ecswire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/control"
)

// registeredBy is the principal ARN AWS reports as registeredBy.
func registeredBy(req *api.Request) string {
	return "arn:aws:iam::" + req.Scope.Account + ":root"
}

func (a *Adapter) registerTaskDefinition(ctx context.Context, req *api.Request, in *w.RegisterTaskDefinitionRequest) (*w.RegisterTaskDefinitionResponse, error) {
	if err := checkTaskDefinitionSize(in); err != nil {
		return nil, err
	}
	td, err := a.ctl.RegisterTaskDefinition(ctx, req.Scope, taskDefinitionFromWire(in), registeredBy(req))
	if err != nil {
		return nil, err
	}
	return &w.RegisterTaskDefinitionResponse{TaskDefinition: taskDefinitionToWire(td), Tags: tagsToWire(td.Tags)}, nil
}

// describeTaskDefinition answers from a.rendered when it can: a revision
// the store has not changed since it was last encoded is served as those
// bytes (the hottest read of ECS clients: Terraform, deploy scripts and
// every RunTask caller describe task definitions again and again).
func (a *Adapter) describeTaskDefinition(ctx context.Context, req *api.Request, in *w.DescribeTaskDefinitionRequest) (*api.RawJSON, error) {
	td, err := a.ctl.DescribeTaskDefinition(ctx, req.Scope, wire.ToString(in.TaskDefinition))
	if err != nil {
		return nil, err
	}
	tags := slices.Contains(in.Include, w.TaskDefinitionFieldTags)
	if !tags {
		if v, ok := a.rendered.Load(td.TaskDefinitionArn); ok && v.(renderedTaskDef).td == td {
			return v.(renderedTaskDef).body, nil
		}
	}
	out := &w.DescribeTaskDefinitionResponse{TaskDefinition: taskDefinitionToWire(td)}
	if tags {
		out.Tags = tagsToWire(td.Tags)
	}
	out.SetEmptyLists() // encoded here, not by the router
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	body := api.RawJSON(b)
	if !tags {
		a.rendered.Store(td.TaskDefinitionArn, renderedTaskDef{td: td, body: &body})
	}
	return &body, nil
}

// renderedTaskDef is a DescribeTaskDefinition answer (without tags) and the
// decoded record it was encoded from: the control plane hands out the same
// record until the store changes it, so a different pointer means stale.
type renderedTaskDef struct {
	td   *control.TaskDefinition
	body *api.RawJSON
}

func (a *Adapter) deregisterTaskDefinition(ctx context.Context, req *api.Request, in *w.DeregisterTaskDefinitionRequest) (*w.DeregisterTaskDefinitionResponse, error) {
	td, err := a.ctl.DeregisterTaskDefinition(ctx, req.Scope, wire.ToString(in.TaskDefinition))
	if err != nil {
		return nil, err
	}
	return &w.DeregisterTaskDefinitionResponse{TaskDefinition: taskDefinitionToWire(td)}, nil
}

func (a *Adapter) deleteTaskDefinitions(ctx context.Context, req *api.Request, in *w.DeleteTaskDefinitionsRequest) (*w.DeleteTaskDefinitionsResponse, error) {
	tds, failures, err := a.ctl.DeleteTaskDefinitions(ctx, req.Scope, in.TaskDefinitions)
	if err != nil {
		return nil, err
	}
	out := &w.DeleteTaskDefinitionsResponse{TaskDefinitions: []w.TaskDefinition{}, Failures: failuresToWire(failures)}
	for _, td := range tds {
		out.TaskDefinitions = append(out.TaskDefinitions, *taskDefinitionToWire(td))
	}
	return out, nil
}

func (a *Adapter) listTaskDefinitions(ctx context.Context, req *api.Request, in *w.ListTaskDefinitionsRequest) (*w.ListTaskDefinitionsResponse, error) {
	desc := wire.ToString(in.Sort) == w.SortOrderDesc
	arns, next, err := a.ctl.ListTaskDefinitions(ctx, req.Scope, wire.ToString(in.FamilyPrefix), wire.ToString(in.Status), desc,
		page(in.MaxResults, in.NextToken, 100, 100))
	if err != nil {
		return nil, err
	}
	if arns == nil {
		arns = []string{}
	}
	return &w.ListTaskDefinitionsResponse{TaskDefinitionArns: arns, NextToken: optStr(next)}, nil
}

func (a *Adapter) listTaskDefinitionFamilies(ctx context.Context, req *api.Request, in *w.ListTaskDefinitionFamiliesRequest) (*w.ListTaskDefinitionFamiliesResponse, error) {
	fams, next, err := a.ctl.ListTaskDefinitionFamilies(ctx, req.Scope, wire.ToString(in.FamilyPrefix), wire.ToString(in.Status),
		page(in.MaxResults, in.NextToken, 100, 100))
	if err != nil {
		return nil, err
	}
	if fams == nil {
		fams = []string{}
	}
	return &w.ListTaskDefinitionFamiliesResponse{Families: fams, NextToken: optStr(next)}, nil
}

func (a *Adapter) tagResource(ctx context.Context, req *api.Request, in *w.TagResourceRequest) (*w.TagResourceResponse, error) {
	if err := a.ctl.TagResource(ctx, req.Scope, wire.ToString(in.ResourceArn), tagsFromWire(in.Tags)); err != nil {
		return nil, err
	}
	return &w.TagResourceResponse{}, nil
}

func (a *Adapter) untagResource(ctx context.Context, req *api.Request, in *w.UntagResourceRequest) (*w.UntagResourceResponse, error) {
	if err := a.ctl.UntagResource(ctx, req.Scope, wire.ToString(in.ResourceArn), in.TagKeys); err != nil {
		return nil, err
	}
	return &w.UntagResourceResponse{}, nil
}

func (a *Adapter) listTagsForResource(ctx context.Context, req *api.Request, in *w.ListTagsForResourceRequest) (*w.ListTagsForResourceResponse, error) {
	tags, err := a.ctl.ListTagsForResource(ctx, req.Scope, wire.ToString(in.ResourceArn))
	if err != nil {
		return nil, err
	}
	return &w.ListTagsForResourceResponse{Tags: tagsToWire(tags)}, nil
}
