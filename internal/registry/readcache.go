package registry

import (
	"sync"

	"github.com/fargo-run/fargo/internal/memo"
)

// readCache keeps what the manifest GET path would otherwise decode or
// read from disk on every request: decoded image records,
// each valid while the store revision of its key is unchanged, and
// manifest bytes, which are immutable by digest. A pull storm (a service
// scaling out, CI fleets) GETs the same manifests over and over.
type readCache struct {
	records memo.Map // store key -> decoded record

	mu        sync.Mutex
	manifests map[string][]byte // account + "/" + digest -> bytes
	size      int64             // bytes held in manifests
}

// maxCachedManifests bounds the manifest bytes held (a manifest is at most
// 4 MiB; most are a few KiB).
const maxCachedManifests = 32 << 20

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
