package node

import (
	"strconv"
	"strings"
)

// ParsePortRange parses "8000-8010" (lo < hi, both in 1-65535).
func ParsePortRange(s string) (lo, hi int, ok bool) {
	a, b, found := strings.Cut(s, "-")
	if !found {
		return 0, 0, false
	}
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if err1 != nil || err2 != nil || lo < 1 || hi > 65535 || lo >= hi {
		return 0, 0, false
	}
	return lo, hi, true
}
