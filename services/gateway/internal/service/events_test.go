package service_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/server/servertest"
)

func TestARevokedSessionIsRefusedWithinTwoSecondsOfTheEvent(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	pub := e.publisher()
	userID, sessionID, tok := e.newUser()
	_, _, other := e.newUser()

	if r := e.do("GET", "/api/v1/auth/sessions", nil, bearer(tok)); r.StatusCode != http.StatusOK {
		t.Fatalf("before revocation: %d", r.StatusCode)
	}
	e.publish(pub, "auth", "auth.session.revoked", map[string]any{
		"user_id": userID, "session_id": sessionID, "expires_at": time.Now().Add(15 * time.Minute).UTC(),
	})
	revokedAt := time.Now()
	servertest.Eventually(t, 2*time.Second, func() bool {
		return e.do("GET", "/api/v1/auth/sessions", nil, bearer(tok)).StatusCode == http.StatusUnauthorized
	}, "the revoked session's token refused")
	t.Logf("refused %s after the event", time.Since(revokedAt))
	wantError(t, e.do("POST", "/api/v1/auth/logout", nil, bearer(tok)), http.StatusUnauthorized, "unauthorized")
	// Only that session: another one goes on working.
	if r := e.do("GET", "/api/v1/auth/sessions", nil, bearer(other)); r.StatusCode != http.StatusOK {
		t.Fatalf("another session: %d", r.StatusCode)
	}
	// A token of the same user's new session is fine too.
	if r := e.do("GET", "/api/v1/auth/sessions", nil, bearer(e.token(userID, uuid.NewString()))); r.StatusCode != http.StatusOK {
		t.Fatalf("the user's new session: %d", r.StatusCode)
	}
}

func TestTheRevokedSessionsAreLoadedFromAuthBeforeTheGatewayIsReady(t *testing.T) {
	e := newEnv(t)
	userID, sessionID, tok := e.newUser()
	e.auth.setRevoked(map[string]string{
		"session_id": sessionID, "user_id": userID, "expires_at": time.Now().Add(10 * time.Minute).UTC().Format(time.RFC3339),
	})
	e.start()
	e.waitReady()
	wantError(t, e.do("GET", "/api/v1/users/me", nil, bearer(tok)), http.StatusUnauthorized, "unauthorized")
	if n := len(e.profiles.requests()); n != 0 {
		t.Fatalf("a revoked session's request reached profiles (%d)", n)
	}
}

func TestNotReadyWhileAuthCannotListTheRevokedSessions(t *testing.T) {
	e := newEnv(t)
	e.cfg.AuthURL = servertest.ClosedURL(t)
	e.start()
	time.Sleep(500 * time.Millisecond)
	res, err := http.Get(e.adminURL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d while the revoked sessions could not be loaded", res.StatusCode)
	}
}

func TestPublicProfilesAreCachedUntilTheyChange(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	pub := e.publisher()
	_, _, tok := e.newUser()
	target := uuid.NewString()
	name := "Alice"
	e.profiles.setRespond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"` + target + `","display_name":"` + name + `"}`))
	})
	get := func(tok string) reply { return e.do("GET", "/api/v1/users/"+target, nil, bearer(tok)) }
	fetches := func() int {
		n := 0
		for _, r := range e.profiles.requests() {
			if r.Path == "/api/v1/users/"+target {
				n++
			}
		}
		return n
	}

	first, second := get(tok), get(tok)
	if first.StatusCode != 200 || second.StatusCode != 200 || string(first.body) != string(second.body) {
		t.Fatalf("answers differ: %d %s / %d %s", first.StatusCode, first.body, second.StatusCode, second.body)
	}
	if ct := second.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("cached answer's Content-Type %q", ct)
	}
	if n := fetches(); n != 1 {
		t.Fatalf("profiles asked %d times, want once", n)
	}
	// The cache answers only callers whose token verifies.
	wantError(t, e.do("GET", "/api/v1/users/"+target, nil, nil), http.StatusUnauthorized, "unauthorized")

	e.profiles.setRespond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"id":"` + target + `","display_name":"Alice B."}`))
	})
	e.publish(pub, "profiles", "profiles.user.updated", map[string]any{
		"user": map[string]any{"id": target, "nickname": "alice", "display_name": "Alice B.", "bio": "", "has_avatar": false,
			"created_at": time.Now().UTC()},
	})
	servertest.Eventually(t, 2*time.Second, func() bool {
		return strings.Contains(string(get(tok).body), "Alice B.")
	}, "the updated profile served")

	// Errors are not cached.
	missing := uuid.NewString()
	e.profiles.setRespond(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":{"code":"user_not_found","message":"no such user"}}`))
	})
	before := len(e.profiles.requests())
	for range 2 {
		wantError(t, e.do("GET", "/api/v1/users/"+missing, nil, bearer(tok)), http.StatusNotFound, "user_not_found")
	}
	if n := len(e.profiles.requests()) - before; n != 2 {
		t.Fatalf("a 404 was served from the cache (%d fetches)", n)
	}
}
