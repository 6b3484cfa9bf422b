package service_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/events"
	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
	"simplemessenger/platform/servicetest"

	"simplemessenger/services/profiles/internal/service"
)

// Cheap argon2id parameters: the suite hashes often and argon2 is slow by design.
var cheap = argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// harness is one running profiles service on real MariaDB and RabbitMQ, with a token issuer standing in for auth.
type harness struct {
	t      *testing.T
	url    string
	admin  string
	iss    *authntest.Issuer
	db     *sql.DB
	broker broker.Config
}

// start serves the service on its own database and exchange; configure may change the configuration first.
func start(t *testing.T, configure ...func(*service.Config)) *harness {
	t.Helper()
	cfg := service.DefaultConfig()
	for _, c := range configure {
		c(&cfg)
	}
	s := servicetest.Start(t, cfg, func(ctx context.Context, cfg service.Config) (*server.App, error) {
		return service.Build(ctx, cfg, service.WithPasswordParams(cheap))
	})
	return &harness{t: t, url: s.URL, admin: s.Admin, iss: s.Issuer, db: s.DB, broker: s.Broker}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) code() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal(r.body, &e)
	return e.Error.Code
}

type req struct {
	method, path, token string
	json                any    // marshalled when set
	raw                 []byte // sent as is otherwise (header gives its Content-Type)
	header              map[string]string
}

func (h *harness) do(r req) response {
	h.t.Helper()
	var body any
	if r.json != nil {
		body = r.json
	} else if r.raw != nil {
		body = r.raw
	}
	var header []string
	for k, v := range r.header {
		header = append(header, k, v)
	}
	res := servertest.Do(h.t, r.method, h.url+r.path, r.token, body, header...)
	return response{status: res.Status, header: res.Header, body: res.Body}
}

// profile is a public profile as the API writes it, the one contract of every service.
type profile = events.Profile

// user registers a user and returns it with a token of a fresh session.
func (h *harness) user(nickname, password string) (profile, string) {
	h.t.Helper()
	res := h.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"nickname": nickname, "password": password}})
	if res.status != http.StatusCreated {
		h.t.Fatalf("register %s: %d %s", nickname, res.status, res.body)
	}
	var p profile
	res.json(h.t, &p)
	return p, h.iss.Token(h.t, p.ID, uuid.NewString())
}

func expect(t *testing.T, res response, status int, code string) {
	t.Helper()
	if res.status != status || res.code() != code {
		t.Errorf("want %d %q, got %d %s", status, code, res.status, res.body)
	}
}

type outboxEvent struct {
	Type string
	Data json.RawMessage
}

func (h *harness) outbox() []outboxEvent {
	h.t.Helper()
	var out []outboxEvent
	for _, o := range brokertest.Outbox(h.t, h.db) {
		out = append(out, outboxEvent{o.Event.Type, o.Event.Data})
	}
	return out
}

func (h *harness) eventsOfType(typ string) []outboxEvent {
	var out []outboxEvent
	for _, e := range h.outbox() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

func TestRegistrationAndProfileReads(t *testing.T) {
	h := start(t)
	res := h.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"nickname": "Alice.W", "password": "s3cret-pass"}})
	if res.status != http.StatusCreated {
		t.Fatalf("%d %s", res.status, res.body)
	}
	// Exactly the public fields: nothing about passwords, ever.
	var fields map[string]any
	res.json(t, &fields)
	if len(fields) != 6 || fields["has_avatar"] != false || fields["bio"] != "" {
		t.Errorf("fields %v", fields)
	}
	if strings.Contains(strings.ToLower(string(res.body)), "password") || strings.Contains(string(res.body), "argon2") {
		t.Errorf("password material in %s", res.body)
	}
	var alice profile
	res.json(t, &alice)
	if _, err := uuid.Parse(alice.ID); err != nil || alice.Nickname != "Alice.W" || alice.DisplayName != "Alice.W" {
		t.Errorf("profile %+v", alice)
	}
	if res.header.Get("Location") != "/api/v1/users/"+alice.ID {
		t.Errorf("Location %q", res.header.Get("Location"))
	}
	if alice.CreatedAt.IsZero() || alice.CreatedAt.Location() != time.UTC || time.Since(alice.CreatedAt) > time.Minute {
		t.Errorf("created_at %v", alice.CreatedAt)
	}
	if ca, _ := fields["created_at"].(string); !strings.HasSuffix(ca, "Z") {
		t.Errorf("created_at must be RFC 3339 UTC: %v", fields["created_at"])
	}

	bob := h.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"nickname": "bob", "password": "12345678", "display_name": "Bob 🎸"}})
	var bobP profile
	bob.json(t, &bobP)
	if bob.status != http.StatusCreated || bobP.DisplayName != "Bob 🎸" {
		t.Errorf("%d %s", bob.status, bob.body)
	}

	tok := h.iss.Token(t, alice.ID, "s1")
	var me, other profile
	res = h.do(req{method: "GET", path: "/api/v1/users/me", token: tok})
	res.json(t, &me)
	if res.status != http.StatusOK || me != alice {
		t.Errorf("me: %d %+v", res.status, me)
	}
	res = h.do(req{method: "GET", path: "/api/v1/users/" + bobP.ID, token: tok})
	res.json(t, &other)
	if res.status != http.StatusOK || other != bobP {
		t.Errorf("other: %d %+v", res.status, other)
	}
	expect(t, h.do(req{method: "GET", path: "/api/v1/users/" + uuid.NewString(), token: tok}), 404, "user_not_found")
	expect(t, h.do(req{method: "GET", path: "/api/v1/users/not-a-uuid", token: tok}), 404, "user_not_found")
	// A valid token of a user that does not exist (any more).
	expect(t, h.do(req{method: "GET", path: "/api/v1/users/me", token: h.iss.Token(t, uuid.NewString(), "s")}), 404, "user_not_found")

	// Internal read: no token.
	res = h.do(req{method: "GET", path: "/internal/v1/users/" + bobP.ID})
	res.json(t, &other)
	if res.status != http.StatusOK || other != bobP {
		t.Errorf("internal: %d %s", res.status, res.body)
	}
	expect(t, h.do(req{method: "GET", path: "/internal/v1/users/" + uuid.NewString()}), 404, "user_not_found")

	reg := h.eventsOfType("profiles.user.registered")
	if len(reg) != 2 {
		t.Fatalf("registered events: %+v", reg)
	}
	var d struct{ User profile }
	_ = json.Unmarshal(reg[0].Data, &d)
	if d.User != alice {
		t.Errorf("event user %+v, want %+v", d.User, alice)
	}
}

func TestRegistrationRefusals(t *testing.T) {
	h := start(t)
	h.user("Taken", "password1")
	long := func(n int, s string) string { return strings.Repeat(s, n) }
	cases := []struct {
		name   string
		body   map[string]any
		status int
		code   string
	}{
		{"short nickname", map[string]any{"nickname": "ab", "password": "password1"}, 400, "invalid_nickname"},
		{"long nickname", map[string]any{"nickname": long(33, "a"), "password": "password1"}, 400, "invalid_nickname"},
		{"bad character", map[string]any{"nickname": "bad name", "password": "password1"}, 400, "invalid_nickname"},
		{"no nickname", map[string]any{"password": "password1"}, 400, "invalid_nickname"},
		{"short password", map[string]any{"nickname": "someone", "password": "1234567"}, 400, "invalid_password"},
		{"long password", map[string]any{"nickname": "someone", "password": long(129, "é")}, 400, "invalid_password"},
		{"empty display name", map[string]any{"nickname": "someone", "password": "password1", "display_name": ""}, 400, "invalid_display_name"},
		{"long display name", map[string]any{"nickname": "someone", "password": "password1", "display_name": long(65, "x")}, 400, "invalid_display_name"},
		{"control character", map[string]any{"nickname": "someone", "password": "password1", "display_name": "a\u0007b"}, 400, "invalid_display_name"},
		{"taken in another case", map[string]any{"nickname": "tAKEN", "password": "password1"}, 409, "nickname_taken"},
		{"wrong type", map[string]any{"nickname": 42, "password": "password1"}, 400, "invalid_field"},
	}
	for _, c := range cases {
		res := h.do(req{method: "POST", path: "/api/v1/users", json: c.body})
		if res.status != c.status || res.code() != c.code {
			t.Errorf("%s: want %d %s, got %d %s", c.name, c.status, c.code, res.status, res.body)
		}
	}
	// 128 characters of two bytes each are fine: limits count code points.
	if res := h.do(req{method: "POST", path: "/api/v1/users", json: map[string]any{"nickname": "unicode", "password": long(128, "é")}}); res.status != 201 {
		t.Errorf("128-character password: %d %s", res.status, res.body)
	}
	json := map[string]string{"Content-Type": "application/json"}
	expect(t, h.do(req{method: "POST", path: "/api/v1/users", raw: []byte(`{"nickname":"x`), header: json}), 400, "invalid_json")
	expect(t, h.do(req{method: "POST", path: "/api/v1/users", raw: []byte("{\"nickname\":\"latin\",\"password\":\"pass\xe9word1\"}"), header: json}), 400, "invalid_json")
	expect(t, h.do(req{method: "POST", path: "/api/v1/users", raw: []byte(`{}`), header: map[string]string{"Content-Type": "text/plain"}}), 415, "unsupported_media_type")
	big := []byte(`{"nickname":"big","password":"` + long(70<<10, "x") + `"}`)
	expect(t, h.do(req{method: "POST", path: "/api/v1/users", raw: big, header: json}), 413, "body_too_large")

	if n := len(h.eventsOfType("profiles.user.registered")); n != 2 {
		t.Errorf("only the two successful registrations are announced, got %d", n)
	}
}

func TestTokenRequired(t *testing.T) {
	h := start(t)
	p, _ := h.user("guarded", "password1")
	past := time.Now().Add(-time.Hour)
	expired := h.iss.Sign(t, authn.Claims{SessionID: "s", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: authn.Issuer, Audience: jwt.ClaimStrings{authn.Audience}, Subject: p.ID,
		IssuedAt: jwt.NewNumericDate(past), ExpiresAt: jwt.NewNumericDate(past.Add(15 * time.Minute)),
	}})
	foreign := authntest.New(t).Token(t, p.ID, "s") // signed by a key this service does not trust
	routes := []req{
		{method: "GET", path: "/api/v1/users/me"},
		{method: "PATCH", path: "/api/v1/users/me", json: map[string]any{"bio": "x"}},
		{method: "PUT", path: "/api/v1/users/me/password", json: map[string]any{"current_password": "password1", "new_password": "password2"}},
		{method: "PUT", path: "/api/v1/users/me/avatar", raw: []byte("x"), header: map[string]string{"Content-Type": "image/png"}},
		{method: "DELETE", path: "/api/v1/users/me/avatar"},
		{method: "GET", path: "/api/v1/users/" + p.ID},
		{method: "GET", path: "/api/v1/users?nickname=gu"},
	}
	for _, r := range routes {
		expect(t, h.do(r), 401, "unauthorized")
		for _, tok := range []string{"not.a.jwt", expired, foreign} {
			r.token = tok
			expect(t, h.do(r), 401, "unauthorized")
		}
	}
}
