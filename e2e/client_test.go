package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d: not a JSON object: %q", r.status, r.body)
	}
	return m
}

func (r reply) errorCode() string {
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	if e.Error.Message == "" {
		return ""
	}
	return e.Error.Code
}

func (r reply) items(t *testing.T) []map[string]any {
	t.Helper()
	var m struct {
		Items []map[string]any `json:"items"`
	}
	if err := json.Unmarshal(r.body, &m); err != nil || m.Items == nil {
		t.Fatalf("status %d: no items list: %q", r.status, r.body)
	}
	return m.Items
}

// call sends one request to base (the gateway unless a full URL is given). body: nil, []byte, or JSON-able.
// headers are name/value pairs.
func call(t *testing.T, method, path, token string, body any, headers ...string) reply {
	t.Helper()
	url := path
	if !strings.HasPrefix(path, "http") {
		url = stack.GatewayURL + path
	}
	r, err := apiRequest(context.Background(), &http.Client{Timeout: 15 * time.Second}, method, url, token, body, headers...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return r
}

// must fails the test unless r has the wanted status.
func must(t *testing.T, r reply, want int, what string) reply {
	t.Helper()
	if r.status != want {
		t.Fatalf("%s: status %d, want %d; body %q", what, r.status, want, r.body)
	}
	return r
}

// mustError fails unless r has the status and the contract error code.
func mustError(t *testing.T, r reply, status int, code, what string) {
	t.Helper()
	if r.status != status || r.errorCode() != code {
		t.Errorf("%s: %d %q, want %d %q; body %q", what, r.status, r.errorCode(), status, code, r.body)
	}
}

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// account is a registered user with one logged-in session.
type account struct {
	id, nickname, password string
	access, refresh        string
}

func register(t *testing.T, prefix string) *account {
	t.Helper()
	a := &account{nickname: prefix + "_" + suffix(), password: "pass-" + suffix() + "-word"}
	r := must(t, call(t, "POST", "/api/v1/users", "", map[string]any{"nickname": a.nickname, "password": a.password}), 201, "register")
	a.id, _ = r.object(t)["id"].(string)
	if a.id == "" {
		t.Fatalf("register: no id in %q", r.body)
	}
	a.login(t)
	return a
}

// login opens a new session and makes it the account's current one.
func (a *account) login(t *testing.T) {
	t.Helper()
	r := must(t, call(t, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": a.nickname, "password": a.password}), 200, "login")
	m := r.object(t)
	a.access, _ = m["access_token"].(string)
	a.refresh, _ = m["refresh_token"].(string)
}

// another returns a second session of the same user.
func (a *account) another(t *testing.T) *account {
	t.Helper()
	b := *a
	b.login(t)
	return &b
}
