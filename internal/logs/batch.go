package logs

import (
	"encoding/binary"
	"errors"
)

// record is one stored event.
type record struct {
	TS  int64 // epoch ms
	Msg string
}

// batch is the decoded value of one events/<...>/<seq> key: the events of
// one put, sorted by timestamp.
type batch struct {
	Ingestion int64
	MinTS     int64
	MaxTS     int64
	Count     int
	Events    []record // nil when only the header was decoded
}

const batchVersion = 1

var errCorruptBatch = errors.New("logs: corrupt event batch")

// encodeBatch lays out a batch (see the package doc). evs must be sorted.
func encodeBatch(ingestion int64, evs []record) []byte {
	n := 1 + 4*binary.MaxVarintLen64
	for _, e := range evs {
		n += 2*binary.MaxVarintLen64 + len(e.Msg)
	}
	b := make([]byte, 0, n)
	b = append(b, batchVersion)
	b = binary.AppendUvarint(b, uint64(len(evs)))
	b = binary.AppendVarint(b, ingestion)
	minTS, maxTS := evs[0].TS, evs[len(evs)-1].TS
	b = binary.AppendVarint(b, minTS)
	b = binary.AppendVarint(b, maxTS)
	prev := minTS
	for _, e := range evs {
		b = binary.AppendVarint(b, e.TS-prev)
		prev = e.TS
		b = binary.AppendUvarint(b, uint64(len(e.Msg)))
		b = append(b, e.Msg...)
	}
	return b
}

// decodeBatch decodes the header, and the events too when full is set.
func decodeBatch(b []byte, full bool) (batch, error) {
	var bt batch
	if len(b) == 0 || b[0] != batchVersion {
		return bt, errCorruptBatch
	}
	b = b[1:]
	var vals [4]int64
	for i := range vals {
		var (
			v int64
			n int
		)
		if i == 0 {
			u, m := binary.Uvarint(b)
			v, n = int64(u), m
		} else {
			v, n = binary.Varint(b)
		}
		if n <= 0 {
			return bt, errCorruptBatch
		}
		vals[i], b = v, b[n:]
	}
	bt.Count, bt.Ingestion, bt.MinTS, bt.MaxTS = int(vals[0]), vals[1], vals[2], vals[3]
	if !full {
		return bt, nil
	}
	if bt.Count < 0 || bt.Count > len(b) {
		return bt, errCorruptBatch
	}
	bt.Events = make([]record, bt.Count)
	prev := bt.MinTS
	for i := range bt.Events {
		d, n := binary.Varint(b)
		if n <= 0 {
			return bt, errCorruptBatch
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return bt, errCorruptBatch
		}
		b = b[n:]
		prev += d
		bt.Events[i] = record{TS: prev, Msg: string(b[:l])}
		b = b[l:]
	}
	return bt, nil
}
