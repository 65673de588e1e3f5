package elbv2

import (
	"strconv"
	"time"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/api/wire"
	"github.com/fargo-run/fargo/internal/elbv2"
)

func str(p *string) string { return wire.ToString(p) }

func intp(p *int32) *int {
	if p == nil {
		return nil
	}
	n := int(*p)
	return &n
}

func i32(n int) *int32 { return wire.Int32(int32(n)) }

func tagsIn(ts []w.Tag) []elbv2.Tag {
	out := make([]elbv2.Tag, 0, len(ts))
	for _, t := range ts {
		out = append(out, elbv2.Tag{Key: str(t.Key), Value: str(t.Value)})
	}
	return out
}

func tagsOut(ts []elbv2.Tag) []w.Tag {
	out := make([]w.Tag, 0, len(ts))
	for _, t := range ts {
		out = append(out, w.Tag{Key: wire.String(t.Key), Value: wire.String(t.Value)})
	}
	return out
}

// canonicalHostedZone is the Route 53 zone of ALBs in us-east-1 (AWS
// answers one per region; fargo answers this one everywhere).
const canonicalHostedZone = "Z35SXDOTRQ7X7K"

func lbOut(lb *elbv2.LoadBalancer, now time.Time) w.LoadBalancer {
	out := w.LoadBalancer{
		LoadBalancerArn: wire.String(lb.ARN), LoadBalancerName: wire.String(lb.Name), DNSName: wire.String(lb.DNSName),
		CanonicalHostedZoneId: wire.String(canonicalHostedZone), CreatedTime: wire.NewTimestamp(lb.CreatedAt),
		Scheme: wire.String(lb.Scheme), Type: wire.String(lb.Type), VpcId: wire.String(lb.VpcID),
		IpAddressType: wire.String(lb.IPAddressType), State: &w.LoadBalancerState{Code: wire.String(lb.State(now))},
		SecurityGroups: lb.SecurityGroups,
	}
	region := regionOf(lb.ARN)
	for i, sn := range lb.Subnets {
		az := w.AvailabilityZone{SubnetId: wire.String(sn), ZoneName: wire.String(region + string(rune('a'+i%6)))}
		if lb.Addr.IsValid() {
			az.LoadBalancerAddresses = []w.LoadBalancerAddress{{IpAddress: wire.String(lb.Addr.String())}}
		}
		out.AvailabilityZones = append(out.AvailabilityZones, az)
	}
	return out
}

func regionOf(arn string) string {
	// arn:aws:elasticloadbalancing:<region>:...
	n, start := 0, 0
	for i := 0; i < len(arn); i++ {
		if arn[i] == ':' {
			n++
			if n == 3 {
				start = i + 1
			} else if n == 4 {
				return arn[start:i]
			}
		}
	}
	return ""
}

func tgOut(v elbv2.TargetGroupView) w.TargetGroup {
	tg, hc := v.TargetGroup, v.HealthCheck
	return w.TargetGroup{
		TargetGroupArn: wire.String(tg.ARN), TargetGroupName: wire.String(tg.Name), Protocol: wire.String(tg.Protocol),
		ProtocolVersion: wire.String(tg.ProtocolVersion), Port: i32(tg.Port), VpcId: wire.String(tg.VpcID),
		TargetType: wire.String(tg.TargetType), IpAddressType: wire.String(tg.IPAddressType),
		HealthCheckEnabled: wire.Bool(hc.Enabled), HealthCheckProtocol: wire.String(hc.Protocol),
		HealthCheckPath: wire.String(hc.Path), HealthCheckPort: wire.String(hc.Port),
		HealthCheckIntervalSeconds: i32(hc.IntervalSeconds), HealthCheckTimeoutSeconds: i32(hc.TimeoutSeconds),
		HealthyThresholdCount: i32(hc.HealthyThreshold), UnhealthyThresholdCount: i32(hc.UnhealthyThreshold),
		Matcher: &w.Matcher{HttpCode: wire.String(hc.Matcher)}, LoadBalancerArns: v.LoadBalancerARNs,
	}
}

func healthCheckIn(enabled *bool, proto, path, port *string, interval, timeout, healthy, unhealthy *int32, m *w.Matcher) (elbv2.HealthCheckSpec, error) {
	hc := elbv2.HealthCheckSpec{
		Enabled: enabled, Protocol: proto, Path: path, Port: port, IntervalSeconds: intp(interval),
		TimeoutSeconds: intp(timeout), HealthyThreshold: intp(healthy), UnhealthyThreshold: intp(unhealthy),
	}
	if m != nil {
		if m.GrpcCode != nil {
			return hc, api.Errorf("ValidationError", "A GrpcCode matcher is for GRPC target groups, which fargo does not support")
		}
		hc.Matcher = m.HttpCode
	}
	return hc, nil
}

func attrsIn[A w.LoadBalancerAttribute | w.TargetGroupAttribute | w.ListenerAttribute](as []A) []elbv2.Attribute {
	out := make([]elbv2.Attribute, 0, len(as))
	for _, a := range as {
		switch v := any(a).(type) {
		case w.LoadBalancerAttribute:
			out = append(out, elbv2.Attribute{Key: str(v.Key), Value: str(v.Value)})
		case w.TargetGroupAttribute:
			out = append(out, elbv2.Attribute{Key: str(v.Key), Value: str(v.Value)})
		case w.ListenerAttribute:
			out = append(out, elbv2.Attribute{Key: str(v.Key), Value: str(v.Value)})
		}
	}
	return out
}

func actionsIn(as []w.Action) ([]elbv2.Action, error) {
	if as == nil {
		return nil, nil
	}
	out := make([]elbv2.Action, 0, len(as))
	for _, a := range as {
		da := elbv2.Action{Type: str(a.Type), Order: int(wire.ToInt32(a.Order)), TargetGroupARN: str(a.TargetGroupArn)}
		if f := a.ForwardConfig; f != nil {
			fc := &elbv2.ForwardConfig{}
			for _, t := range f.TargetGroups {
				weight := 1
				if t.Weight != nil {
					weight = int(*t.Weight)
				}
				fc.TargetGroups = append(fc.TargetGroups, elbv2.WeightedTargetGroup{ARN: str(t.TargetGroupArn), Weight: weight})
			}
			if st := f.TargetGroupStickinessConfig; st != nil {
				fc.StickinessEnabled = wire.ToBool(st.Enabled)
				fc.StickinessDuration = int(wire.ToInt32(st.DurationSeconds))
			}
			da.Forward = fc
		}
		if r := a.RedirectConfig; r != nil {
			da.Redirect = &elbv2.RedirectConfig{Protocol: str(r.Protocol), Host: str(r.Host), Port: str(r.Port), Path: str(r.Path), Query: str(r.Query), StatusCode: str(r.StatusCode)}
		}
		if f := a.FixedResponseConfig; f != nil {
			da.FixedResponse = &elbv2.FixedResponseConfig{StatusCode: str(f.StatusCode), ContentType: str(f.ContentType), MessageBody: str(f.MessageBody)}
		}
		if a.AuthenticateOidcConfig != nil || a.AuthenticateCognitoConfig != nil || a.JwtValidationConfig != nil {
			if da.Type == "forward" || da.Type == "redirect" || da.Type == "fixed-response" {
				return nil, api.Errorf("ValidationError", "An action of type '%s' cannot have an authentication configuration", da.Type)
			}
		}
		out = append(out, da)
	}
	return out, nil
}

func actionsOut(as []elbv2.Action) []w.Action {
	out := make([]w.Action, 0, len(as))
	for _, a := range as {
		wa := w.Action{Type: wire.String(a.Type), Order: i32(a.Order)}
		switch a.Type {
		case elbv2.ActionForward:
			fc := &w.ForwardActionConfig{TargetGroupStickinessConfig: &w.TargetGroupStickinessConfig{Enabled: wire.Bool(false)}}
			if a.Forward != nil && len(a.Forward.TargetGroups) > 0 {
				for _, t := range a.Forward.TargetGroups {
					fc.TargetGroups = append(fc.TargetGroups, w.TargetGroupTuple{TargetGroupArn: wire.String(t.ARN), Weight: i32(t.Weight)})
				}
				if a.Forward.StickinessEnabled {
					fc.TargetGroupStickinessConfig = &w.TargetGroupStickinessConfig{Enabled: wire.Bool(true), DurationSeconds: i32(a.Forward.StickinessDuration)}
				}
				if len(a.Forward.TargetGroups) == 1 {
					wa.TargetGroupArn = wire.String(a.Forward.TargetGroups[0].ARN)
				}
			} else {
				wa.TargetGroupArn = wire.String(a.TargetGroupARN)
				fc.TargetGroups = []w.TargetGroupTuple{{TargetGroupArn: wire.String(a.TargetGroupARN), Weight: i32(1)}}
			}
			wa.ForwardConfig = fc
		case elbv2.ActionRedirect:
			r := a.Redirect
			def := func(v, d string) *string {
				if v == "" {
					v = d
				}
				return wire.String(v)
			}
			wa.RedirectConfig = &w.RedirectActionConfig{Protocol: def(r.Protocol, "#{protocol}"), Host: def(r.Host, "#{host}"),
				Port: def(r.Port, "#{port}"), Path: def(r.Path, "/#{path}"), Query: def(r.Query, "#{query}"), StatusCode: wire.String(r.StatusCode)}
		case elbv2.ActionFixedResponse:
			f := a.FixedResponse
			wa.FixedResponseConfig = &w.FixedResponseActionConfig{StatusCode: wire.String(f.StatusCode)}
			if f.ContentType != "" {
				wa.FixedResponseConfig.ContentType = wire.String(f.ContentType)
			}
			if f.MessageBody != "" {
				wa.FixedResponseConfig.MessageBody = wire.String(f.MessageBody)
			}
		}
		out = append(out, wa)
	}
	return out
}

func conditionsIn(cs []w.RuleCondition) ([]elbv2.Condition, error) {
	if cs == nil {
		return nil, nil
	}
	out := make([]elbv2.Condition, 0, len(cs))
	for _, c := range cs {
		field := str(c.Field)
		dc := elbv2.Condition{Field: field}
		if len(c.RegexValues) > 0 {
			return nil, api.Errorf("ValidationError", "Regular expression conditions are not supported by fargo")
		}
		var cfg []string
		set := 0
		if c.HostHeaderConfig != nil {
			set++
			cfg = c.HostHeaderConfig.Values
		}
		if c.PathPatternConfig != nil {
			set++
			cfg = c.PathPatternConfig.Values
		}
		if c.HttpRequestMethodConfig != nil {
			set++
			cfg = c.HttpRequestMethodConfig.Values
		}
		if c.SourceIpConfig != nil {
			set++
			cfg = c.SourceIpConfig.Values
		}
		if c.HttpHeaderConfig != nil {
			set++
			cfg = c.HttpHeaderConfig.Values
			dc.HeaderName = str(c.HttpHeaderConfig.HttpHeaderName)
		}
		if c.QueryStringConfig != nil {
			set++
			for _, kv := range c.QueryStringConfig.Values {
				dc.Query = append(dc.Query, elbv2.KeyValue{Key: str(kv.Key), Value: str(kv.Value)})
			}
		}
		if set > 1 {
			return nil, api.Errorf("ValidationError", "A condition can have only one configuration")
		}
		switch {
		case len(c.Values) > 0 && set > 0:
			return nil, api.Errorf("ValidationError", "A condition cannot have both Values and a %s configuration", field)
		case len(c.Values) > 0:
			if field != elbv2.FieldHostHeader && field != elbv2.FieldPathPattern {
				return nil, api.Errorf("ValidationError", "Condition field '%s' needs its configuration, not Values", field)
			}
			dc.Values, dc.Legacy = c.Values, true
		default:
			dc.Values = cfg
		}
		out = append(out, dc)
	}
	return out, nil
}

func conditionsOut(cs []elbv2.Condition) []w.RuleCondition {
	out := make([]w.RuleCondition, 0, len(cs))
	for _, c := range cs {
		wc := w.RuleCondition{Field: wire.String(c.Field)}
		switch c.Field {
		case elbv2.FieldHostHeader:
			wc.HostHeaderConfig = &w.HostHeaderConditionConfig{Values: c.Values}
			if c.Legacy {
				wc.Values = c.Values
			}
		case elbv2.FieldPathPattern:
			wc.PathPatternConfig = &w.PathPatternConditionConfig{Values: c.Values}
			if c.Legacy {
				wc.Values = c.Values
			}
		case elbv2.FieldRequestMethod:
			wc.HttpRequestMethodConfig = &w.HttpRequestMethodConditionConfig{Values: c.Values}
		case elbv2.FieldSourceIP:
			wc.SourceIpConfig = &w.SourceIpConditionConfig{Values: c.Values}
		case elbv2.FieldHTTPHeader:
			wc.HttpHeaderConfig = &w.HttpHeaderConditionConfig{HttpHeaderName: wire.String(c.HeaderName), Values: c.Values}
		case elbv2.FieldQueryString:
			q := &w.QueryStringConditionConfig{}
			for _, kv := range c.Query {
				p := w.QueryStringKeyValuePair{Value: wire.String(kv.Value)}
				if kv.Key != "" {
					p.Key = wire.String(kv.Key)
				}
				q.Values = append(q.Values, p)
			}
			wc.QueryStringConfig = q
		}
		out = append(out, wc)
	}
	return out
}

func ruleOut(r elbv2.RuleView) w.Rule {
	prio := "default"
	if !r.IsDefault {
		prio = strconv.Itoa(r.Priority)
	}
	return w.Rule{RuleArn: wire.String(r.ARN), Priority: wire.String(prio), IsDefault: wire.Bool(r.IsDefault),
		Conditions: conditionsOut(r.Conditions), Actions: actionsOut(r.Actions)}
}

func listenerOut(l *elbv2.Listener) w.Listener {
	out := w.Listener{ListenerArn: wire.String(l.ARN), LoadBalancerArn: wire.String(l.LoadBalancerARN), Port: i32(l.Port),
		Protocol: wire.String(l.Protocol), DefaultActions: actionsOut(l.DefaultActions)}
	if l.SslPolicy != "" {
		out.SslPolicy = wire.String(l.SslPolicy)
	}
	if len(l.Certificates) > 0 {
		out.Certificates = []w.Certificate{{CertificateArn: wire.String(l.Certificates[0])}}
	}
	return out
}

func certsIn(cs []w.Certificate) []string {
	if cs == nil {
		return nil
	}
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		if wire.ToBool(c.IsDefault) {
			out = append([]string{str(c.CertificateArn)}, out...)
		} else {
			out = append(out, str(c.CertificateArn))
		}
	}
	return out
}

func targetsIn(ts []w.TargetDescription) ([]elbv2.Target, error) {
	out := make([]elbv2.Target, 0, len(ts))
	for _, t := range ts {
		id, err := required(t.Id, "Targets.member.N.Id")
		if err != nil {
			return nil, err
		}
		out = append(out, elbv2.Target{ID: id, Port: int(wire.ToInt32(t.Port)), AvailabilityZone: str(t.AvailabilityZone)})
	}
	return out, nil
}

func healthOut(h elbv2.TargetHealth) w.TargetHealthDescription {
	th := &w.TargetHealth{State: wire.String(h.State)}
	if h.Reason != "" {
		th.Reason = wire.String(h.Reason)
	}
	if h.Description != "" {
		th.Description = wire.String(h.Description)
	}
	td := &w.TargetDescription{Id: wire.String(h.Target.ID), Port: i32(h.Target.Port)}
	if h.Target.AvailabilityZone != "" {
		td.AvailabilityZone = wire.String(h.Target.AvailabilityZone)
	}
	return w.TargetHealthDescription{Target: td, HealthCheckPort: wire.String(h.HealthCheckPort), TargetHealth: th}
}
