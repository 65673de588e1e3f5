package bolt

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bberrors "go.etcd.io/bbolt/errors"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
)

// Defaults for Options.
const (
	DefaultWatchHistory = 10000
	// DefaultWatchHistoryBytes bounds the history's keys and values: at
	// most this much memory holds past revisions, however large the
	// values written (a task definition is at most 64 KiB, but 10,000 of
	// them would pin 640 MiB).
	DefaultWatchHistoryBytes = 64 << 20
	DefaultTimeout           = time.Second
)

// schemaVersion is the on-disk layout this code reads and writes. Bump it
// with an ordered migration in migrate.
const schemaVersion = 1

var (
	bucketKV   = []byte("kv")
	bucketMeta = []byte("meta")
	keyRev     = []byte("revision")
	keySchema  = []byte("schema")
)

// ErrLocked is returned by Open when another process (usually a second fargo
// on the same data directory) holds the database file. It is an
// errdefs.ErrUnavailable.
var ErrLocked = errdefs.New(errdefs.ErrUnavailable, "bolt: database file is locked by another process")

// Options configure Open. The zero value is usable.
type Options struct {
	// Logger receives warnings (slow watchers closed). Nil discards.
	Logger *slog.Logger
	// WatchHistory is how many events are kept in memory for Watch replay
	// and for slow watchers to catch up; 0 means DefaultWatchHistory.
	WatchHistory int
	// WatchHistoryBytes bounds the bytes of keys and values the history
	// keeps (the newest revision is kept whatever its size); 0 means
	// DefaultWatchHistoryBytes.
	WatchHistoryBytes int64
	// Timeout bounds the wait for the file lock; 0 means DefaultTimeout.
	// It is short so that a second process on the same file fails fast.
	Timeout time.Duration
	// ObserveWrite receives how long each Update took, commit and fsync
	// included (for metrics); nil: none.
	ObserveWrite func(time.Duration)
}

// Store is a store.Store backed by one bbolt file.
type Store struct {
	db    *bbolt.DB
	batch *batcher
	log   *slog.Logger
	path  string
	hub   *hub

	observeWrite func(time.Duration)

	// mu guards closed; every call holds it shared for its duration, so
	// Close (exclusive) waits for calls in flight and no call starts after.
	mu     sync.RWMutex
	closed bool
}

var _ store.Store = (*Store)(nil)

// Open opens or creates the database file at path (its directory must
// exist). It fails with ErrLocked after opts.Timeout if another process has
// the file open.
func Open(path string, opts Options) (*Store, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.WatchHistory <= 0 {
		opts.WatchHistory = DefaultWatchHistory
	}
	if opts.WatchHistoryBytes <= 0 {
		opts.WatchHistoryBytes = DefaultWatchHistoryBytes
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: opts.Timeout})
	if errors.Is(err, bberrors.ErrTimeout) {
		return nil, fmt.Errorf("bolt: open %s: gave up after %s waiting for the file lock (is another fargo using this data directory?): %w", path, opts.Timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	var rev int64
	err = db.Update(func(tx *bbolt.Tx) error {
		if err := migrate(tx); err != nil {
			return err
		}
		rev, err = readRev(tx)
		return err
	})
	if err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", path, err)
	}
	log := opts.Logger.With("store", path)
	return &Store{db: db, batch: &batcher{db: db}, log: log, path: path, hub: newHub(log, opts.WatchHistory, opts.WatchHistoryBytes, rev), observeWrite: opts.ObserveWrite}, nil
}

// migrate creates the buckets of a new file and brings an older layout up
// to schemaVersion, one step at a time.
func migrate(tx *bbolt.Tx) error {
	meta, err := tx.CreateBucketIfNotExists(bucketMeta)
	if err != nil {
		return err
	}
	if _, err := tx.CreateBucketIfNotExists(bucketKV); err != nil {
		return err
	}
	var have uint64
	if v := meta.Get(keySchema); v != nil {
		if len(v) != 8 {
			return fmt.Errorf("corrupt schema version (%d bytes)", len(v))
		}
		have = binary.BigEndian.Uint64(v)
	}
	if have > schemaVersion {
		return fmt.Errorf("schema version %d is newer than this fargo understands (%d)", have, schemaVersion)
	}
	// Ordered migrations go here: for have < schemaVersion { switch have {...}; have++ }.
	// Version 0 (a new file) needs nothing but the buckets above.
	return meta.Put(keySchema, binary.BigEndian.AppendUint64(nil, schemaVersion))
}

func readRev(tx *bbolt.Tx) (int64, error) {
	v := tx.Bucket(bucketMeta).Get(keyRev)
	if v == nil {
		return 0, nil
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("bolt: corrupt store revision (%d bytes)", len(v))
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}

func writeRev(tx *bbolt.Tx, rev int64) error {
	return tx.Bucket(bucketMeta).Put(keyRev, binary.BigEndian.AppendUint64(nil, uint64(rev)))
}

// enter admits one call: the store must be open and ctx live. The caller
// must call the returned release.
func (s *Store) enter(ctx context.Context) (release func(), err error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, store.ErrClosed
	}
	return s.mu.RUnlock, nil
}

// Get returns the key or store.ErrNotFound.
func (s *Store) Get(ctx context.Context, key string) (store.KV, error) {
	var kv store.KV
	err := s.View(ctx, func(tx store.ReadTx) error {
		var err error
		kv, err = tx.Get(key)
		return err
	})
	return kv, err
}

// List returns the keys with the prefix, in key order.
func (s *Store) List(ctx context.Context, prefix string) ([]store.KV, error) {
	var kvs []store.KV
	err := s.View(ctx, func(tx store.ReadTx) error {
		var err error
		kvs, err = tx.List(prefix)
		return err
	})
	return kvs, err
}

// Put writes key and returns the new revision.
func (s *Store) Put(ctx context.Context, key string, value []byte) (int64, error) {
	return s.Update(ctx, func(tx store.Tx) error { return tx.Put(key, value) })
}

// Delete removes key. Deleting an absent key writes nothing and returns the
// current revision.
func (s *Store) Delete(ctx context.Context, key string) (int64, error) {
	return s.Update(ctx, func(tx store.Tx) error { return tx.Delete(key) })
}

// CompareAndSwap writes value only if key's mod revision is rev (0: the key
// must not exist), else it returns store.ErrRevisionMismatch.
func (s *Store) CompareAndSwap(ctx context.Context, key string, rev int64, value []byte) (int64, error) {
	return s.Update(ctx, func(tx store.Tx) error {
		var have int64
		switch kv, err := tx.Get(key); {
		case err == nil:
			have = kv.Revision
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if have != rev {
			return fmt.Errorf("compare-and-swap %q: want revision %d, have %d: %w", key, rev, have, store.ErrRevisionMismatch)
		}
		return tx.Put(key, value)
	})
}

// Update runs fn as one logical transaction inside a shared, batched bbolt
// transaction (see the package doc) and returns the revision of its commit,
// or the current revision if fn changed nothing. It returns after the
// commit is fsync'd and its events are published to watchers. fn must not
// call the Store (it runs inside bbolt's single writer).
func (s *Store) Update(ctx context.Context, fn func(tx store.Tx) error) (int64, error) {
	release, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	if s.observeWrite != nil {
		defer func(start time.Time) { s.observeWrite(time.Since(start)) }(time.Now())
	}

	// Set by the last run of the batched function: bbolt may run it more
	// than once, and only the run that committed counts.
	var (
		rev   int64
		fnErr error
	)
	err = s.batch.do(func(btx *bbolt.Tx) error {
		rev, fnErr = 0, nil
		cur, err := readRev(btx)
		if err != nil {
			return err
		}
		t := &tx{kv: btx.Bucket(bucketKV), rev: cur + 1, writes: map[string]write{}}
		err = fn(t)
		t.done = true
		if err != nil {
			// The caller's error: nothing reached bbolt, so the shared
			// transaction goes on for the other callers in the batch.
			fnErr, rev = err, cur
			return nil
		}
		events, err := t.apply()
		if err != nil {
			return err // storage error: bbolt rolls back and retries the others
		}
		if len(events) == 0 {
			rev = cur
			return nil
		}
		if err := writeRev(btx, cur+1); err != nil {
			return err
		}
		rev = cur + 1
		// Runs after this bbolt transaction is durable, never if it rolls back.
		btx.OnCommit(func() { s.hub.publish(cur+1, events) })
		return nil
	})
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return 0, store.ErrClosed
	}
	if err != nil {
		return 0, fmt.Errorf("bolt: update: %w", err)
	}
	if fnErr != nil {
		return 0, fnErr
	}
	s.hub.waitPublished(rev)
	return rev, nil
}

// Size is the size of the database file in bytes.
func (s *Store) Size() (int64, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// View runs fn in a consistent read-only snapshot.
func (s *Store) View(ctx context.Context, fn func(tx store.ReadTx) error) error {
	release, err := s.enter(ctx)
	if err != nil {
		return err
	}
	defer release()
	err = s.db.View(func(btx *bbolt.Tx) error {
		t := &tx{kv: btx.Bucket(bucketKV)}
		defer func() { t.done = true }()
		return fn(t)
	})
	if errors.Is(err, bberrors.ErrDatabaseNotOpen) {
		return store.ErrClosed
	}
	return err
}

// Revision returns the current store revision.
func (s *Store) Revision(ctx context.Context) (int64, error) {
	release, err := s.enter(ctx)
	if err != nil {
		return 0, err
	}
	defer release()
	var rev int64
	err = s.db.View(func(btx *bbolt.Tx) error {
		rev, err = readRev(btx)
		return err
	})
	return rev, err
}

// Watch streams the events on keys with prefix after revision fromRev (0:
// from now), in revision order, until ctx ends, the store closes, or the
// receiver falls more than Options.WatchHistory events behind (see the
// package doc). It returns store.ErrCompacted if events after fromRev are
// no longer retained; after Open nothing before the revision at Open is.
func (s *Store) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	release, err := s.enter(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	if fromRev < 0 {
		return nil, errdefs.Invalidf("bolt: watch from negative revision %d", fromRev)
	}
	return s.hub.watch(ctx, prefix, fromRev)
}

// Close waits for calls in flight, closes every watch channel and the
// file. Later calls return store.ErrClosed; closing again is a no-op.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.hub.close()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("bolt: close %s: %w", s.path, err)
	}
	return nil
}
