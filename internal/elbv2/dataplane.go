package elbv2

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/store"
)

// syncLocked hands the data plane the whole configuration (sv.mu held).
func (sv *Service) syncLocked(ctx context.Context) error {
	if sv.cfg.DataPlane == nil {
		return nil
	}
	cfg, err := sv.BuildConfig(ctx)
	if err != nil {
		return err
	}
	return sv.cfg.DataPlane.Apply(ctx, cfg)
}

// scopeRecords are one scope's decoded records.
type scopeRecords struct {
	account, region string
	lbs             []*LoadBalancer
	listeners       []*Listener
	rules           []*Rule
	tgs             []*TargetGroup
	targets         map[string][]*Registration // by target group ARN
	certs           map[string]*Certificate    // by certificate ARN
}

// BuildConfig reads every scope's records and converts them into the
// data plane's model.
func (sv *Service) BuildConfig(ctx context.Context) (lb.Config, error) {
	scopes := map[string]*scopeRecords{}
	var order []string
	err := sv.view(ctx, func(tx store.ReadTx) error {
		kvs, err := tx.List(rootPrefix)
		if err != nil {
			return err
		}
		for _, kv := range kvs {
			parts := strings.SplitN(kv.Key, "/", 5)
			if len(parts) < 5 {
				continue
			}
			sk := parts[1] + "/" + parts[2]
			sr := scopes[sk]
			if sr == nil {
				sr = &scopeRecords{account: parts[1], region: parts[2], targets: map[string][]*Registration{}, certs: map[string]*Certificate{}}
				scopes[sk] = sr
				order = append(order, sk)
			}
			if err := sr.add(parts[3], kv); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return lb.Config{}, err
	}
	var cfg lb.Config
	for _, sk := range order {
		sv.convert(scopes[sk], &cfg)
	}
	return cfg, nil
}

func (sr *scopeRecords) add(kind string, kv store.KV) error {
	dec := func(v any) error {
		if err := json.Unmarshal(kv.Value, v); err != nil {
			return fmt.Errorf("decode %s: %w", kv.Key, err)
		}
		return nil
	}
	switch kind {
	case "lbs":
		v := new(LoadBalancer)
		sr.lbs = append(sr.lbs, v)
		return dec(v)
	case "listeners":
		v := new(Listener)
		sr.listeners = append(sr.listeners, v)
		return dec(v)
	case "rules":
		v := new(Rule)
		sr.rules = append(sr.rules, v)
		return dec(v)
	case "tgs":
		v := new(TargetGroup)
		sr.tgs = append(sr.tgs, v)
		return dec(v)
	case "targets":
		v := new(Registration)
		if err := dec(v); err != nil {
			return err
		}
		sr.targets[v.TargetGroupARN] = append(sr.targets[v.TargetGroupARN], v)
	case "certs":
		v := new(Certificate)
		if err := dec(v); err != nil {
			return err
		}
		sr.certs[v.ARN] = v
	}
	return nil
}

func (sv *Service) convert(sr *scopeRecords, cfg *lb.Config) {
	rulesOf := map[string][]*Rule{}
	for _, r := range sr.rules {
		rulesOf[r.ListenerARN] = append(rulesOf[r.ListenerARN], r)
	}
	listenersOf := map[string][]*Listener{}
	for _, l := range sr.listeners {
		listenersOf[l.LoadBalancerARN] = append(listenersOf[l.LoadBalancerARN], l)
	}
	used := map[string]bool{}
	for _, b := range sr.lbs {
		out := lb.LoadBalancer{
			ARN: b.ARN, Account: sr.account, Region: sr.region, Addr: b.Addr,
			IdleTimeout: time.Duration(intAttrValue(b.Attributes, "idle_timeout.timeout_seconds")) * time.Second,
		}
		ls := listenersOf[b.ARN]
		slices.SortFunc(ls, func(a, b *Listener) int { return a.Port - b.Port })
		for _, l := range ls {
			ol := lb.Listener{ARN: l.ARN, Port: l.Port, Protocol: l.Protocol}
			for _, c := range l.Certificates {
				if rec := sr.certs[c]; rec != nil {
					tc, err := rec.tlsCert()
					if err != nil {
						sv.log.Warn("elbv2: a stored certificate does not load", "arn", c, "err", err)
						continue
					}
					ol.Certificates = append(ol.Certificates, tc)
				}
			}
			rs := rulesOf[l.ARN]
			slices.SortFunc(rs, func(a, b *Rule) int { return cmp.Compare(a.Priority, b.Priority) })
			for _, r := range rs {
				ol.Rules = append(ol.Rules, lb.Rule{ARN: r.ARN, Priority: r.Priority, Conditions: convertConditions(r.Conditions), Actions: convertActions(r.Actions, used)})
			}
			ol.Rules = append(ol.Rules, lb.Rule{ARN: l.DefaultRuleARN, IsDefault: true, Actions: convertActions(l.DefaultActions, used)})
			out.Listeners = append(out.Listeners, ol)
		}
		cfg.LoadBalancers = append(cfg.LoadBalancers, out)
	}
	for _, tg := range sr.tgs {
		if !used[tg.ARN] {
			continue // AWS health-checks no target of a group no listener uses
		}
		cfg.TargetGroups = append(cfg.TargetGroups, convertTG(tg, sr.targets[tg.ARN]))
	}
}

func convertConditions(cs []Condition) []lb.Condition {
	out := make([]lb.Condition, 0, len(cs))
	for _, c := range cs {
		oc := lb.Condition{Field: c.Field, Values: c.Values, HeaderName: c.HeaderName}
		for _, q := range c.Query {
			oc.Query = append(oc.Query, lb.KeyValue{Key: q.Key, Value: q.Value})
		}
		out = append(out, oc)
	}
	return out
}

func convertActions(as []Action, used map[string]bool) []lb.Action {
	out := make([]lb.Action, 0, len(as))
	for _, a := range as {
		oa := lb.Action{Type: a.Type}
		switch a.Type {
		case ActionForward:
			f := &lb.Forward{}
			if a.Forward != nil && len(a.Forward.TargetGroups) > 0 {
				for _, w := range a.Forward.TargetGroups {
					f.TargetGroups = append(f.TargetGroups, lb.WeightedTargetGroup{ARN: w.ARN, Weight: w.Weight})
				}
				if a.Forward.StickinessEnabled {
					f.StickinessDuration = time.Duration(a.Forward.StickinessDuration) * time.Second
				}
			} else {
				f.TargetGroups = []lb.WeightedTargetGroup{{ARN: a.TargetGroupARN, Weight: 1}}
			}
			for _, w := range f.TargetGroups {
				used[w.ARN] = true
			}
			oa.Forward = f
		case ActionRedirect:
			r := a.Redirect
			code := 301
			if r.StatusCode == "HTTP_302" {
				code = 302
			}
			oa.Redirect = &lb.Redirect{Protocol: r.Protocol, Host: r.Host, Port: r.Port, Path: r.Path, Query: r.Query, StatusCode: code}
		case ActionFixedResponse:
			f := a.FixedResponse
			code, _ := strconv.Atoi(f.StatusCode)
			oa.Fixed = &lb.FixedResponse{StatusCode: code, ContentType: f.ContentType, Body: f.MessageBody}
		}
		out = append(out, oa)
	}
	return out
}

func convertTG(tg *TargetGroup, regs []*Registration) lb.TargetGroup {
	hc := tg.HealthCheck
	port, _ := strconv.Atoi(hc.Port) // 0 for traffic-port
	out := lb.TargetGroup{
		ARN: tg.ARN, Protocol: tg.Protocol, Port: tg.Port, TargetType: tg.TargetType,
		HealthCheck: lb.HealthCheck{
			Enabled: hc.Enabled, Protocol: hc.Protocol, Path: hc.Path, Port: port,
			Interval: time.Duration(hc.IntervalSeconds) * time.Second, Timeout: time.Duration(hc.TimeoutSeconds) * time.Second,
			HealthyThreshold: hc.HealthyThreshold, UnhealthyThreshold: hc.UnhealthyThreshold, Matcher: hc.Matcher,
		},
		DeregistrationDelay: time.Duration(intAttrValue(tg.Attributes, "deregistration_delay.timeout_seconds")) * time.Second,
		SlowStart:           time.Duration(intAttrValue(tg.Attributes, "slow_start.duration_seconds")) * time.Second,
	}
	if attr(tg.Attributes, "stickiness.enabled") == "true" && attr(tg.Attributes, "stickiness.type") == "lb_cookie" {
		out.Stickiness = time.Duration(intAttrValue(tg.Attributes, "stickiness.lb_cookie.duration_seconds")) * time.Second
	}
	slices.SortFunc(regs, func(a, b *Registration) int {
		return cmp.Or(strings.Compare(a.ID, b.ID), a.Port-b.Port)
	})
	for _, r := range regs {
		out.Targets = append(out.Targets, lb.Target{ID: r.ID, Addr: r.Addr, Port: r.Port, Draining: !r.DrainUntil.IsZero(), RegisteredAt: r.RegisteredAt})
	}
	return out
}
