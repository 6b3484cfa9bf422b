package service_test

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/profiles/internal/domain"
	"simplemessenger/services/profiles/internal/service"
)

func TestRegistrationIsThrottledPerClientAddress(t *testing.T) {
	h := start(t, func(c *service.Config) { c.RegisterMaxPerAddress, c.RegisterWindow = 3, time.Hour })
	register := func(nickname, password, addr string) response {
		return h.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"nickname": nickname, "password": password},
			header: map[string]string{"X-Real-IP": addr}})
	}
	const bot = "203.0.113.7"

	// Malformed registrations cost nothing and count nothing; a taken nickname is an attempt (probing counts).
	expect(t, register("x", "password1", bot), 400, "invalid_nickname")
	expect(t, register("valid_nick", "short", bot), 400, "invalid_password")
	if res := register("first", "password1", bot); res.status != http.StatusCreated {
		t.Fatalf("first: %d %s", res.status, res.body)
	}
	expect(t, register("FIRST", "password1", bot), 409, "nickname_taken")

	// Five at once for the last free slot (as through several replicas): exactly one gets it.
	var wg sync.WaitGroup
	results := make([]response, 5)
	for i := range results {
		wg.Go(func() { results[i] = register(fmt.Sprintf("racer%d", i), "password1", bot) })
	}
	wg.Wait()
	created := 0
	for _, res := range results {
		switch res.status {
		case http.StatusCreated:
			created++
		case http.StatusTooManyRequests:
			expect(t, res, 429, "too_many_registrations")
			// The first attempt is the oldest of the three: the window frees an hour after it, not sooner.
			if secs, err := strconv.Atoi(res.header.Get("Retry-After")); err != nil || secs < 3500 || secs > 3600 {
				t.Errorf("Retry-After %q, want about an hour", res.header.Get("Retry-After"))
			}
		default:
			t.Errorf("racer: %d %s", res.status, res.body)
		}
	}
	if created != 1 {
		t.Errorf("%d of 5 concurrent registrations created with one slot left", created)
	}

	// Refused: nothing created, nothing announced, whatever the nickname.
	expect(t, register("latecomer", "password1", bot), 429, "too_many_registrations")
	var users int
	if err := h.db.QueryRow(`SELECT COUNT(*) FROM users`).Scan(&users); err != nil || users != 2 {
		t.Errorf("%d users (%v), want 2", users, err)
	}
	if n := len(h.eventsOfType("profiles.user.registered")); n != 2 {
		t.Errorf("%d registered events, want 2", n)
	}
	// Other addresses, and IPv4-mapped spellings of them, have their own allowance.
	if res := register("neighbour", "password1", "198.51.100.4"); res.status != http.StatusCreated {
		t.Errorf("another address: %d %s", res.status, res.body)
	}
	expect(t, register("mapped", "password1", "::ffff:"+bot), 429, "too_many_registrations")

	// Operators see every outcome, the refusals by reason (profiles_registrations_total).
	for outcome, want := range map[string]float64{"created": 3, "invalid": 2, "nickname_taken": 1, "throttled": 6, "error": 0} {
		if got := servertest.Metric(t, h.admin, "profiles_registrations_total", "outcome", outcome); got != want {
			t.Errorf("profiles_registrations_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
	if n := servertest.Series(t, h.admin, "profiles_registrations_total", "outcome", "error"); n != 1 {
		t.Errorf("the error outcome is not exported at 0 from the start (%d series)", n)
	}
}

func TestRegistrationThrottleZeroDisablesIt(t *testing.T) {
	h := start(t, func(c *service.Config) { c.RegisterMaxPerAddress = 0 })
	// One more than the default allows.
	for i := range domain.DefaultRegistrationsPerAddress + 1 {
		h.user(fmt.Sprintf("free%d", i), "password1")
	}
	var rows int
	if err := h.db.QueryRow(`SELECT COUNT(*) FROM registration_attempts`).Scan(&rows); err != nil || rows != 0 {
		t.Errorf("a disabled throttle recorded %d attempts (%v)", rows, err)
	}
}
