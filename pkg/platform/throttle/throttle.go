// Package throttle holds the sliding-window rule behind the services' abuse throttles (failed logins in auth,
// registrations in profiles) and the hashed keys they are stored under. The events themselves are kept by each
// service in its own database, so every replica decides on the same history.
package throttle

import (
	"crypto/sha256"
	"net/netip"
	"time"
)

// Rule allows at most Limit events of one key (an account, a client address) within a sliding Window; once
// reached, the key is refused until the oldest of those events leaves the window. Limit 0 disables the rule.
type Rule struct {
	Limit  int
	Window time.Duration
}

// Enabled reports whether the rule limits anything.
func (r Rule) Enabled() bool { return r.Limit > 0 && r.Window > 0 }

// Since is the start of the window ending at now: older events no longer count.
func (r Rule) Since(now time.Time) time.Time { return now.Add(-r.Window) }

// Check decides on the key's events, newest first (at least the newest Limit of those within the window;
// older or extra ones are ignored). When throttled, retryAfter is how long until the window frees up: until
// the Limit-th newest event leaves it, after which one more is allowed.
func (r Rule) Check(newestFirst []time.Time, now time.Time) (throttled bool, retryAfter time.Duration) {
	if !r.Enabled() {
		return false, 0
	}
	since := r.Since(now)
	n := 0
	var limiting time.Time
	for _, at := range newestFirst {
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

// Key is the stored key of a throttled subject: a hash, so arbitrary client input has a fixed size and what
// attackers typed (nicknames, addresses) is not kept in clear.
type Key [sha256.Size]byte

// NewKey is the key of value in a namespace ("account", "address"), so equal values of different kinds (an
// account named like an address) never share a key.
func NewKey(namespace, value string) Key {
	return sha256.Sum256([]byte(namespace + ":" + value))
}

// AddressKey is the key a client address is counted under (failed logins, registrations). An IPv6 client
// counts by its /64: a subscriber usually gets a whole /64, and counting single addresses would give an
// attacker 2^64 allowances.
func AddressKey(addr string) Key {
	if a, err := netip.ParseAddr(addr); err == nil && a.Is6() && !a.Is4In6() {
		addr = netip.PrefixFrom(a.WithZone(""), 64).Masked().String()
	}
	return NewKey("address", addr)
}
