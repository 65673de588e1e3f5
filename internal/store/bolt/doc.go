// Package bolt is the embedded, single-host implementation of store.Store on
// top of bbolt (go.etcd.io/bbolt): one file, one writer process, every
// acknowledged write fsync'd.
//
// # On-disk schema
//
//	<data dir>/fargo.db (any path given to Open)
//	|
//	+-- bucket "meta"
//	|     "revision" -> uint64 big-endian   store revision: bumped once per
//	|                                        write transaction that changed a key
//	|     "schema"   -> uint64 big-endian   layout version (1); Open refuses
//	|                                        newer files, migrations run in order
//	|
//	+-- bucket "kv"   (bbolt keeps keys sorted: List is a cursor seek + scan)
//	      key   -> +----------------------+------------------------+
//	               | mod revision (8 B BE)| value (opaque bytes)   |
//	               +----------------------+------------------------+
//
// A deleted key is removed from "kv"; there is no MVCC history on disk. Past
// revisions exist only in the in-memory watch history (see Watch replay
// below), which is why a store reopened after a restart can replay nothing
// older than its current revision.
//
// # Key layout
//
// Keys are '/'-separated paths. fargo's domain packages lay them out as
//
//	<service>/<account>/<region>/<kind>/<name>[/<sub>...]
//
//	ecs/123456789012/us-east-1/clusters/default
//	ecs/123456789012/us-east-1/services/default/web
//	ecs/123456789012/us-east-1/tasks/default/0f6c2a...
//	ecr/123456789012/us-east-1/repositories/app
//
// so that one List or Watch prefix selects a natural unit: a service, an
// account, an account in a region, or every resource of a kind. A prefix
// that selects a directory ends with '/' ("ecs/123456789012/us-east-1/"):
// prefixes match bytes, not path segments, so "ecs/1" would also match
// account 1234... Names are the AWS names, which never contain '/' where a
// segment is expected; a kind whose names may (log groups) puts the name
// last.
//
// # Writes and batching
//
// Put, Delete, CompareAndSwap and Update go through a group commit (batch.go),
// so concurrent writers share one bbolt transaction and one fsync. Each
// caller's function is still its own logical transaction with its own
// revision:
//
//	caller A ─┐                      ┌─ A: rev 41 (reads see A's writes)
//	caller B ─┼─> one bbolt tx ──────┼─ B: fn error -> nothing written, rev unchanged
//	caller C ─┘   one fsync          └─ C: rev 42
//
// A writer that finds no commit under way commits at once (bbolt's DB.Batch
// would make it wait 10ms, or whatever MaxBatchDelay is, for company);
// writers arriving while a batch is being fsync'd queue up and share the
// next one (at most 1,000 to a batch).
//
// The caller's function runs against an in-memory overlay (reads see its own
// writes); only when it returns nil are its writes applied to bbolt. So a
// caller's error never rolls back the shared bbolt transaction, and the other
// callers in the batch are unaffected. Functions are run again when a batch
// is rolled back (a panic or a storage error in one of them), which is why
// store.Update's fn must be free of side effects outside its Tx.
//
// A write that changes nothing (an Update that writes nothing, the Delete of
// an absent key) does not advance the revision and returns the current one.
//
// # Watch
//
// After a bbolt transaction is durable, its per-caller events are handed to a
// sequencer that publishes them strictly in revision order (bbolt runs the
// commit hooks of consecutive transactions concurrently) into an in-memory
// history of at most Options.WatchHistory events and
// Options.WatchHistoryBytes bytes of keys and values (the newest revision is
// kept whatever its size). A write returns only after its
// events are published, so a Watch started after Put returned rev N never
// sees N again, and a Watch from N sees everything after it.
//
// Every watcher reads the shared history with its own cursor from its own
// goroutine; writers never wait for watchers. Slow consumers: a watcher
// whose cursor falls out of the history (it is further behind than the
// history holds) has its channel closed, and a warning is logged. That is exactly
// the point at which Watch from its last revision would return
// store.ErrCompacted, so the consumer's recovery is the usual one: Watch
// again from the last revision it saw, and on ErrCompacted take Revision,
// List, and Watch from that revision.
package bolt
