package adapters

import (
	"context"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/throttle"
)

func TestRegistrationThrottleAdmitsUpToTheLimitPerAddressAndSlides(t *testing.T) {
	repo, db := newRepo(t)
	ctx := context.Background()
	rule := throttle.Rule{Limit: 3, Window: time.Hour}
	home, other := throttle.AddressKey("192.0.2.1"), throttle.AddressKey("198.51.100.9")
	t0 := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)

	admit := func(key throttle.Key, at time.Time) (bool, time.Duration) {
		t.Helper()
		throttled, wait, err := repo.AdmitRegistration(ctx, key, rule, at)
		if err != nil {
			t.Fatal(err)
		}
		return throttled, wait
	}
	for i, at := range []time.Time{t0, t0.Add(10 * time.Minute), t0.Add(20 * time.Minute)} {
		if throttled, _ := admit(home, at); throttled {
			t.Fatalf("attempt %d of 3 refused", i+1)
		}
	}
	// The 4th within the hour is refused until the first leaves the window (at t0+1h), and leaves no trace.
	throttled, wait := admit(home, t0.Add(30*time.Minute))
	if !throttled || wait != 30*time.Minute {
		t.Fatalf("4th attempt: throttled %v, wait %v; want true, 30m", throttled, wait)
	}
	if throttled, wait := admit(home, t0.Add(59*time.Minute)); !throttled || wait != time.Minute {
		t.Errorf("a minute before the window frees: throttled %v, wait %v", throttled, wait)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM registration_attempts`).Scan(&n); err != nil || n != 3 {
		t.Errorf("refused attempts were recorded: %d rows (%v), want 3", n, err)
	}
	// Another address behind its own key is not affected.
	if throttled, _ := admit(other, t0.Add(30*time.Minute)); throttled {
		t.Error("another address was refused")
	}
	// Once the first attempt left the window, exactly one more is admitted.
	if throttled, _ := admit(home, t0.Add(time.Hour)); throttled {
		t.Error("still refused once the oldest attempt left the window")
	}
	if throttled, wait := admit(home, t0.Add(time.Hour+time.Second)); !throttled || wait != 10*time.Minute-time.Second {
		t.Errorf("after the freed slot was used: throttled %v, wait %v", throttled, wait)
	}
}

func TestConcurrentRegistrationsFromOneAddressCannotOverrunTheLimit(t *testing.T) {
	repo, db := newRepo(t)
	rule := throttle.Rule{Limit: 5, Window: time.Hour}
	key := throttle.AddressKey("203.0.113.5")
	now := time.Now()

	// 24 attempts at once, as from several replicas: each must count the ones admitted before it. Were the
	// count and the insert not serialized per address, several would count 4 and all be admitted.
	const attempts = 24
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted, refused := 0, 0
	for range attempts {
		wg.Go(func() {
			throttled, _, err := repo.AdmitRegistration(context.Background(), key, rule, now)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Error(err)
			case throttled:
				refused++
			default:
				admitted++
			}
		})
	}
	wg.Wait()
	if admitted != rule.Limit || refused != attempts-rule.Limit {
		t.Errorf("%d admitted, %d refused; want %d and %d", admitted, refused, rule.Limit, attempts-rule.Limit)
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM registration_attempts`).Scan(&n); err != nil || n != rule.Limit {
		t.Errorf("%d attempts stored (%v), want %d", n, err, rule.Limit)
	}
}

func TestPurgeRegistrationAttemptsKeepsTheWindow(t *testing.T) {
	repo, db := newRepo(t)
	ctx := context.Background()
	rule := throttle.Rule{Limit: 10, Window: time.Hour}
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	old, recent := throttle.AddressKey("192.0.2.1"), throttle.AddressKey("192.0.2.2")
	for _, a := range []struct {
		key throttle.Key
		at  time.Time
	}{{old, now.Add(-3 * time.Hour)}, {old, now.Add(-2 * time.Hour)}, {recent, now.Add(-2 * time.Hour)}, {recent, now.Add(-time.Minute)}} {
		if _, _, err := repo.AdmitRegistration(ctx, a.key, rule, a.at); err != nil {
			t.Fatal(err)
		}
	}
	n, err := repo.PurgeRegistrationAttempts(ctx, rule.Since(now))
	// Three attempts out of the window, and the address that has none left.
	if err != nil || n != 4 {
		t.Fatalf("purged %d rows (%v), want 4", n, err)
	}
	var attempts, addresses int
	_ = db.QueryRow(`SELECT COUNT(*) FROM registration_attempts`).Scan(&attempts)
	_ = db.QueryRow(`SELECT COUNT(*) FROM registration_addresses`).Scan(&addresses)
	if attempts != 1 || addresses != 1 {
		t.Errorf("left %d attempts and %d addresses, want 1 and 1", attempts, addresses)
	}
	// What is left still counts.
	rule.Limit = 1
	if throttled, _, _ := repo.AdmitRegistration(ctx, recent, rule, now); !throttled {
		t.Error("the attempt kept in the window no longer counts")
	}
}
