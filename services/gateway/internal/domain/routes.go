// Package domain holds the gateway's rules as plain Go: which public route goes where and who may call it,
// how the client's address is found, which sessions are revoked, how fast a client may go, and how long a
// public profile may be served from memory.
package domain

import (
	"net/http"

	"simplemessenger/platform/contract"
)

// Upstream names the service that owns a route.
type Upstream string

const (
	Auth     Upstream = "auth"
	Profiles Upstream = "profiles"
	Friends  Upstream = "friends"
	Messages Upstream = "messages"
)

// Route is one public contract route. The gateway serves exactly these (anything else is 404, or 405 for a
// known path with another method), so internal APIs and admin endpoints of the services are never reachable.
type Route struct {
	Method string
	// Path is a gin route template; the request path is forwarded unchanged.
	Path string
	To   Upstream
	// Public routes are forwarded without a token (registration, login, refresh, avatar images for <img>).
	Public bool
	// BodyLimit overrides the platform's 64 KiB request body limit when positive.
	BodyLimit int64
	// CachesProfile marks the public profile read whose 200 answers the gateway may serve from its cache.
	CachesProfile bool
}

// Routes is the public contract, one line per call.
var Routes = []Route{
	// Accounts and sessions.
	{Method: http.MethodPost, Path: "/api/v1/users", To: Profiles, Public: true},
	{Method: http.MethodPost, Path: "/api/v1/auth/login", To: Auth, Public: true},
	{Method: http.MethodPost, Path: "/api/v1/auth/refresh", To: Auth, Public: true},
	{Method: http.MethodPost, Path: "/api/v1/auth/logout", To: Auth},
	{Method: http.MethodGet, Path: "/api/v1/auth/sessions", To: Auth},
	{Method: http.MethodDelete, Path: "/api/v1/auth/sessions/:id", To: Auth},

	// Profiles.
	{Method: http.MethodGet, Path: "/api/v1/users/me", To: Profiles},
	{Method: http.MethodPatch, Path: "/api/v1/users/me", To: Profiles},
	{Method: http.MethodPut, Path: "/api/v1/users/me/password", To: Profiles},
	{Method: http.MethodPut, Path: "/api/v1/users/me/avatar", To: Profiles, BodyLimit: contract.AvatarMaxBytes},
	{Method: http.MethodDelete, Path: "/api/v1/users/me/avatar", To: Profiles},
	{Method: http.MethodGet, Path: "/api/v1/users/:id/avatar", To: Profiles, Public: true},
	{Method: http.MethodGet, Path: "/api/v1/users/:id", To: Profiles, CachesProfile: true},
	{Method: http.MethodGet, Path: "/api/v1/users", To: Profiles},

	// Friends.
	{Method: http.MethodPost, Path: "/api/v1/friends/requests", To: Friends},
	{Method: http.MethodPost, Path: "/api/v1/friends/requests/:user_id/accept", To: Friends},
	{Method: http.MethodPost, Path: "/api/v1/friends/requests/:user_id/decline", To: Friends},
	{Method: http.MethodDelete, Path: "/api/v1/friends/:user_id", To: Friends},
	{Method: http.MethodGet, Path: "/api/v1/friends", To: Friends},
	{Method: http.MethodGet, Path: "/api/v1/blocks", To: Friends},
	{Method: http.MethodPut, Path: "/api/v1/blocks/:user_id", To: Friends},
	{Method: http.MethodDelete, Path: "/api/v1/blocks/:user_id", To: Friends},

	// Messages.
	{Method: http.MethodPost, Path: "/api/v1/chats/:user_id/messages", To: Messages},
	{Method: http.MethodGet, Path: "/api/v1/chats/:user_id/messages", To: Messages},
	{Method: http.MethodPost, Path: "/api/v1/chats/:user_id/read", To: Messages},
	{Method: http.MethodPatch, Path: "/api/v1/chats/:user_id/messages/:message_id", To: Messages},
	{Method: http.MethodDelete, Path: "/api/v1/chats/:user_id/messages/:message_id", To: Messages},
	{Method: http.MethodPost, Path: "/api/v1/chats/:user_id/typing", To: Messages},
	{Method: http.MethodGet, Path: "/api/v1/chats", To: Messages},
}
