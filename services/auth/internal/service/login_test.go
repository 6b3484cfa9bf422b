package service_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/auth/internal/domain"
	"simplemessenger/services/auth/internal/service"
)

func TestLoginIssuesTokensTheJWKSVerifies(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "Alice", "right password")

	r := s.expect(s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "alice", "password": "right password"}), 200, "login")
	m := r.json(t)
	if m["token_type"] != "Bearer" || m["expires_in"] != float64(900) || m["refresh_token"] == "" {
		t.Errorf("login body %s", r.Body)
	}
	if user, _ := m["user"].(map[string]any); user["id"] != "user-alice" || user["nickname"] != "Alice" {
		t.Errorf("login user %v, want the profile profiles returned", m["user"])
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response Cache-Control %q, want no-store", r.Header.Get("Cache-Control"))
	}
	claims, err := s.verifier().Verify(context.Background(), m["access_token"].(string))
	if err != nil {
		t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	if claims.UserID() != "user-alice" || claims.SessionID == "" {
		t.Errorf("claims sub %q sid %q", claims.UserID(), claims.SessionID)
	}
	jwks := s.expect(s.call("GET", "/.well-known/jwks.json", "", nil), 200, "jwks")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(jwks.Body, &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("JWKS %s: %v", jwks.Body, err)
	}

	// Auth checks the tokens of its own authenticated routes too, and counts the checks by result.
	s.expect(s.call("GET", "/api/v1/auth/sessions", m["access_token"].(string), nil), 200, "sessions")
	s.expect(s.call("GET", "/api/v1/auth/sessions", "", nil), 401, "sessions without a token")
	s.expect(s.call("GET", "/api/v1/auth/sessions", "not-a-jwt", nil), 401, "sessions with garbage")
	for result, want := range map[string]float64{"ok": 1, "missing": 1, "invalid": 1, "unavailable": 0} {
		if got := servertest.Metric(t, s.Admin, "authn_token_verifications_total", "result", result); got != want {
			t.Errorf("authn_token_verifications_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

func TestWrongPasswordAndUnknownUserGetTheSameAnswer(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	wrong := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "alice", "password": "wrong password"})
	unknown := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "nobody", "password": "wrong password"})
	for name, r := range map[string]response{"wrong password": wrong, "unknown user": unknown} {
		if r.Status != 401 || r.errorCode(t) != "invalid_credentials" {
			t.Errorf("%s: %d %s, want 401 invalid_credentials", name, r.Status, r.Body)
		}
	}
	for _, body := range []any{map[string]string{"nickname": "alice"}, map[string]string{"password": "x"}, map[string]any{"nickname": 5, "password": "x"}} {
		if r := s.call("POST", "/api/v1/auth/login", "", body); r.Status != 400 {
			t.Errorf("login with %v: %d, want 400", body, r.Status)
		}
	}
}

func TestLoginWhileProfilesIsDownIsUnavailableNotUnauthorized(t *testing.T) {
	down := httptest.NewServer(nil)
	down.Close()
	s := start(t, func(c *service.Config) { c.ProfilesURL = down.URL })
	r := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "alice", "password": "right password"})
	if r.Status != 503 || r.errorCode(t) != "unavailable" {
		t.Errorf("login with profiles down: %d %s, want 503 unavailable", r.Status, r.Body)
	}
}

func TestEleventhFailedLoginOfAnAccountIsThrottledOthersBehindTheAddressAreNot(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	s.Profiles.Add("user-bob", "bob", "bob's password")
	ip := []string{"X-Real-IP", "198.51.100.7"}

	for i := range 10 {
		r := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "alice", "password": "guess " + strconv.Itoa(i)}, ip...)
		s.expect(r, 401, "failed login "+strconv.Itoa(i+1))
	}
	calls := s.Profiles.Checks.Load()
	// Even the right password, in any case of the nickname, waits now.
	for _, nick := range []string{"alice", "ALICE"} {
		r := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": nick, "password": "right password"}, ip...)
		if r.Status != 429 || r.errorCode(t) != "too_many_login_attempts" {
			t.Fatalf("11th attempt as %s: %d %s, want 429 too_many_login_attempts", nick, r.Status, r.Body)
		}
		retry, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || retry < 1 || retry > 15*60 {
			t.Errorf("Retry-After %q, want 1..900 seconds", r.Header.Get("Retry-After"))
		}
	}
	if n := s.Profiles.Checks.Load() - calls; n != 0 {
		t.Errorf("throttled attempts asked profiles %d times", n)
	}
	// The same address still serves other accounts (and from elsewhere alice is throttled too: it is keyed
	// on the account).
	s.login("bob", "bob's password", ip...)
	r := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "alice", "password": "right password"}, "X-Real-IP", "203.0.113.9")
	s.expect(r, 429, "alice from another address")

	// Operators see the guessing: failures and throttled attempts are counted by outcome.
	for outcome, want := range map[string]float64{"invalid_credentials": 10, "throttled_account": 3, "ok": 1} {
		if got := servertest.Metric(t, s.Admin, "auth_logins_total", "outcome", outcome); got != want {
			t.Errorf("auth_logins_total{outcome=%q} = %v, want %v", outcome, got, want)
		}
	}
}

func TestSuccessfulLoginClearsTheAccountsFailures(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	fail := func(n int) {
		for i := range n {
			s.expect(s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "alice", "password": "guess"}), 401, "failure "+strconv.Itoa(i+1))
		}
	}
	fail(9)
	s.login("alice", "right password")
	fail(9) // 18 failures in the window, but only 9 since the success
	s.login("alice", "right password")
}

func TestFailuresFromOneAddressAreThrottledAtTheAddressLimit(t *testing.T) {
	s := start(t, func(c *service.Config) { c.LoginMaxFailuresPerAddress = 3 })
	s.Profiles.Add("user-bob", "bob", "bob's password")
	attacker := []string{"X-Real-IP", "198.51.100.66"}
	for i, nick := range []string{"a1", "a2", "a3"} {
		s.expect(s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": nick, "password": "guess"}, attacker...), 401, "failure "+strconv.Itoa(i+1))
	}
	r := s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": "bob", "password": "bob's password"}, attacker...)
	if r.Status != 429 || r.errorCode(t) != "too_many_login_attempts" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("login from a throttled address: %d %s (Retry-After %q)", r.Status, r.Body, r.Header.Get("Retry-After"))
	}
	s.login("bob", "bob's password", "X-Real-IP", "198.51.100.67")
	if got := servertest.Metric(t, s.Admin, "auth_logins_total", "outcome", "throttled_address"); got != 1 {
		t.Errorf("auth_logins_total{outcome=\"throttled_address\"} = %v, want 1", got)
	}
}

func TestConfiguredSigningKeysSignWithTheFirstAndPublishAll(t *testing.T) {
	k1, k2 := make([]byte, 32), make([]byte, 32)
	k1[0], k2[0] = 1, 2
	first, _ := domain.NewSigningKey(k1)
	s := start(t, func(c *service.Config) {
		c.SigningKeys = base64.StdEncoding.EncodeToString(k1) + "," + base64.StdEncoding.EncodeToString(k2)
	})
	s.Profiles.Add("user-alice", "alice", "right password")
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(s.expect(s.call("GET", "/.well-known/jwks.json", "", nil), 200, "jwks").Body, &set); err != nil {
		t.Fatal(err)
	}
	if len(set.Keys) != 2 || set.Keys[0].KeyID != first.ID {
		t.Fatalf("JWKS has %d keys, first %q; want 2, first %q", len(set.Keys), set.Keys[0].KeyID, first.ID)
	}
	sess := s.login("alice", "right password")
	if kid := tokenKid(t, sess.Access); kid != first.ID {
		t.Errorf("token signed with kid %q, want the first key %q", kid, first.ID)
	}
}

// Every outcome of the login and refresh counters exists at 0 before the first attempt, so the dashboards
// and the credential-stuffing alert read 0 rather than "No data".
func TestLoginAndRefreshOutcomesExistAtZeroFromTheStart(t *testing.T) {
	s := start(t, nil)
	for name, outcomes := range map[string][]string{
		"auth_logins_total":    {"ok", "invalid_credentials", "throttled_account", "throttled_address", "unavailable"},
		"auth_refreshes_total": {"ok", "invalid", "reuse"},
	} {
		for _, o := range outcomes {
			if n := servertest.Series(t, s.Admin, name, "outcome", o); n != 1 {
				t.Errorf("%s{outcome=%q}: %d series at start, want 1", name, o, n)
			} else if v := servertest.Metric(t, s.Admin, name, "outcome", o); v != 0 {
				t.Errorf("%s{outcome=%q} = %v at start, want 0", name, o, v)
			}
		}
	}
}
