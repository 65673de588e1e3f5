package policy

import "strings"

// Glob reports whether s matches pattern, where '*' matches any run of
// characters (including none) and '?' any one character; the match is
// case-sensitive (callers fold case where IAM does, e.g. for actions).
func Glob(pattern, s string) bool {
	// Iterative matcher with single backtrack point: linear in practice
	// and never exponential.
	p, i := 0, 0
	star, mark := -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && (pattern[p] == '?' || pattern[p] == s[i]):
			p++
			i++
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
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

// arnMatch is ArnEquals / ArnLike: the six colon-separated parts of the
// ARN are compared one by one, with wildcards, so a '*' never spans a ':'
// outside the resource part.
func arnMatch(value, pattern string) bool {
	v := strings.SplitN(value, ":", 6)
	p := strings.SplitN(pattern, ":", 6)
	if len(v) != 6 || len(p) != 6 {
		return pattern == "*" || value == pattern
	}
	for i := range p {
		if !Glob(p[i], v[i]) {
			return false
		}
	}
	return true
}
