package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

func TestRegistrationValidatesAndNicknamesAreUniqueIgnoringCase(t *testing.T) {
	t.Parallel()
	nick := "Reg_" + suffix()
	r := must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": nick, "password": "long enough", "display_name": "Reg Istered"}), 201, "register")
	u := r.object(t)
	if u["nickname"] != nick || u["display_name"] != "Reg Istered" || u["id"] == "" || u["has_avatar"] != false {
		t.Errorf("registered user: %v", u)
	}
	if _, err := time.Parse(time.RFC3339, u["created_at"].(string)); err != nil {
		t.Errorf("created_at not RFC 3339: %v", u["created_at"])
	}
	if strings.Contains(string(r.body), "password") {
		t.Errorf("the answer mentions the password: %s", r.body)
	}
	mustError(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": strings.ToLower(nick), "password": "other password"}), 409, "nickname_taken", "same nickname in other case")
	for name, body := range map[string]map[string]any{
		"short nickname":      {"nickname": "ab", "password": "long enough"},
		"nickname with space": {"nickname": "a b c", "password": "long enough"},
		"33-char nickname":    {"nickname": strings.Repeat("n", 33), "password": "long enough"},
		"LIKE wildcard":       {"nickname": "abc%", "password": "long enough"},
		"7-char password":     {"nickname": "ok_" + suffix(), "password": "1234567"},
		"129-char password":   {"nickname": "ok_" + suffix(), "password": strings.Repeat("p", 129)},
		"no password":         {"nickname": "ok_" + suffix()},
		"no nickname":         {"password": "long enough"},
	} {
		r := call(t, "POST", "/api/v1/users", "", body)
		if r.status != 400 || r.errorCode() == "" {
			t.Errorf("%s: %d %q, want 400 with a code", name, r.status, r.body)
		}
	}
	// 8 code points of multi-byte characters are a valid password; 128 too.
	must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": "uni_" + suffix(), "password": "пароль12"}), 201, "8 Cyrillic code points")
	must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": "max_" + suffix(), "password": strings.Repeat("я", 128)}), 201, "128 code points")
}

func TestLoginAnswersAlikeForUnknownUsersAndWrongPasswords(t *testing.T) {
	t.Parallel()
	a := register(t, "login")
	wrong := call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": "not the password"})
	unknown := call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": "ghost_" + suffix(), "password": "not the password"})
	mustError(t, wrong, 401, "invalid_credentials", "wrong password")
	mustError(t, unknown, 401, "invalid_credentials", "unknown user")
	if string(wrong.body) != string(unknown.body) {
		t.Errorf("the two failures must be indistinguishable: %q vs %q", wrong.body, unknown.body)
	}
	r := must(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": strings.ToUpper(a.nickname), "password": a.password}), 200, "login with the nickname in other case")
	m := r.object(t)
	if m["token_type"] != "Bearer" || m["expires_in"].(float64) <= 0 || m["access_token"] == "" || m["refresh_token"] == "" {
		t.Errorf("login answer: %v", m)
	}
	if u, _ := m["user"].(map[string]any); u["id"] != a.id {
		t.Errorf("login user: %v", m["user"])
	}
	must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "me")
	mustError(t, call(t, "GET", "/api/v1/users/me", "", nil), 401, "unauthorized", "no token")
	mustError(t, call(t, "GET", "/api/v1/users/me", a.access+"x", nil), 401, "unauthorized", "damaged token")
	mustError(t, call(t, "GET", "/api/v1/users/me", a.refresh, nil), 401, "unauthorized", "refresh token as access token")
}

func TestLoginThrottlingIsPerAccount(t *testing.T) {
	t.Parallel()
	victim, bystander := register(t, "victim"), register(t, "bystander")
	for i := 0; i < 10; i++ {
		mustError(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": victim.nickname, "password": "guess " + suffix()}), 401, "invalid_credentials", "failed attempt")
	}
	r := call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": victim.nickname, "password": victim.password})
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" {
		t.Fatalf("11th attempt (right password): %d, Retry-After %q; want 429 with Retry-After", r.status, r.header.Get("Retry-After"))
	}
	// Same client address, another account: not affected.
	must(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": bystander.nickname, "password": bystander.password}), 200, "another account from the same address")
}

func TestRefreshRotatesAndReuseRevokesTheSession(t *testing.T) {
	t.Parallel()
	a := register(t, "refresh")
	first := a.refresh
	m := must(t, call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": first}), 200, "refresh").object(t)
	second, access := m["refresh_token"].(string), m["access_token"].(string)
	if second == "" || second == first || access == "" {
		t.Fatalf("refresh must return a new pair: %v", m)
	}
	must(t, call(t, "GET", "/api/v1/users/me", access, nil), 200, "new access token")
	must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "the old access token works until it expires")
	mustError(t, call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": first}), 401, "invalid_refresh_token", "spent token again")
	mustError(t, call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": second}), 401, "invalid_refresh_token", "newest token after the reuse")
	if !servertest.Eventually(t, 2*time.Second, func() bool {
		return call(t, "GET", "/api/v1/users/me", access, nil).status == 401
	}, "") {
		t.Error("the session's newest access token still works 2 s after the reuse was detected")
	}
	mustError(t, call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": "made-up"}), 401, "invalid_refresh_token", "unknown token")
	r := call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{})
	if r.status != 400 && r.status != 401 {
		t.Errorf("refresh without a token: %d", r.status)
	}
}

func TestLogoutStopsOnlyThatSession(t *testing.T) {
	t.Parallel()
	a := register(t, "logout")
	other := a.another(t)
	mustError(t, call(t, "POST", "/api/v1/auth/logout", "", nil), 401, "unauthorized", "logout without a token")
	must(t, call(t, "POST", "/api/v1/auth/logout", a.access, nil), 204, "logout")
	start := time.Now()
	if !servertest.Eventually(t, 2*time.Second, func() bool {
		return call(t, "GET", "/api/v1/users/me", a.access, nil).status == 401
	}, "") {
		t.Fatal("access token still works 2 s after logout")
	}
	t.Logf("logout took effect at the gateway in %v", time.Since(start).Round(time.Millisecond))
	must(t, call(t, "GET", "/api/v1/users/me", other.access, nil), 200, "the user's other session")
	mustError(t, call(t, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": a.refresh}), 401, "invalid_refresh_token", "refresh of a logged-out session")
}

func TestSessionsListAndRevoke(t *testing.T) {
	t.Parallel()
	a := register(t, "sessions")
	second := a.another(t)
	list := must(t, call(t, "GET", "/api/v1/auth/sessions", a.access, nil, "User-Agent", "e2e-agent/1"), 200, "sessions").items(t)
	if len(list) != 2 {
		t.Fatalf("%d sessions, want 2: %v", len(list), list)
	}
	var otherID string
	current := 0
	for _, s := range list {
		for _, k := range []string{"id", "created_at", "last_used_at"} {
			if s[k] == nil || s[k] == "" {
				t.Errorf("session without %s: %v", k, s)
			}
		}
		if s["current"] == true {
			current++
		} else {
			otherID, _ = s["id"].(string)
		}
	}
	if current != 1 || otherID == "" {
		t.Fatalf("exactly one session must be current: %v", list)
	}
	stranger := register(t, "stranger")
	mustError(t, call(t, "DELETE", "/api/v1/auth/sessions/"+otherID, stranger.access, nil), 404, "session_not_found", "someone else's session")
	must(t, call(t, "GET", "/api/v1/users/me", second.access, nil), 200, "the session survives a stranger's attempt")
	must(t, call(t, "DELETE", "/api/v1/auth/sessions/"+otherID, a.access, nil), 204, "revoke own session")
	if !servertest.Eventually(t, 2*time.Second, func() bool {
		return call(t, "GET", "/api/v1/users/me", second.access, nil).status == 401
	}, "") {
		t.Error("the revoked session's token still works after 2 s")
	}
	if got := must(t, call(t, "GET", "/api/v1/auth/sessions", a.access, nil), 200, "sessions").items(t); len(got) != 1 {
		t.Errorf("after revoking: %v", got)
	}
}

func TestPasswordChangeRevokesOtherSessions(t *testing.T) {
	t.Parallel()
	a := register(t, "pwd")
	other := a.another(t)
	mustError(t, call(t, "PUT", "/api/v1/users/me/password", a.access, map[string]any{"current_password": "not it at all", "new_password": "brand new password"}), 403, "wrong_password", "wrong current password")
	r := call(t, "PUT", "/api/v1/users/me/password", a.access, map[string]any{"current_password": a.password, "new_password": "short"})
	if r.status != 400 {
		t.Errorf("too short new password: %d", r.status)
	}
	must(t, call(t, "PUT", "/api/v1/users/me/password", a.access, map[string]any{"current_password": a.password, "new_password": "brand new password"}), 204, "change")
	if !servertest.Eventually(t, 2*time.Second, func() bool {
		return call(t, "GET", "/api/v1/users/me", other.access, nil).status == 401
	}, "") {
		t.Error("the other session survives the password change")
	}
	must(t, call(t, "GET", "/api/v1/users/me", a.access, nil), 200, "the session that changed the password stays")
	mustError(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": a.password}), 401, "invalid_credentials", "old password")
	must(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": "brand new password"}), 200, "new password")
}
