package logs

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store/bolt"
	"github.com/fargo-run/fargo/internal/tenant"
)

var scope = tenant.Scope{Account: "000000000000", Region: "us-east-1"}

func newService(t testing.TB) *Service {
	t.Helper()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "fargo.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return New(Config{}, st)
}

func TestBatchRoundTrip(t *testing.T) {
	in := []record{{TS: 100, Msg: "a"}, {TS: 100, Msg: ""}, {TS: 250, Msg: strings.Repeat("x", 300)}, {TS: 1 << 42, Msg: "z"}}
	b := encodeBatch(77, in)
	h, err := decodeBatch(b, false)
	if err != nil || h.Count != 4 || h.Ingestion != 77 || h.MinTS != 100 || h.MaxTS != 1<<42 || h.Events != nil {
		t.Fatalf("header: %+v %v", h, err)
	}
	full, err := decodeBatch(b, true)
	if err != nil || fmt.Sprint(full.Events) != fmt.Sprint(in) {
		t.Fatalf("events: %+v %v", full.Events, err)
	}
	for _, bad := range [][]byte{nil, {2}, b[:len(b)-1]} {
		if _, err := decodeBatch(bad, true); err == nil {
			t.Fatalf("decoded corrupt batch %v", bad)
		}
	}
}

func TestCompile(t *testing.T) {
	for _, tc := range []struct {
		pattern, msg string
		want         bool
	}{
		{"", "anything", true},
		{"ERROR", "an ERROR here", true},
		{"ERROR", "an error here", false},
		{"ERROR db", "ERROR in db", true},
		{"ERROR db", "ERROR in cache", false},
		{`"in db"`, "ERROR in db", true},
		{`"in db"`, "in the db", false},
		{"ERROR -cache", "ERROR in cache", false},
		{`ERROR -"in cache"`, "ERROR in db", true},
		{"?a ?b", "xbx", true},
		{"?a ?b", "xyz", false},
		{"ERROR ?db ?cache", "ERROR cache", true},
		{"ERROR ?db ?cache", "WARN cache", false},
		{`{ $.level = "error" }`, `{"level":"error"}`, true},
		{`{ $.level = "error" }`, `{"level":"info"}`, false},
		{`{ $.level = "error" }`, `not json`, false},
		{`{ $.level = err* }`, `{"level":"error"}`, true},
		{`{ $.level != "error" }`, `{"level":"info"}`, true},
		{`{ $.n > 5 }`, `{"n":6}`, true},
		{`{ $.n > 5 }`, `{"n":5}`, false},
		{`{ $.n <= 5 }`, `{"n":5}`, true},
		{`{ $.a.b[1] = 2 }`, `{"a":{"b":[1,2]}}`, true},
		{`{ $.ok = true }`, `{"ok":true}`, true},
		{`{ $.x IS NULL }`, `{"x":null}`, false}, // IS NULL is not supported: = NULL is
		{`{ $.x = NULL }`, `{"x":null}`, true},
		{`{ $.x EXISTS }`, `{"x":1}`, true},
		{`{ $.x NOT EXISTS }`, `{"y":1}`, true},
		{`{ $.a = 1 && $.b = 2 }`, `{"a":1,"b":2}`, true},
		{`{ $.a = 1 && $.b = 2 }`, `{"a":1,"b":3}`, false},
		{`{ $.a = 1 || $.b = 2 }`, `{"a":0,"b":2}`, true},
	} {
		m, err := Compile(tc.pattern)
		if err != nil {
			if tc.want {
				t.Errorf("%q: %v", tc.pattern, err)
			}
			continue
		}
		if got := m == nil || m(tc.msg); got != tc.want {
			t.Errorf("%q on %q = %v, want %v", tc.pattern, tc.msg, got, tc.want)
		}
	}
	for _, bad := range []string{"[a, b]", "%regex%", `"open`, "{ $.a = }", "{ level = 1 }", "{ $.n > abc }"} {
		if _, err := Compile(bad); err == nil {
			t.Errorf("%q compiled", bad)
		}
	}
}

// TestAgentPut: the awslogs driver's entry point sorts, splits and drops
// what PutLogEvents would refuse, in one transaction.
func TestAgentPut(t *testing.T) {
	s := newService(t)
	ctx := context.Background()
	for range 2 { // idempotent
		if err := s.EnsureGroup(ctx, scope, "/ecs/app"); err != nil {
			t.Fatal(err)
		}
		if err := s.EnsureStream(ctx, scope, "/ecs/app", "ecs/web/1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EnsureStream(ctx, scope, "/ecs/none", "s"); !errors.Is(err, ErrGroupNotFound) {
		t.Fatalf("stream in missing group: %v", err)
	}
	now := time.Now()
	var evs []Event
	for i := range 12000 {
		evs = append(evs, Event{Timestamp: now.Add(time.Duration(12000-i) * time.Millisecond), Message: fmt.Sprintf("line %d", i)})
	}
	evs = append(evs, Event{Timestamp: now, Message: ""}, Event{Timestamp: now.Add(-30 * 24 * time.Hour), Message: "ancient"},
		Event{Timestamp: now, Message: strings.Repeat("x", 300*1024)})
	if err := s.Put(ctx, scope, "/ecs/app", "ecs/web/1", evs); err != nil {
		t.Fatal(err)
	}
	out, err := s.GetEvents(ctx, scope, GetEventsInput{Group: "/ecs/app", Stream: "ecs/web/1", StartFromHead: true, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Events) != 2 || len(out.Events[0].Message) != maxEventMessage || out.Events[1].Message != "line 11999" {
		t.Fatalf("head: %d events, first %d bytes, second %q", len(out.Events), len(out.Events[0].Message), out.Events[1].Message)
	}
	streams, _, err := s.DescribeStreams(ctx, scope, DescribeStreamsInput{Group: "/ecs/app"})
	if err != nil || len(streams) != 1 || streams[0].NextSeq != 2 {
		t.Fatalf("streams: %+v %v (want two batches)", streams, err)
	}
	if err := s.Put(ctx, scope, "/ecs/app", "missing", evs[:1]); !errors.Is(err, ErrStreamNotFound) {
		t.Fatalf("put to missing stream: %v", err)
	}
}

// BenchmarkPutLogEvents measures PutEvents of 100-event batches of ~100
// byte lines, one writer and concurrent writers (group commit).
func BenchmarkPutLogEvents(b *testing.B) {
	msg := strings.Repeat("m", 100)
	batch := func(now time.Time) []InputEvent {
		evs := make([]InputEvent, 100)
		for i := range evs {
			evs[i] = InputEvent{Timestamp: now.UnixMilli(), Message: msg}
		}
		return evs
	}
	setup := func(b *testing.B, streams int) *Service {
		s := newService(b)
		ctx := context.Background()
		if err := s.EnsureGroup(ctx, scope, "g"); err != nil {
			b.Fatal(err)
		}
		for i := range streams {
			if err := s.EnsureStream(ctx, scope, "g", fmt.Sprint(i)); err != nil {
				b.Fatal(err)
			}
		}
		return s
	}
	b.Run("serial", func(b *testing.B) {
		s := setup(b, 1)
		evs := batch(time.Now())
		b.SetBytes(int64(len(evs) * len(msg)))
		for b.Loop() {
			if _, err := s.PutEvents(context.Background(), scope, "g", "0", evs); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		const streams = 64
		s := setup(b, streams)
		evs := batch(time.Now())
		b.SetBytes(int64(len(evs) * len(msg)))
		var next int64
		var mu = make(chan struct{}, 1)
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			mu <- struct{}{}
			stream := fmt.Sprint(next % streams)
			next++
			<-mu
			for pb.Next() {
				if _, err := s.PutEvents(context.Background(), scope, "g", stream, evs); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
}
