package domain

import (
	"strings"

	"simplemessenger/platform/throttle"
)

// Login throttling uses throttle.Rule: at most Limit failed logins of one key (an account or a client
// address) within a sliding window; once reached, every login attempt of that key is refused, even with the
// right password, until the oldest failures leave the window. A client address is keyed by throttle.AddressKey
// (an IPv6 client by its /64, as registrations are).

// AccountKey keys failures on the nickname, case-insensitively (nicknames are unique regardless of case, so
// "Alice" and "alice" are the same account).
func AccountKey(nickname string) throttle.Key {
	return throttle.NewKey("account", strings.ToLower(nickname))
}
