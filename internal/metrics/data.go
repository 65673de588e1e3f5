package metrics

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fargo-run/fargo/internal/tenant"
)

// resolution is one of the tiers metric data is kept in.
type resolution struct {
	bucket string
	step   time.Duration
	keep   time.Duration
}

// The tiers, finest first (CloudWatch's retention: 1-second data 3 hours,
// 1-minute data 15 days, 5-minute data 63 days, 1-hour data 455 days).
var tiers = []resolution{
	{"s1", time.Second, 3 * time.Hour},
	{"m1", time.Minute, 15 * 24 * time.Hour},
	{"m5", 5 * time.Minute, 63 * 24 * time.Hour},
	{"h1", time.Hour, 455 * 24 * time.Hour},
}

var (
	bucketStreams = []byte("streams")
	bucketMeta    = []byte("meta")
)

// streamMeta is what the index keeps of a stream (a metric in one unit).
type streamMeta struct {
	ID      uint64       `json:"id"`
	Scope   tenant.Scope `json:"scope"`
	Metric  Metric       `json:"metric"`
	Unit    string       `json:"unit"`
	LastPut time.Time    `json:"lastPut"`
}

// Data is the metric data store.
type Data struct {
	db *bolt.DB
	// fine keeps every datapoint at 1-second resolution too (the metric
	// period is shortened below a minute).
	fine bool

	mu      sync.RWMutex
	streams map[string]*streamMeta   // by metric key + "\x00" + unit
	byKey   map[string][]*streamMeta // by metric key: the units of a metric
	nextID  uint64
}

// OpenData opens (creating) the metric data file.
func OpenData(path string, fine bool) (*Data, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metric data %s: %w", path, err)
	}
	d := &Data{db: db, fine: fine, streams: map[string]*streamMeta{}, byKey: map[string][]*streamMeta{}}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketStreams, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		for _, t := range tiers {
			if _, err := tx.CreateBucketIfNotExists([]byte(t.bucket)); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).ForEach(func(_, v []byte) error {
			var m streamMeta
			if err := json.Unmarshal(v, &m); err != nil {
				return err
			}
			d.index(&m)
			d.nextID = max(d.nextID, m.ID)
			return nil
		})
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("load metric index: %w", err)
	}
	return d, nil
}

// Close closes the file.
func (d *Data) Close() error { return d.db.Close() }

func (d *Data) index(m *streamMeta) {
	k := m.Metric.key(m.Scope)
	d.streams[k+"\x00"+m.Unit] = m
	d.byKey[k] = append(d.byKey[k], m)
}

func encStats(s Stats) []byte {
	b := make([]byte, 32)
	binary.BigEndian.PutUint64(b[0:], math.Float64bits(s.Sum))
	binary.BigEndian.PutUint64(b[8:], math.Float64bits(s.SampleCount))
	binary.BigEndian.PutUint64(b[16:], math.Float64bits(s.Min))
	binary.BigEndian.PutUint64(b[24:], math.Float64bits(s.Max))
	return b
}

func decStats(b []byte) Stats {
	if len(b) != 32 {
		return Stats{}
	}
	return Stats{
		Sum:         math.Float64frombits(binary.BigEndian.Uint64(b[0:])),
		SampleCount: math.Float64frombits(binary.BigEndian.Uint64(b[8:])),
		Min:         math.Float64frombits(binary.BigEndian.Uint64(b[16:])),
		Max:         math.Float64frombits(binary.BigEndian.Uint64(b[24:])),
	}
}

func pointKey(id uint64, t int64) []byte {
	k := make([]byte, 16)
	binary.BigEndian.PutUint64(k, id)
	binary.BigEndian.PutUint64(k[8:], uint64(t))
	return k
}

// Put stores data of one scope durably (one fsync'd transaction, batched
// with concurrent callers).
func (d *Data) Put(ctx context.Context, scope tenant.Scope, data []Datum) error {
	if len(data) == 0 {
		return nil
	}
	var created []*streamMeta
	err := d.db.Batch(func(tx *bolt.Tx) error {
		created = created[:0]
		local := map[string]*streamMeta{}
		for i := range data {
			dm := &data[i]
			sk := dm.Metric.key(scope) + "\x00" + dm.Unit
			m := local[sk]
			if m == nil {
				d.mu.RLock()
				m = d.streams[sk]
				d.mu.RUnlock()
			}
			if m == nil {
				if v := tx.Bucket(bucketStreams).Get([]byte(sk)); len(v) == 8 {
					// Created by another call of this same batch.
					m = &streamMeta{ID: binary.BigEndian.Uint64(v), Scope: tenant.Scope{Account: strings.Clone(scope.Account), Region: strings.Clone(scope.Region)}, Metric: dm.Metric.clone(), Unit: strings.Clone(dm.Unit)}
				}
			}
			if m == nil {
				// A new stream: its id from the bucket's sequence, so a
				// batch retried after a failed commit allocates again.
				id, err := tx.Bucket(bucketStreams).NextSequence()
				if err != nil {
					return err
				}
				m = &streamMeta{ID: id, Scope: tenant.Scope{Account: strings.Clone(scope.Account), Region: strings.Clone(scope.Region)}, Metric: dm.Metric.clone(), Unit: strings.Clone(dm.Unit)}
				if err := tx.Bucket(bucketStreams).Put([]byte(sk), binary.BigEndian.AppendUint64(nil, id)); err != nil {
					return err
				}
				created = append(created, m)
			}
			local[sk] = m
			for _, t := range tiers {
				if t.step == time.Second && !dm.HighResolution && !d.fine {
					continue
				}
				b := tx.Bucket([]byte(t.bucket))
				k := pointKey(m.ID, dm.Timestamp.Truncate(t.step).Unix())
				s := decStats(b.Get(k))
				s.Merge(dm.Stats)
				if err := b.Put(k, encStats(s)); err != nil {
					return err
				}
			}
		}
		// Record the newest time each stream was written (ListMetrics'
		// RecentlyActive and expiry), once a minute at most per stream.
		now := time.Now().UTC()
		for _, m := range local {
			if now.Sub(m.LastPut) < time.Minute && !containsStream(created, m) {
				continue
			}
			cp := *m
			cp.LastPut = now
			buf, err := json.Marshal(&cp)
			if err != nil {
				return err
			}
			if err := tx.Bucket(bucketMeta).Put(binary.BigEndian.AppendUint64(nil, m.ID), buf); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("store metric data: %w", err)
	}
	now := time.Now().UTC()
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, m := range created {
		sk := m.Metric.key(m.Scope) + "\x00" + m.Unit
		if d.streams[sk] == nil {
			m.LastPut = now
			d.index(m)
		}
	}
	for i := range data {
		if m := d.streams[data[i].Metric.key(scope)+"\x00"+data[i].Unit]; m != nil && now.Sub(m.LastPut) >= time.Minute {
			m.LastPut = now
		}
	}
	return nil
}

func containsStream(l []*streamMeta, m *streamMeta) bool {
	for _, x := range l {
		if x == m {
			return true
		}
	}
	return false
}

// Query returns the statistics of a metric per period over [start, end):
// periods start at start truncated to the tier's step, and periods with no
// sample are left out. unit "" takes every unit the metric has (the
// answer's unit is then the one unit, or "" when several were mixed).
func (d *Data) Query(scope tenant.Scope, m Metric, unit string, start, end time.Time, period time.Duration, now time.Time) ([]Point, error) {
	m.Normalize()
	d.mu.RLock()
	var streams []streamMeta
	for _, s := range d.byKey[m.key(scope)] {
		if unit == "" || s.Unit == unit {
			streams = append(streams, *s)
		}
	}
	d.mu.RUnlock()
	if len(streams) == 0 || !end.After(start) || period <= 0 {
		return nil, nil
	}
	tier := pickTier(start, period, now)
	// Periods are aligned to multiples of the period (tier steps divide
	// it), as CloudWatch's datapoints are.
	start = start.Truncate(period)
	nBuckets := int((end.Sub(start) + period - 1) / period)
	if nBuckets > 100800*4 {
		return nil, fmt.Errorf("query spans too many periods")
	}
	out := make([]Point, 0, min(nBuckets, 1440))
	byBucket := map[int64]int{}
	unitOf := map[int64]string{}
	err := d.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(tier.bucket))
		for _, s := range streams {
			c := b.Cursor()
			lo := pointKey(s.ID, start.Unix())
			hi := pointKey(s.ID, end.Unix())
			for k, v := c.Seek(lo); k != nil && bytes.Compare(k, hi) < 0; k, v = c.Next() {
				t := int64(binary.BigEndian.Uint64(k[8:]))
				bi := (t - start.Unix()) / int64(period/time.Second)
				i, ok := byBucket[bi]
				if !ok {
					i = len(out)
					byBucket[bi] = i
					out = append(out, Point{Time: start.Add(time.Duration(bi) * period), Unit: s.Unit})
					unitOf[bi] = s.Unit
				} else if unitOf[bi] != s.Unit {
					out[i].Unit = ""
				}
				out[i].Stats.Merge(decStats(v))
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sortPoints(out)
	return out, nil
}

// pickTier returns the tier a query reads: per second only for periods
// that are not whole minutes (only high-resolution data is kept per
// second, or all data in fine mode), else the finest tier of whole
// minutes that still holds start and divides the period.
func pickTier(start time.Time, period time.Duration, now time.Time) resolution {
	if period%time.Minute != 0 {
		return tiers[0]
	}
	for _, t := range tiers[1:] {
		if period%t.step == 0 && now.Sub(start) <= t.keep {
			return t
		}
	}
	return tiers[len(tiers)-1]
}

func sortPoints(p []Point) {
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].Time.Before(p[j-1].Time); j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

// ListFilter selects metrics for List.
type ListFilter struct {
	Namespace  string
	Name       string
	Dimensions []DimensionFilter
	// Since, when set, keeps only metrics written after it (RecentlyActive
	// PT3H).
	Since time.Time
}

// DimensionFilter matches a dimension by name, and by value when Value is
// set.
type DimensionFilter struct {
	Name  string
	Value *string
}

// List returns the metrics of a scope matching f, sorted by namespace,
// name and dimensions.
func (d *Data) List(scope tenant.Scope, f ListFilter, now time.Time) []Metric {
	if listed := now.Add(-tiers[1].keep); f.Since.Before(listed) {
		f.Since = listed
	}
	prefix := scope.Account + "/" + scope.Region + "\x00"
	d.mu.RLock()
	defer d.mu.RUnlock()
	var keys []string
	for k, ss := range d.byKey {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		m := ss[0].Metric
		if f.Namespace != "" && m.Namespace != f.Namespace || f.Name != "" && m.Name != f.Name {
			continue
		}
		if !recent(ss, f.Since) {
			continue
		}
		if !matchDims(m.Dimensions, f.Dimensions) {
			continue
		}
		keys = append(keys, k)
	}
	sortStrings(keys)
	out := make([]Metric, 0, len(keys))
	for _, k := range keys {
		out = append(out, d.byKey[k][0].Metric)
	}
	return out
}

func recent(ss []*streamMeta, since time.Time) bool {
	for _, s := range ss {
		if s.LastPut.After(since) {
			return true
		}
	}
	return false
}

func matchDims(have []Dimension, want []DimensionFilter) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Name == w.Name && (w.Value == nil || *w.Value == h.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Exists reports whether a metric has data in the scope.
func (d *Data) Exists(scope tenant.Scope, m Metric) bool {
	m.Normalize()
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.byKey[m.key(scope)]) > 0
}

// Expire deletes data past each tier's retention and forgets streams whose
// last data is past the longest one. (List leaves out streams with no data
// for 15 days, as CloudWatch stops listing them after two weeks, but their
// older data stays queryable.)
func (d *Data) Expire(now time.Time) error {
	d.mu.RLock()
	all := make([]streamMeta, 0, len(d.streams))
	for _, s := range d.streams {
		all = append(all, *s)
	}
	d.mu.RUnlock()
	var gone []streamMeta
	err := d.db.Update(func(tx *bolt.Tx) error {
		gone = gone[:0]
		for _, s := range all {
			for _, t := range tiers {
				c := tx.Bucket([]byte(t.bucket)).Cursor()
				hi := pointKey(s.ID, now.Add(-t.keep).Unix())
				for k, _ := c.Seek(pointKey(s.ID, 0)); k != nil && bytes.Compare(k, hi) < 0; k, _ = c.Seek(pointKey(s.ID, 0)) {
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
			if now.Sub(s.LastPut) > tiers[len(tiers)-1].keep {
				if err := tx.Bucket(bucketMeta).Delete(binary.BigEndian.AppendUint64(nil, s.ID)); err != nil {
					return err
				}
				if err := tx.Bucket(bucketStreams).Delete([]byte(s.Metric.key(s.Scope) + "\x00" + s.Unit)); err != nil {
					return err
				}
				gone = append(gone, s)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range gone {
		k := s.Metric.key(s.Scope)
		delete(d.streams, k+"\x00"+s.Unit)
		l := d.byKey[k][:0]
		for _, x := range d.byKey[k] {
			if x.ID != s.ID {
				l = append(l, x)
			}
		}
		if len(l) == 0 {
			delete(d.byKey, k)
		} else {
			d.byKey[k] = l
		}
	}
	return nil
}

// boltTx names bbolt's transaction for the package's tests.
type boltTx = bolt.Tx
