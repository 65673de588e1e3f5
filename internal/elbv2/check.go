package elbv2

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Check verifies offline that the ELBv2 records agree with each other
// (`fargo check` runs it before the crash tests restart fargo): every
// record is stored under the key its ARN names, every listener's load
// balancer exists, every rule's listener, every registration's target
// group, and every target group an action forwards to.
func Check(ctx context.Context, st store.Store) error {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	err := st.View(ctx, func(tx store.ReadTx) error {
		kvs, err := tx.List(rootPrefix)
		if err != nil {
			return err
		}
		have := map[string]bool{} // ARNs of stored records
		type ref struct{ key, what, arn string }
		var refs []ref
		for _, kv := range kvs {
			parts := strings.SplitN(kv.Key, "/", 5)
			if len(parts) < 5 {
				bad("%s: not a record key", kv.Key)
				continue
			}
			s := tenant.Scope{Account: parts[1], Region: parts[2]}
			var rec struct {
				ARN             string   `json:"arn"`
				LoadBalancerARN string   `json:"loadBalancerArn"`
				ListenerARN     string   `json:"listenerArn"`
				TargetGroupARN  string   `json:"targetGroupArn"`
				DefaultActions  []Action `json:"defaultActions"`
				Actions         []Action `json:"actions"`
				ID              string   `json:"id"`
				Port            int      `json:"port"`
			}
			if err := json.Unmarshal(kv.Value, &rec); err != nil {
				bad("%s: %v", kv.Key, err)
				continue
			}
			want := ""
			switch parts[3] {
			case "lbs":
				if p, err := parseARN(s, rec.ARN, "loadbalancer", errLBNotFound); err == nil {
					want = lbKey(s, p.lb)
				}
			case "tgs":
				if p, err := parseARN(s, rec.ARN, "targetgroup", errTGNotFound); err == nil {
					want = tgKey(s, p.tg)
				}
			case "listeners":
				if p, err := parseARN(s, rec.ARN, "listener", errListenerNotFound); err == nil {
					want = listenerKey(s, p.lb, p.lsID)
				}
				refs = append(refs, ref{kv.Key, "load balancer", rec.LoadBalancerARN})
			case "rules":
				if p, err := parseARN(s, rec.ARN, "listener-rule", errRuleNotFound); err == nil {
					want = ruleKey(s, p.lb, p.lsID, p.ruleI)
				}
				refs = append(refs, ref{kv.Key, "listener", rec.ListenerARN})
			case "targets":
				if p, err := parseARN(s, rec.TargetGroupARN, "targetgroup", errTGNotFound); err == nil {
					want = targetKey(s, p.tg, rec.ID, rec.Port)
				}
				refs = append(refs, ref{kv.Key, "target group", rec.TargetGroupARN})
				continue
			case "certs":
				continue
			default:
				bad("%s: unknown record kind %q", kv.Key, parts[3])
				continue
			}
			if want != kv.Key {
				bad("%s: its ARN %s names key %q", kv.Key, rec.ARN, want)
			}
			have[rec.ARN] = true
			for _, a := range append(rec.DefaultActions, rec.Actions...) {
				for _, tg := range a.TargetGroups() {
					refs = append(refs, ref{kv.Key, "target group", tg})
				}
			}
		}
		for _, r := range refs {
			if !have[r.arn] {
				bad("%s: its %s %s does not exist", r.key, r.what, r.arn)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "\n"))
	}
	return nil
}
