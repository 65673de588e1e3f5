package bolt

import (
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/fargo-run/fargo/internal/store"
)

// TestGroupCommit: a lone writer commits at once (no batch delay), and the
// writers that arrive while a commit is under way share the next one.
func TestGroupCommit(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{})

	// Alone: one commit per write, and no 2 ms (or 10 ms) wait for company
	// (the bound is loose: an fsync on a busy disk takes a while).
	before := commits(t, s)
	start := time.Now()
	for i := range 5 {
		if _, err := s.Put(ctx, "lone/"+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if c := commits(t, s) - before; c != 5 {
		t.Errorf("5 serial Puts took %d commits, want 5", c)
	}
	t.Logf("5 serial Puts: %s", time.Since(start))

	// A write held inside its transaction; meanwhile 20 others queue.
	before = commits(t, s)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	wg.Go(func() {
		_, err := s.Update(ctx, func(tx store.Tx) error {
			once.Do(func() { close(entered); <-release })
			return tx.Put("held", nil)
		})
		if err != nil {
			t.Error(err)
		}
	})
	<-entered
	const n = 20
	for i := range n {
		wg.Go(func() {
			if _, err := s.Put(ctx, "queued/"+strconv.Itoa(i), nil); err != nil {
				t.Error(err)
			}
		})
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		s.batch.mu.Lock()
		queued := len(s.batch.queue)
		s.batch.mu.Unlock()
		if queued == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d writers queued, want %d", queued, n)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if c := commits(t, s) - before; c != 2 {
		t.Errorf("the held write and %d queued ones took %d commits, want 2", n, c)
	}
	kvs, err := s.List(ctx, "queued/")
	if err != nil || len(kvs) != n {
		t.Fatalf("List = %d keys, %v; want %d", len(kvs), err, n)
	}
}
