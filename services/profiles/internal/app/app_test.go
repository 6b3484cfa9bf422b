package app_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/profiles/internal/app"
	"simplemessenger/services/profiles/internal/domain"
)

// fakeRepo implements what these tests use; the rest of app.Repository panics if called.
type fakeRepo struct {
	app.Repository
	users   map[string]domain.User // by lower-case nickname
	hashes  map[string]string      // by lower-case nickname
	lookups int
	swapErr error
}

func (r *fakeRepo) Credentials(_ context.Context, nick string) (domain.User, string, error) {
	r.lookups++
	u, ok := r.users[nick]
	if !ok {
		return domain.User{}, "", app.ErrUserNotFound
	}
	return u, r.hashes[nick], nil
}

func (r *fakeRepo) PasswordHash(context.Context, string) (string, error) {
	return "hash:old-password", nil
}

func (r *fakeRepo) ChangePassword(context.Context, string, string, string, broker.Event) error {
	return r.swapErr
}

// fakeHasher records what it was asked to compare; "hash:X" is the hash of X.
type fakeHasher struct {
	compared []string
	hashed   int
}

func (h *fakeHasher) Hash(_ context.Context, pw string) (string, error) {
	h.hashed++
	return "hash:" + pw, nil
}
func (h *fakeHasher) Compare(_ context.Context, pw, hash string) (bool, error) {
	h.compared = append(h.compared, hash)
	return hash != "" && hash == "hash:"+pw, nil
}

type nopNotifier struct{}

func (nopNotifier) Notify() {}

func TestVerifyCredentialsAlwaysPaysForOneHashComparison(t *testing.T) {
	repo := &fakeRepo{
		users:  map[string]domain.User{"alice": {ID: "1", Nickname: "Alice"}},
		hashes: map[string]string{"alice": "hash:right-password"},
	}
	hasher := &fakeHasher{}
	a := app.New(repo, hasher, nopNotifier{})
	ctx := context.Background()

	if u, err := a.VerifyCredentials(ctx, "ALICE", "right-password"); err != nil || u.ID != "1" {
		t.Fatalf("%+v %v", u, err)
	}
	cases := []struct{ nick, pw string }{
		{"alice", "wrong-password"},
		{"nobody", "right-password"},         // unknown: compared with the dummy
		{"no such nick!", "anything"},        // cannot exist: not looked up, still compared
		{"alice", string(make([]byte, 600))}, // absurdly long: not hashed as is, still compared
	}
	for _, c := range cases {
		before := len(hasher.compared)
		if _, err := a.VerifyCredentials(ctx, c.nick, c.pw); !errors.Is(err, app.ErrInvalidCredentials) {
			t.Errorf("%q: want ErrInvalidCredentials, got %v", c.nick, err)
		}
		if len(hasher.compared) != before+1 {
			t.Errorf("%q: every answer must cost exactly one comparison", c.nick)
		}
	}
	if got := hasher.compared[2]; got != "" {
		t.Errorf("unknown user compared against %q, want the dummy", got)
	}
	if repo.lookups != 4 {
		t.Errorf("a malformed nickname needs no lookup; lookups = %d", repo.lookups)
	}
}

func TestChangePasswordLosingARaceIsAWrongPassword(t *testing.T) {
	repo := &fakeRepo{swapErr: app.ErrPasswordChanged}
	a := app.New(repo, &fakeHasher{}, nopNotifier{})
	err := a.ChangePassword(context.Background(), app.ChangePasswordCommand{UserID: "1", SessionID: "s", CurrentPassword: "old-password", NewPassword: "new-password"})
	if !errors.Is(err, app.ErrWrongPassword) {
		t.Errorf("want ErrWrongPassword, got %v", err)
	}
}

// throttlingRepo refuses every registration attempt, remembering under which key it was asked.
type throttlingRepo struct {
	fakeRepo
	keys []throttle.Key
}

func (r *throttlingRepo) AdmitRegistration(_ context.Context, key throttle.Key, _ throttle.Rule, _ time.Time) (bool, time.Duration, error) {
	r.keys = append(r.keys, key)
	return true, 90*time.Second + time.Millisecond, nil
}

func TestARefusedRegistrationIsNotHashedAndSaysWhenToRetry(t *testing.T) {
	repo, hasher := &throttlingRepo{}, &fakeHasher{}
	a := app.New(repo, hasher, nopNotifier{}, app.WithRegistrationThrottle(throttle.Rule{Limit: 1, Window: time.Hour}))
	_, err := a.Register(context.Background(), app.RegisterCommand{Nickname: "botty", Password: "password1", ClientIP: "192.0.2.9"})
	var e *apierr.Error
	if !errors.As(err, &e) || e.Status != 429 || e.Code != "too_many_registrations" || e.RetryAfter != 91 {
		t.Fatalf("want 429 too_many_registrations with Retry-After 91, got %v", err)
	}
	if len(repo.keys) != 1 || repo.keys[0] != throttle.AddressKey("192.0.2.9") {
		t.Errorf("not counted against the client address: %v", repo.keys)
	}
	if hasher.hashed != 0 {
		t.Error("a refused registration still paid for a password hash")
	}
	// Malformed input is refused before the throttle is asked.
	if _, err := a.Register(context.Background(), app.RegisterCommand{Nickname: "no way!", Password: "password1"}); errors.As(err, &e) && e.Status == 429 {
		t.Error("a malformed registration counted against the address")
	}
	if len(repo.keys) != 1 {
		t.Errorf("the throttle was asked %d times, want 1", len(repo.keys))
	}
}
