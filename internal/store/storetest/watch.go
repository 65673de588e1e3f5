package storetest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store"
)

func testWatchFromNow(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPut(t, s, "w/before", "x")
	ch, err := s.Watch(ctx, "w/", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev := mustPut(t, s, "w/a", "1")
	wantEvent(t, ch, store.EventPut, "w/a", "1", rev)
	rev = mustPut(t, s, "w/a", "2")
	wantEvent(t, ch, store.EventPut, "w/a", "2", rev)
	wantNoEvent(t, ch)
}

func testWatchReplay(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev1 := mustPut(t, s, "r/a", "1")
	rev2 := mustPut(t, s, "r/b", "2")
	rev3 := mustPut(t, s, "r/a", "3")
	ch, err := s.Watch(ctx, "r/", rev1)
	if err != nil {
		t.Fatalf("Watch from %d: %v", rev1, err)
	}
	wantEvent(t, ch, store.EventPut, "r/b", "2", rev2)
	wantEvent(t, ch, store.EventPut, "r/a", "3", rev3)
	rev4 := mustPut(t, s, "r/c", "4") // replay flows into live events
	wantEvent(t, ch, store.EventPut, "r/c", "4", rev4)
	wantNoEvent(t, ch)

	// From the current revision: nothing to replay, live events only.
	ch2, err := s.Watch(ctx, "r/", rev4)
	if err != nil {
		t.Fatalf("Watch from current %d: %v", rev4, err)
	}
	rev5 := mustPut(t, s, "r/d", "5")
	wantEvent(t, ch2, store.EventPut, "r/d", "5", rev5)
}

func testWatchFutureRevision(t *testing.T, s store.Store) {
	ctx := t.Context()
	rev := mustPut(t, s, "f/a", "1")
	ch, err := s.Watch(ctx, "f/", rev+1)
	if err != nil {
		t.Fatalf("Watch from future revision: %v", err)
	}
	mustPut(t, s, "f/a", "2") // rev+1: not after fromRev
	rev3 := mustPut(t, s, "f/a", "3")
	wantEvent(t, ch, store.EventPut, "f/a", "3", rev3)
}

func testWatchPrefix(t *testing.T, s store.Store) {
	ctx := t.Context()
	ch, err := s.Watch(ctx, "p/", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "pq/x", "no")
	mustPut(t, s, "p", "no")
	mustPut(t, s, "q/p/x", "no")
	rev := mustPut(t, s, "p/x", "yes")
	wantEvent(t, ch, store.EventPut, "p/x", "yes", rev)
	wantNoEvent(t, ch)
}

func testWatchDelete(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPut(t, s, "d/a", "1")
	ch, err := s.Watch(ctx, "d/", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Delete(ctx, "d/a")
	if err != nil {
		t.Fatal(err)
	}
	ev := wantEvent(t, ch, store.EventDelete, "d/a", "", rev)
	if ev.KV.Value != nil {
		t.Errorf("delete event Value = %q, want nil", ev.KV.Value)
	}
	if _, err := s.Delete(ctx, "d/a"); err != nil { // absent: no event
		t.Fatal(err)
	}
	wantNoEvent(t, ch)
}

func testWatchMultiKeyTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustPut(t, s, "m/old", "x")
	ch, err := s.Watch(ctx, "m/", 0)
	if err != nil {
		t.Fatal(err)
	}
	rev, err := s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Put("m/b", []byte("b")); err != nil {
			return err
		}
		if err := tx.Put("m/a", []byte("a")); err != nil {
			return err
		}
		return tx.Delete("m/old")
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]store.Event{}
	for range 3 {
		ev := recv(t, ch)
		if ev.KV.Revision != rev {
			t.Fatalf("event %+v: revision %d, want %d", ev, ev.KV.Revision, rev)
		}
		got[ev.KV.Key] = ev
	}
	if got["m/a"].Type != store.EventPut || string(got["m/a"].KV.Value) != "a" ||
		got["m/b"].Type != store.EventPut || string(got["m/b"].KV.Value) != "b" ||
		got["m/old"].Type != store.EventDelete {
		t.Fatalf("events = %+v", got)
	}
	wantNoEvent(t, ch)
}

func testWatchCancel(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	ch, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, s, "c/a", "1") // an event may be in flight when ctx ends
	cancel()
	wantClosed(t, ch)
	mustPut(t, s, "c/b", "2") // writers are not stuck on the dead watcher
}

// testWatchConcurrentOrder checks that concurrent writers' events reach a
// watcher exactly once each, in revision order.
func testWatchConcurrentOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	const workers, each = 16, 20
	ch, err := s.Watch(ctx, "o/", 0)
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu   sync.Mutex
		revs []int64
		wg   sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				rev, err := s.Put(ctx, fmt.Sprintf("o/%d/%d", w, i), []byte("x"))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				revs = append(revs, rev)
				mu.Unlock()
			}
		})
	}
	var got []int64
	for range workers * each {
		ev := recv(t, ch)
		if n := len(got); n > 0 && ev.KV.Revision <= got[n-1] {
			t.Fatalf("event at revision %d after %d", ev.KV.Revision, got[n-1])
		}
		got = append(got, ev.KV.Revision)
	}
	wg.Wait()
	slices.Sort(revs)
	if !slices.Equal(got, revs) {
		t.Fatalf("watched revisions %v\nwant committed revisions %v", got, revs)
	}
	wantNoEvent(t, ch)
}

func recv(t *testing.T, ch <-chan store.Event) store.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("watch channel closed, want an event")
		}
		return ev
	case <-time.After(timeout):
		t.Fatal("timed out waiting for a watch event")
	}
	panic("unreachable")
}

func wantEvent(t *testing.T, ch <-chan store.Event, typ store.EventType, key, value string, rev int64) store.Event {
	t.Helper()
	ev := recv(t, ch)
	if ev.Type != typ || ev.KV.Key != key || string(ev.KV.Value) != value || ev.KV.Revision != rev {
		t.Fatalf("event = {%d %q %q %d}, want {%d %q %q %d}",
			ev.Type, ev.KV.Key, ev.KV.Value, ev.KV.Revision, typ, key, value, rev)
	}
	return ev
}

// wantNoEvent checks that nothing more arrives soon.
func wantNoEvent(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if ok {
			t.Fatalf("unexpected event %+v", ev)
		}
		t.Fatal("watch channel closed unexpectedly")
	case <-time.After(50 * time.Millisecond):
	}
}

// wantClosed drains ch until it closes.
func wantClosed(t *testing.T, ch <-chan store.Event) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-ch:
			if !ok {
				return
			}
		case <-deadline:
			t.Fatal("watch channel not closed")
		}
	}
}
