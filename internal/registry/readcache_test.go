package registry

import (
	"bytes"
	"testing"

	"github.com/fargo-run/fargo/internal/store"
)

func TestReadCacheDecodesAgainWhenTheRevisionChanges(t *testing.T) {
	var c readCache
	kv := store.KV{Key: "k", Value: []byte(`{"name":"a"}`), Revision: 1}
	a, err := decodeCached[Repository](&c, kv)
	if err != nil || a.Name != "a" {
		t.Fatalf("%+v %v", a, err)
	}
	if again, _ := decodeCached[Repository](&c, kv); again != a {
		t.Fatal("same revision decoded again")
	}
	b, err := decodeCached[Repository](&c, store.KV{Key: "k", Value: []byte(`{"name":"b"}`), Revision: 2})
	if err != nil || b.Name != "b" {
		t.Fatalf("a new revision served the old record: %+v %v", b, err)
	}
	if _, err := decodeCached[Repository](&c, store.KV{Key: "bad", Value: []byte(`{`), Revision: 3}); err == nil {
		t.Fatal("corrupt record decoded")
	}
	for i := range maxCachedRecords + 10 {
		_, _ = decodeCached[Repository](&c, store.KV{Key: string(rune(i)), Value: []byte(`{}`), Revision: 1})
	}
	n := 0
	c.records.Range(func(any, any) bool { n++; return true })
	if n > maxCachedRecords {
		t.Fatalf("%d records kept, bound %d", n, maxCachedRecords)
	}
}

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
