package storetest

import (
	"errors"
	"testing"

	"github.com/fargo-run/fargo/internal/store"
)

// RunDurable checks that data and the revision survive Close and reopen.
// openAt must open (creating if needed) the store kept in dir; the suite
// closes what it opens, but openAt may also register Close with t.Cleanup.
func RunDurable(t *testing.T, openAt func(t *testing.T, dir string) store.Store) {
	t.Run("Reopen", func(t *testing.T) {
		ctx := t.Context()
		dir := t.TempDir()

		s := openAt(t, dir)
		revA := mustPut(t, s, "ecs/1/r/clusters/a", "a1")
		mustPut(t, s, "ecs/1/r/clusters/gone", "x")
		if _, err := s.Delete(ctx, "ecs/1/r/clusters/gone"); err != nil {
			t.Fatal(err)
		}
		revTx, err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Put("ecs/1/r/clusters/b", []byte("b1")); err != nil {
				return err
			}
			return tx.Put("ecs/1/r/services/b/web", []byte("web"))
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Update(ctx, func(tx store.Tx) error { // failed: must not persist
			if err := tx.Put("ecs/1/r/clusters/c", []byte("c")); err != nil {
				return err
			}
			return errAbort
		}); !errors.Is(err, errAbort) {
			t.Fatalf("failing Update: %v", err)
		}
		rev, err := s.Revision(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		s = openAt(t, dir)
		defer s.Close()
		wantRevision(t, s, rev)
		wantKV(t, s, "ecs/1/r/clusters/a", "a1", revA)
		wantKV(t, s, "ecs/1/r/clusters/b", "b1", revTx)
		wantKV(t, s, "ecs/1/r/services/b/web", "web", revTx)
		kvs, err := s.List(ctx, "ecs/1/r/clusters/")
		if err != nil {
			t.Fatal(err)
		}
		if got := keys(kvs); len(got) != 2 {
			t.Fatalf("List after reopen = %q, want a and b", got)
		}

		// Watching from the current revision works after a restart; older
		// revisions are either replayed correctly or reported compacted.
		ch, err := s.Watch(ctx, "ecs/", rev)
		if err != nil {
			t.Fatalf("Watch from current revision after reopen: %v", err)
		}
		if old, err := s.Watch(ctx, "ecs/1/r/services/", revTx-1); err == nil {
			wantEvent(t, old, store.EventPut, "ecs/1/r/services/b/web", "web", revTx)
		} else if !errors.Is(err, store.ErrCompacted) {
			t.Fatalf("Watch from before reopen: err = %v, want replay or ErrCompacted", err)
		}

		// Revisions keep increasing across restarts.
		next := mustPut(t, s, "ecs/1/r/clusters/a", "a2")
		if next != rev+1 {
			t.Fatalf("Put after reopen = revision %d, want %d", next, rev+1)
		}
		wantEvent(t, ch, store.EventPut, "ecs/1/r/clusters/a", "a2", next)
	})
}
