package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"

	bbolt "go.etcd.io/bbolt"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
)

// errTxDone is returned when a Tx is used after its function returned.
var errTxDone = errors.New("bolt: transaction used after its function returned")

// write is one buffered change: a new value, or a delete.
type write struct {
	value   []byte
	deleted bool
}

// tx is both store.ReadTx (writes == nil) and store.Tx. Writes are buffered
// in an overlay and applied to bbolt by apply only if the caller's function
// succeeds; reads merge the overlay over the bbolt snapshot.
type tx struct {
	kv     *bbolt.Bucket
	rev    int64 // the revision this write transaction commits as
	writes map[string]write
	done   bool
}

func (t *tx) Get(key string) (store.KV, error) {
	if t.done {
		return store.KV{}, errTxDone
	}
	if w, ok := t.writes[key]; ok {
		if w.deleted {
			return store.KV{}, fmt.Errorf("get %q: %w", key, store.ErrNotFound)
		}
		return store.KV{Key: key, Value: bytes.Clone(w.value), Revision: t.rev}, nil
	}
	v := t.kv.Get([]byte(key))
	if v == nil {
		return store.KV{}, fmt.Errorf("get %q: %w", key, store.ErrNotFound)
	}
	return decode(key, v)
}

func (t *tx) List(prefix string) ([]store.KV, error) {
	if t.done {
		return nil, errTxDone
	}
	var kvs []store.KV
	c := t.kv.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if _, ok := t.writes[string(k)]; ok {
			continue // the overlay's version wins; merged below
		}
		kv, err := decode(string(k), v)
		if err != nil {
			return nil, err
		}
		kvs = append(kvs, kv)
	}
	if len(t.writes) == 0 {
		return kvs, nil
	}
	n := len(kvs)
	for key, w := range t.writes {
		if !w.deleted && strings.HasPrefix(key, prefix) {
			kvs = append(kvs, store.KV{Key: key, Value: bytes.Clone(w.value), Revision: t.rev})
		}
	}
	if len(kvs) > n {
		slices.SortFunc(kvs, func(a, b store.KV) int { return strings.Compare(a.Key, b.Key) })
	}
	return kvs, nil
}

func (t *tx) Put(key string, value []byte) error {
	if t.done {
		return errTxDone
	}
	if t.writes == nil {
		return errors.New("bolt: put in a read-only transaction")
	}
	if err := checkKey(key); err != nil {
		return err
	}
	t.writes[key] = write{value: bytes.Clone(value)}
	return nil
}

func (t *tx) Delete(key string) error {
	if t.done {
		return errTxDone
	}
	if t.writes == nil {
		return errors.New("bolt: delete in a read-only transaction")
	}
	if err := checkKey(key); err != nil {
		return err
	}
	t.writes[key] = write{deleted: true}
	return nil
}

// apply writes the overlay to bbolt in key order and returns the events, in
// the same order. Deleting a key absent from bbolt is no change.
func (t *tx) apply() ([]store.Event, error) {
	keys := make([]string, 0, len(t.writes))
	for k := range t.writes {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var events []store.Event
	for _, k := range keys {
		w := t.writes[k]
		if w.deleted {
			if t.kv.Get([]byte(k)) == nil {
				continue
			}
			if err := t.kv.Delete([]byte(k)); err != nil {
				return nil, fmt.Errorf("delete %q: %w", k, err)
			}
			events = append(events, store.Event{Type: store.EventDelete, KV: store.KV{Key: k, Revision: t.rev}})
			continue
		}
		if err := t.kv.Put([]byte(k), encode(t.rev, w.value)); err != nil {
			return nil, fmt.Errorf("put %q: %w", k, err)
		}
		events = append(events, store.Event{Type: store.EventPut, KV: store.KV{Key: k, Value: w.value, Revision: t.rev}})
	}
	return events, nil
}

func checkKey(key string) error {
	if key == "" {
		return errdefs.Invalidf("bolt: empty key")
	}
	if len(key) > bbolt.MaxKeySize {
		return errdefs.Invalidf("bolt: key of %d bytes is longer than %d", len(key), bbolt.MaxKeySize)
	}
	return nil
}

// encode lays out a "kv" value: 8-byte big-endian mod revision, then value.
func encode(rev int64, value []byte) []byte {
	b := make([]byte, 8, 8+len(value))
	binary.BigEndian.PutUint64(b, uint64(rev))
	return append(b, value...)
}

// decode copies a "kv" value out of bbolt's memory map.
func decode(key string, v []byte) (store.KV, error) {
	if len(v) < 8 {
		return store.KV{}, fmt.Errorf("bolt: corrupt value for %q (%d bytes)", key, len(v))
	}
	return store.KV{
		Key:      key,
		Value:    bytes.Clone(v[8:]),
		Revision: int64(binary.BigEndian.Uint64(v[:8])),
	}, nil
}
