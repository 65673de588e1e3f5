package autoscaling

import (
	"strconv"
	"strings"
	"time"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Schedule is a parsed scheduled-action expression: at(...), rate(...) or
// cron(...), as Application Auto Scaling takes them.
//
//	at(yyyy-mm-ddThh:mm:ss)      once, in the action's time zone
//	rate(N minute[s]|hour[s]|day[s])  every N units from the start time
//	cron(min hour dom month dow year)  AWS's six-field cron: dom or dow is
//	                               '?', dow 1-7 = SUN-SAT, L, W and # as AWS
type Schedule struct {
	kind string // "at", "rate", "cron"
	at   time.Time
	// at's wall-clock fields, placed in the time zone when it is used.
	rate time.Duration
	cron *cronExpr
}

// ParseSchedule parses an expression; a malformed one is a ValidationException.
func ParseSchedule(expr string) (*Schedule, error) {
	bad := func(why string) error {
		return errdefs.Invalidf("Schedule expression %q is invalid: %s", expr, why)
	}
	open := strings.IndexByte(expr, '(')
	if open < 0 || !strings.HasSuffix(expr, ")") {
		return nil, bad("use at(...), rate(...) or cron(...)")
	}
	kind, body := expr[:open], strings.TrimSpace(expr[open+1:len(expr)-1])
	switch kind {
	case "at":
		t, err := time.Parse("2006-01-02T15:04:05", body)
		if err != nil {
			return nil, bad("at() takes yyyy-mm-ddThh:mm:ss")
		}
		return &Schedule{kind: "at", at: t}, nil
	case "rate":
		f := strings.Fields(body)
		if len(f) != 2 {
			return nil, bad("rate() takes a value and a unit")
		}
		n, err := strconv.Atoi(f[0])
		if err != nil || n <= 0 || n > 1_000_000 {
			return nil, bad("the rate value must be a positive integer")
		}
		var unit time.Duration
		switch f[1] {
		case "minute", "minutes":
			unit = time.Minute
		case "hour", "hours":
			unit = time.Hour
		case "day", "days":
			unit = 24 * time.Hour
		default:
			return nil, bad("the rate unit must be minute(s), hour(s) or day(s)")
		}
		return &Schedule{kind: "rate", rate: time.Duration(n) * unit}, nil
	case "cron":
		c, why := parseCron(body)
		if why != "" {
			return nil, bad(why)
		}
		return &Schedule{kind: "cron", cron: c}, nil
	}
	return nil, bad("use at(...), rate(...) or cron(...)")
}

// Next returns the first run strictly after after, or the zero time when
// there is none. start anchors rate() (the action's start time, or its
// creation); loc is the action's time zone.
func (s *Schedule) Next(after, start time.Time, loc *time.Location) time.Time {
	switch s.kind {
	case "at":
		t := time.Date(s.at.Year(), s.at.Month(), s.at.Day(), s.at.Hour(), s.at.Minute(), s.at.Second(), 0, loc)
		if t.After(after) {
			return t
		}
		return time.Time{}
	case "rate":
		if after.Before(start) {
			return start
		}
		n := after.Sub(start)/s.rate + 1
		return start.Add(n * s.rate)
	case "cron":
		return s.cron.next(after.In(loc))
	}
	return time.Time{}
}

// cronExpr is a parsed cron(...) body.
type cronExpr struct {
	minutes, hours, months uint64 // bit i set: value i matches
	years                  []bool // index year-1970
	dom                    domSpec
	dow                    dowSpec
}

type domSpec struct {
	any     bool   // '?' or '*'
	days    uint64 // bits 1..31
	last    bool   // L
	weekday int    // nW (0: none); -1: LW
}

type dowSpec struct {
	any   bool
	days  uint64 // bits 1..7 (1 = Sunday)
	last  int    // nL: last weekday n of the month (0: none)
	nth   int    // n#k: weekday n ...
	nthOf int    // ... k-th of the month
}

var monthNames = map[string]int{"JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12}
var dayNames = map[string]int{"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}

const minYear, maxYear = 1970, 2199

func parseCron(body string) (*cronExpr, string) {
	f := strings.Fields(body)
	if len(f) != 6 {
		return nil, "cron() takes six fields: minutes hours day-of-month month day-of-week year"
	}
	c := &cronExpr{}
	var why string
	if c.minutes, why = parseField(f[0], 0, 59, nil); why != "" {
		return nil, "minutes: " + why
	}
	if c.hours, why = parseField(f[1], 0, 23, nil); why != "" {
		return nil, "hours: " + why
	}
	if c.months, why = parseField(f[3], 1, 12, monthNames); why != "" {
		return nil, "month: " + why
	}
	domQ, dowQ := f[2] == "?", f[4] == "?"
	if domQ == dowQ {
		return nil, "one of day-of-month and day-of-week must be '?', not both"
	}
	if domQ {
		c.dom.any = true
		if c.dow, why = parseDow(f[4]); why != "" {
			return nil, "day-of-week: " + why
		}
	} else {
		c.dow.any = true
		if c.dom, why = parseDom(f[2]); why != "" {
			return nil, "day-of-month: " + why
		}
	}
	c.years = make([]bool, maxYear-minYear+1)
	if f[5] == "*" {
		for i := range c.years {
			c.years[i] = true
		}
	} else {
		for part := range strings.SplitSeq(f[5], ",") {
			lo, hi, step, why := parseRange(part, minYear, maxYear, nil)
			if why != "" {
				return nil, "year: " + why
			}
			for y := lo; y <= hi; y += step {
				c.years[y-minYear] = true
			}
		}
	}
	return c, ""
}

// parseField parses a list of values, ranges, steps and '*' into a bitset.
func parseField(s string, min, max int, names map[string]int) (uint64, string) {
	var bits uint64
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, step, why := parseRange(part, min, max, names)
		if why != "" {
			return 0, why
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, ""
}

// parseRange parses "*", "v", "a-b", and any of those with "/step".
func parseRange(s string, min, max int, names map[string]int) (lo, hi, step int, why string) {
	step = 1
	if i := strings.IndexByte(s, '/'); i >= 0 {
		n, err := strconv.Atoi(s[i+1:])
		if err != nil || n <= 0 || n > max {
			return 0, 0, 0, "bad step in " + strconv.Quote(s)
		}
		step, s = n, s[:i]
	}
	switch {
	case s == "*":
		return min, max, step, ""
	case strings.Contains(s, "-"):
		a, b, _ := strings.Cut(s, "-")
		var ok1, ok2 bool
		lo, ok1 = value(a, min, max, names)
		hi, ok2 = value(b, min, max, names)
		if !ok1 || !ok2 || lo > hi {
			return 0, 0, 0, "bad range " + strconv.Quote(s)
		}
		return lo, hi, step, ""
	default:
		v, ok := value(s, min, max, names)
		if !ok {
			return 0, 0, 0, "bad value " + strconv.Quote(s)
		}
		if step > 1 {
			return v, max, step, ""
		}
		return v, v, 1, ""
	}
}

func value(s string, min, max int, names map[string]int) (int, bool) {
	if v, ok := names[strings.ToUpper(s)]; ok {
		return v, true
	}
	if s == "" || len(s) > 4 {
		return 0, false
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < min || v > max {
		return 0, false
	}
	return v, true
}

func parseDom(s string) (domSpec, string) {
	switch {
	case s == "L":
		return domSpec{last: true}, ""
	case s == "LW":
		return domSpec{weekday: -1}, ""
	case strings.HasSuffix(s, "W"):
		v, ok := value(s[:len(s)-1], 1, 31, nil)
		if !ok {
			return domSpec{}, "bad value " + strconv.Quote(s)
		}
		return domSpec{weekday: v}, ""
	case s == "*":
		return domSpec{any: true}, ""
	}
	bits, why := parseField(s, 1, 31, nil)
	return domSpec{days: bits}, why
}

func parseDow(s string) (dowSpec, string) {
	switch {
	case s == "*":
		return dowSpec{any: true}, ""
	case strings.HasSuffix(s, "L") && len(s) > 1:
		v, ok := value(s[:len(s)-1], 1, 7, dayNames)
		if !ok {
			return dowSpec{}, "bad value " + strconv.Quote(s)
		}
		return dowSpec{last: v}, ""
	case strings.Contains(s, "#"):
		a, b, _ := strings.Cut(s, "#")
		v, ok1 := value(a, 1, 7, dayNames)
		k, err := strconv.Atoi(b)
		if !ok1 || err != nil || k < 1 || k > 5 {
			return dowSpec{}, "bad value " + strconv.Quote(s)
		}
		return dowSpec{nth: v, nthOf: k}, ""
	}
	bits, why := parseField(s, 1, 7, dayNames)
	return dowSpec{days: bits}, why
}

// dayMatches reports whether the date (y, m, d) matches the day fields.
func (c *cronExpr) dayMatches(y int, m time.Month, d int, loc *time.Location) bool {
	last := time.Date(y, m+1, 0, 0, 0, 0, 0, loc).Day()
	wd := int(time.Date(y, m, d, 0, 0, 0, 0, loc).Weekday()) + 1 // 1 = Sunday
	if !c.dom.any {
		switch {
		case c.dom.last:
			return d == last
		case c.dom.weekday != 0:
			target := c.dom.weekday
			if target < 0 || target > last {
				target = last
			}
			return d == nearestWeekday(y, m, target, last, loc)
		default:
			return c.dom.days&(1<<uint(d)) != 0
		}
	}
	if !c.dow.any {
		switch {
		case c.dow.last != 0:
			return wd == c.dow.last && d+7 > last
		case c.dow.nth != 0:
			return wd == c.dow.nth && (d-1)/7+1 == c.dow.nthOf
		default:
			return c.dow.days&(1<<uint(wd)) != 0
		}
	}
	return true
}

// nearestWeekday is the weekday (Mon-Fri) nearest to day d of the month,
// within the month (cron's W).
func nearestWeekday(y int, m time.Month, d, last int, loc *time.Location) int {
	switch time.Date(y, m, d, 0, 0, 0, 0, loc).Weekday() {
	case time.Saturday:
		if d == 1 {
			return 3
		}
		return d - 1
	case time.Sunday:
		if d == last {
			return d - 2
		}
		return d + 1
	}
	return d
}

// next is the first matching minute strictly after t (zero: none before
// maxYear ends).
func (c *cronExpr) next(t time.Time) time.Time {
	loc := t.Location()
	t = t.Truncate(time.Minute).Add(time.Minute)
	y, m, d := t.Date()
	hour, minute := t.Hour(), t.Minute()
	for guard := 0; guard < 100_000 && y <= maxYear; guard++ {
		if y < minYear || !c.years[y-minYear] {
			y, m, d, hour, minute = y+1, 1, 1, 0, 0
			continue
		}
		if c.months&(1<<uint(m)) == 0 {
			m, d, hour, minute = m+1, 1, 0, 0
			if m > 12 {
				y, m = y+1, 1
			}
			continue
		}
		if c.dayMatches(y, m, d, loc) {
			for h := hour; h < 24; h++ {
				if c.hours&(1<<uint(h)) == 0 {
					continue
				}
				start := 0
				if h == hour {
					start = minute
				}
				for mi := start; mi < 60; mi++ {
					if c.minutes&(1<<uint(mi)) != 0 {
						cand := time.Date(y, m, d, h, mi, 0, 0, loc)
						// A DST gap moves a wall time; keep only times
						// that exist as written.
						if cand.Hour() == h && cand.Minute() == mi {
							return cand
						}
					}
				}
			}
		}
		next := time.Date(y, m, d+1, 0, 0, 0, 0, loc)
		y, m, d = next.Date()
		hour, minute = 0, 0
	}
	return time.Time{}
}
