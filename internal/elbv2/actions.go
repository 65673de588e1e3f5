package elbv2

import (
	"net/netip"
	"regexp"
	"slices"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

var (
	fixedStatusRe = regexp.MustCompile(`^[245]\d\d$`)
	methodRe      = regexp.MustCompile(`^[A-Za-z_-]{1,40}$`)
	fixedTypes    = []string{"text/plain", "text/css", "text/html", "application/javascript", "application/json"}
)

// checkActions validates the actions of a listener or rule of lb, and
// that every target group they forward to exists in lb's VPC. It sorts
// the actions by order.
func checkActions(tx store.ReadTx, s tenant.Scope, lb *LoadBalancer, actions []Action) error {
	if len(actions) == 0 {
		return validationf("At least one action must be specified")
	}
	if len(actions) > LimitActionsPerRule {
		return tooMany(CodeTooManyActions, "A rule can have at most %d actions", LimitActionsPerRule)
	}
	for i := range actions {
		if actions[i].Order == 0 {
			actions[i].Order = i + 1
		}
	}
	slices.SortStableFunc(actions, func(a, b Action) int { return a.Order - b.Order })
	for i := range actions {
		a := &actions[i]
		if a.Order < 1 || a.Order > 50000 {
			return validationf("Action order '%d' must be between 1 and 50000", a.Order)
		}
		if i > 0 && actions[i-1].Order == a.Order {
			return validationf("Action order '%d' is used by more than one action", a.Order)
		}
		switch a.Type {
		case ActionForward, ActionRedirect, ActionFixedResponse:
		case "authenticate-oidc", "authenticate-cognito", "jwt-validation":
			return newErr(errdefs.ErrUnsupported, CodeInvalidLoadBalancerAction, "Action type '%s' is not supported by fargo", a.Type)
		case "":
			return validationf("An action type must be specified")
		default:
			return validationf("Action type '%s' is not valid", a.Type)
		}
		if i < len(actions)-1 {
			return newErr(errdefs.ErrInvalidArgument, CodeInvalidLoadBalancerAction, "Only the last action can be of type '%s'; a rule has one terminal action", a.Type)
		}
		if err := checkAction(tx, s, lb, a); err != nil {
			return err
		}
	}
	return nil
}

func checkAction(tx store.ReadTx, s tenant.Scope, lb *LoadBalancer, a *Action) error {
	switch a.Type {
	case ActionForward:
		if a.Redirect != nil || a.FixedResponse != nil {
			return validationf("A forward action cannot have a redirect or fixed-response configuration")
		}
		if a.Forward == nil && a.TargetGroupARN == "" {
			return validationf("A target group ARN or a forward configuration must be specified for a forward action")
		}
		if a.Forward != nil {
			if len(a.Forward.TargetGroups) == 0 {
				if a.TargetGroupARN == "" {
					return validationf("A forward configuration must name at least one target group")
				}
				a.Forward.TargetGroups = []WeightedTargetGroup{{ARN: a.TargetGroupARN, Weight: 1}}
			}
			if len(a.Forward.TargetGroups) > LimitTargetGroupsPerAction {
				return tooMany(CodeTooManyTargetGroups, "A forward action can have at most %d target groups", LimitTargetGroupsPerAction)
			}
			if a.TargetGroupARN != "" && (len(a.Forward.TargetGroups) != 1 || a.Forward.TargetGroups[0].ARN != a.TargetGroupARN) {
				return validationf("You cannot specify both a target group ARN and a forward configuration that names other target groups")
			}
			if d := a.Forward.StickinessDuration; a.Forward.StickinessEnabled && (d < 1 || d > 604800) {
				return validationf("Target group stickiness duration must be between 1 and 604800 seconds")
			}
			seen := map[string]bool{}
			for _, w := range a.Forward.TargetGroups {
				if w.Weight < 0 || w.Weight > 999 {
					return validationf("Target group weight '%d' must be between 0 and 999", w.Weight)
				}
				if seen[w.ARN] {
					return validationf("Target group '%s' is named more than once", w.ARN)
				}
				seen[w.ARN] = true
			}
		}
		for _, arn := range a.TargetGroups() {
			tg, err := getTG(tx, s, arn)
			if err != nil {
				return err
			}
			if tg.VpcID != lb.VpcID {
				return invalidConfigf("The target group '%s' is in VPC '%s', and the load balancer '%s' in VPC '%s': they must be in the same VPC", arn, tg.VpcID, lb.ARN, lb.VpcID)
			}
		}
	case ActionRedirect:
		r := a.Redirect
		if r == nil {
			return validationf("A redirect configuration must be specified for a redirect action")
		}
		if r.StatusCode != "HTTP_301" && r.StatusCode != "HTTP_302" {
			return validationf("Redirect status code '%s' must be HTTP_301 or HTTP_302", r.StatusCode)
		}
		if r.Protocol != "" && r.Protocol != "HTTP" && r.Protocol != "HTTPS" && r.Protocol != "#{protocol}" {
			return validationf("Redirect protocol '%s' must be HTTP, HTTPS or #{protocol}", r.Protocol)
		}
		if r.Path != "" && r.Path[0] != '/' {
			return validationf("Redirect path must start with a '/'")
		}
		if r.Protocol == "" && r.Host == "" && r.Port == "" && r.Path == "" && r.Query == "" {
			return newErr(errdefs.ErrInvalidArgument, CodeInvalidLoadBalancerAction, "The redirect must change at least one of protocol, host, port, path or query, or it would loop")
		}
	case ActionFixedResponse:
		f := a.FixedResponse
		if f == nil {
			return validationf("A fixed-response configuration must be specified for a fixed-response action")
		}
		if !fixedStatusRe.MatchString(f.StatusCode) {
			return validationf("Fixed response status code '%s' must be 2XX, 4XX or 5XX", f.StatusCode)
		}
		if f.ContentType != "" && !slices.Contains(fixedTypes, f.ContentType) {
			return validationf("Fixed response content type '%s' is not valid", f.ContentType)
		}
		if len(f.MessageBody) > 1024 {
			return validationf("Fixed response message body can be at most 1024 characters")
		}
	}
	return nil
}

// checkConditions validates a rule's conditions.
func checkConditions(cs []Condition) error {
	if len(cs) == 0 {
		return validationf("At least one condition must be specified")
	}
	once := map[string]bool{}
	values := 0
	for i := range cs {
		c := &cs[i]
		switch c.Field {
		case FieldHostHeader, FieldPathPattern, FieldRequestMethod, FieldSourceIP:
			if once[c.Field] {
				return validationf("A rule can have only one '%s' condition", c.Field)
			}
			once[c.Field] = true
		case FieldHTTPHeader:
			if c.HeaderName == "" || len(c.HeaderName) > 40 {
				return validationf("An http-header condition must name a header of at most 40 characters")
			}
		case FieldQueryString:
		case "":
			return validationf("A condition field must be specified")
		default:
			return validationf("Condition field '%s' must be one of [http-header, http-request-method, host-header, path-pattern, query-string, source-ip]", c.Field)
		}
		n := len(c.Values)
		if c.Field == FieldQueryString {
			n = len(c.Query)
			for _, q := range c.Query {
				if q.Value == "" {
					return validationf("A query-string condition needs a value in every key/value pair")
				}
			}
		}
		if n == 0 {
			return validationf("A '%s' condition must have at least one value", c.Field)
		}
		values += n
		for _, v := range c.Values {
			if v == "" || len(v) > 128 {
				return validationf("Condition value '%s' must be between 1 and 128 characters", v)
			}
			switch c.Field {
			case FieldRequestMethod:
				if !methodRe.MatchString(v) {
					return validationf("HTTP request method '%s' is not valid", v)
				}
			case FieldSourceIP:
				if _, err := netip.ParsePrefix(v); err != nil {
					return validationf("Source IP '%s' must be a CIDR block", v)
				}
			}
		}
	}
	if values > LimitConditionValuesPerRule {
		return validationf("A rule can only have '%d' condition values", LimitConditionValuesPerRule)
	}
	return nil
}

// validTags checks tag keys and values as ELBv2 limits them.
func validTags(tags []Tag) error {
	if len(tags) > LimitTagsPerResource {
		return tooMany(CodeTooManyTags, "A resource can have at most %d tags", LimitTagsPerResource)
	}
	seen := map[string]bool{}
	for _, t := range tags {
		if t.Key == "" || len(t.Key) > 128 {
			return validationf("Tag key '%s' must be between 1 and 128 characters", t.Key)
		}
		if len(t.Value) > 256 {
			return validationf("Tag value for key '%s' can be at most 256 characters", t.Key)
		}
		if len(t.Key) >= 4 && (t.Key[:4] == "aws:" || t.Key[:4] == "AWS:") {
			return validationf("Tag key '%s' cannot begin with 'aws:'", t.Key)
		}
		if seen[t.Key] {
			return newErr(errdefs.ErrInvalidArgument, CodeDuplicateTagKeys, "Tag key '%s' is given more than once", t.Key)
		}
		seen[t.Key] = true
	}
	return nil
}
