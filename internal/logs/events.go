package logs

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// Event is one line of output, as the agent's awslogs driver ships it.
type Event struct {
	Timestamp time.Time
	Message   string
}

// InputEvent is one event of a PutLogEvents call.
type InputEvent struct {
	Timestamp int64 // epoch ms
	Message   string
}

// PutResult is what PutLogEvents answers. The indexes are -1 when no event
// was rejected for that reason; TooOldEnd and ExpiredEnd are exclusive ends
// (events [0, end) were rejected), TooNewStart is inclusive.
type PutResult struct {
	NextSequenceToken string
	TooNewStart       int
	TooOldEnd         int
	ExpiredEnd        int
}

// maxEventMessage is the largest message the agent sends as one event
// (CloudWatch's limit is 256 KiB per event, overhead included).
const maxEventMessage = 256*1024 - EventOverhead

// Put stores container output for the awslogs driver. Unlike PutEvents it
// accepts any batch: it sorts the events (stably) by time, drops empty
// lines, truncates lines longer than CloudWatch allows, splits the rest into
// valid PutLogEvents-sized batches and stores them all in one transaction
// (so a retried Put never stores half a batch twice). Events CloudWatch
// would reject as too old, too new or expired are dropped, as it would.
func (s *Service) Put(ctx context.Context, sc tenant.Scope, group, stream string, events []Event) error {
	recs := make([]record, 0, len(events))
	for _, e := range events {
		if e.Message == "" {
			continue
		}
		msg := e.Message
		if len(msg) > maxEventMessage {
			msg = msg[:maxEventMessage]
		}
		recs = append(recs, record{TS: e.Timestamp.UnixMilli(), Msg: msg})
	}
	if len(recs) == 0 {
		return nil
	}
	slices.SortStableFunc(recs, func(a, b record) int { return cmp.Compare(a.TS, b.TS) })
	var chunks [][]record
	start, size := 0, 0
	for i, r := range recs {
		n := len(r.Msg) + EventOverhead
		if i > start && (i-start == MaxBatchEvents || size+n > MaxBatchBytes ||
			time.Duration(r.TS-recs[start].TS)*time.Millisecond > MaxBatchSpan) {
			chunks = append(chunks, recs[start:i])
			start, size = i, 0
		}
		size += n
	}
	chunks = append(chunks, recs[start:])
	_, err := s.put(ctx, sc, group, stream, chunks)
	return err
}

// PutEvents is PutLogEvents: the batch must be valid as a whole; events too
// new, too old or older than the group's retention are rejected one by one
// and the rest stored.
func (s *Service) PutEvents(ctx context.Context, sc tenant.Scope, group, stream string, events []InputEvent) (*PutResult, error) {
	if len(events) == 0 {
		return nil, errdefs.Invalidf("1 validation error detected: Value '[]' at 'logEvents' failed to satisfy constraint: Member must have length greater than or equal to 1")
	}
	if len(events) > MaxBatchEvents {
		return nil, errdefs.Invalidf("1 validation error detected: Value at 'logEvents' failed to satisfy constraint: Member must have length less than or equal to %d", MaxBatchEvents)
	}
	size := 0
	recs := make([]record, len(events))
	for i, e := range events {
		if e.Message == "" {
			return nil, errdefs.Invalidf("1 validation error detected: Value '' at 'logEvents.%d.member.message' failed to satisfy constraint: Member must have length greater than or equal to 1", i+1)
		}
		if i > 0 && e.Timestamp < events[i-1].Timestamp {
			return nil, errdefs.Invalidf("Log events in a single PutLogEvents request must be in chronological order.")
		}
		if n := len(e.Message) + EventOverhead; n > MaxEventBytes {
			return nil, errdefs.Invalidf("Log event too large: %d bytes exceeds limit of %d", n, MaxEventBytes)
		}
		size += len(e.Message) + EventOverhead
		recs[i] = record{TS: e.Timestamp, Msg: e.Message}
	}
	if size > MaxBatchBytes {
		return nil, errdefs.Invalidf("Upload too large: %d bytes exceeds limit of %d", size, MaxBatchBytes)
	}
	if time.Duration(recs[len(recs)-1].TS-recs[0].TS)*time.Millisecond > MaxBatchSpan {
		return nil, errdefs.Invalidf("The batch of log events in a single PutLogEvents request cannot span more than 24 hours.")
	}
	return s.put(ctx, sc, group, stream, [][]record{recs})
}

// put stores chunks (each sorted, each a valid batch) as one batch key each,
// in one transaction. The result's indexes describe the last chunk.
func (s *Service) put(ctx context.Context, sc tenant.Scope, group, stream string, chunks [][]record) (*PutResult, error) {
	var res *PutResult
	var stored int
	var bytes int64
	_, err := s.st.Update(ctx, func(tx store.Tx) error {
		stored, bytes = 0, 0 // fn may run again
		now := s.now()
		g, err := getGroup(tx, sc, group)
		if err != nil {
			return err
		}
		st, err := getStream(tx, sc, group, stream)
		if err != nil {
			return err
		}
		ingestion := now.UnixMilli()
		for _, recs := range chunks {
			res = reject(recs, now, g.retentionCutoff(now))
			lo, hi := 0, len(recs)
			lo = max(lo, res.TooOldEnd, res.ExpiredEnd)
			if res.TooNewStart >= 0 {
				hi = res.TooNewStart
			}
			if lo >= hi {
				continue
			}
			keep := recs[lo:hi]
			if err := tx.Put(batchKey(sc, group, stream, st.NextSeq), encodeBatch(ingestion, keep)); err != nil {
				return err
			}
			st.NextSeq++
			if !st.HasEvents() || keep[0].TS < st.FirstEventTimestamp {
				st.FirstEventTimestamp = keep[0].TS
			}
			st.LastEventTimestamp = max(st.LastEventTimestamp, keep[len(keep)-1].TS)
			st.LastIngestionTime = ingestion
			for _, r := range keep {
				st.StoredBytes += int64(len(r.Msg))
				bytes += int64(len(r.Msg))
			}
			stored += len(keep)
		}
		if g.RetentionInDays > 0 && st.HasEvents() && st.FirstEventTimestamp < g.retentionCutoff(now) {
			if err := expireStreamBatches(tx, sc, g, st, now); err != nil {
				return err
			}
		}
		res.NextSequenceToken = SequenceToken(st.NextSeq)
		return putJSON(tx, streamKey(sc, group, stream), st)
	})
	if err != nil {
		return nil, err
	}
	if s.observe != nil && stored > 0 {
		s.observe(sc, group, stored, bytes)
	}
	return res, nil
}

// reject computes which events of a sorted batch CloudWatch turns away.
func reject(recs []record, now time.Time, retentionCutoff int64) *PutResult {
	res := &PutResult{TooNewStart: -1, TooOldEnd: -1, ExpiredEnd: -1}
	tooNew := now.Add(MaxFutureSkew).UnixMilli()
	tooOld := now.Add(-MaxEventAge).UnixMilli()
	if i := slices.IndexFunc(recs, func(r record) bool { return r.TS > tooNew }); i >= 0 {
		res.TooNewStart = i
	}
	if n := countBefore(recs, tooOld); n > 0 {
		res.TooOldEnd = n
	}
	if n := countBefore(recs, retentionCutoff); n > 0 && n > res.TooOldEnd {
		res.ExpiredEnd = n
	}
	return res
}

func countBefore(recs []record, ts int64) int {
	n, _ := slices.BinarySearchFunc(recs, ts, func(r record, t int64) int {
		if r.TS < t {
			return -1
		}
		return 1
	})
	return n
}

// SequenceToken is the upload sequence token of a batch sequence number.
func SequenceToken(seq int64) string { return fmt.Sprintf("%056d", seq) }

// expireStream deletes a stream's batches whose events are all older than
// the group's retention, and writes the stream back.
func expireStream(tx store.Tx, sc tenant.Scope, g *Group, st *Stream, now time.Time) error {
	if g.RetentionInDays == 0 || !st.HasEvents() || st.FirstEventTimestamp >= g.retentionCutoff(now) {
		return nil
	}
	if err := expireStreamBatches(tx, sc, g, st, now); err != nil {
		return err
	}
	return putJSON(tx, streamKey(sc, g.Name, st.Name), st)
}

// expireStreamBatches deletes expired batches and recomputes the stream's
// first event time and stored bytes from what is left.
func expireStreamBatches(tx store.Tx, sc tenant.Scope, g *Group, st *Stream, now time.Time) error {
	cutoff := g.retentionCutoff(now)
	kvs, err := tx.List(eventsPrefix(sc, g.Name, st.Name))
	if err != nil {
		return err
	}
	first, stored := int64(0), int64(0)
	for _, kv := range kvs {
		b, err := decodeBatch(kv.Value, false)
		if err != nil {
			return fmt.Errorf("%s: %w", kv.Key, err)
		}
		if b.MaxTS < cutoff {
			if err := tx.Delete(kv.Key); err != nil {
				return err
			}
			continue
		}
		full, err := decodeBatch(kv.Value, true)
		if err != nil {
			return fmt.Errorf("%s: %w", kv.Key, err)
		}
		for _, r := range full.Events {
			if r.TS < cutoff {
				continue
			}
			if first == 0 || r.TS < first {
				first = r.TS
			}
			stored += int64(len(r.Msg))
		}
	}
	st.FirstEventTimestamp, st.StoredBytes = first, stored
	if first == 0 {
		// Nothing visible is left; keep the last times, as AWS does.
		st.FirstEventTimestamp = st.LastEventTimestamp
	}
	return nil
}

// pos is an event's place in a stream's total order.
type pos struct {
	TS  int64
	Seq int64
	Idx int
}

func (p pos) compare(q pos) int {
	return cmp.Or(cmp.Compare(p.TS, q.TS), cmp.Compare(p.Seq, q.Seq), cmp.Compare(p.Idx, q.Idx))
}

// storedEvent is an event read back with its position.
type storedEvent struct {
	pos
	Stream    string
	Ingestion int64
	Msg       string
}

// OutputEvent is an event as GetLogEvents and FilterLogEvents answer it.
type OutputEvent struct {
	Stream        string
	Timestamp     int64
	IngestionTime int64
	Message       string
	// ID is stable: the same event has the same id in every answer.
	ID string
}

func (e storedEvent) output() OutputEvent {
	return OutputEvent{Stream: e.Stream, Timestamp: e.TS, IngestionTime: e.Ingestion, Message: e.Msg, ID: eventID(e)}
}

// eventID is 56 digits, like CloudWatch's: timestamp, batch, index and a
// hash of the stream name (unique within a group).
func eventID(e storedEvent) string {
	var h uint64 = 14695981039346656037
	for i := 0; i < len(e.Stream); i++ {
		h ^= uint64(e.Stream[i])
		h *= 1099511628211
	}
	return fmt.Sprintf("%019d%016d%06d%015d", e.TS, e.Seq, e.Idx, h%1_000_000_000_000_000)
}

// timeRange is [From, To) in epoch ms.
type timeRange struct{ From, To int64 }

func newTimeRange(start, end *int64, cutoff int64) timeRange {
	r := timeRange{From: cutoff, To: 1<<63 - 1}
	if start != nil && *start > r.From {
		r.From = *start
	}
	if end != nil {
		r.To = *end
	}
	return r
}

// readStream returns a stream's events in r that match, in pos order.
func readStream(tx store.ReadTx, sc tenant.Scope, group, stream string, r timeRange, match func(string) bool) ([]storedEvent, error) {
	kvs, err := tx.List(eventsPrefix(sc, group, stream))
	if err != nil {
		return nil, err
	}
	var out []storedEvent
	sorted := true
	for _, kv := range kvs {
		b, err := decodeBatch(kv.Value, false)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		if b.MaxTS < r.From || b.MinTS >= r.To {
			continue
		}
		seq, err := strconv.ParseInt(kv.Key[strings.LastIndexByte(kv.Key, '/')+1:], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: bad batch key", kv.Key)
		}
		if b, err = decodeBatch(kv.Value, true); err != nil {
			return nil, fmt.Errorf("%s: %w", kv.Key, err)
		}
		for i, e := range b.Events {
			if e.TS < r.From || e.TS >= r.To || (match != nil && !match(e.Msg)) {
				continue
			}
			ev := storedEvent{pos: pos{TS: e.TS, Seq: seq, Idx: i}, Stream: stream, Ingestion: b.Ingestion, Msg: e.Msg}
			if n := len(out); n > 0 && out[n-1].TS > ev.TS {
				sorted = false
			}
			out = append(out, ev)
		}
	}
	if !sorted {
		slices.SortFunc(out, func(a, b storedEvent) int { return a.compare(b.pos) })
	}
	return out, nil
}

// GetEventsInput is what GetLogEvents takes.
type GetEventsInput struct {
	Group, Stream      string
	StartTime, EndTime *int64 // epoch ms; [start, end)
	Limit              int    // 0: up to 10,000 events and 1 MB
	Token              string // "f/..." or "b/..."
	StartFromHead      bool
}

// GetEventsOutput is what GetLogEvents answers.
type GetEventsOutput struct {
	Events                              []OutputEvent
	NextForwardToken, NextBackwardToken string
}

func formatPos(dir byte, p pos) string {
	return fmt.Sprintf("%c/%019d%016d%06d", dir, p.TS, p.Seq, p.Idx)
}

func parsePos(tok string) (byte, pos, error) {
	bad := errdefs.Invalidf("The specified nextToken is invalid.")
	if len(tok) != 2+19+16+6 || (tok[0] != 'f' && tok[0] != 'b') || tok[1] != '/' {
		return 0, pos{}, bad
	}
	d := tok[2:]
	ts, err1 := strconv.ParseInt(d[:19], 10, 64)
	seq, err2 := strconv.ParseInt(d[19:35], 10, 64)
	idx, err3 := strconv.Atoi(d[35:])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, pos{}, bad
	}
	return tok[0], pos{TS: ts, Seq: seq, Idx: idx}, nil
}

// GetEvents is GetLogEvents. Without a token it starts at the tail (or at
// the head with StartFromHead); with one it pages forward ("f/") or
// backward ("b/") from it. A page with no events answers the token it was
// given, which is how clients know they reached the end.
func (s *Service) GetEvents(ctx context.Context, sc tenant.Scope, in GetEventsInput) (*GetEventsOutput, error) {
	limit, err := Page{Limit: in.Limit}.limit(MaxEventsPerRead, MaxEventsPerRead)
	if err != nil {
		return nil, err
	}
	dir, anchor := byte('b'), pos{}
	if in.StartFromHead {
		dir = 'f'
	}
	if in.Token != "" {
		if dir, anchor, err = parsePos(in.Token); err != nil {
			return nil, err
		}
	}
	var evs []storedEvent
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		g, err := getGroup(tx, sc, in.Group)
		if err != nil {
			return err
		}
		if _, err := getStream(tx, sc, in.Group, in.Stream); err != nil {
			return err
		}
		r := newTimeRange(in.StartTime, in.EndTime, g.retentionCutoff(s.now()))
		if in.Token != "" {
			// Only batches on the token's side can hold the page.
			if dir == 'f' {
				r.From = max(r.From, anchor.TS)
			} else {
				r.To = min(r.To, anchor.TS+1)
			}
		}
		evs, err = readStream(tx, sc, in.Group, in.Stream, r, nil)
		return err
	})
	if err != nil {
		return nil, err
	}
	var page []storedEvent
	if dir == 'f' {
		i := 0
		if in.Token != "" {
			i = sort.Search(len(evs), func(k int) bool { return evs[k].compare(anchor) > 0 })
		}
		page = evs[i:]
		n, size := 0, 0
		for n < len(page) && n < limit && size+len(page[n].Msg)+EventOverhead <= maxReadBytes {
			size += len(page[n].Msg) + EventOverhead
			n++
		}
		page = page[:n]
	} else {
		j := len(evs)
		if in.Token != "" {
			j = sort.Search(len(evs), func(k int) bool { return evs[k].compare(anchor) >= 0 })
		}
		page = evs[:j]
		n, size := 0, 0
		for n < len(page) && n < limit && size+len(page[len(page)-1-n].Msg)+EventOverhead <= maxReadBytes {
			size += len(page[len(page)-1-n].Msg) + EventOverhead
			n++
		}
		page = page[len(page)-n:]
	}
	out := &GetEventsOutput{Events: make([]OutputEvent, len(page))}
	for i, e := range page {
		out.Events[i] = e.output()
	}
	if len(page) == 0 {
		if in.Token != "" {
			out.NextForwardToken = formatPos('f', anchor)
			out.NextBackwardToken = formatPos('b', anchor)
			if dir == 'f' {
				out.NextForwardToken = in.Token
			} else {
				out.NextBackwardToken = in.Token
			}
		} else {
			out.NextForwardToken, out.NextBackwardToken = formatPos('f', pos{}), formatPos('b', pos{})
		}
		return out, nil
	}
	out.NextForwardToken = formatPos('f', page[len(page)-1].pos)
	out.NextBackwardToken = formatPos('b', page[0].pos)
	return out, nil
}
