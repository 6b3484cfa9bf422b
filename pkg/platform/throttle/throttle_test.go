package throttle_test

import (
	"testing"
	"time"

	"simplemessenger/platform/throttle"
)

// eventsAt returns event times newest first, each ago[i] before now.
func eventsAt(now time.Time, ago ...time.Duration) []time.Time {
	out := make([]time.Time, len(ago))
	for i, d := range ago {
		out[i] = now.Add(-d)
	}
	return out
}

func TestRuleAllowsUpToTheLimitWithinTheWindow(t *testing.T) {
	rule := throttle.Rule{Limit: 3, Window: 15 * time.Minute}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	if throttled, _ := rule.Check(eventsAt(now, time.Minute, 2*time.Minute), now); throttled {
		t.Error("2 events of 3 allowed: throttled")
	}
	// Events at or before the window start no longer count.
	if throttled, _ := rule.Check(eventsAt(now, time.Minute, 2*time.Minute, 15*time.Minute, 20*time.Minute), now); throttled {
		t.Error("old events counted")
	}
}

func TestRuleRetryAfterIsWhenTheWindowFreesUp(t *testing.T) {
	rule := throttle.Rule{Limit: 3, Window: 15 * time.Minute}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	// Newest first: 1, 4 and 10 minutes ago (and two more, 12 and 14 min ago, beyond the limit).
	events := eventsAt(now, time.Minute, 4*time.Minute, 10*time.Minute, 12*time.Minute, 14*time.Minute)
	throttled, wait := rule.Check(events, now)
	if !throttled {
		t.Fatal("3 events of 3 allowed within the window: not throttled")
	}
	// Only when the 3rd newest (10 min ago) leaves the window do fewer than 3 remain: in 5 minutes.
	if wait != 5*time.Minute {
		t.Errorf("retry after %v, want 5m", wait)
	}

	// A fake clock moved to just before and just after that moment.
	if throttled, w := rule.Check(events, now.Add(wait-time.Second)); !throttled || w != time.Second {
		t.Errorf("1 s before the window frees: throttled %v, wait %v", throttled, w)
	}
	if throttled, _ := rule.Check(events, now.Add(wait)); throttled {
		t.Error("still throttled once the limiting event left the window")
	}
}

func TestDisabledRulesNeverThrottle(t *testing.T) {
	now := time.Now()
	for _, r := range []throttle.Rule{{Limit: 0, Window: time.Minute}, {Limit: 1, Window: 0}} {
		if r.Enabled() {
			t.Errorf("%+v enabled", r)
		}
		if throttled, _ := r.Check(eventsAt(now, 0, 0, 0), now); throttled {
			t.Errorf("disabled rule %+v throttled", r)
		}
	}
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int{
		0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 5 * time.Minute: 300, -time.Second: 1,
	} {
		if got := throttle.RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestKeysOfDifferentNamespacesNeverMeet(t *testing.T) {
	first, again := throttle.NewKey("address", "10.0.0.1"), throttle.NewKey("address", "10.0.0.1")
	if first != again {
		t.Error("a key is not stable")
	}
	if throttle.NewKey("account", "10.0.0.1") == throttle.NewKey("address", "10.0.0.1") {
		t.Error("an account named like an address shares its key")
	}
}

func TestAddressesCountPerIPv4AddressAndPerIPv6Slash64(t *testing.T) {
	same := [][2]string{
		{"2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff"}, // one subscriber's /64
		{"2001:db8:1:2::1", "2001:DB8:1:2:0:0:0:1"},
		{"fe80::1%eth0", "fe80::2"},
	}
	for _, p := range same {
		if throttle.AddressKey(p[0]) != throttle.AddressKey(p[1]) {
			t.Errorf("%s and %s are counted apart", p[0], p[1])
		}
	}
	apart := [][2]string{
		{"192.0.2.1", "192.0.2.2"},
		{"2001:db8:1:2::1", "2001:db8:1:3::1"},
		{"192.0.2.1", "::ffff:192.0.2.2"},
	}
	for _, p := range apart {
		if throttle.AddressKey(p[0]) == throttle.AddressKey(p[1]) {
			t.Errorf("%s and %s share a count", p[0], p[1])
		}
	}
}
