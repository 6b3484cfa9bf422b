package app_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/adapters"
	"simplemessenger/services/auth/internal/adapters/migrations"
	"simplemessenger/services/auth/internal/app"
	"simplemessenger/services/auth/internal/domain"
)

// clock is a fake clock tests move by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time          { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Advance(d time.Duration) { c.mu.Lock(); c.now = c.now.Add(d); c.mu.Unlock() }

// oneUser is a profiles fake that knows alice.
type oneUser struct{}

func (oneUser) VerifyCredentials(_ context.Context, nickname, password string) (app.User, bool, error) {
	if nickname == "alice" && password == "right password" {
		return app.User{ID: "user-alice", Profile: []byte(`{"id":"user-alice"}`)}, true, nil
	}
	return app.User{}, false, nil
}

type nopNotifier struct{}

func (nopNotifier) Notify() {}

func newService(t *testing.T, c *clock, configure ...func(*app.Config)) *app.Application {
	t.Helper()
	t.Parallel()
	db, _ := mysqltest.New(t, migrations.FS)
	key, err := domain.NewSigningKey(make([]byte, 32))
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := domain.NewKeyRing([]domain.SigningKey{key})
	cfg := app.Config{
		AccessTokenTTL:  15 * time.Minute,
		RefreshTokenTTL: 24 * time.Hour,
		AccountThrottle: throttle.Rule{Limit: 10, Window: 15 * time.Minute},
		AddressThrottle: throttle.Rule{Limit: 100, Window: 15 * time.Minute},
	}
	for _, f := range configure {
		f(&cfg)
	}
	return app.New(cfg, ring, adapters.NewRepository(db), oneUser{}, nopNotifier{}, c.Now, nil)
}

// An IPv6 client is counted by its /64 (as registrations are): a subscriber has the whole /64, so counting single
// addresses would let one guess passwords from 2^64 of them.
func TestFailedLoginsFromOneIPv6Slash64CountTogether(t *testing.T) {
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	svc := newService(t, c, func(cfg *app.Config) { cfg.AddressThrottle.Limit = 3 })
	ctx := context.Background()
	login := func(nickname, addr string) error {
		_, err := svc.Login(ctx, app.LoginInput{Nickname: nickname, Password: "guess", ClientIP: addr})
		return err
	}
	for i, addr := range []string{"2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:ffff::9"} {
		if err := login(fmt.Sprintf("user%d", i), addr); err != app.ErrInvalidCredentials {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	if e := apiError(login("user9", "2001:db8:1:2::77")); e == nil || e.Status != 429 {
		t.Fatalf("a fourth address of the same /64: %v, want 429", e)
	}
	if err := login("user9", "2001:db8:1:3::1"); err != app.ErrInvalidCredentials {
		t.Fatalf("the next /64 is another client: %v", err)
	}
}

func apiError(err error) *apierr.Error {
	var e *apierr.Error
	errors.As(err, &e)
	return e
}

func TestThrottleWindowSlidesWithTheClock(t *testing.T) {
	// Database times have microsecond precision; a whole-second start keeps the arithmetic exact.
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	svc := newService(t, c)
	ctx := context.Background()
	start := c.Now()
	attempt := func(password string) error {
		_, err := svc.Login(ctx, app.LoginInput{Nickname: "alice", Password: password, ClientIP: "192.0.2.1"})
		return err
	}

	// Ten failures, a minute apart: at start, start+1m, ... start+9m.
	for i := range 10 {
		if i > 0 {
			c.Advance(time.Minute)
		}
		if err := attempt("guess"); err != app.ErrInvalidCredentials {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
	c.Advance(time.Second)
	e := apiError(attempt("right password"))
	if e == nil || e.Status != 429 || e.Code != "too_many_login_attempts" {
		t.Fatalf("11th attempt: %v, want 429 too_many_login_attempts", e)
	}
	// The first failure (at start) leaves the window at start+15m: 5m59s from now.
	if e.RetryAfter != 359 {
		t.Errorf("Retry-After %d s, want 359", e.RetryAfter)
	}

	c.Advance(time.Duration(e.RetryAfter-1) * time.Second)
	if e := apiError(attempt("right password")); e == nil || e.Status != 429 || e.RetryAfter != 1 {
		t.Fatalf("a second before the window frees: %v, want 429 with Retry-After 1", e)
	}
	c.Advance(time.Second)
	if !c.Now().Equal(start.Add(15 * time.Minute)) {
		t.Fatalf("clock at %v, test arithmetic is off", c.Now().Sub(start))
	}
	if err := attempt("right password"); err != nil {
		t.Fatalf("once the oldest failure left the window: %v", err)
	}
}

func TestTokensExpireByTheClock(t *testing.T) {
	c := &clock{now: time.Now().UTC().Truncate(time.Second)}
	svc := newService(t, c)
	ctx := context.Background()
	tokens, err := svc.Login(ctx, app.LoginInput{Nickname: "alice", Password: "right password"})
	if err != nil {
		t.Fatal(err)
	}
	if want := c.Now().Add(15 * time.Minute); !tokens.AccessToken.ExpiresAt.Equal(want) || tokens.ExpiresIn != 15*time.Minute {
		t.Errorf("access token expires %v (in %v), want %v", tokens.AccessToken.ExpiresAt, tokens.ExpiresIn, want)
	}

	// Each refresh slides the session's expiry: used within the TTL, it lives on.
	c.Advance(23 * time.Hour)
	next, err := svc.Refresh(ctx, tokens.RefreshToken)
	if err != nil {
		t.Fatalf("refresh within the TTL: %v", err)
	}
	c.Advance(23 * time.Hour)
	list, err := svc.Sessions(ctx, "user-alice", next.SessionID)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || !list[0].Current || !list[0].LastUsedAt.Equal(c.Now().Add(-23*time.Hour)) {
		t.Errorf("sessions %+v, want the current one, last used at the refresh", list)
	}

	c.Advance(time.Hour)
	if _, err := svc.Refresh(ctx, next.RefreshToken); err != app.ErrInvalidRefreshToken {
		t.Errorf("refresh after the TTL: %v, want invalid_refresh_token", err)
	}
	if list, _ := svc.Sessions(ctx, "user-alice", ""); len(list) != 0 {
		t.Errorf("an expired session is listed: %+v", list)
	}
}
