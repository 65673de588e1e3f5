package metrics

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/fargo-run/fargo/internal/errdefs"
)

// Series is a time series: values by period start.
type Series map[time.Time]float64

// Times returns the series' times, ascending.
func (s Series) Times() []time.Time {
	ts := make([]time.Time, 0, len(s))
	for t := range s {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Before(ts[j]) })
	return ts
}

// mathValue is a scalar, one series or an array of series.
type mathValue struct {
	scalar  *float64
	series  []Series
	isArray bool
}

// EvalMath evaluates a metric math expression over the named series
// (the other queries' results, by Id). It knows arithmetic (+ - * / and
// parentheses) between series and numbers, METRICS() and METRICS("filter")
// (the metric queries' series, by Id substring), and the functions SUM,
// AVG, MIN, MAX (across the series of an array, per timestamp) and ABS.
// A scalar result is returned at every time of the given times.
func EvalMath(expr string, vars map[string]Series, metricIDs []string, times []time.Time) (Series, error) {
	p := &mathParser{src: expr, vars: vars, metricIDs: metricIDs}
	v, err := p.expr()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.src) {
		return nil, p.fail("unexpected %q", p.src[p.pos:])
	}
	switch {
	case v.scalar != nil:
		out := Series{}
		for _, t := range times {
			out[t] = *v.scalar
		}
		return out, nil
	case len(v.series) == 1:
		return v.series[0], nil
	case len(v.series) == 0:
		return Series{}, nil
	}
	return nil, errdefs.Invalidf("Error in expression '%s': the expression returns several time series; wrap it in SUM, AVG, MIN or MAX.", expr)
}

type mathParser struct {
	src       string
	pos       int
	vars      map[string]Series
	metricIDs []string
	depth     int
}

func (p *mathParser) fail(format string, args ...any) error {
	return errdefs.Invalidf("Error in expression '%s': %s", p.src, fmt.Sprintf(format, args...))
}

func (p *mathParser) space() {
	for p.pos < len(p.src) && p.src[p.pos] == ' ' {
		p.pos++
	}
}

func (p *mathParser) peek() byte {
	p.space()
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *mathParser) expr() (mathValue, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 50 {
		return mathValue{}, p.fail("too deeply nested")
	}
	l, err := p.term()
	if err != nil {
		return l, err
	}
	for c := p.peek(); c == '+' || c == '-'; c = p.peek() {
		p.pos++
		r, err := p.term()
		if err != nil {
			return r, err
		}
		l = arith(c, l, r)
	}
	return l, nil
}

func (p *mathParser) term() (mathValue, error) {
	l, err := p.factor()
	if err != nil {
		return l, err
	}
	for c := p.peek(); c == '*' || c == '/'; c = p.peek() {
		p.pos++
		r, err := p.factor()
		if err != nil {
			return r, err
		}
		l = arith(c, l, r)
	}
	return l, nil
}

func (p *mathParser) factor() (mathValue, error) {
	c := p.peek()
	switch {
	case c == '(':
		p.pos++
		v, err := p.expr()
		if err != nil {
			return v, err
		}
		if p.peek() != ')' {
			return v, p.fail("missing )")
		}
		p.pos++
		return v, nil
	case c == '-':
		p.pos++
		v, err := p.factor()
		if err != nil {
			return v, err
		}
		return arith('*', scalar(-1), v), nil
	case c >= '0' && c <= '9' || c == '.':
		start := p.pos
		for p.pos < len(p.src) && (p.src[p.pos] >= '0' && p.src[p.pos] <= '9' || p.src[p.pos] == '.' || p.src[p.pos] == 'e' || p.src[p.pos] == 'E') {
			p.pos++
		}
		f, err := strconv.ParseFloat(p.src[start:p.pos], 64)
		if err != nil {
			return mathValue{}, p.fail("bad number %q", p.src[start:p.pos])
		}
		return scalar(f), nil
	case c == '_' || unicode.IsLetter(rune(c)):
		start := p.pos
		for p.pos < len(p.src) && (p.src[p.pos] == '_' || unicode.IsLetter(rune(p.src[p.pos])) || unicode.IsDigit(rune(p.src[p.pos]))) {
			p.pos++
		}
		name := p.src[start:p.pos]
		if p.peek() == '(' {
			p.pos++
			return p.call(strings.ToUpper(name))
		}
		s, ok := p.vars[name]
		if !ok {
			return mathValue{}, p.fail("unknown id %s", name)
		}
		return mathValue{series: []Series{s}}, nil
	}
	return mathValue{}, p.fail("unexpected end of expression")
}

func (p *mathParser) call(fn string) (mathValue, error) {
	if fn == "METRICS" {
		filter := ""
		if p.peek() == '"' || p.peek() == '\'' {
			q := p.src[p.pos]
			end := strings.IndexByte(p.src[p.pos+1:], q)
			if end < 0 {
				return mathValue{}, p.fail("unterminated string")
			}
			filter = p.src[p.pos+1 : p.pos+1+end]
			p.pos += end + 2
		}
		if p.peek() != ')' {
			return mathValue{}, p.fail("missing )")
		}
		p.pos++
		v := mathValue{isArray: true}
		for _, id := range p.metricIDs {
			if strings.Contains(id, filter) {
				v.series = append(v.series, p.vars[id])
			}
		}
		return v, nil
	}
	arg, err := p.expr()
	if err != nil {
		return arg, err
	}
	if p.peek() != ')' {
		return arg, p.fail("missing )")
	}
	p.pos++
	switch fn {
	case "SUM", "AVG", "MIN", "MAX":
		return reduce(fn, arg), nil
	case "ABS":
		return apply(arg, math.Abs), nil
	}
	return mathValue{}, p.fail("unknown function %s", fn)
}

func scalar(f float64) mathValue { return mathValue{scalar: &f} }

func apply(v mathValue, f func(float64) float64) mathValue {
	if v.scalar != nil {
		return scalar(f(*v.scalar))
	}
	out := mathValue{isArray: v.isArray}
	for _, s := range v.series {
		n := Series{}
		for t, x := range s {
			n[t] = f(x)
		}
		out.series = append(out.series, n)
	}
	return out
}

func op(c byte, a, b float64) float64 {
	switch c {
	case '+':
		return a + b
	case '-':
		return a - b
	case '*':
		return a * b
	}
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// arith combines two values: numbers with numbers, a number with every
// point, series point by point (times present in both).
func arith(c byte, l, r mathValue) mathValue {
	switch {
	case l.scalar != nil && r.scalar != nil:
		return scalar(op(c, *l.scalar, *r.scalar))
	case l.scalar != nil:
		return apply(r, func(x float64) float64 { return op(c, *l.scalar, x) })
	case r.scalar != nil:
		return apply(l, func(x float64) float64 { return op(c, x, *r.scalar) })
	}
	if len(r.series) != 1 {
		l, r = r, l
		c = map[byte]byte{'+': '+', '*': '*', '-': 'r', '/': 'q'}[c]
	}
	out := mathValue{isArray: l.isArray}
	if len(r.series) == 0 {
		return out
	}
	for _, s := range l.series {
		n := Series{}
		for t, x := range s {
			if y, ok := r.series[0][t]; ok {
				switch c {
				case 'r':
					n[t] = y - x
				case 'q':
					n[t] = op('/', y, x)
				default:
					n[t] = op(c, x, y)
				}
			}
		}
		out.series = append(out.series, n)
	}
	return out
}

// reduce aggregates the series of an array per timestamp (a lone series
// or number stays as it is).
func reduce(fn string, v mathValue) mathValue {
	if v.scalar != nil || len(v.series) == 1 && !v.isArray {
		return v
	}
	acc := map[time.Time][]float64{}
	for _, s := range v.series {
		for t, x := range s {
			acc[t] = append(acc[t], x)
		}
	}
	out := Series{}
	for t, xs := range acc {
		r := xs[0]
		sum := 0.0
		for _, x := range xs {
			sum += x
			switch fn {
			case "MIN":
				r = math.Min(r, x)
			case "MAX":
				r = math.Max(r, x)
			}
		}
		switch fn {
		case "SUM":
			r = sum
		case "AVG":
			r = sum / float64(len(xs))
		}
		out[t] = r
	}
	return mathValue{series: []Series{out}}
}
