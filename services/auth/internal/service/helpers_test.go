package service_test

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/profilesclient/profilestest"
	"simplemessenger/platform/server/servertest"
	"simplemessenger/platform/servicetest"

	"simplemessenger/services/auth/internal/service"
)

// stack is a running auth service on ephemeral ports with its own database and exchange.
type stack struct {
	t        *testing.T
	URL      string
	Admin    string
	DB       *sql.DB
	Profiles *profilestest.Profiles
	Broker   broker.Config
}

// start builds and serves the service; adjust changes the configuration first.
func start(t *testing.T, adjust func(*service.Config)) *stack {
	t.Helper()
	p := profilestest.New(t)
	cfg := service.DefaultConfig()
	cfg.ProfilesURL = p.URL
	cfg.ProfilesTimeout = 2 * time.Second
	if adjust != nil {
		adjust(&cfg)
	}
	s := servicetest.Start(t, cfg, service.Build)
	return &stack{t: t, URL: s.URL, Admin: s.Admin, DB: s.DB, Profiles: p, Broker: s.Broker}
}

type response struct{ servertest.Response }

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("response %d is not a JSON object: %q", r.Status, r.Body)
	}
	return m
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	code, _ := e["code"].(string)
	return code
}

// call sends a request; headers alternate names and values.
func (s *stack) call(method, path, token string, body any, headers ...string) response {
	s.t.Helper()
	return response{servertest.Do(s.t, method, s.URL+path, token, body, headers...)}
}

func (s *stack) expect(r response, status int, what string) response {
	s.t.Helper()
	if r.Status != status {
		s.t.Fatalf("%s: status %d, want %d; body %s", what, r.Status, status, r.Body)
	}
	return r
}

// session is one login's tokens.
type session struct {
	Access, Refresh, ID string
}

// login logs in (from the given X-Real-IP and User-Agent when set) and expects success.
func (s *stack) login(nickname, password string, headers ...string) session {
	s.t.Helper()
	r := s.expect(s.call("POST", "/api/v1/auth/login", "", map[string]string{"nickname": nickname, "password": password}, headers...), 200, "login "+nickname)
	return s.sessionOf(r)
}

func (s *stack) sessionOf(r response) session {
	s.t.Helper()
	m := r.json(s.t)
	access, _ := m["access_token"].(string)
	refresh, _ := m["refresh_token"].(string)
	claims, err := s.verifier().Verify(context.Background(), access)
	if err != nil {
		s.t.Fatalf("access token does not verify against the JWKS: %v", err)
	}
	return session{Access: access, Refresh: refresh, ID: claims.SessionID}
}

// verifier checks tokens the way every other service does: with the keys fetched from the JWKS endpoint.
func (s *stack) verifier() *authn.Verifier {
	return authn.NewVerifier(s.URL+"/.well-known/jwks.json", nil)
}

// revokedEvents returns the session ids of the auth.session.revoked events in the outbox.
func (s *stack) revokedEvents() []string {
	s.t.Helper()
	var ids []string
	for _, o := range brokertest.Outbox(s.t, s.DB) {
		ev := o.Event
		if ev.Type != "auth.session.revoked" {
			continue
		}
		var data struct {
			SessionID string    `json:"session_id"`
			UserID    string    `json:"user_id"`
			ExpiresAt time.Time `json:"expires_at"`
		}
		if ev.Decode(&data) != nil {
			s.t.Fatalf("undecodable outbox payload %s", ev.Data)
		}
		if data.UserID == "" || data.ExpiresAt.IsZero() {
			s.t.Errorf("revoked event without user_id or expires_at: %s", ev.Data)
		}
		ids = append(ids, data.SessionID)
	}
	return ids
}

// revokedList returns the session ids GET /internal/v1/revoked-sessions lists.
func (s *stack) revokedList() []string {
	s.t.Helper()
	r := s.expect(s.call("GET", "/internal/v1/revoked-sessions", "", nil), 200, "revoked sessions")
	items, _ := r.json(s.t)["items"].([]any)
	var ids []string
	for _, it := range items {
		m, _ := it.(map[string]any)
		id, _ := m["session_id"].(string)
		ids = append(ids, id)
	}
	return ids
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// tokenKid reads the kid of a JWT's header.
func tokenKid(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(raw, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}
