package lb

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// wildcard reports whether s matches pattern, where '*' matches any run of
// characters (also none) and '?' exactly one, as ALB's host-header,
// path-pattern, http-header and query-string conditions do. fold makes the
// comparison ASCII case-insensitive (hosts, header values, query strings);
// paths compare case-sensitively.
func wildcard(pattern, s string, fold bool) bool {
	// Iterative glob with one backtrack point: linear in practice, never
	// exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && (pattern[p] == '?' || eqByte(pattern[p], s[i], fold)):
			p++
			i++
		case star >= 0:
			p = star + 1
			mark++
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func eqByte(a, b byte, fold bool) bool {
	if a == b {
		return true
	}
	if !fold {
		return false
	}
	return lower(a) == lower(b)
}

func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// matcher is one compiled condition.
type matcher func(r *http.Request, src netip.Addr) bool

// compiledRule is a rule ready to match.
type compiledRule struct {
	rule  Rule
	conds []matcher
	// action is the rule's last action (the one that answers).
	action Action
}

func (c *compiledRule) matches(r *http.Request, src netip.Addr) bool {
	for _, m := range c.conds {
		if !m(r, src) {
			return false
		}
	}
	return true
}

// compileRules checks and compiles a listener's rules.
func compileRules(rules []Rule) ([]compiledRule, error) {
	out := make([]compiledRule, 0, len(rules))
	for _, ru := range rules {
		if len(ru.Actions) == 0 {
			return nil, fmt.Errorf("rule %s has no action", ru.ARN)
		}
		cr := compiledRule{rule: ru, action: ru.Actions[len(ru.Actions)-1]}
		for _, c := range ru.Conditions {
			m, err := compileCondition(c)
			if err != nil {
				return nil, fmt.Errorf("rule %s: %w", ru.ARN, err)
			}
			cr.conds = append(cr.conds, m)
		}
		switch a := cr.action; a.Type {
		case "forward":
			if a.Forward == nil || len(a.Forward.TargetGroups) == 0 {
				return nil, fmt.Errorf("rule %s: forward action without target group", ru.ARN)
			}
		case "redirect":
			if a.Redirect == nil {
				return nil, fmt.Errorf("rule %s: redirect action without redirect", ru.ARN)
			}
		case "fixed-response":
			if a.Fixed == nil {
				return nil, fmt.Errorf("rule %s: fixed-response action without response", ru.ARN)
			}
		default:
			return nil, fmt.Errorf("rule %s: unsupported action type %q", ru.ARN, a.Type)
		}
		out = append(out, cr)
	}
	return out, nil
}

func compileCondition(c Condition) (matcher, error) {
	values := c.Values
	switch c.Field {
	case "host-header":
		return func(r *http.Request, _ netip.Addr) bool {
			h := hostOnly(r.Host)
			for _, v := range values {
				if wildcard(v, h, true) {
					return true
				}
			}
			return false
		}, nil
	case "path-pattern":
		return func(r *http.Request, _ netip.Addr) bool {
			p := r.URL.Path
			if p == "" {
				p = "/"
			}
			for _, v := range values {
				if wildcard(v, p, false) {
					return true
				}
			}
			return false
		}, nil
	case "http-header":
		if c.HeaderName == "" {
			return nil, fmt.Errorf("http-header condition without header name")
		}
		name := http.CanonicalHeaderKey(c.HeaderName)
		return func(r *http.Request, _ netip.Addr) bool {
			for _, hv := range r.Header[name] {
				for _, v := range values {
					if wildcard(v, hv, true) {
						return true
					}
				}
			}
			return false
		}, nil
	case "http-request-method":
		return func(r *http.Request, _ netip.Addr) bool {
			for _, v := range values {
				if r.Method == v { // case-sensitive, no wildcards
					return true
				}
			}
			return false
		}, nil
	case "query-string":
		if len(c.Query) == 0 {
			return nil, fmt.Errorf("query-string condition without key/value pair")
		}
		kvs := make([]KeyValue, len(c.Query))
		for i, kv := range c.Query {
			kvs[i] = KeyValue{Key: unescape(kv.Key), Value: unescape(kv.Value)}
		}
		return func(r *http.Request, _ netip.Addr) bool {
			q := r.URL.Query()
			for _, kv := range kvs {
				if kv.Key == "" {
					for _, vs := range q {
						for _, v := range vs {
							if wildcard(kv.Value, v, true) {
								return true
							}
						}
					}
					continue
				}
				for k, vs := range q {
					if !wildcard(kv.Key, k, true) {
						continue
					}
					for _, v := range vs {
						if wildcard(kv.Value, v, true) {
							return true
						}
					}
				}
			}
			return false
		}, nil
	case "source-ip":
		var ps []netip.Prefix
		for _, v := range values {
			p, err := netip.ParsePrefix(v)
			if err != nil {
				return nil, fmt.Errorf("source-ip %q: %w", v, err)
			}
			ps = append(ps, p.Masked())
		}
		return func(_ *http.Request, src netip.Addr) bool {
			src = src.Unmap()
			for _, p := range ps {
				if p.Contains(src) {
					return true
				}
			}
			return false
		}, nil
	}
	return nil, fmt.Errorf("unsupported condition field %q", c.Field)
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// hostOnly strips the port from a Host header.
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.HasSuffix(h, "]") {
		if host, _, err := net.SplitHostPort(h); err == nil {
			return host
		}
		return h[:i]
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}
