// Package memo provides the bounded in-memory caches of fargo's read paths:
// a concurrent map that starts afresh when it has taken in more than its
// bound (entries of deleted keys never pile up, and no use tracking sits on
// the hot path), and on top of it decoded store records, each valid while
// the store revision of its key is unchanged.
package memo

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fargo-run/fargo/internal/store"
)

// DefaultMax is the bound of a Map whose Max is 0.
const DefaultMax = 16384

// Map is a concurrent map holding at most about Max entries. The zero Map
// is ready to use.
type Map struct {
	Max    int64 // 0: DefaultMax
	m      sync.Map
	stored atomic.Int64 // entries stored since the last reset
}

// Load returns the value stored under key.
func (c *Map) Load(key any) (any, bool) { return c.m.Load(key) }

// Store sets key's value; past the bound, everything else is dropped first.
func (c *Map) Store(key, v any) {
	max := c.Max
	if max <= 0 {
		max = DefaultMax
	}
	if c.stored.Add(1) > max {
		c.m.Clear()
		c.stored.Store(1) // the entry stored below
	}
	c.m.Store(key, v)
}

// Len counts the entries (for tests).
func (c *Map) Len() int {
	n := 0
	c.m.Range(func(any, any) bool { n++; return true })
	return n
}

// record is a decoded record and the revision it was decoded from.
type record struct {
	rev int64
	v   any
}

// Decode decodes kv's JSON into a T through c, which keeps it while kv's
// revision is the one decoded. The value is shared with other readers:
// callers must not modify it (nor its slices and maps).
func Decode[T any](c *Map, kv store.KV) (*T, error) {
	if v, ok := c.Load(kv.Key); ok && v.(record).rev == kv.Revision {
		if t, ok := v.(record).v.(*T); ok {
			return t, nil
		}
	}
	t := new(T)
	if err := json.Unmarshal(kv.Value, t); err != nil {
		return nil, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	c.Store(kv.Key, record{rev: kv.Revision, v: t})
	return t, nil
}
