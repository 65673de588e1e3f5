package elbv2

import (
	"context"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/elbv2"
)

func (h *handlers) createListener(ctx context.Context, req *api.Request, in *w.CreateListenerInput) (*w.CreateListenerOutput, error) {
	lbARN, err := required(in.LoadBalancerArn, "LoadBalancerArn")
	if err != nil {
		return nil, err
	}
	if in.Port == nil {
		return nil, api.Errorf("ValidationError", "A listener port must be specified")
	}
	actions, err := actionsIn(in.DefaultActions)
	if err != nil {
		return nil, err
	}
	l, err := h.sv.CreateListener(ctx, req.Scope, elbv2.ListenerSpec{
		LoadBalancerARN: lbARN, Protocol: str(in.Protocol), Port: int(*in.Port), SslPolicy: str(in.SslPolicy),
		Certificates: certsIn(in.Certificates), DefaultActions: actions, Tags: tagsIn(in.Tags),
	})
	if err != nil {
		return nil, err
	}
	return &w.CreateListenerOutput{Listeners: []w.Listener{listenerOut(l)}}, nil
}

func (h *handlers) describeListeners(ctx context.Context, req *api.Request, in *w.DescribeListenersInput) (*w.DescribeListenersOutput, error) {
	ls, err := h.sv.DescribeListeners(ctx, req.Scope, str(in.LoadBalancerArn), in.ListenerArns)
	if err != nil {
		return nil, err
	}
	out, next, err := pageOut(ls, in.Marker, in.PageSize, listenerOut)
	if err != nil {
		return nil, err
	}
	return &w.DescribeListenersOutput{Listeners: out, NextMarker: next}, nil
}

func (h *handlers) modifyListener(ctx context.Context, req *api.Request, in *w.ModifyListenerInput) (*w.ModifyListenerOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	actions, err := actionsIn(in.DefaultActions)
	if err != nil {
		return nil, err
	}
	spec := elbv2.ListenerSpec{Protocol: str(in.Protocol), SslPolicy: str(in.SslPolicy), Certificates: certsIn(in.Certificates), DefaultActions: actions}
	if in.Port != nil {
		spec.Port = int(*in.Port)
		if spec.Port == 0 {
			return nil, api.Errorf("ValidationError", "Listener port '0' must be between 1 and 65535")
		}
	}
	l, err := h.sv.ModifyListener(ctx, req.Scope, arn, spec)
	if err != nil {
		return nil, err
	}
	return &w.ModifyListenerOutput{Listeners: []w.Listener{listenerOut(l)}}, nil
}

func (h *handlers) deleteListener(ctx context.Context, req *api.Request, in *w.DeleteListenerInput) (*w.DeleteListenerOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	return &w.DeleteListenerOutput{}, h.sv.DeleteListener(ctx, req.Scope, arn)
}

func listenerAttrsOut(as []elbv2.Attribute) []w.ListenerAttribute {
	out := make([]w.ListenerAttribute, 0, len(as))
	for _, a := range as {
		out = append(out, w.ListenerAttribute{Key: wire.String(a.Key), Value: wire.String(a.Value)})
	}
	return out
}

func (h *handlers) describeListenerAttributes(ctx context.Context, req *api.Request, in *w.DescribeListenerAttributesInput) (*w.DescribeListenerAttributesOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	as, err := h.sv.ListenerAttributes(ctx, req.Scope, arn)
	if err != nil {
		return nil, err
	}
	return &w.DescribeListenerAttributesOutput{Attributes: listenerAttrsOut(as)}, nil
}

func (h *handlers) modifyListenerAttributes(ctx context.Context, req *api.Request, in *w.ModifyListenerAttributesInput) (*w.ModifyListenerAttributesOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	as, err := h.sv.ModifyListenerAttributes(ctx, req.Scope, arn, attrsIn(in.Attributes))
	if err != nil {
		return nil, err
	}
	return &w.ModifyListenerAttributesOutput{Attributes: listenerAttrsOut(as)}, nil
}

func (h *handlers) describeListenerCertificates(ctx context.Context, req *api.Request, in *w.DescribeListenerCertificatesInput) (*w.DescribeListenerCertificatesOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	ls, err := h.sv.DescribeListeners(ctx, req.Scope, "", []string{arn})
	if err != nil {
		return nil, err
	}
	certs, next, err := page(ls[0].Certificates, in.Marker, in.PageSize)
	if err != nil {
		return nil, err
	}
	out := &w.DescribeListenerCertificatesOutput{NextMarker: next}
	for i, c := range certs {
		out.Certificates = append(out.Certificates, w.Certificate{CertificateArn: wire.String(c), IsDefault: wire.Bool(i == 0 && in.Marker == nil)})
	}
	return out, nil
}

func (h *handlers) createRule(ctx context.Context, req *api.Request, in *w.CreateRuleInput) (*w.CreateRuleOutput, error) {
	arn, err := required(in.ListenerArn, "ListenerArn")
	if err != nil {
		return nil, err
	}
	if in.Priority == nil {
		return nil, api.Errorf("ValidationError", "A rule priority must be specified")
	}
	if len(in.Transforms) > 0 {
		return nil, api.Errorf("ValidationError", "Rule transforms are not supported by fargo")
	}
	conds, err := conditionsIn(in.Conditions)
	if err != nil {
		return nil, err
	}
	actions, err := actionsIn(in.Actions)
	if err != nil {
		return nil, err
	}
	r, err := h.sv.CreateRule(ctx, req.Scope, arn, int(*in.Priority), conds, actions, tagsIn(in.Tags))
	if err != nil {
		return nil, err
	}
	return &w.CreateRuleOutput{Rules: []w.Rule{ruleOut(elbv2.RuleView{Rule: *r})}}, nil
}

func (h *handlers) describeRules(ctx context.Context, req *api.Request, in *w.DescribeRulesInput) (*w.DescribeRulesOutput, error) {
	rs, err := h.sv.DescribeRules(ctx, req.Scope, str(in.ListenerArn), in.RuleArns)
	if err != nil {
		return nil, err
	}
	out, next, err := pageOut(rs, in.Marker, in.PageSize, ruleOut)
	if err != nil {
		return nil, err
	}
	return &w.DescribeRulesOutput{Rules: out, NextMarker: next}, nil
}

func (h *handlers) modifyRule(ctx context.Context, req *api.Request, in *w.ModifyRuleInput) (*w.ModifyRuleOutput, error) {
	arn, err := required(in.RuleArn, "RuleArn")
	if err != nil {
		return nil, err
	}
	if len(in.Transforms) > 0 {
		return nil, api.Errorf("ValidationError", "Rule transforms are not supported by fargo")
	}
	conds, err := conditionsIn(in.Conditions)
	if err != nil {
		return nil, err
	}
	actions, err := actionsIn(in.Actions)
	if err != nil {
		return nil, err
	}
	r, err := h.sv.ModifyRule(ctx, req.Scope, arn, conds, actions)
	if err != nil {
		return nil, err
	}
	return &w.ModifyRuleOutput{Rules: []w.Rule{ruleOut(*r)}}, nil
}

func (h *handlers) deleteRule(ctx context.Context, req *api.Request, in *w.DeleteRuleInput) (*w.DeleteRuleOutput, error) {
	arn, err := required(in.RuleArn, "RuleArn")
	if err != nil {
		return nil, err
	}
	return &w.DeleteRuleOutput{}, h.sv.DeleteRule(ctx, req.Scope, arn)
}

func (h *handlers) setRulePriorities(ctx context.Context, req *api.Request, in *w.SetRulePrioritiesInput) (*w.SetRulePrioritiesOutput, error) {
	pairs := make([]elbv2.RulePriority, 0, len(in.RulePriorities))
	for _, p := range in.RulePriorities {
		arn, err := required(p.RuleArn, "RulePriorities.member.N.RuleArn")
		if err != nil {
			return nil, err
		}
		if p.Priority == nil {
			return nil, api.Errorf("ValidationError", "A priority must be specified for rule '%s'", arn)
		}
		pairs = append(pairs, elbv2.RulePriority{ARN: arn, Priority: int(*p.Priority)})
	}
	rs, err := h.sv.SetRulePriorities(ctx, req.Scope, pairs)
	if err != nil {
		return nil, err
	}
	out := &w.SetRulePrioritiesOutput{}
	for _, r := range rs {
		out.Rules = append(out.Rules, ruleOut(r))
	}
	return out, nil
}
