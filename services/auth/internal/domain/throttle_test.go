package domain

import (
	"testing"
	"time"
)

// failuresAt returns failure times newest first, each ago[i] before now.
func failuresAt(now time.Time, ago ...time.Duration) []time.Time {
	out := make([]time.Time, len(ago))
	for i, d := range ago {
		out[i] = now.Add(-d)
	}
	return out
}

func TestThrottleAllowsUpToTheLimitWithinTheWindow(t *testing.T) {
	rule := ThrottleRule{Limit: 3, Window: 15 * time.Minute}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	if throttled, _ := rule.Check(failuresAt(now, time.Minute, 2*time.Minute), now); throttled {
		t.Error("2 failures of 3 allowed: throttled")
	}
	// Failures at or before the window start no longer count.
	if throttled, _ := rule.Check(failuresAt(now, time.Minute, 2*time.Minute, 15*time.Minute, 20*time.Minute), now); throttled {
		t.Error("old failures counted")
	}
}

func TestThrottleRetryAfterIsWhenTheWindowFreesUp(t *testing.T) {
	rule := ThrottleRule{Limit: 3, Window: 15 * time.Minute}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	// Newest first: 1, 4 and 10 minutes ago (and two more, 12 and 14 min ago, beyond the limit).
	failures := failuresAt(now, time.Minute, 4*time.Minute, 10*time.Minute, 12*time.Minute, 14*time.Minute)
	throttled, wait := rule.Check(failures, now)
	if !throttled {
		t.Fatal("3 failures of 3 allowed within the window: not throttled")
	}
	// Only when the 3rd newest (10 min ago) leaves the window do fewer than 3 remain: in 5 minutes.
	if wait != 5*time.Minute {
		t.Errorf("retry after %v, want 5m", wait)
	}

	// A fake clock moved to just before and just after that moment.
	later := now.Add(wait - time.Second)
	if throttled, w := rule.Check(failures, later); !throttled || w != time.Second {
		t.Errorf("1 s before the window frees: throttled %v, wait %v", throttled, w)
	}
	if throttled, _ := rule.Check(failures, now.Add(wait)); throttled {
		t.Error("still throttled once the limiting failure left the window")
	}
}

func TestThrottleRuleWithoutLimitNeverThrottles(t *testing.T) {
	now := time.Now()
	if throttled, _ := (ThrottleRule{Limit: 0, Window: time.Minute}).Check(failuresAt(now, 0, 0, 0), now); throttled {
		t.Error("a disabled rule throttled")
	}
}

func TestRetryAfterSecondsRoundsUp(t *testing.T) {
	for d, want := range map[time.Duration]int{
		0: 1, time.Millisecond: 1, time.Second: 1, 1001 * time.Millisecond: 2, 5 * time.Minute: 300, -time.Second: 1,
	} {
		if got := RetryAfterSeconds(d); got != want {
			t.Errorf("RetryAfterSeconds(%v) = %d, want %d", d, got, want)
		}
	}
}

func TestAccountKeyIgnoresCaseAndDiffersFromAddressKey(t *testing.T) {
	if AccountKey("Alice") != AccountKey("aLICE") {
		t.Error("nickname case changes the account key")
	}
	if AccountKey("alice") == AccountKey("bob") {
		t.Error("two accounts share a key")
	}
	if AccountKey("10.0.0.1") == AddressKey("10.0.0.1") {
		t.Error("an account named like an address shares its key")
	}
}
