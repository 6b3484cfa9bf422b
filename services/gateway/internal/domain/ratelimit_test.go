package domain

import (
	"testing"
	"time"
)

func TestTheBurstIsAllowedThenRefusedWithRetryAfter(t *testing.T) {
	l, err := NewRateLimiter(1, 3, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if ok, _ := l.Allow("1.2.3.4", t0); !ok {
			t.Fatalf("request %d of the burst refused", i+1)
		}
	}
	ok, retry := l.Allow("1.2.3.4", t0)
	if ok {
		t.Fatal("request past the burst allowed")
	}
	if retry != 1 {
		t.Fatalf("Retry-After %d, want 1 (one token per second)", retry)
	}
	// Refused requests do not consume budget: one second later exactly one more is allowed.
	if ok, _ := l.Allow("1.2.3.4", t0.Add(time.Second)); !ok {
		t.Fatal("not allowed after the bucket refilled one token")
	}
	if ok, _ := l.Allow("1.2.3.4", t0.Add(time.Second)); ok {
		t.Fatal("allowed more than the refill")
	}
}

func TestOtherKeysAreUnaffected(t *testing.T) {
	l, _ := NewRateLimiter(1, 1, 100)
	l.Allow("alice", t0)
	if ok, _ := l.Allow("alice", t0); ok {
		t.Fatal("alice not limited")
	}
	if ok, _ := l.Allow("bob", t0); !ok {
		t.Fatal("bob limited by alice's requests")
	}
}

func TestRetryAfterIsWholeSecondsAtLeastOne(t *testing.T) {
	slow, _ := NewRateLimiter(0.1, 1, 100) // one request per 10 s
	slow.Allow("k", t0)
	if ok, retry := slow.Allow("k", t0); ok || retry != 10 {
		t.Fatalf("ok=%v retry=%d, want refused with 10", ok, retry)
	}
	fast, _ := NewRateLimiter(1000, 1, 100)
	fast.Allow("k", t0)
	if ok, retry := fast.Allow("k", t0); ok || retry != 1 {
		t.Fatalf("ok=%v retry=%d, want refused with 1", ok, retry)
	}
}

func TestARateOfZeroDisablesTheLimit(t *testing.T) {
	l, err := NewRateLimiter(0, 0, 100)
	if err != nil || l != nil {
		t.Fatalf("got %v, %v", l, err)
	}
	for range 10_000 {
		if ok, _ := l.Allow("k", t0); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}

func TestTheNumberOfTrackedKeysIsBounded(t *testing.T) {
	l, _ := NewRateLimiter(1, 1, 2)
	l.Allow("a", t0)
	l.Allow("b", t0)
	l.Allow("c", t0) // evicts a, the least recently used
	if n := l.buckets.Len(); n != 2 {
		t.Fatalf("tracking %d keys", n)
	}
	if ok, _ := l.Allow("c", t0); ok {
		t.Fatal("the newest key lost its state")
	}
}
