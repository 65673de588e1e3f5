package wire

import (
	"encoding/json"
	"encoding/xml"
	"testing"
	"time"
)

func TestTimestampMarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		t    time.Time
		want string
	}{
		{time.UnixMilli(1587567712597), "1587567712.597"},
		{time.Unix(1587567712, 0), "1587567712"},
		{time.UnixMilli(1587567712500), "1587567712.5"},
		{time.Unix(1587567712, 999_999), "1587567712"}, // below a millisecond: dropped
		{time.UnixMilli(-1500), "-1.5"},
	} {
		got, err := json.Marshal(Timestamp{tc.t})
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("Marshal(%v) = %s, want %s", tc.t, got, tc.want)
		}
	}
}

func TestTimestampUnmarshalJSON(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"1587567712.597", time.UnixMilli(1587567712597)},
		{"1587567712", time.Unix(1587567712, 0)},
		{"1.5e9", time.Unix(1_500_000_000, 0)},
		{`"2026-11-22T10:00:00.000Z"`, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-22T10:00:00Z"`, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
		{`"2026-11-22T12:00:00.250+02:00"`, time.Date(2026, 11, 22, 10, 0, 0, 250e6, time.UTC)},
		{`"2026-11-22T10:00:00"`, time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
	} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(tc.in), &ts); err != nil {
			t.Errorf("Unmarshal(%s): %v", tc.in, err)
			continue
		}
		if !ts.Equal(tc.want) || ts.Location() != time.UTC {
			t.Errorf("Unmarshal(%s) = %v, want %v in UTC", tc.in, ts.Time, tc.want)
		}
	}
	for _, bad := range []string{`"yesterday"`, `true`, `{}`, `1e300`, `"1587567712"`} {
		var ts Timestamp
		if err := json.Unmarshal([]byte(bad), &ts); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", bad, ts.Time)
		}
	}
}

func TestTimestampJSONInStruct(t *testing.T) {
	type shape struct {
		At   *Timestamp `json:"at,omitempty"`
		Miss *Timestamp `json:"miss,omitempty"`
	}
	in := shape{At: NewTimestamp(time.UnixMilli(1700000000123))}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"at":1700000000.123}` {
		t.Fatalf("Marshal = %s", b)
	}
	var out shape
	if err := json.Unmarshal([]byte(`{"at":1700000000.123,"miss":null}`), &out); err != nil {
		t.Fatal(err)
	}
	if !out.At.TimeOrZero().Equal(in.At.Time) || out.Miss != nil {
		t.Fatalf("round trip = %+v", out)
	}
	var v Timestamp
	if err := v.UnmarshalJSON([]byte("null")); err != nil || !v.IsZero() {
		t.Fatalf("UnmarshalJSON(null) = %v, %v", v.Time, err)
	}
}

func TestTimestampXML(t *testing.T) {
	type shape struct {
		XMLName xml.Name   `xml:"Result"`
		At      *Timestamp `xml:"At,omitempty"`
		Miss    *Timestamp `xml:"Miss,omitempty"`
	}
	at := time.Date(2026, 11, 22, 11, 0, 0, 0, time.FixedZone("CET", 3600))
	b, err := xml.Marshal(shape{At: NewTimestamp(at)})
	if err != nil {
		t.Fatal(err)
	}
	if want := `<Result><At>2026-11-22T10:00:00.000Z</At></Result>`; string(b) != want {
		t.Fatalf("Marshal = %s, want %s", b, want)
	}
	var out shape
	if err := xml.Unmarshal([]byte(`<Result><At>2026-11-22T10:00:00.597Z</At></Result>`), &out); err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 11, 22, 10, 0, 0, 597e6, time.UTC); !out.At.TimeOrZero().Equal(want) {
		t.Fatalf("Unmarshal = %v, want %v", out.At.TimeOrZero(), want)
	}
	var ts Timestamp
	if err := ts.UnmarshalText([]byte("Sun, 22 Nov 2026 10:00:00 GMT")); err != nil || ts.Unix() != time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).Unix() {
		t.Fatalf("UnmarshalText(HTTP date) = %v, %v", ts.Time, err)
	}
	if err := ts.UnmarshalText([]byte("soon")); err == nil {
		t.Fatal("UnmarshalText(soon) succeeded")
	}
}

func TestNilAndZero(t *testing.T) {
	if NewTimestamp(time.Time{}) != nil {
		t.Error("NewTimestamp(zero) != nil")
	}
	var nilTS *Timestamp
	if !nilTS.TimeOrZero().IsZero() {
		t.Error("nil TimeOrZero not zero")
	}
	if ToString(nil) != "" || ToInt32(nil) != 0 || ToInt64(nil) != 0 || ToBool(nil) ||
		ToFloat64(nil) != 0 || ToFloat32(nil) != 0 {
		t.Error("deref of nil is not the zero value")
	}
	if ToString(String("a")) != "a" || ToInt32(Int32(3)) != 3 || ToInt64(Int64(4)) != 4 ||
		!ToBool(Bool(true)) || ToFloat64(Float64(1.5)) != 1.5 || ToFloat32(Float32(2.5)) != 2.5 {
		t.Error("pointer helpers do not round-trip")
	}
}
