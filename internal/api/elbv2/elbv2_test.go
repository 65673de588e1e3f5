package elbv2

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-run/fargo/internal/api"
	w "github.com/fargo-run/fargo/internal/api/elbv2wire"
	"github.com/fargo-run/fargo/internal/api/sigv4"
	"github.com/fargo-run/fargo/internal/elbv2"
	"github.com/fargo-run/fargo/internal/store/bolt"
)

// anyone verifies every request as the ELBv2 caller of one account.
type anyone struct{}

func (anyone) Verify(*http.Request, []byte) (sigv4.Identity, error) {
	return sigv4.Identity{AccessKeyID: "AKID", Account: "123456789012", Region: "us-east-1", Service: "elasticloadbalancing"}, nil
}

func newRouter(t testing.TB) *api.Router {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	m, err := api.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	sv := elbv2.New(elbv2.Config{}, st)
	t.Cleanup(sv.Close)
	return api.NewRouter(api.Config{MaxBodyBytes: 1 << 20, Verifier: anyone{}}, m, nil, []*api.QueryService{New(sv)})
}

func call(rt *api.Router, form string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	rt.ServeHTTP(rec, req)
	return rec
}

type errorResponse struct {
	Error struct{ Type, Code, Message string }
}

// TestErrorsAndShapes: answers are <OpResponse><OpResult>, errors carry
// the model's error code (not the shape name) with Type Sender.
func TestErrorsAndShapes(t *testing.T) {
	rt := newRouter(t)
	rec := call(rt, "Action=CreateLoadBalancer&Version=2015-12-01&Name=web&Subnets.member.1=subnet-1&Subnets.member.2=subnet-2")
	if rec.Code != 200 {
		t.Fatalf("create: %d %s", rec.Code, rec.Body)
	}
	var created struct {
		Result w.CreateLoadBalancerOutput `xml:"CreateLoadBalancerResult"`
	}
	if err := xml.Unmarshal(rec.Body.Bytes(), &created); err != nil || len(created.Result.LoadBalancers) != 1 {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	lb := created.Result.LoadBalancers[0]
	if *lb.State.Code != "provisioning" || len(lb.AvailabilityZones) != 2 || !strings.Contains(rec.Body.String(), "<ResponseMetadata><RequestId>") {
		t.Fatalf("answer %s", rec.Body)
	}
	for _, tc := range []struct{ form, code string }{
		{"Action=CreateLoadBalancer&Name=internal-x&Subnets.member.1=subnet-1", "ValidationError"},
		{"Action=CreateLoadBalancer&Subnets.member.1=subnet-1", "ValidationError"},
		{"Action=CreateLoadBalancer&Name=web&Subnets.member.1=subnet-9", "DuplicateLoadBalancerName"},
		{"Action=CreateTargetGroup&Name=tg&Protocol=HTTP&Port=eighty&VpcId=" + *lb.VpcId, "ValidationError"},
		{"Action=RegisterTargets&TargetGroupArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/nope/0123456789abcdef&Targets.member.1.Id=10.0.0.1", "TargetGroupNotFound"},
		{"Action=DescribeTargetHealth&TargetGroupArn=not-an-arn", "ValidationError"},
		{"Action=DescribeListeners&ListenerArns.member.1001=x", "ValidationError"},
		{"Action=DescribeLoadBalancers&LoadBalancerArns.member.1=" + url.QueryEscape(strings.Replace(*lb.LoadBalancerArn, "/web/", "/other/", 1)), "LoadBalancerNotFound"},
	} {
		rec := call(rt, tc.form)
		var er errorResponse
		if err := xml.Unmarshal(rec.Body.Bytes(), &er); err != nil || rec.Code != 400 || er.Error.Code != tc.code || er.Error.Type != "Sender" {
			t.Errorf("%s: %d %s, want %s", tc.form, rec.Code, rec.Body, tc.code)
		}
	}
}

// TestDecodeNested: lists of structures inside structures decode.
func TestDecodeNested(t *testing.T) {
	form, _ := url.ParseQuery("ListenerArn=l&Priority=3&Actions.member.1.Type=forward&" +
		"Actions.member.1.ForwardConfig.TargetGroups.member.1.TargetGroupArn=a&Actions.member.1.ForwardConfig.TargetGroups.member.2.TargetGroupArn=b&" +
		"Actions.member.1.ForwardConfig.TargetGroups.member.2.Weight=7&Actions.member.1.ForwardConfig.TargetGroupStickinessConfig.Enabled=true&" +
		"Conditions.member.1.Field=query-string&Conditions.member.1.QueryStringConfig.Values.member.1.Key=k&Conditions.member.1.QueryStringConfig.Values.member.1.Value=v")
	var in w.CreateRuleInput
	if err := decodeForm(form, &in); err != nil {
		t.Fatal(err)
	}
	tgs := in.Actions[0].ForwardConfig.TargetGroups
	if *in.Priority != 3 || len(tgs) != 2 || *tgs[1].TargetGroupArn != "b" || *tgs[1].Weight != 7 || !*in.Actions[0].ForwardConfig.TargetGroupStickinessConfig.Enabled ||
		*in.Conditions[0].QueryStringConfig.Values[0].Value != "v" {
		t.Fatalf("decoded %+v", in)
	}
}

// FuzzDecodeForm: no form makes the decoder panic; it fails only with
// an AWS-shaped error.
func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{"Actions.member.1.Type=forward", "Actions.member.0.Type=x", "Targets.member.99999999999.Id=1",
		"Port=1e9", "Priority=-1", "Actions.member.2.ForwardConfig.TargetGroups.member.1.Weight=x", "Conditions.member.1.Values.member.3=a",
		"Tags.member.1.Key=&Tags.member.1.Value=", "Actions=", "Actions.member.1=x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		form, err := url.ParseQuery(s)
		if err != nil {
			return
		}
		for _, in := range []any{new(w.CreateRuleInput), new(w.CreateListenerInput), new(w.RegisterTargetsInput), new(w.CreateTargetGroupInput), new(w.SetRulePrioritiesInput)} {
			if err := decodeForm(form, in); err != nil {
				if _, ok := err.(*api.Error); !ok {
					t.Fatalf("%q: %T %v", s, err, err)
				}
			}
		}
	})
}

// FuzzQuery: no form makes an ELBv2 operation answer 500 or panic.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"Action=CreateLoadBalancer&Name=a&Subnets.member.1=subnet-1",
		"Action=CreateTargetGroup&Name=t&Protocol=HTTP&Port=80&VpcId=vpc-1&TargetType=ip&Matcher.HttpCode=200-299",
		"Action=CreateListener&LoadBalancerArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/a/0123456789abcdef&Protocol=HTTP&Port=80&DefaultActions.member.1.Type=fixed-response&DefaultActions.member.1.FixedResponseConfig.StatusCode=200",
		"Action=CreateRule&ListenerArn=arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/a/0123456789abcdef/0123456789abcdef&Priority=1&Conditions.member.1.Field=path-pattern&Conditions.member.1.Values.member.1=/x",
		"Action=DescribeRules&RuleArns.member.1=arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/a/b/c/d",
		"Action=SetRulePriorities&RulePriorities.member.1.RuleArn=x&RulePriorities.member.1.Priority=2",
		"Action=DescribeTags&ResourceArns.member.1=arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/t/x",
		"Action=ModifyTargetGroupAttributes&TargetGroupArn=x&Attributes.member.1.Key=stickiness.enabled&Attributes.member.1.Value=true",
		"Action=DescribeLoadBalancers&PageSize=1&Marker=MQ",
		"Action=DescribeSSLPolicies", "Action=DescribeAccountLimits",
	} {
		f.Add(s)
	}
	rt := newRouter(f)
	f.Fuzz(func(t *testing.T, body string) {
		if rec := call(rt, body); rec.Code >= 500 {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
