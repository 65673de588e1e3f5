// Package storetest is the conformance suite for store.Store: every
// implementation (bbolt, etcd) runs Run, and RunDurable if it persists.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t) })
//	}
//
// open must return a new, empty store and register its Close with
// t.Cleanup (closing twice must be harmless: some tests close early).
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store"
)

// timeout bounds every wait for an event or a closed channel.
const timeout = 10 * time.Second

// Run runs the conformance suite against stores made by open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"GetPutDelete", testGetPutDelete},
		{"List", testList},
		{"Revisions", testRevisions},
		{"CompareAndSwap", testCompareAndSwap},
		{"UpdateAtomic", testUpdateAtomic},
		{"UpdateReadsOwnWrites", testUpdateReadsOwnWrites},
		{"View", testView},
		{"ConcurrentUpdates", testConcurrentUpdates},
		{"ConcurrentErrorsIsolated", testConcurrentErrorsIsolated},
		{"ContextCanceled", testContextCanceled},
		{"WatchFromNow", testWatchFromNow},
		{"WatchReplay", testWatchReplay},
		{"WatchFutureRevision", testWatchFutureRevision},
		{"WatchPrefix", testWatchPrefix},
		{"WatchDelete", testWatchDelete},
		{"WatchMultiKeyTx", testWatchMultiKeyTx},
		{"WatchCancel", testWatchCancel},
		{"WatchConcurrentOrder", testWatchConcurrentOrder},
		{"Close", testClose},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func testGetPutDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	if _, err := s.Get(ctx, "ecs/1/r/clusters/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get missing: err = %v, want ErrNotFound", err)
	}
	rev1 := mustPut(t, s, "ecs/1/r/clusters/a", "v1")
	if rev1 <= 0 {
		t.Fatalf("Put revision = %d, want > 0", rev1)
	}
	wantKV(t, s, "ecs/1/r/clusters/a", "v1", rev1)

	rev2 := mustPut(t, s, "ecs/1/r/clusters/a", "v2")
	if rev2 <= rev1 {
		t.Fatalf("second Put revision = %d, want > %d", rev2, rev1)
	}
	wantKV(t, s, "ecs/1/r/clusters/a", "v2", rev2)

	// An empty value is a value, not a delete.
	rev3 := mustPut(t, s, "empty", "")
	kv := wantKV(t, s, "empty", "", rev3)
	if kv.Value == nil {
		t.Errorf("empty value read back as nil, want non-nil empty")
	}

	rev4, err := s.Delete(ctx, "ecs/1/r/clusters/a")
	if err != nil || rev4 <= rev3 {
		t.Fatalf("Delete = %d, %v; want revision > %d", rev4, err, rev3)
	}
	if _, err := s.Get(ctx, "ecs/1/r/clusters/a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get deleted: err = %v, want ErrNotFound", err)
	}
	// Deleting an absent key is no error and no change.
	rev5, err := s.Delete(ctx, "ecs/1/r/clusters/a")
	if err != nil || rev5 != rev4 {
		t.Fatalf("Delete absent = %d, %v; want %d, nil", rev5, err, rev4)
	}
	wantRevision(t, s, rev4)
}

func testList(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, k := range []string{"b/1", "a/2", "ab/1", "a/10", "a/1", "a", "a/1/x"} {
		mustPut(t, s, k, "v:"+k)
	}
	tests := []struct {
		prefix string
		want   []string
	}{
		{"a/", []string{"a/1", "a/1/x", "a/10", "a/2"}},
		{"ab/", []string{"ab/1"}},
		{"a/1", []string{"a/1", "a/1/x", "a/10"}},
		{"a/1/", []string{"a/1/x"}},
		{"", []string{"a", "a/1", "a/1/x", "a/10", "a/2", "ab/1", "b/1"}},
		{"c/", nil},
	}
	for _, tt := range tests {
		kvs, err := s.List(ctx, tt.prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", tt.prefix, err)
		}
		if got := keys(kvs); !slices.Equal(got, tt.want) {
			t.Errorf("List(%q) = %q, want %q", tt.prefix, got, tt.want)
		}
		for _, kv := range kvs {
			if string(kv.Value) != "v:"+kv.Key || kv.Revision <= 0 {
				t.Errorf("List(%q): %q = %q at %d", tt.prefix, kv.Key, kv.Value, kv.Revision)
			}
		}
	}
}

func testRevisions(t *testing.T, s store.Store) {
	ctx := t.Context()
	start, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	last := start
	revs := map[string]int64{}
	for i := range 10 {
		k := fmt.Sprintf("k/%d", i%3)
		rev := mustPut(t, s, k, strconv.Itoa(i))
		if rev <= last {
			t.Fatalf("Put %d: revision %d not after %d", i, rev, last)
		}
		last, revs[k] = rev, rev
	}
	wantRevision(t, s, last)
	for k, rev := range revs { // each key keeps the revision that last modified it
		kv, err := s.Get(ctx, k)
		if err != nil || kv.Revision != rev {
			t.Errorf("Get(%q) = rev %d, %v; want %d", k, kv.Revision, err, rev)
		}
	}

	// One transaction, one revision, shared by every key it writes.
	rev, err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("tx/a", []byte("a")); err != nil {
			return err
		}
		return tx.Put("tx/b", []byte("b"))
	})
	if err != nil || rev != last+1 {
		t.Fatalf("Update = %d, %v; want %d", rev, err, last+1)
	}
	wantKV(t, s, "tx/a", "a", rev)
	wantKV(t, s, "tx/b", "b", rev)
	wantKV(t, s, "k/0", "9", revs["k/0"])

	// An Update that writes nothing returns the current revision.
	got, err := s.Update(ctx, func(tx store.Tx) error {
		_, err := tx.Get("tx/a")
		return err
	})
	if err != nil || got != rev {
		t.Fatalf("read-only Update = %d, %v; want %d", got, err, rev)
	}
	wantRevision(t, s, rev)
}

func testCompareAndSwap(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev1, err := s.CompareAndSwap(ctx, "cas", 0, []byte("v1"))
	if err != nil {
		t.Fatalf("create-only CAS: %v", err)
	}
	wantKV(t, s, "cas", "v1", rev1)
	if _, err := s.CompareAndSwap(ctx, "cas", 0, []byte("again")); !errors.Is(err, store.ErrRevisionMismatch) {
		t.Fatalf("create-only CAS on existing key: err = %v, want ErrRevisionMismatch", err)
	}
	if _, err := s.CompareAndSwap(ctx, "cas", rev1+100, []byte("wrong")); !errors.Is(err, store.ErrRevisionMismatch) {
		t.Fatalf("CAS with wrong revision: err = %v, want ErrRevisionMismatch", err)
	}
	if _, err := s.CompareAndSwap(ctx, "missing", 5, []byte("x")); !errors.Is(err, store.ErrRevisionMismatch) {
		t.Fatalf("CAS of missing key at revision 5: err = %v, want ErrRevisionMismatch", err)
	}
	wantKV(t, s, "cas", "v1", rev1) // mismatches changed nothing
	wantRevision(t, s, rev1)
	rev2, err := s.CompareAndSwap(ctx, "cas", rev1, []byte("v2"))
	if err != nil || rev2 <= rev1 {
		t.Fatalf("CAS at current revision = %d, %v", rev2, err)
	}
	wantKV(t, s, "cas", "v2", rev2)
	if _, err := s.CompareAndSwap(ctx, "cas", rev1, []byte("stale")); !errors.Is(err, store.ErrRevisionMismatch) {
		t.Fatalf("CAS at stale revision: err = %v, want ErrRevisionMismatch", err)
	}
}

var errAbort = errors.New("storetest: abort")

func testUpdateAtomic(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev := mustPut(t, s, "keep", "old")
	_, err := s.Update(ctx, func(tx store.Tx) error {
		for _, k := range []string{"new/a", "new/b", "keep"} {
			if err := tx.Put(k, []byte("new")); err != nil {
				return err
			}
		}
		if err := tx.Delete("keep"); err != nil {
			return err
		}
		return fmt.Errorf("wrapped: %w", errAbort)
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("Update: err = %v, want the fn's error", err)
	}
	for _, k := range []string{"new/a", "new/b"} {
		if _, err := s.Get(ctx, k); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(%q) after failed Update: err = %v, want ErrNotFound", k, err)
		}
	}
	wantKV(t, s, "keep", "old", rev)
	wantRevision(t, s, rev)
}

func testUpdateReadsOwnWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPut(t, s, "d/gone", "x")
	mustPut(t, s, "d/stays", "x")
	rev, err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("d/new", []byte("n1")); err != nil {
			return err
		}
		kv, err := tx.Get("d/new")
		if err != nil || string(kv.Value) != "n1" {
			return fmt.Errorf("Get own put = %q, %v", kv.Value, err)
		}
		if err := tx.Put("d/new", []byte("n2")); err != nil {
			return err
		}
		if err := tx.Delete("d/gone"); err != nil {
			return err
		}
		if _, err := tx.Get("d/gone"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get own delete: err = %v, want ErrNotFound", err)
		}
		kvs, err := tx.List("d/")
		if err != nil {
			return err
		}
		if got, want := keys(kvs), []string{"d/new", "d/stays"}; !slices.Equal(got, want) {
			return fmt.Errorf("List in tx = %q, want %q", got, want)
		}
		if string(kvs[0].Value) != "n2" {
			return fmt.Errorf("List in tx: d/new = %q, want n2", kvs[0].Value)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	wantKV(t, s, "d/new", "n2", rev)
	if _, err := s.Get(ctx, "d/gone"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get deleted: err = %v", err)
	}
}

func testView(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev := mustPut(t, s, "v/a", "1")
	err := s.View(ctx, func(tx store.ReadTx) error {
		kv, err := tx.Get("v/a")
		if err != nil || string(kv.Value) != "1" || kv.Revision != rev {
			return fmt.Errorf("Get = %+v, %v", kv, err)
		}
		if _, err := tx.Get("v/b"); !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("Get missing: err = %v", err)
		}
		kvs, err := tx.List("v/")
		if err != nil || len(kvs) != 1 {
			return fmt.Errorf("List = %v, %v", kvs, err)
		}
		return errAbort
	})
	if !errors.Is(err, errAbort) {
		t.Fatalf("View: err = %v, want the fn's error", err)
	}
}

// testConcurrentUpdates increments one counter from many goroutines; with
// serializable transactions no increment is lost, and every commit gets
// its own revision.
func testConcurrentUpdates(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, each = 32, 10
	var (
		mu   sync.Mutex
		revs = map[int64]bool{}
		wg   sync.WaitGroup
	)
	for range workers {
		wg.Go(func() {
			for range each {
				rev, err := s.Update(ctx, func(tx store.Tx) error {
					n := 0
					kv, err := tx.Get("counter")
					switch {
					case err == nil:
						if n, err = strconv.Atoi(string(kv.Value)); err != nil {
							return err
						}
					case !errors.Is(err, store.ErrNotFound):
						return err
					}
					return tx.Put("counter", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if revs[rev] {
					t.Errorf("revision %d returned twice", rev)
				}
				revs[rev] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	kv, err := s.Get(ctx, "counter")
	if err != nil {
		t.Fatal(err)
	}
	if string(kv.Value) != strconv.Itoa(workers*each) {
		t.Fatalf("counter = %s, want %d", kv.Value, workers*each)
	}
	if len(revs) != workers*each {
		t.Fatalf("%d distinct revisions, want %d", len(revs), workers*each)
	}
	wantRevision(t, s, kv.Revision)
}

// testConcurrentErrorsIsolated runs failing and succeeding Updates at once
// (implementations that batch commits must not let one caller's error
// undo or fail another's).
func testConcurrentErrorsIsolated(t *testing.T, s store.Store) {
	ctx := t.Context()
	const n = 64
	revs := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			k := fmt.Sprintf("iso/%02d", i)
			rev, err := s.Update(ctx, func(tx store.Tx) error {
				if err := tx.Put(k, []byte(k)); err != nil {
					return err
				}
				if i%2 == 1 {
					return errAbort
				}
				return nil
			})
			switch {
			case i%2 == 1 && !errors.Is(err, errAbort):
				t.Errorf("%s: err = %v, want errAbort", k, err)
			case i%2 == 0 && err != nil:
				t.Errorf("%s: %v", k, err)
			}
			revs[i] = rev
		})
	}
	wg.Wait()
	kvs, err := s.List(ctx, "iso/")
	if err != nil {
		t.Fatal(err)
	}
	if len(kvs) != n/2 {
		t.Fatalf("List = %q, want the %d even keys", keys(kvs), n/2)
	}
	for _, kv := range kvs {
		i, _ := strconv.Atoi(kv.Key[len("iso/"):])
		if i%2 != 0 || kv.Revision != revs[i] {
			t.Errorf("%s at %d; want even key at %d", kv.Key, kv.Revision, revs[i])
		}
	}
}

func testContextCanceled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Put(ctx, "c", []byte("x")); !errors.Is(err, context.Canceled) {
		t.Errorf("Put: err = %v, want context.Canceled", err)
	}
	called := false
	if _, err := s.Update(ctx, func(store.Tx) error { called = true; return nil }); !errors.Is(err, context.Canceled) {
		t.Errorf("Update: err = %v, want context.Canceled", err)
	}
	if called {
		t.Errorf("Update ran fn with a canceled context")
	}
	if _, err := s.Get(ctx, "c"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get: err = %v, want context.Canceled", err)
	}
	if _, err := s.Watch(ctx, "", 0); !errors.Is(err, context.Canceled) {
		t.Errorf("Watch: err = %v, want context.Canceled", err)
	}
	if _, err := s.Get(t.Context(), "c"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Put with canceled context wrote: err = %v", err)
	}
}

func testClose(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPut(t, s, "x", "1")
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wantClosed(t, ch)
	calls := map[string]func() error{
		"Get":    func() error { _, err := s.Get(ctx, "x"); return err },
		"List":   func() error { _, err := s.List(ctx, ""); return err },
		"Put":    func() error { _, err := s.Put(ctx, "x", nil); return err },
		"Delete": func() error { _, err := s.Delete(ctx, "x"); return err },
		"CAS":    func() error { _, err := s.CompareAndSwap(ctx, "x", 0, nil); return err },
		"Update": func() error {
			_, err := s.Update(ctx, func(store.Tx) error { return nil })
			return err
		},
		"View":     func() error { return s.View(ctx, func(store.ReadTx) error { return nil }) },
		"Watch":    func() error { _, err := s.Watch(ctx, "", 0); return err },
		"Revision": func() error { _, err := s.Revision(ctx); return err },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, store.ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
}

func mustPut(t *testing.T, s store.Store, key, value string) int64 {
	t.Helper()
	rev, err := s.Put(t.Context(), key, []byte(value))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	return rev
}

func wantKV(t *testing.T, s store.Store, key, value string, rev int64) store.KV {
	t.Helper()
	kv, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	if kv.Key != key || string(kv.Value) != value || kv.Revision != rev {
		t.Fatalf("Get(%q) = {%q %q %d}, want {%q %q %d}", key, kv.Key, kv.Value, kv.Revision, key, value, rev)
	}
	return kv
}

func wantRevision(t *testing.T, s store.Store, want int64) {
	t.Helper()
	got, err := s.Revision(t.Context())
	if err != nil || got != want {
		t.Fatalf("Revision = %d, %v; want %d", got, err, want)
	}
}

func keys(kvs []store.KV) []string {
	var ks []string
	for _, kv := range kvs {
		ks = append(ks, kv.Key)
	}
	return ks
}
