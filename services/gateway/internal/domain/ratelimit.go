package domain

import (
	"math"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"golang.org/x/time/rate"
)

// RateLimiter is a token bucket per key (a client address, a user id). The buckets live in a bounded LRU, so
// a flood of distinct keys costs bounded memory; a key evicted for being idle starts again with a full bucket,
// which is what it would have after idling anyway.
type RateLimiter struct {
	rps     rate.Limit
	burst   int
	buckets *lru.Cache[string, *rate.Limiter]
}

// NewRateLimiter allows rps requests per second per key with bursts of burst, tracking at most maxKeys keys.
// rps 0 disables limiting (nil is returned, and a nil RateLimiter allows everything). A burst below one is
// raised to one request so that a positive rate can be met at all.
func NewRateLimiter(rps float64, burst, maxKeys int) (*RateLimiter, error) {
	if rps <= 0 {
		return nil, nil
	}
	if burst < 1 {
		burst = 1
	}
	if maxKeys < 1 {
		maxKeys = 1
	}
	buckets, err := lru.New[string, *rate.Limiter](maxKeys)
	if err != nil {
		return nil, err
	}
	return &RateLimiter{rps: rate.Limit(rps), burst: burst, buckets: buckets}, nil
}

// Allow takes one request of key's budget at now. When the budget is spent it returns false and how long until
// a request would be allowed, in whole seconds, at least 1 (the Retry-After a client should honour).
func (l *RateLimiter) Allow(key string, now time.Time) (ok bool, retryAfter int) {
	if l == nil {
		return true, 0
	}
	b, found := l.buckets.Get(key)
	if !found {
		fresh := rate.NewLimiter(l.rps, l.burst)
		if prev, exists, _ := l.buckets.PeekOrAdd(key, fresh); exists {
			b = prev
		} else {
			b = fresh
		}
	}
	r := b.ReserveN(now, 1)
	if !r.OK() {
		return false, 1
	}
	delay := r.DelayFrom(now)
	if delay <= 0 {
		return true, 0
	}
	// Give the token back: a refused request must not push the next allowed one further away.
	r.CancelAt(now)
	return false, max(1, int(math.Ceil(delay.Seconds())))
}
