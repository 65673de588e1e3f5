package elbv2

import (
	"context"
	"slices"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// RuleView is a rule as DescribeRules shows it: the default rule of a
// listener (IsDefault, its default actions, no conditions) included.
type RuleView struct {
	Rule
	IsDefault bool
}

func priorityInUse(p int) error {
	return newErr(errdefs.ErrConflict, CodePriorityInUse, "Priority '%d' is currently in use", p)
}

func checkPriority(p int) error {
	if p < 1 || p > 50000 {
		return validationf("Priority '%d' must be between 1 and 50000", p)
	}
	return nil
}

// CreateRule adds a rule to a listener.
func (sv *Service) CreateRule(ctx context.Context, s tenant.Scope, listenerARN string, priority int, conds []Condition, actions []Action, tags []Tag) (*Rule, error) {
	if err := checkPriority(priority); err != nil {
		return nil, err
	}
	if err := checkConditions(conds); err != nil {
		return nil, err
	}
	if err := validTags(tags); err != nil {
		return nil, err
	}
	var r *Rule
	err := sv.update(ctx, func(tx store.Tx) error {
		l, p, err := getListener(tx, s, listenerARN)
		if err != nil {
			return err
		}
		lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, p.lb))
		if err != nil {
			return err
		}
		rules, err := store.ListJSON[Rule](tx, rulesPrefix(s, p.lb, p.lsID))
		if err != nil {
			return err
		}
		for _, o := range rules {
			if o.Priority == priority {
				return priorityInUse(priority)
			}
		}
		all, err := tx.List(prefix(s) + "rules/" + p.lb + "/")
		if err != nil {
			return err
		}
		if len(all) >= LimitRulesPerLB {
			return tooMany(CodeTooManyRules, "The maximum number of rules per load balancer has been reached")
		}
		if err := checkActions(tx, s, lb, actions); err != nil {
			return err
		}
		id := newID()
		r = &Rule{ARN: ruleARN(l, id), ListenerARN: l.ARN, Priority: priority, Conditions: conds, Actions: actions, Tags: tags}
		return store.PutJSON(tx, ruleKey(s, p.lb, p.lsID, id), r)
	})
	return r, err
}

// ruleRef is a rule found by ARN: the rule, or the listener of a default
// rule.
type ruleRef struct {
	rule     *Rule
	listener *Listener
	p        arnParts
}

func getRule(tx store.ReadTx, s tenant.Scope, arn string) (ruleRef, error) {
	p, err := parseARN(s, arn, "listener-rule", ruleNotFound(arn))
	if err != nil {
		return ruleRef{}, err
	}
	l, err := store.GetJSON[Listener](tx, listenerKey(s, p.lb, p.lsID))
	if err != nil {
		return ruleRef{}, notFound(err, ruleNotFound(arn))
	}
	if !strings.HasPrefix(arn, strings.Replace(l.ARN, ":listener/", ":listener-rule/", 1)+"/") {
		return ruleRef{}, ruleNotFound(arn)
	}
	if l.DefaultRuleARN == arn {
		return ruleRef{listener: l, p: p}, nil
	}
	r, err := store.GetJSON[Rule](tx, ruleKey(s, p.lb, p.lsID, p.ruleI))
	if err != nil {
		return ruleRef{}, notFound(err, ruleNotFound(arn))
	}
	return ruleRef{rule: r, listener: l, p: p}, nil
}

func defaultRule(l *Listener) RuleView {
	return RuleView{Rule: Rule{ARN: l.DefaultRuleARN, ListenerARN: l.ARN, Actions: l.DefaultActions}, IsDefault: true}
}

// DescribeRules answers a listener's rules (by priority, the default
// rule last) or rules by ARN.
func (sv *Service) DescribeRules(ctx context.Context, s tenant.Scope, listenerARN string, arns []string) ([]RuleView, error) {
	if listenerARN == "" && len(arns) == 0 {
		return nil, validationf("You must specify either listener ARN or rule ARNs")
	}
	if listenerARN != "" && len(arns) > 0 {
		return nil, validationf("Listener ARN and rule ARNs cannot be specified at the same time")
	}
	var out []RuleView
	err := sv.view(ctx, func(tx store.ReadTx) error {
		if listenerARN != "" {
			l, p, err := getListener(tx, s, listenerARN)
			if err != nil {
				return err
			}
			rules, err := store.ListJSON[Rule](tx, rulesPrefix(s, p.lb, p.lsID))
			if err != nil {
				return err
			}
			slices.SortFunc(rules, func(a, b *Rule) int { return a.Priority - b.Priority })
			for _, r := range rules {
				out = append(out, RuleView{Rule: *r})
			}
			out = append(out, defaultRule(l))
			return nil
		}
		for _, a := range arns {
			ref, err := getRule(tx, s, a)
			if err != nil {
				return err
			}
			if ref.rule == nil {
				out = append(out, defaultRule(ref.listener))
			} else {
				out = append(out, RuleView{Rule: *ref.rule})
			}
		}
		return nil
	})
	return out, err
}

// ModifyRule replaces a rule's conditions or actions (nil keeps them).
// The default rule's actions are the listener's default actions.
func (sv *Service) ModifyRule(ctx context.Context, s tenant.Scope, arn string, conds []Condition, actions []Action) (*RuleView, error) {
	if conds != nil {
		if err := checkConditions(conds); err != nil {
			return nil, err
		}
	}
	var out *RuleView
	err := sv.update(ctx, func(tx store.Tx) error {
		ref, err := getRule(tx, s, arn)
		if err != nil {
			return err
		}
		lb, err := store.GetJSON[LoadBalancer](tx, lbKey(s, ref.p.lb))
		if err != nil {
			return err
		}
		if actions != nil {
			if err := checkActions(tx, s, lb, actions); err != nil {
				return err
			}
		}
		if ref.rule == nil {
			if conds != nil {
				return newErr(errdefs.ErrInvalidArgument, CodeOperationNotPermitted, "Conditions cannot be added to the default rule '%s'", arn)
			}
			if actions != nil {
				ref.listener.DefaultActions = actions
			}
			v := defaultRule(ref.listener)
			out = &v
			return store.PutJSON(tx, listenerKey(s, ref.p.lb, ref.p.lsID), ref.listener)
		}
		if conds != nil {
			ref.rule.Conditions = conds
		}
		if actions != nil {
			ref.rule.Actions = actions
		}
		out = &RuleView{Rule: *ref.rule}
		return store.PutJSON(tx, ruleKey(s, ref.p.lb, ref.p.lsID, ref.p.ruleI), ref.rule)
	})
	return out, err
}

// DeleteRule deletes a rule (not a default rule).
func (sv *Service) DeleteRule(ctx context.Context, s tenant.Scope, arn string) error {
	return sv.update(ctx, func(tx store.Tx) error {
		ref, err := getRule(tx, s, arn)
		if err != nil {
			return err
		}
		if ref.rule == nil {
			return newErr(errdefs.ErrInvalidArgument, CodeOperationNotPermitted, "Default rule '%s' cannot be deleted", arn)
		}
		return tx.Delete(ruleKey(s, ref.p.lb, ref.p.lsID, ref.p.ruleI))
	})
}

// RulePriority is a SetRulePriorities pair.
type RulePriority struct {
	ARN      string
	Priority int
}

// SetRulePriorities changes the priorities of rules of one listener at
// once (swaps allowed).
func (sv *Service) SetRulePriorities(ctx context.Context, s tenant.Scope, pairs []RulePriority) ([]RuleView, error) {
	if len(pairs) == 0 {
		return nil, validationf("At least one rule priority must be specified")
	}
	var out []RuleView
	err := sv.update(ctx, func(tx store.Tx) error {
		out = nil
		changed := map[string]int{}
		var listener string
		var p arnParts
		for _, pr := range pairs {
			if err := checkPriority(pr.Priority); err != nil {
				return err
			}
			ref, err := getRule(tx, s, pr.ARN)
			if err != nil {
				return err
			}
			if ref.rule == nil {
				return newErr(errdefs.ErrInvalidArgument, CodeOperationNotPermitted, "The priority of the default rule '%s' cannot be changed", pr.ARN)
			}
			if listener != "" && listener != ref.listener.ARN {
				return validationf("The rules must all belong to the same listener")
			}
			if _, dup := changed[pr.ARN]; dup {
				return validationf("Rule '%s' is named more than once", pr.ARN)
			}
			listener, p = ref.listener.ARN, ref.p
			changed[pr.ARN] = pr.Priority
		}
		rules, err := store.ListJSON[Rule](tx, rulesPrefix(s, p.lb, p.lsID))
		if err != nil {
			return err
		}
		used := map[int]string{}
		for _, r := range rules {
			if np, ok := changed[r.ARN]; ok {
				r.Priority = np
			}
			if other, ok := used[r.Priority]; ok && other != r.ARN {
				return priorityInUse(r.Priority)
			}
			used[r.Priority] = r.ARN
		}
		for _, r := range rules {
			if _, ok := changed[r.ARN]; !ok {
				continue
			}
			rp, err := parseARN(s, r.ARN, "listener-rule", nil)
			if err != nil {
				return err
			}
			if err := store.PutJSON(tx, ruleKey(s, rp.lb, rp.lsID, rp.ruleI), r); err != nil {
				return err
			}
			out = append(out, RuleView{Rule: *r})
		}
		return nil
	})
	return out, err
}
