package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/store/storetest"
)

func openTest(t testing.TB, path string, opts Options) *Store {
	t.Helper()
	s, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{})
	})
}

func TestDurable(t *testing.T) {
	storetest.RunDurable(t, func(t *testing.T, dir string) store.Store {
		return openTest(t, filepath.Join(dir, "fargo.db"), Options{})
	})
}

func TestSecondOpenFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fargo.db")
	openTest(t, path, Options{})
	start := time.Now()
	_, err := Open(path, Options{Timeout: 100 * time.Millisecond})
	if !errors.Is(err, ErrLocked) || !errors.Is(err, errdefs.ErrUnavailable) {
		t.Fatalf("second Open: err = %v, want ErrLocked", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("second Open took %s", d)
	}
	t.Log(err)
}

func TestWatchAfterReopenIsCompacted(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "fargo.db")
	s := openTest(t, path, Options{})
	for i := range 3 {
		if _, err := s.Put(ctx, "k", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s = openTest(t, path, Options{})
	if _, err := s.Watch(ctx, "", 2); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch(2) after reopen at 3: err = %v, want ErrCompacted", err)
	}
	if _, err := s.Watch(ctx, "", 3); err != nil {
		t.Fatalf("Watch(3) after reopen at 3: %v", err)
	}
	if _, err := s.Watch(ctx, "", -1); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Watch(-1): err = %v, want invalid argument", err)
	}
}

func TestWatchHistoryLimit(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{WatchHistory: 4})
	for i := range 10 {
		if _, err := s.Put(ctx, "k/"+strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Watch(ctx, "", 5); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch(5) with revisions 7..10 retained: err = %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "", 6)
	if err != nil {
		t.Fatal(err)
	}
	for want := int64(7); want <= 10; want++ {
		if ev := <-ch; ev.KV.Revision != want {
			t.Fatalf("replayed revision %d, want %d", ev.KV.Revision, want)
		}
	}
}

// TestWatchHistoryBytes: the history is bounded in bytes as well as in
// events, so a few large values cannot pin their size times the event
// limit in memory; the newest revision is always kept, whatever its size.
func TestWatchHistoryBytes(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{WatchHistory: 1000, WatchHistoryBytes: 3 << 20})
	big := make([]byte, 1<<20)
	for i := range 10 {
		if _, err := s.Put(ctx, "k/"+strconv.Itoa(i), big); err != nil {
			t.Fatal(err)
		}
	}
	s.hub.mu.Lock()
	kept, bytes := len(s.hub.history)-s.hub.start, s.hub.bytes
	s.hub.mu.Unlock()
	if kept > 3 || bytes > 3<<20 {
		t.Fatalf("history keeps %d events, %d bytes; want at most 3 MiB", kept, bytes)
	}
	if _, err := s.Watch(ctx, "", 6); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("Watch(6) with only the last revisions retained: err = %v, want ErrCompacted", err)
	}
	ch, err := s.Watch(ctx, "", 9)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.KV.Revision != 10 || len(ev.KV.Value) != 1<<20 {
		t.Fatalf("replayed revision %d (%d bytes), want 10", ev.KV.Revision, len(ev.KV.Value))
	}
	// One value over the whole budget is still published and kept.
	huge := make([]byte, 4<<20)
	if _, err := s.Put(ctx, "k/huge", huge); err != nil {
		t.Fatal(err)
	}
	ch, err = s.Watch(ctx, "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if ev := <-ch; ev.KV.Key != "k/huge" {
		t.Fatalf("replayed %s, want k/huge", ev.KV.Key)
	}
}

// TestSlowWatcherClosed: a watcher that falls more than WatchHistory events
// behind is closed, writers never wait for it, and what it did receive is in
// order with no gaps.
func TestSlowWatcherClosed(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{WatchHistory: 8})
	slow, err := s.Watch(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 100
	for i := range n { // would deadlock here if writers waited for watchers
		if _, err := s.Put(ctx, "k/"+strconv.Itoa(i), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	var last int64
	got := 0
	timeout := time.After(10 * time.Second)
	for closed := false; !closed; {
		select {
		case ev, ok := <-slow:
			if !ok {
				closed = true
				break
			}
			if ev.KV.Revision != last+1 {
				t.Fatalf("revision %d after %d", ev.KV.Revision, last)
			}
			last, got = ev.KV.Revision, got+1
		case <-timeout:
			t.Fatal("slow watcher not closed")
		}
	}
	if got >= n {
		t.Fatalf("slow watcher got all %d events, want it closed early", got)
	}
	if _, err := s.Watch(ctx, "", last); !errors.Is(err, store.ErrCompacted) {
		t.Fatalf("re-Watch from %d: err = %v, want ErrCompacted", last, err)
	}
	t.Logf("slow watcher received %d of %d events before being closed", got, n)
}

func TestInvalidKeysAndStaleTx(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{})
	if _, err := s.Put(ctx, "", []byte("x")); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Put empty key: err = %v, want invalid argument", err)
	}
	if _, err := s.Put(ctx, strings.Repeat("k", bbolt.MaxKeySize+1), nil); !errors.Is(err, errdefs.ErrInvalidArgument) {
		t.Fatalf("Put huge key: err = %v, want invalid argument", err)
	}
	var kept store.Tx
	if _, err := s.Update(ctx, func(tx store.Tx) error { kept = tx; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := kept.Put("k", nil); !errors.Is(err, errTxDone) {
		t.Fatalf("Put on a finished tx: err = %v", err)
	}
	if _, err := kept.Get("k"); !errors.Is(err, errTxDone) {
		t.Fatalf("Get on a finished tx: err = %v", err)
	}
}

// TestPanicIsolated: a panicking fn panics in its own caller only; the
// other callers batched with it commit.
func TestPanicIsolated(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{})
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			defer func() {
				if r := recover(); (r != nil) != (i == 7) {
					t.Errorf("caller %d: recover() = %v", i, r)
				}
			}()
			s.Update(ctx, func(tx store.Tx) error {
				if i == 7 {
					panic("boom")
				}
				return tx.Put("p/"+strconv.Itoa(i), nil)
			})
		})
	}
	wg.Wait()
	kvs, err := s.List(ctx, "p/")
	if err != nil || len(kvs) != 15 {
		t.Fatalf("List = %d keys, %v; want 15", len(kvs), err)
	}
}

// TestBatching: concurrent writers share bbolt commits (and fsyncs).
func TestBatching(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "fargo.db"), Options{})
	const n = 64
	before := commits(t, s)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			if _, err := s.Put(ctx, "b/"+strconv.Itoa(i), nil); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	c := commits(t, s) - before
	t.Logf("%d concurrent Puts in %d bbolt commits", n, c)
	if c >= n {
		t.Fatalf("%d Puts took %d commits: no batching", n, c)
	}
}

// commits is bbolt's transaction id: it advances once per committed write.
func commits(t testing.TB, s *Store) int {
	var id int
	if err := s.db.View(func(tx *bbolt.Tx) error { id = tx.ID(); return nil }); err != nil {
		t.Fatal(err)
	}
	return id
}

const crashEnv = "FARGO_BOLT_CRASH_CHILD"

// TestCrashDurability re-executes the test binary as a child that commits
// Updates from several goroutines and prints each acknowledged one, kills it
// with SIGKILL mid-stream, and checks the reopened file: every acknowledged
// transaction is there whole, every transaction there is whole, and the
// revisions are dense (no revision lost or half-written).
func TestCrashDurability(t *testing.T) {
	if spec := os.Getenv(crashEnv); spec != "" {
		crashChild(spec) // never returns
	}
	if testing.Short() {
		t.Skip("spawns processes")
	}
	path := filepath.Join(t.TempDir(), "fargo.db")
	acked := map[string]int64{} // key -> acknowledged revision
	for round := range 3 {
		for k, v := range crashRound(t, path, round, 150+100*round) {
			acked[k] = v
		}
	}
	t.Logf("%d acknowledged transactions over 3 kills", len(acked))

	s := openTest(t, path, Options{})
	ctx := t.Context()
	for k, rev := range acked {
		for _, key := range []string{"crash/a/" + k, "crash/b/" + k} {
			kv, err := s.Get(ctx, key)
			if err != nil || kv.Revision != rev || string(kv.Value) != crashValue(k) {
				t.Fatalf("acknowledged %s at %d: got rev %d, %v", key, rev, kv.Revision, err)
			}
		}
	}
	// Every transaction on disk is whole, and each has its own revision.
	as, err := s.List(ctx, "crash/a/")
	if err != nil {
		t.Fatal(err)
	}
	bs, err := s.List(ctx, "crash/b/")
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != len(bs) {
		t.Fatalf("%d a-keys but %d b-keys: a transaction was half-written", len(as), len(bs))
	}
	seen := map[int64]bool{}
	for i, a := range as {
		k := strings.TrimPrefix(a.Key, "crash/a/")
		b := bs[i]
		if b.Key != "crash/b/"+k || b.Revision != a.Revision || string(a.Value) != crashValue(k) || string(b.Value) != crashValue(k) {
			t.Fatalf("torn transaction: %s@%d vs %s@%d", a.Key, a.Revision, b.Key, b.Revision)
		}
		if seen[a.Revision] {
			t.Fatalf("revision %d used twice", a.Revision)
		}
		seen[a.Revision] = true
	}
	rev, err := s.Revision(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if int(rev) != len(as) {
		t.Fatalf("store revision %d, but %d transactions on disk", rev, len(as))
	}
	for r := int64(1); r <= rev; r++ {
		if !seen[r] {
			t.Fatalf("revision %d missing", r)
		}
	}
	if err := s.db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			return err
		}
		return nil
	}); err != nil {
		t.Fatalf("bbolt consistency check: %v", err)
	}
}

// crashRound runs one child until it has acknowledged at least n
// transactions, kills it, and returns what it acknowledged.
func crashRound(t *testing.T, path string, round, n int) map[string]int64 {
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDurability$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%d", crashEnv, path, round))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killer := time.AfterFunc(2*time.Minute, func() { cmd.Process.Kill() })
	defer killer.Stop()

	acked := map[string]int64{}
	sc := bufio.NewScanner(out)
	killed := false
	for sc.Scan() { // lines printed before the kill are acknowledged commits
		f := strings.Fields(sc.Text())
		if len(f) != 3 || f[0] != "commit" {
			continue
		}
		rev, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", sc.Text())
		}
		acked[f[1]] = rev
		if len(acked) >= n && !killed {
			if err := cmd.Process.Kill(); err != nil { // SIGKILL: no cleanup, no Close
				t.Fatal(err)
			}
			killed = true
		}
	}
	err = cmd.Wait()
	if !killed {
		t.Fatalf("child exited before being killed (%d commits): %v", len(acked), err)
	}
	return acked
}

// crashChild commits two-key transactions from 8 goroutines forever,
// printing "commit <id> <revision>" after each Update returns.
func crashChild(spec string) {
	path, round, _ := strings.Cut(spec, "|")
	s, err := Open(path, Options{Timeout: 10 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "crash child:", err)
		os.Exit(2)
	}
	var mu sync.Mutex
	for w := range 8 {
		go func() {
			for i := 0; ; i++ {
				id := fmt.Sprintf("%s-%d-%06d", round, w, i)
				rev, err := s.Update(context.Background(), func(tx store.Tx) error {
					if err := tx.Put("crash/a/"+id, []byte(crashValue(id))); err != nil {
						return err
					}
					return tx.Put("crash/b/"+id, []byte(crashValue(id)))
				})
				if err != nil {
					fmt.Fprintln(os.Stderr, "crash child:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Fprintf(os.Stdout, "commit %s %d\n", id, rev)
				mu.Unlock()
			}
		}()
	}
	select {}
}

// crashValue is a deterministic value of varying size, so that pages split.
func crashValue(id string) string {
	n, _ := strconv.Atoi(id[strings.LastIndexByte(id, '-')+1:])
	return id + ":" + strings.Repeat("v", (n*131)%3000)
}

func BenchmarkUpdateParallel(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "fargo.db"), Options{})
	ctx := b.Context()
	value := make([]byte, 256)
	var (
		mu sync.Mutex
		id int
	)
	before := commits(b, s)
	b.SetParallelism(16) // fsync-bound, not CPU-bound: many writers per CPU
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		mu.Lock()
		id++
		me := strconv.Itoa(id)
		mu.Unlock()
		i := 0
		for pb.Next() {
			if _, err := s.Put(ctx, "bench/"+me+"/"+strconv.Itoa(i%100), value); err != nil {
				b.Error(err)
				return
			}
			i++
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/float64(commits(b, s)-before), "updates/commit")
}

func BenchmarkUpdateSerial(b *testing.B) {
	s := openTest(b, filepath.Join(b.TempDir(), "fargo.db"), Options{})
	ctx := b.Context()
	value := make([]byte, 256)
	for i := 0; b.Loop(); i++ {
		if _, err := s.Put(ctx, "bench/"+strconv.Itoa(i%100), value); err != nil {
			b.Fatal(err)
		}
	}
}
