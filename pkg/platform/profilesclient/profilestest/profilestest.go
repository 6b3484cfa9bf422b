// Package profilestest fakes the profiles service at its internal HTTP boundary as the services that call it
// see it (auth checks credentials there, friends and messages look users up), so that their component tests
// run without it and can make it fail.
package profilestest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Profiles answers the internal routes of the profiles service from the users added to it.
type Profiles struct {
	URL string

	mu    sync.Mutex
	users map[string]user // by id
	down  bool

	// Checks counts the credential checks, Batches the batch lookups (a lookup of one user counts in neither).
	Checks, Batches atomic.Int64
}

type user struct {
	profile  map[string]any
	password string
}

// New serves the fake until the test ends.
func New(t testing.TB) *Profiles {
	p := &Profiles{users: map[string]user{}}
	srv := httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// Add makes a user known, with a password for the credential check, and returns the public profile that
// profiles serves for it: the nickname capitalised as display name, "bio of <nickname>" as bio.
func (p *Profiles) Add(id, nickname, password string) map[string]any {
	profile := map[string]any{"id": id, "nickname": nickname, "display_name": strings.ToUpper(nickname[:1]) + nickname[1:],
		"bio": "bio of " + nickname, "has_avatar": false, "created_at": "2030-01-01T00:00:00Z"}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.users[id] = user{profile: profile, password: password}
	return profile
}

// SetAvatar says whether the user has an avatar (has_avatar in the profile served from now on).
func (p *Profiles) SetAvatar(id string, has bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	u := p.users[id]
	profile := make(map[string]any, len(u.profile))
	for k, v := range u.profile {
		profile[k] = v
	}
	profile["has_avatar"] = has
	u.profile = profile
	p.users[id] = u
}

// Forget makes the user unknown, as a deleted account is.
func (p *Profiles) Forget(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.users, id)
}

// SetDown makes every route answer 503 (down) or answer again.
func (p *Profiles) SetDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
}

func (p *Profiles) serve(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.down {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	id, one := strings.CutPrefix(r.URL.Path, "/internal/v1/users/")
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/internal/v1/credentials/verify":
		p.Checks.Add(1)
		var in struct{ Nickname, Password string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		for _, u := range p.users {
			if strings.EqualFold(u.profile["nickname"].(string), in.Nickname) && u.password == in.Password {
				writeJSON(w, http.StatusOK, map[string]any{"user": u.profile})
				return
			}
		}
		writeError(w, http.StatusUnauthorized, "invalid_credentials")
	case r.Method == http.MethodGet && r.URL.Path == "/internal/v1/users":
		p.Batches.Add(1)
		ids := strings.Split(r.URL.Query().Get("ids"), ",")
		if len(ids) > 100 {
			writeError(w, http.StatusBadRequest, "too_many_ids")
			return
		}
		items := []map[string]any{}
		for _, id := range ids {
			if u, ok := p.users[id]; ok {
				items = append(items, u.profile)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	case r.Method == http.MethodGet && one:
		if u, ok := p.users[id]; ok {
			writeJSON(w, http.StatusOK, u.profile)
			return
		}
		writeError(w, http.StatusNotFound, "user_not_found")
	default:
		writeError(w, http.StatusNotFound, "not_found")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": code}})
}
