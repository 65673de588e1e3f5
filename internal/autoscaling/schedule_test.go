package autoscaling

import (
	"testing"
	"time"
)

func TestParseScheduleMalformed(t *testing.T) {
	for _, expr := range []string{
		"", "cron", "cron()", "cron(0 12 * * *)", "cron(0 12 * * ? * *)", "cron(60 * * * ? *)", "cron(* 24 * * ? *)",
		"cron(0 12 * * 1 *)", "cron(0 12 ? * ? *)", "cron(0 12 32 * ? *)", "cron(0 12 0 * ? *)", "cron(0 12 ? 13 ? *)",
		"cron(0 12 ? * 8 *)", "cron(0 12 ? * MON#6 *)", "cron(0 12 ? * FOO *)", "cron(0 12 * * ? 1969)", "cron(0 12 * * ? 2200)",
		"cron(5-1 * * * ? *)", "cron(*/0 * * * ? *)", "cron(a * * * ? *)", "cron(0 12 32W * ? *)",
		"rate()", "rate(5)", "rate(0 minutes)", "rate(-1 minutes)", "rate(5 weeks)", "rate(1.5 hours)", "rate(5 minutes",
		"at()", "at(2026-13-01T00:00:00)", "at(2026-01-01 00:00:00)", "at(tomorrow)", "every(5 minutes)", "5 minutes",
	} {
		if _, err := ParseSchedule(expr); err == nil {
			t.Errorf("%q accepted", expr)
		}
	}
}

func TestScheduleNext(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Skip("no tzdata:", err)
	}
	utc := func(s string) time.Time {
		tm, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	start := utc("2026-01-01T00:00:00Z")
	for _, c := range []struct {
		expr  string
		loc   *time.Location
		after string
		want  string // "" : never
	}{
		{"cron(0 9 ? * MON-FRI *)", time.UTC, "2026-12-05T10:00:00Z", "2026-12-07T09:00:00Z"}, // Saturday -> Monday
		{"cron(0 9 ? * MON-FRI *)", paris, "2026-12-07T07:00:00Z", "2026-12-07T08:00:00Z"},    // 9:00 in Paris (UTC+1)
		{"cron(0 9 ? * MON-FRI *)", paris, "2026-07-06T06:30:00Z", "2026-07-06T07:00:00Z"},    // summer time (UTC+2)
		{"cron(*/15 * * * ? *)", time.UTC, "2026-12-07T10:07:00Z", "2026-12-07T10:15:00Z"},
		{"cron(0 0 L * ? *)", time.UTC, "2026-02-01T00:00:00Z", "2026-02-28T00:00:00Z"},
		{"cron(0 0 15W * ? *)", time.UTC, "2026-08-01T00:00:00Z", "2026-08-14T00:00:00Z"}, // the 15th is a Saturday
		{"cron(0 0 ? * 2#1 *)", time.UTC, "2026-12-08T00:00:00Z", "2027-01-04T00:00:00Z"}, // first Monday
		{"cron(0 0 ? * 6L *)", time.UTC, "2026-12-01T00:00:00Z", "2026-12-25T00:00:00Z"},  // last Friday
		{"cron(30 12 1 JAN ? 2030)", time.UTC, "2026-12-07T00:00:00Z", "2030-01-01T12:30:00Z"},
		{"cron(30 12 1 JAN ? 2025)", time.UTC, "2026-12-07T00:00:00Z", ""},
		{"cron(30 2 * * ? *)", paris, "2027-03-27T12:00:00Z", "2027-03-29T00:30:00Z"}, // 2:30 does not exist on 28 March
		{"rate(5 minutes)", time.UTC, "2026-01-01T00:07:00Z", "2026-01-01T00:10:00Z"},
		{"rate(1 day)", time.UTC, "2025-06-01T00:00:00Z", "2026-01-01T00:00:00Z"},
		{"at(2026-12-24T18:00:00)", paris, "2026-12-07T00:00:00Z", "2026-12-24T17:00:00Z"},
		{"at(2026-12-24T18:00:00)", time.UTC, "2026-12-25T00:00:00Z", ""},
	} {
		s, err := ParseSchedule(c.expr)
		if err != nil {
			t.Errorf("%s: %v", c.expr, err)
			continue
		}
		got := s.Next(utc(c.after), start, c.loc)
		var want time.Time
		if c.want != "" {
			want = utc(c.want)
		}
		if !got.Equal(want) {
			t.Errorf("%s in %v after %s: %v, want %v", c.expr, c.loc, c.after, got.UTC(), want)
		}
	}
}

// FuzzParseSchedule: no expression panics or hangs the parser, and an
// accepted one yields a next run after the time asked (or none).
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"cron(0 9 ? * MON-FRI *)", "cron(*/5 1-3 L * ? 2027)", "cron(0 0 ? * 6#3 *)", "cron(0 0 LW * ? *)",
		"rate(5 minutes)", "rate(1 day)", "at(2027-01-01T00:00:00)", "cron(0 12 * * ? *)", "cron(0/7 * 1,15 JAN-MAR ? *)"} {
		f.Add(s)
	}
	after := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseSchedule(expr)
		if err != nil {
			return
		}
		for _, loc := range []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800)} {
			n := s.Next(after, after.Add(-time.Hour), loc)
			if !n.IsZero() && !n.After(after) {
				t.Fatalf("%q: next %v is not after %v", expr, n, after)
			}
		}
	})
}
