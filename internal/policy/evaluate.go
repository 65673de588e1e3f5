package policy

import (
	"strings"
)

// Decision is the outcome of evaluating a policy.
type Decision int

// Decisions. The zero value is NotApplicable.
const (
	// NotApplicable: no statement matched; the caller applies its default
	// (for a cross-account request: deny).
	NotApplicable Decision = iota
	// Allow: an Allow statement matched and no Deny statement did.
	Allow
	// Deny: a Deny statement matched (it wins over any Allow).
	Deny
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return "NotApplicable"
}

// Request is what a policy decides.
type Request struct {
	// PrincipalAccount is the caller's 12-digit account.
	PrincipalAccount string
	// PrincipalARN is the caller's ARN (arn:aws:iam::<acct>:root for an
	// account-level caller), or a service principal's name
	// (ecs-tasks.amazonaws.com) for a service.
	PrincipalARN string
	// Action is the IAM action, e.g. ecr:BatchGetImage.
	Action string
	// Resource is the ARN acted on; "" means the resource the policy is
	// attached to, which every statement's Resource is taken to name.
	Resource string
	// Context holds condition keys (case-insensitive) and their values.
	// aws:PrincipalAccount and aws:PrincipalArn default to the fields
	// above; keys that are absent (aws:PrincipalOrgID, ...) match no
	// positive condition.
	Context map[string][]string
}

// Evaluate decides req with IAM's logic: an explicit Deny wins, then an
// Allow, else NotApplicable.
func (d *Document) Evaluate(req Request) Decision {
	ctx := make(map[string][]string, len(req.Context)+2)
	for k, v := range req.Context {
		ctx[strings.ToLower(k)] = v
	}
	if _, ok := ctx["aws:principalaccount"]; !ok && req.PrincipalAccount != "" {
		ctx["aws:principalaccount"] = []string{req.PrincipalAccount}
	}
	if _, ok := ctx["aws:principalarn"]; !ok && req.PrincipalARN != "" {
		ctx["aws:principalarn"] = []string{req.PrincipalARN}
	}
	out := NotApplicable
	for i := range d.Statements {
		st := &d.Statements[i]
		if !st.matches(&req, ctx) {
			continue
		}
		if st.Effect == EffectDeny {
			return Deny
		}
		out = Allow
	}
	return out
}

func (st *Statement) matches(req *Request, ctx map[string][]string) bool {
	switch {
	case st.Principal != nil && !st.Principal.matches(req):
		return false
	case st.NotPrincipal != nil && st.NotPrincipal.matches(req):
		return false
	case st.Action != nil && !anyMatch(st.Action, req.Action, true):
		return false
	case st.NotAction != nil && anyMatch(st.NotAction, req.Action, true):
		return false
	}
	if req.Resource != "" {
		if st.Resource != nil && !anyMatch(st.Resource, req.Resource, false) {
			return false
		}
		if st.NotResource != nil && anyMatch(st.NotResource, req.Resource, false) {
			return false
		}
	}
	for i := range st.Conditions {
		if !st.Conditions[i].holds(ctx) {
			return false
		}
	}
	return true
}

func anyMatch(patterns []string, s string, fold bool) bool {
	if fold {
		s = strings.ToLower(s)
	}
	for _, p := range patterns {
		if fold {
			p = strings.ToLower(p)
		}
		if Glob(p, s) {
			return true
		}
	}
	return false
}

// matches reports whether the principal element names the caller. An
// account ("123456789012" or arn:aws:iam::123456789012:root) names every
// principal of that account, as in a resource policy it delegates to the
// account's own IAM; a user or role ARN names that principal (a role also
// names its assumed-role sessions).
func (p *Principal) matches(req *Request) bool {
	if p.Any {
		return true
	}
	for _, a := range p.AWS {
		if a == "*" {
			return true
		}
		if accountRE.MatchString(a) {
			if a == req.PrincipalAccount {
				return true
			}
			continue
		}
		if acct, ok := strings.CutSuffix(a, ":root"); ok {
			if acct[strings.LastIndexByte(acct, ':')+1:] == req.PrincipalAccount && req.PrincipalAccount != "" {
				return true
			}
			continue
		}
		if a == req.PrincipalARN || sessionOf(req.PrincipalARN) == a {
			return true
		}
	}
	for _, s := range p.Service {
		if s == "*" || strings.EqualFold(s, req.PrincipalARN) {
			return true
		}
	}
	for _, list := range [][]string{p.Federated, p.CanonicalUser} {
		for _, s := range list {
			if s == req.PrincipalARN {
				return true
			}
		}
	}
	return false
}

// sessionOf maps arn:aws:sts::<acct>:assumed-role/<role>/<session> to the
// role's ARN, arn:aws:iam::<acct>:role/<role>; other ARNs to "".
func sessionOf(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[2] != "sts" {
		return ""
	}
	rest, ok := strings.CutPrefix(parts[5], "assumed-role/")
	if !ok {
		return ""
	}
	role, _, ok := strings.Cut(rest, "/")
	if !ok {
		return ""
	}
	return "arn:" + parts[1] + ":iam::" + parts[4] + ":role/" + role
}
