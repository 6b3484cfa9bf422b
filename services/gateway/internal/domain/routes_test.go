package domain

import (
	"strings"
	"testing"
)

// The contract's calls of this slice, and the additions to it, written out independently of the table under test.
var contractRoutes = []struct {
	method, path string
	to           Upstream
	public       bool
}{
	{"POST", "/api/v1/users", Profiles, true},
	{"POST", "/api/v1/auth/login", Auth, true},
	{"POST", "/api/v1/auth/refresh", Auth, true},
	{"POST", "/api/v1/auth/logout", Auth, false},
	{"GET", "/api/v1/auth/sessions", Auth, false},
	{"DELETE", "/api/v1/auth/sessions/:id", Auth, false},
	{"GET", "/api/v1/users/me", Profiles, false},
	{"PATCH", "/api/v1/users/me", Profiles, false},
	{"PUT", "/api/v1/users/me/password", Profiles, false},
	{"PUT", "/api/v1/users/me/avatar", Profiles, false},
	{"DELETE", "/api/v1/users/me/avatar", Profiles, false},
	{"GET", "/api/v1/users/:id/avatar", Profiles, true},
	{"GET", "/api/v1/users/:id", Profiles, false},
	{"GET", "/api/v1/users", Profiles, false},
	{"POST", "/api/v1/friends/requests", Friends, false},
	{"POST", "/api/v1/friends/requests/:user_id/accept", Friends, false},
	{"POST", "/api/v1/friends/requests/:user_id/decline", Friends, false},
	{"DELETE", "/api/v1/friends/:user_id", Friends, false},
	{"GET", "/api/v1/friends", Friends, false},
	{"POST", "/api/v1/chats/:user_id/messages", Messages, false},
	{"GET", "/api/v1/chats/:user_id/messages", Messages, false},
	{"POST", "/api/v1/chats/:user_id/read", Messages, false},
	{"GET", "/api/v1/chats", Messages, false},
	// Additions to v1 (api/openapi.yaml).
	{"GET", "/api/v1/blocks", Friends, false},
	{"PUT", "/api/v1/blocks/:user_id", Friends, false},
	{"DELETE", "/api/v1/blocks/:user_id", Friends, false},
	{"PATCH", "/api/v1/chats/:user_id/messages/:message_id", Messages, false},
	{"DELETE", "/api/v1/chats/:user_id/messages/:message_id", Messages, false},
	{"POST", "/api/v1/chats/:user_id/typing", Messages, false},
}

func TestEveryContractRouteGoesToItsOwnerWithItsAuthRequirement(t *testing.T) {
	byKey := map[string]Route{}
	for _, r := range Routes {
		key := r.Method + " " + r.Path
		if _, dup := byKey[key]; dup {
			t.Errorf("%s is registered twice", key)
		}
		byKey[key] = r
	}
	for _, want := range contractRoutes {
		key := want.method + " " + want.path
		got, ok := byKey[key]
		if !ok {
			t.Errorf("%s is missing from the route table", key)
			continue
		}
		if got.To != want.to {
			t.Errorf("%s goes to %s, want %s", key, got.To, want.to)
		}
		if got.Public != want.public {
			t.Errorf("%s public=%v, want %v", key, got.Public, want.public)
		}
		delete(byKey, key)
	}
	for key := range byKey {
		t.Errorf("%s is routed but is not a contract call", key)
	}
}

func TestOnlyPublicAPIPathsAreRouted(t *testing.T) {
	for _, r := range Routes {
		if !strings.HasPrefix(r.Path, "/api/v1/") {
			t.Errorf("%s %s is outside /api/v1", r.Method, r.Path)
		}
	}
}

func TestOnlyTheAvatarUploadTakesLargeBodiesAndOnlyTheProfileReadIsCached(t *testing.T) {
	for _, r := range Routes {
		key := r.Method + " " + r.Path
		wantLimit := int64(0)
		if key == "PUT /api/v1/users/me/avatar" {
			wantLimit = 1 << 20
		}
		if r.BodyLimit != wantLimit {
			t.Errorf("%s body limit %d, want %d", key, r.BodyLimit, wantLimit)
		}
		if r.CachesProfile != (key == "GET /api/v1/users/:id") {
			t.Errorf("%s CachesProfile=%v", key, r.CachesProfile)
		}
	}
}
