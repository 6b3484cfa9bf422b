package domain

import (
	"crypto/sha256"
	"strings"
	"time"
)

// ThrottleRule limits failed logins of one key (an account or a client address): at most Limit failures
// within a sliding Window; once reached, every login attempt of that key is refused, even with the right
// password, until the oldest failures leave the window. Limit 0 disables the rule.
type ThrottleRule struct {
	Limit  int
	Window time.Duration
}

// Enabled reports whether the rule limits anything.
func (r ThrottleRule) Enabled() bool { return r.Limit > 0 && r.Window > 0 }

// Since is the start of the window ending at now: older failures no longer count.
func (r ThrottleRule) Since(now time.Time) time.Time { return now.Add(-r.Window) }

// Check decides on the key's failures, newest first (at least the newest Limit of those within the window;
// older or extra ones are ignored). When throttled, retryAfter is how long until the window frees up: until
// the Limit-th newest failure leaves it, after which one more attempt is allowed.
func (r ThrottleRule) Check(failuresNewestFirst []time.Time, now time.Time) (throttled bool, retryAfter time.Duration) {
	if !r.Enabled() {
		return false, 0
	}
	since := r.Since(now)
	n := 0
	var limiting time.Time
	for _, at := range failuresNewestFirst {
		if !at.After(since) {
			break
		}
		n++
		if n == r.Limit {
			limiting = at
			break
		}
	}
	if n < r.Limit {
		return false, 0
	}
	return true, limiting.Add(r.Window).Sub(now)
}

// RetryAfterSeconds rounds a wait up to whole seconds (Retry-After), at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < 1 {
		s = 1
	}
	return s
}

// ThrottleKey is the stored key of a throttled subject: a hash, so arbitrary client input has a fixed size and
// nicknames typed by attackers are not kept in clear.
type ThrottleKey [sha256.Size]byte

// AccountKey keys failures on the nickname, case-insensitively (nicknames are unique regardless of case, so
// "Alice" and "alice" are the same account).
func AccountKey(nickname string) ThrottleKey {
	return sha256.Sum256([]byte("account:" + strings.ToLower(nickname)))
}

// AddressKey keys failures on the client address.
func AddressKey(addr string) ThrottleKey {
	return sha256.Sum256([]byte("address:" + addr))
}
