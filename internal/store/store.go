// Package store is fargo's one small transactional key-value interface, and
// its embedded bbolt implementation. Everything the control plane must
// remember lives here, written in one transaction per state change.
//
// Keys are '/'-separated strings; values are opaque bytes (the domain
// packages store JSON of their own domain types, never wire types). Every
// successful write transaction advances a store-wide revision, and every
// key remembers the revision that last modified it, as in etcd, so that an
// etcd implementation can stand behind the same interface.
package store

import (
	"context"
	"errors"
)

// Errors returned by stores.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("store: key not found")
	// ErrRevisionMismatch: a compare-and-swap found another revision.
	ErrRevisionMismatch = errors.New("store: revision mismatch")
	// ErrCompacted: a watch asked for revisions no longer retained.
	ErrCompacted = errors.New("store: revision compacted")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store: closed")
)

// KV is one key, its value and the revision that last modified it.
type KV struct {
	Key      string
	Value    []byte
	Revision int64
}

// EventType says what happened to a key.
type EventType int

// Event types.
const (
	EventPut EventType = iota + 1
	EventDelete
)

// Event is one change seen by a watcher. For EventDelete, Value is nil and
// Revision is the revision of the deleting transaction.
type Event struct {
	Type EventType
	KV   KV
}

// Store is the interface every implementation (bbolt, etcd) provides and the
// conformance suite in storetest checks.
type Store interface {
	// Get returns the key or ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns the keys with the prefix, in key order.
	List(ctx context.Context, prefix string) ([]KV, error)
	// Put writes a key in its own transaction and returns the new revision.
	Put(ctx context.Context, key string, value []byte) (int64, error)
	// Delete removes a key (no error if absent) and returns the new revision.
	// Deleting an absent key changes nothing and returns the current revision.
	Delete(ctx context.Context, key string) (int64, error)
	// CompareAndSwap writes value only if key's revision is rev (0 means the
	// key must not exist); otherwise it returns ErrRevisionMismatch.
	CompareAndSwap(ctx context.Context, key string, rev int64, value []byte) (int64, error)
	// Update runs fn in one serializable read-write transaction that is
	// durable (fsync'd) when Update returns nil. fn may be called more than
	// once (implementations batch or retry), so it must not have side effects
	// outside tx. An error from fn aborts the transaction and is returned
	// as is. Update returns the revision of the commit (the current one when
	// fn wrote nothing).
	Update(ctx context.Context, fn func(tx Tx) error) (int64, error)
	// View runs fn in a consistent read-only snapshot.
	View(ctx context.Context, fn func(tx ReadTx) error) error
	// Watch streams the events on keys with the prefix that happen after
	// revision fromRev (0: from now). The channel closes when ctx ends or the
	// store closes. ErrCompacted if fromRev is older than what is retained.
	// Events arrive in revision order; the events of one transaction share
	// its revision. The channel may also close early when the receiver falls
	// too far behind (the bbolt store drops such a watcher rather than slow
	// writers): a receiver whose ctx is still live should Watch again from
	// the last revision it saw; on ErrCompacted it resyncs: rev := Revision,
	// List, Watch from rev (events may repeat what List returned; compare
	// the KV revisions).
	// Receivers own the events they get and may modify them.
	Watch(ctx context.Context, prefix string, fromRev int64) (<-chan Event, error)
	// Revision returns the current store revision.
	Revision(ctx context.Context) (int64, error)
	// Close releases the store and closes every watch channel. Later calls
	// return ErrClosed; closing again is a no-op returning nil.
	Close() error
}

// ReadTx reads inside a transaction.
type ReadTx interface {
	// Get returns the key or ErrNotFound.
	Get(key string) (KV, error)
	// List returns the keys with the prefix, in key order.
	List(prefix string) ([]KV, error)
}

// Tx reads and writes inside a transaction; its reads see its own writes.
type Tx interface {
	ReadTx
	Put(key string, value []byte) error
	Delete(key string) error
}
