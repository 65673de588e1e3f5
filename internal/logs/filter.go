package logs

import (
	"cmp"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/fargo-run/fargo/internal/errdefs"
	"github.com/fargo-run/fargo/internal/paging"
	"github.com/fargo-run/fargo/internal/store"
	"github.com/fargo-run/fargo/internal/tenant"
)

// FilterInput is what FilterLogEvents takes.
type FilterInput struct {
	Group              string
	StreamNames        []string // at most one of StreamNames and StreamPrefix
	StreamPrefix       string
	StartTime, EndTime *int64 // epoch ms; [start, end)
	Pattern            string // see Compile
	Limit              int    // 0: up to 10,000 events and 1 MB
	Token              string
}

// FilterOutput is what FilterLogEvents answers.
type FilterOutput struct {
	Events    []OutputEvent
	Searched  []SearchedStream
	NextToken string
}

// SearchedStream says whether a stream's matches all fit in this page.
type SearchedStream struct {
	Name       string
	Completely bool
}

// filterToken is the place of the last event of a page in the group-wide
// order (timestamp, stream, batch, index).
type filterToken struct {
	TS     int64  `json:"t"`
	Stream string `json:"s"`
	Seq    int64  `json:"q"`
	Idx    int    `json:"i"`
}

const filterList = "logs.FilterLogEvents"

func compareGroupOrder(a storedEvent, b filterToken) int {
	return cmp.Or(cmp.Compare(a.TS, b.TS), strings.Compare(a.Stream, b.Stream), cmp.Compare(a.Seq, b.Seq), cmp.Compare(a.Idx, b.Idx))
}

// FilterEvents is FilterLogEvents: the matching events of the selected
// streams (all by default), interleaved by timestamp.
func (s *Service) FilterEvents(ctx context.Context, sc tenant.Scope, in FilterInput) (*FilterOutput, error) {
	limit, err := Page{Limit: in.Limit}.limit(MaxEventsPerRead, MaxEventsPerRead)
	if err != nil {
		return nil, err
	}
	if len(in.StreamNames) > 0 && in.StreamPrefix != "" {
		return nil, errdefs.Invalidf("logStreamNames and logStreamNamePrefix are mutually exclusive.")
	}
	match, err := Compile(in.Pattern)
	if err != nil {
		return nil, err
	}
	var after *filterToken
	if in.Token != "" {
		var t filterToken
		if err := paging.Decode(filterList, in.Token, &t); err != nil {
			return nil, errInvalidToken()
		}
		after = &t
	}
	var (
		evs      []storedEvent
		searched []string
	)
	err = s.st.View(ctx, func(tx store.ReadTx) error {
		evs, searched = nil, nil
		g, err := getGroup(tx, sc, in.Group)
		if err != nil {
			return err
		}
		streams, err := listStreams(tx, sc, in.Group)
		if err != nil {
			return err
		}
		r := newTimeRange(in.StartTime, in.EndTime, g.retentionCutoff(s.now()))
		if after != nil {
			r.From = max(r.From, after.TS)
		}
		for _, st := range streams {
			if !strings.HasPrefix(st.Name, in.StreamPrefix) || (len(in.StreamNames) > 0 && !slices.Contains(in.StreamNames, st.Name)) {
				continue
			}
			searched = append(searched, st.Name)
			if !st.HasEvents() || st.LastEventTimestamp < r.From {
				continue
			}
			got, err := readStream(tx, sc, in.Group, st.Name, r, match)
			if err != nil {
				return err
			}
			evs = append(evs, got...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(evs, func(a, b storedEvent) int {
		return compareGroupOrder(a, filterToken{TS: b.TS, Stream: b.Stream, Seq: b.Seq, Idx: b.Idx})
	})
	if after != nil {
		i, _ := slices.BinarySearchFunc(evs, *after, compareGroupOrder)
		for i < len(evs) && compareGroupOrder(evs[i], *after) <= 0 {
			i++
		}
		evs = evs[i:]
	}
	n, size := 0, 0
	for n < len(evs) && n < limit && size+len(evs[n].Msg)+EventOverhead <= maxReadBytes {
		size += len(evs[n].Msg) + EventOverhead
		n++
	}
	out := &FilterOutput{Events: make([]OutputEvent, n)}
	for i, e := range evs[:n] {
		out.Events[i] = e.output()
	}
	pending := map[string]bool{}
	if n < len(evs) {
		last := evs[n-1]
		out.NextToken = paging.Encode(filterList, filterToken{TS: last.TS, Stream: last.Stream, Seq: last.Seq, Idx: last.Idx})
		for _, e := range evs[n:] {
			pending[e.Stream] = true
		}
	}
	for _, name := range searched {
		out.Searched = append(out.Searched, SearchedStream{Name: name, Completely: !pending[name]})
	}
	return out, nil
}

// Compile parses a filter pattern into a matcher. Supported:
//
//   - "" (or blanks): every event.
//   - Terms: space-separated; every term must appear (case-sensitive
//     substring). "quoted phrases" are one term; -term (or -"phrase")
//     excludes events containing it; ?term terms are alternatives: at least
//     one of them must appear. Plain, -, and ? terms combine with AND.
//   - JSON: { SELECTOR OP VALUE [&& | || ...] } on messages that are JSON
//     objects. SELECTOR is $.a.b (dotted fields, [n] array indexes); OP is
//     =, != (strings and numbers; string values may use * wildcards) or
//     <, <=, >, >= (numbers); VALUE is a number, a "quoted string", a bare
//     word, true/false, or NULL / EXISTS / NOT EXISTS. && binds tighter than
//     ||; parentheses are not supported.
//
// Space-delimited ([a, b, ...]) and regular-expression (%...%) patterns are
// not supported and answer an invalid-argument error.
func Compile(pattern string) (func(string) bool, error) {
	p := strings.TrimSpace(pattern)
	switch {
	case p == "":
		return nil, nil
	case strings.HasPrefix(p, "{"):
		return compileJSON(p)
	case strings.HasPrefix(p, "["), strings.HasPrefix(p, "%"):
		return nil, errdefs.Invalidf("Invalid filter pattern: fargo supports term and JSON filter patterns, not space-delimited or regular-expression ones.")
	}
	return compileTerms(p)
}

func compileTerms(p string) (func(string) bool, error) {
	var all, none, oneOf []string
	for p != "" {
		kind := byte(0)
		if p[0] == '-' || p[0] == '?' {
			kind, p = p[0], p[1:]
		}
		var term string
		if strings.HasPrefix(p, `"`) {
			end := strings.IndexByte(p[1:], '"')
			if end < 0 {
				return nil, errdefs.Invalidf("Invalid filter pattern: unterminated quoted term.")
			}
			term, p = p[1:1+end], p[2+end:]
		} else {
			end := strings.IndexAny(p, " \t")
			if end < 0 {
				end = len(p)
			}
			term, p = p[:end], p[end:]
		}
		p = strings.TrimLeft(p, " \t")
		if term == "" {
			continue
		}
		switch kind {
		case '-':
			none = append(none, term)
		case '?':
			oneOf = append(oneOf, term)
		default:
			all = append(all, term)
		}
	}
	return func(msg string) bool {
		for _, t := range all {
			if !strings.Contains(msg, t) {
				return false
			}
		}
		for _, t := range none {
			if strings.Contains(msg, t) {
				return false
			}
		}
		if len(oneOf) == 0 {
			return true
		}
		return slices.ContainsFunc(oneOf, func(t string) bool { return strings.Contains(msg, t) })
	}, nil
}

// jsonCond is one SELECTOR OP VALUE comparison.
type jsonCond struct {
	path  []string
	op    string
	value string
	num   *float64
	str   bool // VALUE was quoted
}

func compileJSON(p string) (func(string) bool, error) {
	bad := func(why string) error { return errdefs.Invalidf("Invalid filter pattern: %s", why) }
	if !strings.HasSuffix(p, "}") {
		return nil, bad("a JSON pattern must end with '}'.")
	}
	body := strings.TrimSpace(p[1 : len(p)-1])
	var ors [][]jsonCond
	for _, orPart := range strings.Split(body, "||") {
		var ands []jsonCond
		for _, c := range strings.Split(orPart, "&&") {
			cond, err := parseCond(strings.TrimSpace(c))
			if err != nil {
				return nil, bad(err.Error())
			}
			ands = append(ands, cond)
		}
		ors = append(ors, ands)
	}
	return func(msg string) bool {
		var doc any
		if json.Unmarshal([]byte(msg), &doc) != nil {
			return false
		}
		if _, ok := doc.(map[string]any); !ok {
			return false
		}
		return slices.ContainsFunc(ors, func(ands []jsonCond) bool {
			for _, c := range ands {
				if !c.eval(doc) {
					return false
				}
			}
			return true
		})
	}, nil
}

type condError string

func (e condError) Error() string { return string(e) }

func parseCond(c string) (jsonCond, error) {
	if !strings.HasPrefix(c, "$") {
		return jsonCond{}, condError("a JSON condition must start with a $ selector.")
	}
	i := strings.IndexAny(c, "=!<> ")
	if i < 0 {
		return jsonCond{}, condError("missing comparison operator.")
	}
	sel, rest := c[:i], strings.TrimSpace(c[i:])
	var cond jsonCond
	for _, seg := range strings.Split(strings.TrimPrefix(sel, "$"), ".")[1:] {
		for {
			b := strings.IndexByte(seg, '[')
			if b < 0 {
				cond.path = append(cond.path, seg)
				break
			}
			if b > 0 {
				cond.path = append(cond.path, seg[:b])
			}
			e := strings.IndexByte(seg, ']')
			if e < b {
				return jsonCond{}, condError("bad array index in selector.")
			}
			cond.path = append(cond.path, seg[b:e+1])
			seg = seg[e+1:]
			if seg == "" {
				break
			}
		}
	}
	for _, op := range []string{"!=", "<=", ">=", "=", "<", ">"} {
		if strings.HasPrefix(rest, op) {
			cond.op, rest = op, strings.TrimSpace(rest[len(op):])
			break
		}
	}
	if cond.op == "" {
		rest = strings.TrimSpace(rest)
		switch {
		case strings.EqualFold(rest, "NOT EXISTS"):
			cond.op = "notexists"
			return cond, nil
		case strings.EqualFold(rest, "EXISTS"):
			cond.op = "exists"
			return cond, nil
		}
		return jsonCond{}, condError("missing comparison operator.")
	}
	if rest == "" {
		return jsonCond{}, condError("missing value.")
	}
	if strings.HasPrefix(rest, `"`) && strings.HasSuffix(rest, `"`) && len(rest) >= 2 {
		cond.value, cond.str = rest[1:len(rest)-1], true
	} else {
		cond.value = rest
		if f, err := strconv.ParseFloat(rest, 64); err == nil {
			cond.num = &f
		}
	}
	if (cond.op == "<" || cond.op == ">" || cond.op == "<=" || cond.op == ">=") && cond.num == nil {
		return jsonCond{}, condError("numeric comparisons need a number.")
	}
	return cond, nil
}

func (c jsonCond) eval(doc any) bool {
	v, ok := lookup(doc, c.path)
	switch c.op {
	case "exists":
		return ok
	case "notexists":
		return !ok
	}
	if !ok {
		return false
	}
	if c.num != nil && !c.str {
		f, isNum := v.(float64)
		if !isNum {
			if c.op == "!=" {
				return true
			}
			return false
		}
		switch c.op {
		case "=":
			return f == *c.num
		case "!=":
			return f != *c.num
		case "<":
			return f < *c.num
		case "<=":
			return f <= *c.num
		case ">":
			return f > *c.num
		case ">=":
			return f >= *c.num
		}
	}
	var s string
	switch v := v.(type) {
	case string:
		s = v
	case bool:
		s = strconv.FormatBool(v)
	case nil:
		s = "NULL"
	default:
		b, _ := json.Marshal(v)
		s = string(b)
	}
	eq := wildcardMatch(c.value, s)
	if c.op == "!=" {
		return !eq
	}
	return eq
}

func lookup(doc any, path []string) (any, bool) {
	v := doc
	for _, seg := range path {
		if strings.HasPrefix(seg, "[") {
			arr, ok := v.([]any)
			n, err := strconv.Atoi(strings.Trim(seg, "[]"))
			if !ok || err != nil || n < 0 || n >= len(arr) {
				return nil, false
			}
			v = arr[n]
			continue
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[seg]; !ok {
			return nil, false
		}
	}
	return v, true
}

// wildcardMatch matches s against a pattern where '*' is any run.
func wildcardMatch(pattern, s string) bool {
	parts := strings.Split(pattern, "*")
	if len(parts) == 1 {
		return pattern == s
	}
	if !strings.HasPrefix(s, parts[0]) {
		return false
	}
	s = s[len(parts[0]):]
	for _, mid := range parts[1 : len(parts)-1] {
		i := strings.Index(s, mid)
		if i < 0 {
			return false
		}
		s = s[i+len(mid):]
	}
	return strings.HasSuffix(s, parts[len(parts)-1])
}
