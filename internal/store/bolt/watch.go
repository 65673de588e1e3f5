package bolt

import (
	"bytes"
	"context"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/fargo-run/fargo/internal/store"
)

// hub publishes committed events in revision order and keeps the last
// events for replay. Watchers pull from the history with their own cursor,
// so publishing never waits for a watcher:
//
//	commit hooks (any order) ─> pending[rev] ─> history ring (rev order) ─> watcher goroutines ─> chans
//	                            sequencer       (compacted, published]      cursor per watcher
type hub struct {
	log       *slog.Logger
	limit     int   // events kept in history
	byteLimit int64 // bytes of keys and values kept in history

	mu sync.Mutex
	// history holds every event with compacted < Revision <= published, in
	// revision order, as history[start:].
	history   []store.Event
	start     int
	bytes     int64 // eventBytes of history[start:]
	compacted int64
	published int64
	pending   map[int64][]store.Event // committed, waiting for an earlier revision
	notify    chan struct{}           // closed and replaced on each publish
	closed    bool

	closing chan struct{}
	wg      sync.WaitGroup
}

func newHub(log *slog.Logger, limit int, byteLimit, rev int64) *hub {
	return &hub{
		log:       log,
		limit:     limit,
		byteLimit: byteLimit,
		compacted: rev,
		published: rev,
		pending:   map[int64][]store.Event{},
		notify:    make(chan struct{}),
		closing:   make(chan struct{}),
	}
}

// publish takes the events of one committed revision. Revisions are dense
// (only committed writes get one), so rev waits in pending until every
// earlier revision is published.
func (h *hub) publish(rev int64, events []store.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if rev <= h.published {
		return // cannot happen; never publish twice
	}
	h.pending[rev] = events
	advanced := false
	for {
		evs, ok := h.pending[h.published+1]
		if !ok {
			break
		}
		delete(h.pending, h.published+1)
		h.published++
		h.history = append(h.history, evs...)
		for i := range evs {
			h.bytes += eventBytes(&evs[i])
		}
		advanced = true
	}
	if !advanced {
		return
	}
	h.trim()
	close(h.notify)
	h.notify = make(chan struct{})
}

// eventBytes is what an event holds in memory, for the byte bound: its key
// and value plus the Event itself.
func eventBytes(ev *store.Event) int64 {
	return int64(len(ev.KV.Key)+len(ev.KV.Value)) + 64
}

// trim drops the oldest revisions, whole, until at most limit events and
// byteLimit bytes are kept (the newest revision is kept whole whatever its
// size), and compacts the backing array when half of it is dead.
func (h *hub) trim() {
	for len(h.history)-h.start > h.limit || h.bytes > h.byteLimit {
		drop := h.history[h.start].KV.Revision
		if drop == h.published {
			break
		}
		for h.start < len(h.history) && h.history[h.start].KV.Revision == drop {
			h.bytes -= eventBytes(&h.history[h.start])
			h.history[h.start] = store.Event{} // let the value be collected
			h.start++
		}
		h.compacted = drop
	}
	if h.start > len(h.history)/2 && h.start > 64 {
		n := copy(h.history, h.history[h.start:])
		clear(h.history[n:])
		h.history = h.history[:n]
		h.start = 0
	}
}

// waitPublished returns when rev is published (or the hub closes). A write
// waits here so that its events are visible to watchers before it returns;
// the wait is only ever for a concurrent batch's commit hook.
func (h *hub) waitPublished(rev int64) {
	for {
		h.mu.Lock()
		if h.published >= rev || h.closed {
			h.mu.Unlock()
			return
		}
		n := h.notify
		h.mu.Unlock()
		select {
		case <-n:
		case <-h.closing:
			return
		}
	}
}

func (h *hub) watch(ctx context.Context, prefix string, fromRev int64) (<-chan store.Event, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, store.ErrClosed
	}
	cursor := fromRev
	if fromRev == 0 {
		cursor = h.published
	} else if fromRev < h.compacted {
		return nil, store.ErrCompacted
	}
	out := make(chan store.Event)
	h.wg.Add(1)
	go h.run(ctx, out, prefix, cursor)
	return out, nil
}

// run feeds one watcher: it copies the matching events after cursor out of
// the history, sends them, and waits for more.
func (h *hub) run(ctx context.Context, out chan<- store.Event, prefix string, cursor int64) {
	defer h.wg.Done()
	defer close(out)
	for {
		h.mu.Lock()
		if h.closed {
			h.mu.Unlock()
			return
		}
		if cursor < h.compacted {
			h.mu.Unlock()
			h.log.Warn("closing slow watcher", "prefix", prefix, "revision", cursor, "retained_from", h.compacted+1)
			return
		}
		evs := h.collect(prefix, cursor)
		cursor = max(cursor, h.published)
		notify := h.notify
		h.mu.Unlock()

		for _, ev := range evs {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			case <-h.closing:
				return
			}
		}
		select {
		case <-notify:
		case <-ctx.Done():
			return
		case <-h.closing:
			return
		}
	}
}

// collect returns copies of the retained events after cursor whose key has
// prefix. Caller holds h.mu.
func (h *hub) collect(prefix string, cursor int64) []store.Event {
	hist := h.history[h.start:]
	i := sort.Search(len(hist), func(i int) bool { return hist[i].KV.Revision > cursor })
	var evs []store.Event
	for _, ev := range hist[i:] {
		if strings.HasPrefix(ev.KV.Key, prefix) {
			ev.KV.Value = bytes.Clone(ev.KV.Value) // each receiver owns its copy
			evs = append(evs, ev)
		}
	}
	return evs
}

// close ends every watcher and waits for their channels to close.
func (h *hub) close() {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return
	}
	h.closed = true
	close(h.closing)
	h.mu.Unlock()
	h.wg.Wait()
}
