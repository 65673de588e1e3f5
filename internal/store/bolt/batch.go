package bolt

import (
	"errors"
	"fmt"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// maxBatch is the most writers one bbolt transaction takes (bbolt's
// DB.Batch default).
const maxBatch = 1000

// errSolo tells a writer to run its function in a transaction of its own:
// it failed (a panic, a storage error) in a shared one.
var errSolo = errors.New("bolt: batch function failed, run it alone")

// batcher is a group commit: a writer that finds no commit under way
// commits at once, alone; writers that arrive while one is being fsync'd
// queue up and share the next transaction. A lone writer so pays one
// commit and no delay, where bbolt's DB.Batch makes every batch wait out
// MaxBatchDelay first; busy writers still share fsyncs.
type batcher struct {
	db *bbolt.DB

	mu      sync.Mutex
	queue   []*batchCall
	running bool // a goroutine is committing batches
}

type batchCall struct {
	fn   func(*bbolt.Tx) error
	done chan error
}

// do runs fn in a shared bbolt write transaction and returns once it is
// committed (or failed). Like DB.Batch, fn may run more than once: when
// another function of its batch fails, the batch is rolled back and run
// again without it; a function that fails (or panics) in a batch is run
// again alone, in the caller's goroutine.
func (b *batcher) do(fn func(*bbolt.Tx) error) error {
	c := &batchCall{fn: fn, done: make(chan error, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, c)
	if !b.running {
		b.running = true
		go b.loop()
	}
	b.mu.Unlock()
	if err := <-c.done; !errors.Is(err, errSolo) {
		return err
	}
	return b.db.Update(fn)
}

// loop commits what is queued, batch after batch, until nothing is.
func (b *batcher) loop() {
	b.mu.Lock()
	for len(b.queue) > 0 {
		n := min(len(b.queue), maxBatch)
		calls := b.queue[:n:n]
		b.queue = b.queue[n:]
		if len(b.queue) == 0 {
			b.queue = nil
		}
		b.mu.Unlock()
		b.run(calls)
		b.mu.Lock()
	}
	b.running = false
	b.mu.Unlock()
}

// run commits calls in one transaction; a call that fails is taken out
// (and told to run alone) and the others are run again.
func (b *batcher) run(calls []*batchCall) {
	for len(calls) > 0 {
		failed := -1
		err := b.db.Update(func(tx *bbolt.Tx) error {
			for i, c := range calls {
				if err := safeCall(c.fn, tx); err != nil {
					failed = i
					return err
				}
			}
			return nil
		})
		if failed >= 0 {
			calls[failed].done <- errSolo
			calls = append(calls[:failed:failed], calls[failed+1:]...)
			continue
		}
		for _, c := range calls {
			c.done <- err
		}
		return
	}
}

// safeCall runs fn, turning a panic into an error (the caller then runs
// fn alone, where the panic is its own).
func safeCall(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
