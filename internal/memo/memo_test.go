package memo

import (
	"testing"

	"github.com/fargo-run/fargo/internal/store"
)

type rec struct {
	Name string `json:"name"`
}

func TestDecodeAgainWhenTheRevisionChanges(t *testing.T) {
	var c Map
	kv := store.KV{Key: "k", Value: []byte(`{"name":"a"}`), Revision: 1}
	a, err := Decode[rec](&c, kv)
	if err != nil || a.Name != "a" {
		t.Fatalf("%+v %v", a, err)
	}
	if again, _ := Decode[rec](&c, kv); again != a {
		t.Fatal("same revision decoded again")
	}
	b, err := Decode[rec](&c, store.KV{Key: "k", Value: []byte(`{"name":"b"}`), Revision: 2})
	if err != nil || b.Name != "b" {
		t.Fatalf("a new revision served the old record: %+v %v", b, err)
	}
	if _, err := Decode[rec](&c, store.KV{Key: "bad", Value: []byte(`{`), Revision: 3}); err == nil {
		t.Fatal("corrupt record decoded")
	}
}

func TestMapIsBounded(t *testing.T) {
	c := Map{Max: 10}
	for i := range 25 {
		c.Store(i, i)
		if n := c.Len(); n > 10 {
			t.Fatalf("%d entries held, bound 10", n)
		}
	}
	if v, ok := c.Load(24); !ok || v != 24 {
		t.Fatalf("the newest entry is gone: %v %v", v, ok)
	}
	var z Map
	for i := range DefaultMax + 5 {
		z.Store(i, i)
	}
	if n := z.Len(); n > DefaultMax {
		t.Fatalf("zero Map holds %d, bound %d", n, DefaultMax)
	}
}
