package config

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"simplemessenger/clients/msgr/internal/api"
)

const server = "http://127.0.0.1:8080"

func session(now time.Time, expiresIn time.Duration) Session {
	s := Session{Server: server, UserID: "u1", Nickname: "ada"}
	s.SetTokens("access-1", "refresh-1", expiresIn, now)
	return s
}

func TestStoreKeepsCredentialsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "simplemessenger")
	if err := os.Mkdir(dir, 0o755); err != nil { // an existing directory others can read is narrowed
		t.Fatal(err)
	}
	s, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(session(time.Now(), time.Hour)); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v, want 0700", fi.Mode().Perm())
	}
	if fi, _ := os.Stat(s.Path()); fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials mode %v, want 0600", fi.Mode().Perm())
	}
	fresh, err := Open(filepath.Join(t.TempDir(), "a", "b"))
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(fresh.Dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("new directory mode %v, want 0700", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != credentialsFile && e.Name() != lockFile {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestStoreKeepsOneSessionPerServer(t *testing.T) {
	s, _ := Open(t.TempDir())
	a := session(time.Now(), time.Hour)
	b := a
	b.Server, b.Nickname = "https://chat.example", "bob"
	for _, x := range []Session{a, b} {
		if err := s.Save(x); err != nil {
			t.Fatal(err)
		}
	}
	got, ok, err := s.Session(server)
	if err != nil || !ok || got.Nickname != "ada" || got.AccessToken != "access-1" || !got.ExpiresAt.Equal(a.ExpiresAt) {
		t.Fatalf("Session(%s) = %+v %v %v", server, got, ok, err)
	}
	if err := s.Delete(server); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Session(server); ok {
		t.Fatal("deleted session still there")
	}
	if got, ok, _ := s.Session(b.Server); !ok || got.Nickname != "bob" {
		t.Fatal("deleting one server's session removed another's")
	}
}

func TestStoreReportsADamagedFile(t *testing.T) {
	s, _ := Open(t.TempDir())
	if err := os.WriteFile(s.Path(), []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Session(server); err == nil {
		t.Fatal("no error for a damaged credentials file")
	}
}

func TestSessionRefreshesAheadOfExpiry(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	long := session(now, 15*time.Minute)
	if long.Expiring(now.Add(14*time.Minute)) || !long.Expiring(now.Add(14*time.Minute+30*time.Second)) {
		t.Errorf("a 15 min token should be refreshed 30 s before it expires: refresh after %v", long.RefreshAfter.Sub(now))
	}
	short := session(now, 20*time.Second)
	if short.Expiring(now.Add(14*time.Second)) || !short.Expiring(now.Add(15*time.Second)) {
		t.Errorf("a 20 s token should be refreshed after three quarters: refresh after %v", short.RefreshAfter.Sub(now))
	}
}

// fakeAuth counts refreshes and answers with a new pair, or with err.
type fakeAuth struct {
	calls atomic.Int32
	err   error
	seen  []string
	mu    sync.Mutex
}

func (f *fakeAuth) exchange(_ context.Context, rt string) (api.TokenPair, error) {
	n := f.calls.Add(1)
	f.mu.Lock()
	f.seen = append(f.seen, rt)
	f.mu.Unlock()
	if f.err != nil {
		return api.TokenPair{}, f.err
	}
	time.Sleep(20 * time.Millisecond) // long enough for a concurrent caller to wait on the lock
	return api.TokenPair{AccessToken: "access-" + string(rune('1'+n)), RefreshToken: "refresh-" + string(rune('1'+n)), ExpiresIn: 900, TokenType: "Bearer"}, nil
}

func TestTokensUsesAValidTokenAsItIs(t *testing.T) {
	s, _ := Open(t.TempDir())
	now := time.Now()
	_ = s.Save(session(now, 15*time.Minute))
	fa := &fakeAuth{}
	tok, err := (&Tokens{Store: s, Server: server, Exchange: fa.exchange, Now: func() time.Time { return now.Add(time.Minute) }}).Token(context.Background())
	if err != nil || tok != "access-1" || fa.calls.Load() != 0 {
		t.Fatalf("Token = %q, %v after %d refreshes", tok, err, fa.calls.Load())
	}
}

func TestTokensRefreshesAnExpiringTokenAndStoresThePair(t *testing.T) {
	s, _ := Open(t.TempDir())
	now := time.Now()
	_ = s.Save(session(now.Add(-20*time.Minute), 15*time.Minute))
	fa := &fakeAuth{}
	tk := &Tokens{Store: s, Server: server, Exchange: fa.exchange, Now: func() time.Time { return now }}
	tok, err := tk.Token(context.Background())
	if err != nil || tok != "access-2" {
		t.Fatalf("Token = %q, %v", tok, err)
	}
	if fa.seen[0] != "refresh-1" {
		t.Fatalf("refreshed with %q", fa.seen[0])
	}
	got, _, _ := s.Session(server)
	if got.AccessToken != "access-2" || got.RefreshToken != "refresh-2" || !got.ExpiresAt.Equal(now.Add(15*time.Minute)) || got.Nickname != "ada" {
		t.Fatalf("stored after refresh: %+v", got)
	}
	if fi, _ := os.Stat(s.Path()); fi.Mode().Perm() != 0o600 {
		t.Fatalf("credentials mode %v after refresh", fi.Mode().Perm())
	}
	if tok, _ := tk.Token(context.Background()); tok != "access-2" || fa.calls.Load() != 1 {
		t.Fatalf("second Token = %q after %d refreshes", tok, fa.calls.Load())
	}
}

func TestTokensRefreshesARefusedTokenOnce(t *testing.T) {
	s, _ := Open(t.TempDir())
	now := time.Now()
	_ = s.Save(session(now, 15*time.Minute))
	fa := &fakeAuth{}
	tk := &Tokens{Store: s, Server: server, Exchange: fa.exchange}
	tok, err := tk.Refresh(context.Background(), "access-1")
	if err != nil || tok != "access-2" {
		t.Fatalf("Refresh = %q, %v", tok, err)
	}
	// Another caller refused with the old token gets the renewed one without spending the refresh token again.
	tok, err = tk.Refresh(context.Background(), "access-1")
	if err != nil || tok != "access-2" || fa.calls.Load() != 1 {
		t.Fatalf("second Refresh = %q, %v after %d refreshes", tok, err, fa.calls.Load())
	}
}

func TestConcurrentProcessesSpendTheRefreshTokenOnce(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir)
	_ = s.Save(session(time.Now().Add(-time.Hour), 15*time.Minute))
	fa := &fakeAuth{}
	var wg sync.WaitGroup
	toks := make([]string, 4)
	for i := range toks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			other, _ := Open(dir) // as another msgr process would
			toks[i], _ = (&Tokens{Store: other, Server: server, Exchange: fa.exchange}).Token(context.Background())
		}()
	}
	wg.Wait()
	if fa.calls.Load() != 1 {
		t.Fatalf("%d refreshes, want 1 (a refresh token spent twice revokes the session)", fa.calls.Load())
	}
	for _, tok := range toks {
		if tok != "access-2" {
			t.Fatalf("tokens %q", toks)
		}
	}
}

func TestTokensEndTheSessionWhenTheRefreshTokenIsRefused(t *testing.T) {
	s, _ := Open(t.TempDir())
	_ = s.Save(session(time.Now().Add(-time.Hour), 15*time.Minute))
	fa := &fakeAuth{err: &api.Error{Status: 401, Code: "invalid_refresh_token", Message: "spent"}}
	_, err := (&Tokens{Store: s, Server: server, Exchange: fa.exchange}).Token(context.Background())
	if !errors.Is(err, api.ErrNotLoggedIn) {
		t.Fatalf("err = %v, want ErrNotLoggedIn", err)
	}
	if _, ok, _ := s.Session(server); ok {
		t.Fatal("the dead session is still stored")
	}
}

func TestTokensKeepTheSessionWhenTheServerIsUnreachable(t *testing.T) {
	s, _ := Open(t.TempDir())
	_ = s.Save(session(time.Now().Add(-time.Hour), 15*time.Minute))
	fa := &fakeAuth{err: &api.UnreachableError{URL: server, Err: errors.New("connection refused")}}
	_, err := (&Tokens{Store: s, Server: server, Exchange: fa.exchange}).Token(context.Background())
	var ne *api.UnreachableError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v, want unreachable", err)
	}
	if _, ok, _ := s.Session(server); !ok {
		t.Fatal("a network failure dropped the session")
	}
}

func TestTokensWithoutASession(t *testing.T) {
	s, _ := Open(t.TempDir())
	if _, err := (&Tokens{Store: s, Server: server}).Token(context.Background()); !errors.Is(err, api.ErrNotLoggedIn) {
		t.Fatalf("err = %v", err)
	}
}
