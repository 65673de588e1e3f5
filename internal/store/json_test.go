package store_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/fargo-run/fargo/internal/store"
)

// memTx is a map-backed Tx, enough for the JSON helpers.
type memTx map[string][]byte

func (m memTx) Get(key string) (store.KV, error) {
	v, ok := m[key]
	if !ok {
		return store.KV{}, store.ErrNotFound
	}
	return store.KV{Key: key, Value: v}, nil
}

func (m memTx) List(prefix string) ([]store.KV, error) {
	var out []store.KV
	for _, k := range []string{"a/1", "a/2", "b/1"} {
		if v, ok := m[k]; ok && strings.HasPrefix(k, prefix) {
			out = append(out, store.KV{Key: k, Value: v})
		}
	}
	return out, nil
}

func (m memTx) Put(key string, value []byte) error { m[key] = value; return nil }
func (m memTx) Delete(key string) error            { delete(m, key); return nil }

type rec struct{ N int }

func TestJSONHelpers(t *testing.T) {
	tx := memTx{}
	for i, k := range []string{"a/1", "a/2", "b/1"} {
		if err := store.PutJSON(tx, k, rec{N: i}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := store.GetJSON[rec](tx, "a/2")
	if err != nil || got.N != 1 {
		t.Fatalf("GetJSON = %+v, %v", got, err)
	}
	if _, err := store.GetJSON[rec](tx, "a/3"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetJSON of a missing key: %v, want ErrNotFound", err)
	}
	all, err := store.ListJSON[rec](tx, "a/")
	if err != nil || len(all) != 2 || all[0].N != 0 || all[1].N != 1 {
		t.Fatalf("ListJSON = %v, %v", all, err)
	}
	tx["a/1"] = []byte("{")
	if _, err := store.GetJSON[rec](tx, "a/1"); err == nil || !strings.Contains(err.Error(), "decode a/1") {
		t.Fatalf("GetJSON of a bad record: %v", err)
	}
	if _, err := store.ListJSON[rec](tx, "a/"); err == nil {
		t.Fatal("ListJSON of a bad record: no error")
	}
	if err := store.PutJSON(tx, "b/1", func() {}); err == nil {
		t.Fatal("PutJSON of an unencodable value: no error")
	}
}
