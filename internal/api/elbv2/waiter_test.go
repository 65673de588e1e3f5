package elbv2

import (
	"context"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fargo-run/fargo/internal/api"
	"github.com/fargo-run/fargo/internal/elbv2"
	"github.com/fargo-run/fargo/internal/lb"
	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

// healthyLater is a data plane whose targets turn healthy at a time.
type healthyLater struct {
	mu sync.Mutex
	at time.Time
	tg string
}

func (h *healthyLater) Apply(context.Context, lb.Config) error { return nil }

func (h *healthyLater) Health(tg string) []lb.TargetHealth {
	h.mu.Lock()
	defer h.mu.Unlock()
	if tg != h.tg {
		return nil
	}
	st, reason := lb.StateInitial, lb.ReasonInitialHealthChecking
	if time.Now().After(h.at) {
		st, reason = lb.StateHealthy, ""
	}
	return []lb.TargetHealth{{TargetGroupARN: tg, Target: lb.Target{ID: "10.218.0.7", Port: 80}, State: st, Reason: reason}}
}

// TestTargetInServiceWaiter: the AWS CLI's target-in-service waiter
// returns once the data plane reports the target healthy (it polls every
// 15 s; a wrong state would keep it waiting past the deadline).
func TestTargetInServiceWaiter(t *testing.T) {
	cli, err := exec.LookPath("aws")
	if err != nil {
		t.Skip("no AWS CLI")
	}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dp := &healthyLater{at: time.Now().Add(3 * time.Second)}
	sv := elbv2.New(elbv2.Config{DataPlane: dp, TargetPrefixes: []netip.Prefix{netip.MustParsePrefix("10.218.0.0/16")}}, st)
	defer sv.Close()
	ctx := context.Background()
	s := tenant.Scope{Account: "123456789012", Region: "us-east-1"}
	b, err := sv.CreateLoadBalancer(ctx, s, elbv2.LoadBalancerSpec{Name: "w", Subnets: []string{"subnet-1"}})
	if err != nil {
		t.Fatal(err)
	}
	port := 80
	tg, err := sv.CreateTargetGroup(ctx, s, elbv2.TargetGroupSpec{Name: "w", Protocol: "HTTP", Port: &port, VpcID: b.VpcID, TargetType: "ip"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sv.CreateListener(ctx, s, elbv2.ListenerSpec{LoadBalancerARN: b.ARN, Protocol: "HTTP", Port: 80,
		DefaultActions: []elbv2.Action{{Type: "forward", TargetGroupARN: tg.ARN}}}); err != nil {
		t.Fatal(err)
	}
	if err := sv.RegisterTargets(ctx, s, tg.ARN, []elbv2.Target{{ID: "10.218.0.7"}}); err != nil {
		t.Fatal(err)
	}
	dp.mu.Lock()
	dp.tg = tg.ARN
	dp.mu.Unlock()

	m, err := api.NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(api.NewRouter(api.Config{MaxBodyBytes: 1 << 20, Verifier: anyone{}}, m, nil, []*api.QueryService{New(sv)}))
	defer srv.Close()

	wctx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	start := time.Now()
	cmd := exec.CommandContext(wctx, cli, "--endpoint-url", srv.URL, "--region", "us-east-1", "elbv2", "wait", "target-in-service",
		"--target-group-arn", tg.ARN, "--targets", "Id=10.218.0.7")
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID=AKIDTEST", "AWS_SECRET_ACCESS_KEY=secret", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null", "AWS_PAGER=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("target-in-service: %v\n%s", err, out)
	}
	if d := time.Since(start); d < 3*time.Second {
		t.Fatalf("the waiter returned after %v, before the target was healthy", d)
	}
}
