package metrics

import (
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"
)

func openTestData(t testing.TB, fine bool) *Data {
	t.Helper()
	d, err := OpenData(filepath.Join(t.TempDir(), "metrics.db"), fine)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

func point(m Metric, at time.Time, v float64) Datum {
	return Datum{Metric: m, Timestamp: at, Unit: "Count", Stats: Stats{Sum: v, SampleCount: 1, Min: v, Max: v}}
}

// TestDataTiers: a datapoint lands in every tier; queries pick the finest
// tier the period and the age allow, and aggregate per period.
func TestDataTiers(t *testing.T) {
	d := openTestData(t, false)
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	m := Metric{Namespace: "N", Name: "x", Dimensions: []Dimension{{"b", "2"}, {"a", "1"}}}
	m.Normalize()
	var data []Datum
	for i := 0; i < 120; i++ { // two hours, one a minute, value = minute index
		data = append(data, point(m, now.Add(-time.Duration(120-i)*time.Minute), float64(i)))
	}
	data = append(data, Datum{Metric: m, Timestamp: now.Add(-30 * time.Second), Unit: "Count", HighResolution: true,
		Stats: Stats{Sum: 1000, SampleCount: 1, Min: 1000, Max: 1000}})
	if err := d.Put(ctx, testScope, data); err != nil {
		t.Fatal(err)
	}
	// Dimensions in any order name the same metric.
	q := Metric{Namespace: "N", Name: "x", Dimensions: []Dimension{{"a", "1"}, {"b", "2"}}}
	pts, err := d.Query(testScope, q, "", now.Add(-2*time.Hour), now, time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 2 || pts[0].Stats.SampleCount != 60 || pts[0].Stats.Sum != 1770 || pts[1].Stats.SampleCount != 61 || pts[1].Stats.Max != 1000 {
		t.Fatalf("hourly points %+v", pts)
	}
	// Per second: only the high-resolution point is kept at that tier.
	pts, _ = d.Query(testScope, q, "", now.Add(-time.Minute), now, 10*time.Second, now)
	if len(pts) != 1 || pts[0].Stats.Sum != 1000 || !pts[0].Time.Equal(now.Add(-30*time.Second)) {
		t.Fatalf("10-second points %+v", pts)
	}
	// Unit filter.
	if pts, _ := d.Query(testScope, q, "Bytes", now.Add(-2*time.Hour), now, time.Hour, now); len(pts) != 0 {
		t.Errorf("unit Bytes: %+v", pts)
	}
	// Twenty days later the 1-minute and per-second data are gone, the
	// 5-minute and hourly tiers answer.
	later := now.Add(20 * 24 * time.Hour)
	if err := d.Expire(later); err != nil {
		t.Fatal(err)
	}
	if pts, _ := d.Query(testScope, q, "", now.Add(-2*time.Hour), now, 5*time.Minute, later); len(pts) != 24 {
		t.Errorf("5-minute points after 20 days: %d, want 24", len(pts))
	}
	if n := countKeys(d, "m1") + countKeys(d, "s1"); n != 0 {
		t.Errorf("%d expired points left", n)
	}
	// Not listed after 15 days without data, still queryable.
	if l := d.List(testScope, ListFilter{}, later); len(l) != 0 {
		t.Errorf("listed %v", l)
	}
	if l := d.List(testScope, ListFilter{Namespace: "N"}, now); len(l) != 1 || l[0].Dimensions[0].Name != "a" {
		t.Errorf("list %v", l)
	}
}

func countKeys(d *Data, bucket string) int {
	n := 0
	_ = d.db.View(func(tx *boltTx) error {
		n = tx.Bucket([]byte(bucket)).Stats().KeyN
		return nil
	})
	return n
}

// TestDataReopen: what Put acknowledged is there after a reopen, and new
// streams get new ids.
func TestDataReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "metrics.db")
	d, err := OpenData(path, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Minute)
	a := Metric{Namespace: "N", Name: "a"}
	if err := d.Put(context.Background(), testScope, []Datum{point(a, now, 5)}); err != nil {
		t.Fatal(err)
	}
	_ = d.Close()
	d, err = OpenData(path, false)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	b := Metric{Namespace: "N", Name: "b"}
	if err := d.Put(context.Background(), testScope, []Datum{point(b, now, 7)}); err != nil {
		t.Fatal(err)
	}
	for m, want := range map[string]float64{"a": 5, "b": 7} {
		pts, _ := d.Query(testScope, Metric{Namespace: "N", Name: m}, "", now, now.Add(time.Minute), time.Minute, now)
		if len(pts) != 1 || pts[0].Stats.Sum != want {
			t.Errorf("%s: %+v", m, pts)
		}
	}
}

// BenchmarkMemoryPerSeries reports the heap a series with a day of
// one-minute data costs (issue 11's target is at most 2 KiB; the rest of
// the data is on disk). A benchmark, not a test: a heap measured inside a
// test process that the runtime and bbolt share is a figure to report,
// not a promise to assert (in CI it once measured less after the writes
// than before). `BENCH=metrics` reports the same for the server.
func BenchmarkMemoryPerSeries(b *testing.B) {
	d := openTestData(b, false)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Minute)
	heap := func() int64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return int64(ms.HeapAlloc)
	}
	series := 0
	put := func() {
		m := Metric{Namespace: "Bench", Name: "Latency", Dimensions: []Dimension{{"Series", fmt.Sprintf("series-%d", series)}}}
		series++
		batch := make([]Datum, 0, 1440)
		for i := 1; i <= 1440; i++ {
			batch = append(batch, point(m, now.Add(-time.Duration(i)*time.Minute), float64(i%97)))
		}
		if err := d.Put(ctx, testScope, batch); err != nil {
			b.Fatal(err)
		}
	}
	put() // the data file's own first allocations are no series' cost
	before := heap()
	b.ResetTimer()
	for range b.N {
		put()
	}
	b.StopTimer()
	b.ReportMetric(float64(heap()-before)/float64(b.N), "heapB/series")
}
