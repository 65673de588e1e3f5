package registry

import (
	"bytes"
	"testing"
)

func TestReadCacheManifestsAreBounded(t *testing.T) {
	var c readCache
	c.putManifest("1", "sha256:a", []byte("A"))
	if b, ok := c.manifest("1", "sha256:a"); !ok || string(b) != "A" {
		t.Fatalf("%q %v", b, ok)
	}
	if _, ok := c.manifest("2", "sha256:a"); ok {
		t.Fatal("a manifest of one account served to another")
	}
	big := bytes.Repeat([]byte("x"), maxCachedManifests/8)
	for i := range 20 {
		c.putManifest("1", string(rune('b'+i)), big)
		if c.size > maxCachedManifests {
			t.Fatalf("%d bytes held, bound %d", c.size, maxCachedManifests)
		}
	}
	c.putManifest("1", "huge", make([]byte, maxCachedManifests/8+1))
	if _, ok := c.manifest("1", "huge"); ok {
		t.Fatal("an oversized manifest was cached")
	}
}
