package wire

import (
	"errors"
	"math"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// MarshalCBOR writes the timestamp as Smithy RPC v2 CBOR does: tag 1 around
// epoch seconds, an integer when whole, else a double with the millisecond
// fraction.
func (t Timestamp) MarshalCBOR() ([]byte, error) {
	ms := t.UnixMilli()
	var v any = ms / 1000
	if ms%1000 != 0 {
		v = float64(ms) / 1000
	}
	return cbor.Marshal(cbor.Tag{Number: 1, Content: v})
}

// UnmarshalCBOR reads tag 1 (or an untagged number) of epoch seconds,
// integer or floating point; null leaves t unchanged.
func (t *Timestamp) UnmarshalCBOR(b []byte) error {
	var raw any
	if err := cbor.Unmarshal(b, &raw); err != nil {
		return err
	}
	if tag, ok := raw.(cbor.Tag); ok {
		if tag.Number != 1 {
			return errors.New("timestamp must be tag 1 (epoch seconds)")
		}
		raw = tag.Content
	}
	var f float64
	switch v := raw.(type) {
	case nil:
		return nil
	case time.Time: // the decoder's own reading of tag 1
		if v.IsZero() {
			return nil
		}
		t.Time = v.UTC().Truncate(time.Millisecond)
		return nil
	case uint64:
		f = float64(v)
	case int64:
		f = float64(v)
	case float64:
		f = v
	case float32:
		f = float64(v)
	default:
		return errors.New("timestamp must be epoch seconds")
	}
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
		return errors.New("timestamp must be finite epoch seconds")
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
	return nil
}
