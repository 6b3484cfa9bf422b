package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"simplemessenger/services/gateway/internal/domain"
)

type fakeSource struct {
	mu    sync.Mutex
	items []RevokedSession
	fails int
	calls int
}

func (f *fakeSource) RevokedSessions(context.Context) ([]RevokedSession, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls++
	if f.fails > 0 {
		f.fails--
		return nil, errors.New("auth is down")
	}
	return f.items, nil
}

func (f *fakeSource) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestNotReadyUntilTheListIsLoaded(t *testing.T) {
	now := time.Now()
	src := &fakeSource{items: []RevokedSession{{SessionID: "s1", UserID: "u1", ExpiresAt: now.Add(time.Minute)}}}
	r := NewRevocations(domain.NewRevokedSessions(), src, func() time.Time { return now }, quiet)

	if err := r.Ready(context.Background()); !errors.Is(err, ErrRevocationsNotLoaded) {
		t.Fatalf("Ready before loading: %v", err)
	}
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(context.Background()); err != nil {
		t.Fatalf("Ready after loading: %v", err)
	}
	if !r.IsRevoked("s1") {
		t.Fatal("a loaded session is not revoked")
	}
}

func TestALoadKeepsRevocationsThatArrivedAsEvents(t *testing.T) {
	now := time.Now()
	src := &fakeSource{} // auth's list does not have it yet
	r := NewRevocations(domain.NewRevokedSessions(), src, func() time.Time { return now }, quiet)
	r.Revoke("s-event", now.Add(time.Minute))
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !r.IsRevoked("s-event") {
		t.Fatal("a load forgot a revocation received as an event")
	}
}

func TestRunLoadsOnRequestAndRetriesUntilAuthAnswers(t *testing.T) {
	now := time.Now()
	src := &fakeSource{fails: 2, items: []RevokedSession{{SessionID: "s1", ExpiresAt: now.Add(time.Minute)}}}
	r := NewRevocations(domain.NewRevokedSessions(), src, func() time.Time { return now }, quiet)
	r.MinBackoff, r.MaxBackoff = time.Millisecond, 5*time.Millisecond
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	defer func() { cancel(); <-done }()

	r.RequestResync()
	deadline := time.Now().Add(2 * time.Second)
	for r.Ready(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not loaded after %d calls", src.callCount())
		}
		time.Sleep(time.Millisecond)
	}
	if !r.IsRevoked("s1") || src.callCount() != 3 {
		t.Fatalf("revoked=%v after %d calls, want 3", r.IsRevoked("s1"), src.callCount())
	}

	// Every reconnection asks again.
	r.RequestResync()
	for src.callCount() != 4 {
		if time.Now().After(deadline) {
			t.Fatal("a second resync request did not load again")
		}
		time.Sleep(time.Millisecond)
	}
}

// Sockets of revoked sessions are closed whether the revocation came as an event or in a (re)load: a load
// covers events missed while the gateway was disconnected.
func TestEveryRevocationIsPassedOnForTheSessionsSocketsToClose(t *testing.T) {
	now := time.Now()
	src := &fakeSource{items: []RevokedSession{{SessionID: "loaded", UserID: "u1", ExpiresAt: now.Add(time.Minute)}}}
	r := NewRevocations(domain.NewRevokedSessions(), src, func() time.Time { return now }, quiet)
	var told []string
	r.OnRevoke = func(sessionID string) { told = append(told, sessionID) }
	r.Revoke("from-event", now.Add(time.Minute))
	if err := r.Load(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(told) != 2 || told[0] != "from-event" || told[1] != "loaded" {
		t.Fatalf("told %v", told)
	}
}
