// Package ports is the auth service's inbound side: the HTTP API (public and internal routes) and the
// consumer of profiles' password-changed events.
package ports

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/authn"
	"simplemessenger/platform/server"

	"simplemessenger/services/auth/internal/app"
	"simplemessenger/services/auth/internal/domain"
)

// HTTPServer serves the auth routes.
type HTTPServer struct {
	app      *app.Application
	verifier *authn.Verifier
}

// NewHTTPServer serves a; tokens on authenticated routes are verified with auth's own keys (no HTTP to
// itself), and the verifications counted on reg (nil: not exported).
func NewHTTPServer(a *app.Application, reg prometheus.Registerer) *HTTPServer {
	v := authn.NewVerifier("", nil, authn.WithMetrics(reg))
	v.AddKeys(a.JWKS())
	return &HTTPServer{app: a, verifier: v}
}

// Register adds the routes to r.
func (h *HTTPServer) Register(r gin.IRouter) {
	r.GET("/.well-known/jwks.json", h.jwks)
	r.GET("/internal/v1/revoked-sessions", h.revokedSessions)

	a := r.Group("/api/v1/auth")
	a.POST("/login", h.login)
	a.POST("/refresh", h.refresh)
	authed := a.Group("", authn.Middleware(h.verifier), h.activeSession)
	authed.POST("/logout", h.logout)
	authed.GET("/sessions", h.sessions)
	authed.DELETE("/sessions/:id", h.deleteSession)
}

// activeSession refuses tokens of revoked sessions (the token alone would still verify until it expires).
func (h *HTTPServer) activeSession(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	if err := h.app.CheckSession(c.Request.Context(), claims.UserID(), claims.SessionID); err != nil {
		apierr.Respond(c, err)
		return
	}
	c.Next()
}

type tokenResponse struct {
	AccessToken  string          `json:"access_token"`
	TokenType    string          `json:"token_type"`
	ExpiresIn    int64           `json:"expires_in"`
	RefreshToken string          `json:"refresh_token"`
	User         json.RawMessage `json:"user,omitempty"`
}

func writeTokens(c *gin.Context, t app.Tokens) {
	res := tokenResponse{
		AccessToken: t.AccessToken.Token, TokenType: "Bearer", ExpiresIn: int64(t.ExpiresIn / time.Second),
		RefreshToken: t.RefreshToken,
	}
	if t.User != nil {
		res.User = t.User.Profile
	}
	// Tokens must not be kept by caches along the way (RFC 6749 §5.1).
	c.Header("Cache-Control", "no-store")
	c.Header("Pragma", "no-cache")
	c.JSON(http.StatusOK, res)
}

func (h *HTTPServer) login(c *gin.Context) {
	var req struct {
		Nickname string `json:"nickname"`
		Password string `json:"password"`
	}
	if !server.BindJSON(c, &req) {
		return
	}
	if req.Nickname == "" || req.Password == "" {
		apierr.Respond(c, apierr.BadRequest("invalid_field", "nickname and password are required"))
		return
	}
	tokens, err := h.app.Login(c.Request.Context(), app.LoginInput{
		Nickname: req.Nickname, Password: req.Password,
		UserAgent: c.GetHeader("User-Agent"), ClientIP: server.ClientIP(c),
	})
	if err != nil {
		apierr.Respond(c, err)
		return
	}
	writeTokens(c, tokens)
}

func (h *HTTPServer) refresh(c *gin.Context) {
	var req struct {
		RefreshToken string `json:"refresh_token"`
	}
	if !server.BindJSON(c, &req) {
		return
	}
	if req.RefreshToken == "" {
		apierr.Respond(c, apierr.BadRequest("invalid_field", "refresh_token is required"))
		return
	}
	tokens, err := h.app.Refresh(c.Request.Context(), req.RefreshToken)
	if err != nil {
		apierr.Respond(c, err)
		return
	}
	writeTokens(c, tokens)
}

func (h *HTTPServer) logout(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	if err := h.app.RevokeSession(c.Request.Context(), claims.UserID(), claims.SessionID); err != nil {
		apierr.Respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type sessionJSON struct {
	ID         string    `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	UserAgent  string    `json:"user_agent"`
	Current    bool      `json:"current"`
}

func (h *HTTPServer) sessions(c *gin.Context) {
	claims := authn.FromContext(c.Request.Context())
	list, err := h.app.Sessions(c.Request.Context(), claims.UserID(), claims.SessionID)
	if err != nil {
		apierr.Respond(c, err)
		return
	}
	items := make([]sessionJSON, len(list))
	for i, s := range list {
		items[i] = sessionJSON{ID: s.ID, CreatedAt: s.CreatedAt.UTC(), LastUsedAt: s.LastUsedAt.UTC(), UserAgent: s.UserAgent, Current: s.Current}
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (h *HTTPServer) deleteSession(c *gin.Context) {
	id := c.Param("id")
	if _, err := uuid.Parse(id); err != nil {
		apierr.Respond(c, app.ErrSessionNotFound)
		return
	}
	claims := authn.FromContext(c.Request.Context())
	if err := h.app.RevokeSession(c.Request.Context(), claims.UserID(), id); err != nil {
		apierr.Respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (h *HTTPServer) jwks(c *gin.Context) {
	// Short enough that a newly added key reaches caches well before it starts signing.
	c.Header("Cache-Control", "public, max-age=60")
	c.JSON(http.StatusOK, h.app.JWKS())
}

func (h *HTTPServer) revokedSessions(c *gin.Context) {
	list, err := h.app.RevokedSessions(c.Request.Context())
	if err != nil {
		apierr.Respond(c, err)
		return
	}
	if list == nil {
		list = []domain.RevokedSession{}
	}
	c.JSON(http.StatusOK, gin.H{"items": list})
}
