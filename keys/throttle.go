package keys

import (
	"net"
	"sync"
	"time"
)

// Limiter throttles authentication attempts per remote address with a token
// bucket: each address holds up to perMinute tokens, refilled at perMinute
// a minute, and every attempt takes one. The SSH server asks it before any
// key is checked (and before the key exchange of a new connection), unlike
// the stock rate-limit middleware, which only runs after authentication.
type Limiter struct {
	mu      sync.Mutex
	perSec  float64
	burst   float64
	buckets map[string]*bucket
	now     func() time.Time
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxTracked bounds the table; past it, full (idle) buckets are dropped.
const maxTracked = 100_000

// NewLimiter allows perMinute attempts a minute per address, in bursts of
// up to perMinute. perMinute <= 0 disables throttling (every call allows).
func NewLimiter(perMinute int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{
		perSec:  float64(perMinute) / 60,
		burst:   float64(perMinute),
		buckets: map[string]*bucket{},
		now:     now,
	}
}

// Host is the address part throttling keys on: the IP without the port,
// and for IPv6 its /64 network, since one client usually holds a whole /64.
func Host(addr net.Addr) string {
	if addr == nil {
		return ""
	}
	h, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		h = addr.String()
	}
	ip := net.ParseIP(h)
	if ip == nil || ip.To4() != nil {
		return h
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}

// Allow takes a token for host and reports whether one was there.
func (l *Limiter) Allow(host string) bool {
	if l == nil || l.burst <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(host)
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Refund gives back a token taken for an attempt that succeeded, so that
// only failed attempts use up an address's budget (a practice's staff
// share one address and sign in at the same hour).
func (l *Limiter) Refund(host string) {
	if l == nil || l.burst <= 0 {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(host)
	b.tokens = min(b.tokens+1, l.burst)
}

// Exhausted reports, without taking one, whether host has no token left.
func (l *Limiter) Exhausted(host string) bool {
	if l == nil || l.burst <= 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.refill(host).tokens < 1
}

// RetryAfter is how long until host has a token again (0 if it has one).
func (l *Limiter) RetryAfter(host string) time.Duration {
	if l == nil || l.burst <= 0 {
		return 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.refill(host)
	if b.tokens >= 1 {
		return 0
	}
	return time.Duration((1 - b.tokens) / l.perSec * float64(time.Second))
}

// refill brings host's bucket up to date; l.mu is held.
func (l *Limiter) refill(host string) *bucket {
	now := l.now()
	b, ok := l.buckets[host]
	if !ok {
		if len(l.buckets) >= maxTracked {
			l.sweep(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.buckets[host] = b
		return b
	}
	if d := now.Sub(b.at); d > 0 {
		b.tokens += d.Seconds() * l.perSec
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.at = now
	}
	return b
}

// sweep drops the buckets that have refilled completely: forgetting them
// changes nothing, since a new bucket starts full.
func (l *Limiter) sweep(now time.Time) {
	full := time.Duration(l.burst / l.perSec * float64(time.Second))
	for h, b := range l.buckets {
		if now.Sub(b.at) >= full {
			delete(l.buckets, h)
		}
	}
	// Still full: forget arbitrary addresses rather than grow without bound.
	for h := range l.buckets {
		if len(l.buckets) < maxTracked/2 {
			break
		}
		delete(l.buckets, h)
	}
}

// Tracked is how many addresses the limiter currently remembers.
func (l *Limiter) Tracked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
