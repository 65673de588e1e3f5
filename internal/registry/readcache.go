package registry

import (
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/fargo-run/fargo/internal/store"
)

// readCache keeps what the manifest GET path would otherwise decode or
// read from disk on every request: decoded image records,
// each valid while the store revision of its key is unchanged, and
// manifest bytes, which are immutable by digest. A pull storm (a service
// scaling out, CI fleets) GETs the same manifests over and over.
type readCache struct {
	records sync.Map     // store key -> cachedRecord
	stored  atomic.Int64 // records stored since the last reset

	mu        sync.Mutex
	manifests map[string][]byte // account + "/" + digest -> bytes
	size      int64             // bytes held in manifests
}

// cachedRecord is a decoded record and the revision it was decoded from.
type cachedRecord struct {
	rev int64
	v   any
}

// maxCachedRecords bounds the decoded records kept: past it the cache
// starts afresh, so records of deleted keys don't pile up.
const maxCachedRecords = 16384

// maxCachedManifests bounds the manifest bytes held (a manifest is at most
// 4 MiB; most are a few KiB).
const maxCachedManifests = 32 << 20

// decodeCached decodes kv into a T through c, sharing the decoded value
// with other readers: callers must not modify it (nor its slices and maps).
func decodeCached[T any](c *readCache, kv store.KV) (*T, error) {
	if v, ok := c.records.Load(kv.Key); ok && v.(cachedRecord).rev == kv.Revision {
		if t, ok := v.(cachedRecord).v.(*T); ok {
			return t, nil
		}
	}
	t := new(T)
	if err := json.Unmarshal(kv.Value, t); err != nil {
		return nil, fmt.Errorf("registry: decode %s: %w", kv.Key, err)
	}
	if c.stored.Add(1) > maxCachedRecords {
		c.records.Clear()
		c.stored.Store(0)
	}
	c.records.Store(kv.Key, cachedRecord{rev: kv.Revision, v: t})
	return t, nil
}

// manifest returns the cached bytes of account's manifest digest.
func (c *readCache) manifest(account, digest string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	b, ok := c.manifests[account+"/"+digest]
	return b, ok
}

// putManifest caches a manifest's bytes; when full, it starts afresh
// (cheaper than tracking use, and a refill costs one read per manifest).
func (c *readCache) putManifest(account, digest string, b []byte) {
	if int64(len(b)) > maxCachedManifests/8 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.manifests == nil || c.size+int64(len(b)) > maxCachedManifests {
		c.manifests, c.size = make(map[string][]byte), 0
	}
	key := account + "/" + digest
	if _, ok := c.manifests[key]; !ok {
		c.manifests[key] = b
		c.size += int64(len(b))
	}
}
