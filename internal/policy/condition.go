package policy

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Set qualifiers of a condition operator.
const (
	forAnyValue  = "ForAnyValue"
	forAllValues = "ForAllValues"
)

// operator is a base condition operator: match reports whether one request
// value matches one policy value; negated operators (StringNotEquals, ...)
// hold when no policy value matches.
type operator struct {
	negated bool
	check   func(policyValue string) bool // validates a policy value
	match   func(requestValue, policyValue string) bool
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil
}

func isNumber(s string) bool { _, ok := parseNumber(s); return ok }

func parseDate(s string) (time.Time, bool) {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04Z07:00", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	if f, ok := parseNumber(s); ok { // epoch seconds
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), true
	}
	return time.Time{}, false
}

func isDate(s string) bool { _, ok := parseDate(s); return ok }

func numeric(cmp func(a, b float64) bool) func(string, string) bool {
	return func(r, p string) bool {
		a, ok1 := parseNumber(r)
		b, ok2 := parseNumber(p)
		return ok1 && ok2 && cmp(a, b)
	}
}

func date(cmp func(a, b time.Time) bool) func(string, string) bool {
	return func(r, p string) bool {
		a, ok1 := parseDate(r)
		b, ok2 := parseDate(p)
		return ok1 && ok2 && cmp(a, b)
	}
}

func parsePrefix(s string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

func ipMatch(r, p string) bool {
	pre, ok := parsePrefix(p)
	if !ok {
		return false
	}
	a, err := netip.ParseAddr(r)
	return err == nil && pre.Contains(a.Unmap())
}

func isBool(s string) bool { return strings.EqualFold(s, "true") || strings.EqualFold(s, "false") }

var operators = map[string]*operator{
	"StringEquals":              {match: func(r, p string) bool { return r == p }},
	"StringNotEquals":           {negated: true, match: func(r, p string) bool { return r == p }},
	"StringEqualsIgnoreCase":    {match: strings.EqualFold},
	"StringNotEqualsIgnoreCase": {negated: true, match: strings.EqualFold},
	"StringLike":                {match: func(r, p string) bool { return Glob(p, r) }},
	"StringNotLike":             {negated: true, match: func(r, p string) bool { return Glob(p, r) }},
	"NumericEquals":             {check: isNumber, match: numeric(func(a, b float64) bool { return a == b })},
	"NumericNotEquals":          {check: isNumber, negated: true, match: numeric(func(a, b float64) bool { return a == b })},
	"NumericLessThan":           {check: isNumber, match: numeric(func(a, b float64) bool { return a < b })},
	"NumericLessThanEquals":     {check: isNumber, match: numeric(func(a, b float64) bool { return a <= b })},
	"NumericGreaterThan":        {check: isNumber, match: numeric(func(a, b float64) bool { return a > b })},
	"NumericGreaterThanEquals":  {check: isNumber, match: numeric(func(a, b float64) bool { return a >= b })},
	"DateEquals":                {check: isDate, match: date(time.Time.Equal)},
	"DateNotEquals":             {check: isDate, negated: true, match: date(time.Time.Equal)},
	"DateLessThan":              {check: isDate, match: date(time.Time.Before)},
	"DateLessThanEquals":        {check: isDate, match: date(func(a, b time.Time) bool { return !a.After(b) })},
	"DateGreaterThan":           {check: isDate, match: date(time.Time.After)},
	"DateGreaterThanEquals":     {check: isDate, match: date(func(a, b time.Time) bool { return !a.Before(b) })},
	"Bool":                      {check: isBool, match: strings.EqualFold},
	"BinaryEquals":              {match: func(r, p string) bool { return r == p }},
	"IpAddress":                 {check: func(s string) bool { _, ok := parsePrefix(s); return ok }, match: ipMatch},
	"NotIpAddress":              {check: func(s string) bool { _, ok := parsePrefix(s); return ok }, negated: true, match: ipMatch},
	"ArnEquals":                 {match: arnMatch},
	"ArnLike":                   {match: arnMatch},
	"ArnNotEquals":              {negated: true, match: arnMatch},
	"ArnNotLike":                {negated: true, match: arnMatch},
	"Null":                      {check: isBool},
}

// parseConditions decodes {"Operator": {"Key": value | [values]}}; values
// may be strings, numbers or booleans. The result is sorted for stable
// evaluation order.
func parseConditions(v json.RawMessage) ([]Condition, error) {
	ops, err := object(v, "Condition")
	if err != nil {
		return nil, err
	}
	var out []Condition
	for name, raw := range ops {
		c := Condition{Operator: name}
		base := name
		if set, rest, ok := strings.Cut(base, ":"); ok {
			if set != forAnyValue && set != forAllValues {
				return nil, invalid("unknown condition operator %q", name)
			}
			c.set, base = set, rest
		}
		if b, ok := strings.CutSuffix(base, "IfExists"); ok && b != "Null" {
			c.ifExists, base = true, b
		}
		c.op = operators[base]
		if c.op == nil || (base == "Null" && c.set != "") {
			return nil, invalid("unknown condition operator %q", name)
		}
		c.base = base
		keys, err := object(raw, "Condition "+name)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return nil, invalid("Condition %s has no keys", name)
		}
		for key, vals := range keys {
			if key == "" {
				return nil, invalid("Condition %s: empty key", name)
			}
			values, err := conditionValues(vals)
			if err != nil {
				return nil, invalid("Condition %s %s: %s", name, key, detail(err))
			}
			for _, s := range values {
				if c.op.check != nil && !c.op.check(s) {
					return nil, invalid("Condition %s %s: invalid value %q", name, key, s)
				}
			}
			cc := c
			cc.Key, cc.Values = key, values
			out = append(out, cc)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Operator != out[j].Operator {
			return out[i].Operator < out[j].Operator
		}
		return out[i].Key < out[j].Key
	})
	return out, nil
}

func conditionValues(v json.RawMessage) ([]string, error) {
	var raws []json.RawMessage
	if firstByte(v) == '[' {
		if err := json.Unmarshal(v, &raws); err != nil {
			return nil, invalid("%v", err)
		}
	} else {
		raws = []json.RawMessage{v}
	}
	out := make([]string, 0, len(raws))
	for _, r := range raws {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var x any
		if err := dec.Decode(&x); err != nil {
			return nil, invalid("%v", err)
		}
		switch x := x.(type) {
		case string:
			out = append(out, x)
		case json.Number:
			out = append(out, x.String())
		case bool:
			out = append(out, strconv.FormatBool(x))
		default:
			return nil, invalid("values must be strings, numbers or booleans")
		}
	}
	return out, nil
}

// holds evaluates the condition against the request context (keys in
// lower case).
func (c *Condition) holds(ctx map[string][]string) bool {
	vals, present := ctx[strings.ToLower(c.Key)]
	present = present && len(vals) > 0
	if c.base == "Null" {
		for _, v := range c.Values {
			if strings.EqualFold(v, "true") != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == forAllValues:
			return true // vacuously: every (no) value matches
		case c.set == forAnyValue:
			return false
		}
		// A missing key matches no value: positive operators fail,
		// negated ones ("not equal to any of these") hold.
		return c.op.negated
	}
	if c.set == forAllValues {
		for _, r := range vals {
			if !c.one(r) {
				return false
			}
		}
		return true
	}
	for _, r := range vals {
		if c.one(r) {
			return true
		}
	}
	return false
}

// one evaluates the operator for a single request value.
func (c *Condition) one(r string) bool {
	for _, p := range c.Values {
		if c.op.match(r, p) {
			return !c.op.negated
		}
	}
	return c.op.negated
}
