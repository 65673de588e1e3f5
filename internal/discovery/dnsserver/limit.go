package dnsserver

import (
	"net/netip"
	"sync"
	"time"
)

// limiter is a token bucket per source address, so that one task's flood
// does not starve the others. Idle buckets are forgotten.
type limiter struct {
	rate  float64
	burst float64

	mu      sync.Mutex
	buckets map[netip.Addr]*bucket
	swept   time.Time
}

type bucket struct {
	tokens float64
	last   time.Time
}

// maxSources bounds the buckets kept between sweeps.
const maxSources = 65536

func newLimiter(rate float64, burst int) *limiter {
	return &limiter{rate: rate, burst: float64(burst), buckets: map[netip.Addr]*bucket{}}
}

func (l *limiter) allow(src netip.Addr, now time.Time) bool {
	if l.rate < 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.swept) > 10*time.Second || len(l.buckets) > maxSources {
		full := l.burst / l.rate
		for a, b := range l.buckets {
			if now.Sub(b.last).Seconds() > full {
				delete(l.buckets, a)
			}
		}
		l.swept = now
	}
	b := l.buckets[src]
	if b == nil {
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[src] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
