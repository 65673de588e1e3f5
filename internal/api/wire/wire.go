// Package wire is the runtime support of the generated AWS wire types
// (internal/api/*wire, made by internal/tools/wiregen from the botocore
// models): the timestamp type with AWS's encodings, pointer helpers, and the
// types of the operation and error tables the generator emits.
//
// The generated packages follow fixed conventions: every structure shape is
// a struct named after the shape; scalar members are pointers (*string,
// *int32, *int64, *bool, *float64, *float32, *Timestamp), blobs are []byte,
// documents json.RawMessage; nested structures are pointers, lists are
// slices of values and maps map[string]V. Fields carry
// `json:"member,omitempty" xml:"member,omitempty"` tags; in the query
// protocols' packages, lists are wrapped (`xml:"Name>member,omitempty"`)
// and maps are `xml:"-"` because encoding/xml cannot encode maps.
package wire

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Timestamp is an AWS timestamp. In JSON protocols it is epoch seconds as a
// number, with a millisecond fraction when there is one (1587567712.597);
// as text (query protocols' XML) it is ISO 8601 in UTC with milliseconds.
type Timestamp struct{ time.Time }

// NewTimestamp returns a *Timestamp for t (nil for the zero time).
func NewTimestamp(t time.Time) *Timestamp {
	if t.IsZero() {
		return nil
	}
	return &Timestamp{t}
}

// TimeOrZero returns the time, or the zero time for nil.
func (t *Timestamp) TimeOrZero() time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

// MarshalJSON writes epoch seconds.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	ms := t.UnixMilli()
	if ms%1000 == 0 {
		return strconv.AppendInt(nil, ms/1000, 10), nil
	}
	return strconv.AppendFloat(nil, float64(ms)/1000, 'f', -1, 64), nil
}

// UnmarshalJSON reads epoch seconds (integer or fractional) or an ISO 8601
// string; null leaves t unchanged.
func (t *Timestamp) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	if len(b) > 0 && b[0] == '"' {
		s, err := strconv.Unquote(string(b))
		if err != nil {
			return err
		}
		return t.UnmarshalText([]byte(s))
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e13 {
		return errors.New("timestamp must be epoch seconds or an ISO 8601 string")
	}
	sec, frac := math.Modf(f)
	t.Time = time.Unix(int64(sec), int64(math.Round(frac*1000))*int64(time.Millisecond)).UTC()
	return nil
}

// MarshalText writes ISO 8601 with milliseconds in UTC.
func (t Timestamp) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format("2006-01-02T15:04:05.000Z")), nil
}

// textLayouts are the forms UnmarshalText accepts: RFC 3339 (with or without
// a fraction), ISO 8601 without a zone (taken as UTC) or with a compact zone,
// and the HTTP date (RFC 822/1123) form.
var textLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02T15:04:05.999999999",
	"2006-01-02T15:04:05.999999999Z0700",
	time.RFC1123,
	time.RFC1123Z,
}

// UnmarshalText reads RFC 3339 / ISO 8601 (and the HTTP date form).
func (t *Timestamp) UnmarshalText(b []byte) error {
	s := string(bytes.TrimSpace(b))
	for _, layout := range textLayouts {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("timestamp %q is not ISO 8601", s)
}

// OperationInfo describes one operation of a service model.
type OperationInfo struct {
	Input      string   // input shape name ("" for none)
	Output     string   // output shape name ("" for none)
	HostPrefix string   // endpoint host prefix, e.g. "data-"
	Errors     []string // error shape names, in model order
	// ResultWrapper is the element the query protocols wrap the output in
	// (e.g. "GetCallerIdentityResult"); "" for JSON protocols.
	ResultWrapper string
}

// ErrorInfo describes one error shape of a service model.
type ErrorInfo struct {
	Status int    // HTTP status
	Code   string // the query protocol's error code
	Fault  bool   // a server fault (5xx)
}

// String returns a pointer to s.
func String(s string) *string { return &s }

// Int32 returns a pointer to v.
func Int32(v int32) *int32 { return &v }

// Int64 returns a pointer to v.
func Int64(v int64) *int64 { return &v }

// Bool returns a pointer to v.
func Bool(v bool) *bool { return &v }

// Float64 returns a pointer to v.
func Float64(v float64) *float64 { return &v }

// Float32 returns a pointer to v.
func Float32(v float32) *float32 { return &v }

// ToString returns *p or "".
func ToString(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// ToInt32 returns *p or 0.
func ToInt32(p *int32) int32 {
	if p == nil {
		return 0
	}
	return *p
}

// ToInt64 returns *p or 0.
func ToInt64(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// ToBool returns *p or false.
func ToBool(p *bool) bool {
	return p != nil && *p
}

// ToFloat64 returns *p or 0.
func ToFloat64(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// ToFloat32 returns *p or 0.
func ToFloat32(p *float32) float32 {
	if p == nil {
		return 0
	}
	return *p
}
