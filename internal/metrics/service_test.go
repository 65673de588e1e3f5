package metrics

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var testScope = tenant.Scope{Account: "000000000000", Region: "us-east-1"}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type recordingSink struct {
	mu  sync.Mutex
	got []ActionEvent
	err error
}

func (s *recordingSink) AlarmFired(_ context.Context, _ tenant.Scope, arn string, ev ActionEvent) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return s.err
	}
	s.got = append(s.got, ev)
	return nil
}

// newTestService opens a service over files in dir (reopening what a
// previous one left).
func newTestService(t *testing.T, dir string, clk *clock, period time.Duration) (*Service, func()) {
	t.Helper()
	data, err := OpenData(filepath.Join(dir, "metrics.db"), period < time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	st, err := bolt.Open(filepath.Join(dir, "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := New(Config{Period: period, Now: clk.now}, data, st)
	return svc, func() { _ = data.Close(); _ = st.Close() }
}

func TestAlarmFiresOncePerTransitionAcrossRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	clk := &clock{t: time.Now().UTC().Truncate(time.Minute)}
	svc, closeAll := newTestService(t, dir, clk, 3*time.Second)
	m := Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dimensions: []Dimension{{"ServiceName", "s"}, {"ClusterName", "c"}}}
	policy := "arn:aws:autoscaling:us-east-1:000000000000:scalingPolicy:u:resource/ecs/service/c/s:policyName/p"
	if err := svc.PutAlarm(ctx, Alarm{Scope: testScope, Name: "high", ActionsEnabled: true, AlarmActions: []string{policy},
		Metric:    Metric{Namespace: "AWS/ECS", Name: "CPUUtilization", Dimensions: []Dimension{{"ClusterName", "c"}, {"ServiceName", "s"}}},
		Statistic: "Average", Period: 60, EvaluationPeriods: 2, Threshold: 50, Comparison: "GreaterThanThreshold"}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if err := svc.PutData(ctx, testScope, []Datum{{Metric: m, Timestamp: clk.now(), Unit: "Percent", Stats: Stats{Sum: 90, SampleCount: 1, Min: 90, Max: 90}, HighResolution: true}}); err != nil {
			t.Fatal(err)
		}
		clk.add(3 * time.Second)
	}
	if err := svc.EvaluateAll(ctx); err != nil {
		t.Fatal(err)
	}
	alarms, _ := svc.Alarms(ctx, testScope, AlarmFilter{Names: []string{"high"}})
	if alarms[0].State != StateAlarm {
		t.Fatalf("state %s (%s)", alarms[0].State, alarms[0].StateReason)
	}
	// No sink yet: the action waits in the outbox, across a restart.
	svc.deliver(ctx)
	closeAll()
	svc, closeAll = newTestService(t, dir, clk, 3*time.Second)
	defer closeAll()
	sink := &recordingSink{}
	svc.SetActionSink(sink)
	if err := svc.EvaluateAll(ctx); err != nil { // still ALARM: no new transition
		t.Fatal(err)
	}
	svc.deliver(ctx)
	svc.deliver(ctx)
	if len(sink.got) != 1 || sink.got[0].State != StateAlarm || sink.got[0].PreviousState != StateInsufficientData {
		t.Fatalf("delivered %+v, want one ALARM event", sink.got)
	}
	if got := sink.got[0].TransitionID; got != "arn:aws:cloudwatch:us-east-1:000000000000:alarm:high/1" {
		t.Errorf("transition id %s", got)
	}
	hist, _ := svc.History(ctx, testScope, "high", "Action", time.Time{}, time.Time{})
	if len(hist) != 1 {
		t.Errorf("action history %+v", hist)
	}
}

func TestScaledPeriod(t *testing.T) {
	for _, c := range []struct {
		period time.Duration
		p      int32
		want   time.Duration
	}{{time.Minute, 60, time.Minute}, {time.Minute, 300, 5 * time.Minute}, {time.Minute, 10, 10 * time.Second},
		{3 * time.Second, 60, 3 * time.Second}, {3 * time.Second, 300, 15 * time.Second}, {3 * time.Second, 10, time.Second},
		{2 * time.Second, 604800, 20160 * time.Second}} {
		s := New(Config{Period: c.period}, nil, nil)
		if got := s.scaled(c.p); got != c.want {
			t.Errorf("period %v, alarm period %d: %v, want %v", c.period, c.p, got, c.want)
		}
	}
}
