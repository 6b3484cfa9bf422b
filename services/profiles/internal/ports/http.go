// Package ports is the profiles service's inbound side: the gin handlers of the public and internal API.
package ports

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/authn"
	"simplemessenger/platform/rules"
	"simplemessenger/platform/server"

	"simplemessenger/services/profiles/internal/app"
	"simplemessenger/services/profiles/internal/domain"
)

// AvatarRoute is the upload route; it has the 1 MiB body limit instead of the default 64 KiB.
const AvatarRoute = "/api/v1/users/me/avatar"

// AvatarCacheControl lets browsers and proxies reuse an avatar for a minute, then revalidate with the ETag.
const AvatarCacheControl = "public, max-age=60"

// HTTPServer serves the API over the application.
type HTTPServer struct {
	app *app.Application
}

// NewHTTPServer makes the handlers.
func NewHTTPServer(a *app.Application) *HTTPServer { return &HTTPServer{app: a} }

// Register puts the routes on r; auth guards the routes that need an access token.
func (s *HTTPServer) Register(r gin.IRouter, auth gin.HandlerFunc) {
	pub := r.Group("/api/v1/users")
	pub.POST("", s.register)
	pub.GET("/:id/avatar", s.getAvatar) // no token: an <img> cannot send one

	me := pub.Group("", auth)
	me.GET("", s.search)
	me.GET("/me", s.getMe)
	me.PATCH("/me", s.patchMe)
	me.PUT("/me/password", s.changePassword)
	me.PUT("/me/avatar", s.putAvatar)
	me.DELETE("/me/avatar", s.deleteAvatar)
	me.GET("/:id", s.getUser)

	// Internal: never routed by the gateway; callers are other services.
	in := r.Group("/internal/v1")
	in.POST("/credentials/verify", s.verifyCredentials)
	in.GET("/users/:id", s.getUser)
	in.GET("/users", s.getUsers)
}

type registerRequest struct {
	Nickname    string  `json:"nickname"`
	Password    string  `json:"password"`
	DisplayName *string `json:"display_name"`
}

func (s *HTTPServer) register(c *gin.Context) {
	var req registerRequest
	if !server.BindUTF8JSON(c, &req) {
		return
	}
	u, err := s.app.Register(c.Request.Context(), app.RegisterCommand{
		Nickname: req.Nickname, Password: req.Password, DisplayName: req.DisplayName, ClientIP: server.ClientIP(c),
	})
	if err != nil {
		respond(c, err)
		return
	}
	c.Header("Location", "/api/v1/users/"+u.ID)
	c.JSON(http.StatusCreated, app.NewPublicProfile(u))
}

func (s *HTTPServer) getMe(c *gin.Context) {
	u, err := s.app.User(c.Request.Context(), userID(c))
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, app.NewPublicProfile(u))
}

func (s *HTTPServer) getUser(c *gin.Context) {
	u, err := s.app.User(c.Request.Context(), c.Param("id"))
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, app.NewPublicProfile(u))
}

// getUsers is the batch lookup other services use to show many users at once (a friends list):
// ?ids=a,b,c (at most domain.BatchMaxIDs), answered with the users that exist, in the order asked.
func (s *HTTPServer) getUsers(c *gin.Context) {
	ids, err := domain.ParseIDBatch(c.Query("ids"))
	if err != nil {
		respond(c, err)
		return
	}
	users, err := s.app.Users(c.Request.Context(), ids)
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, publicProfiles(users))
}

type patchRequest struct {
	DisplayName *string `json:"display_name"`
	Bio         *string `json:"bio"`
}

func (s *HTTPServer) patchMe(c *gin.Context) {
	var req patchRequest
	if !server.BindUTF8JSON(c, &req) {
		return
	}
	u, err := s.app.UpdateProfile(c.Request.Context(), userID(c), domain.ProfileUpdate{DisplayName: req.DisplayName, Bio: req.Bio})
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, app.NewPublicProfile(u))
}

type passwordRequest struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

func (s *HTTPServer) changePassword(c *gin.Context) {
	var req passwordRequest
	if !server.BindUTF8JSON(c, &req) {
		return
	}
	claims := authn.FromContext(c.Request.Context())
	err := s.app.ChangePassword(c.Request.Context(), app.ChangePasswordCommand{
		UserID: claims.UserID(), SessionID: claims.SessionID, CurrentPassword: req.CurrentPassword, NewPassword: req.NewPassword,
	})
	if err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *HTTPServer) putAvatar(c *gin.Context) {
	ct := c.GetHeader("Content-Type")
	// Refuse a wrong type before reading up to a megabyte.
	if _, err := domain.AvatarMediaType(ct); err != nil {
		respond(c, err)
		return
	}
	body, ok := server.ReadBody(c)
	if !ok {
		return
	}
	if _, err := s.app.SetAvatar(c.Request.Context(), userID(c), ct, body); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *HTTPServer) deleteAvatar(c *gin.Context) {
	if err := s.app.DeleteAvatar(c.Request.Context(), userID(c)); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *HTTPServer) getAvatar(c *gin.Context) {
	var match func(string) bool
	if inm := c.GetHeader("If-None-Match"); inm != "" {
		match = func(etag string) bool { return etagMatches(inm, etag) }
	}
	av, notModified, err := s.app.Avatar(c.Request.Context(), c.Param("id"), match)
	if err != nil {
		respond(c, err)
		return
	}
	h := c.Writer.Header()
	h.Set("ETag", av.ETag)
	h.Set("Cache-Control", AvatarCacheControl)
	h.Set("X-Content-Type-Options", "nosniff")
	if notModified {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, av.ContentType, av.Data)
}

// etagMatches is If-None-Match's weak comparison (RFC 9110 13.1.2): "*" or any listed tag equal to etag once
// W/ prefixes are ignored.
func etagMatches(header, etag string) bool {
	strip := func(t string) string { return strings.TrimPrefix(strings.TrimSpace(t), "W/") }
	etag = strip(etag)
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || (t != "" && strip(t) == etag) {
			return true
		}
	}
	return false
}

// profilesResponse is the {"items": [...]} answer of the search and of the batch lookup.
type profilesResponse struct {
	Items []app.PublicProfile `json:"items"`
}

func (s *HTTPServer) search(c *gin.Context) {
	limit, limitGiven := 0, false
	if v, ok := c.GetQuery("limit"); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			respond(c, apierr.BadRequest("invalid_limit", "limit must be a number from 1 to 50"))
			return
		}
		limit, limitGiven = n, true
	}
	q, err := domain.NewSearch(c.Query("nickname"), limit, limitGiven)
	if err != nil {
		respond(c, err)
		return
	}
	users, err := s.app.Search(c.Request.Context(), q)
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, publicProfiles(users))
}

// publicProfiles lists users as public profiles.
func publicProfiles(users []domain.User) profilesResponse {
	res := profilesResponse{Items: make([]app.PublicProfile, 0, len(users))}
	for _, u := range users {
		res.Items = append(res.Items, app.NewPublicProfile(u))
	}
	return res
}

type credentialsRequest struct {
	Nickname string `json:"nickname"`
	Password string `json:"password"`
}

type credentialsResponse struct {
	User app.PublicProfile `json:"user"`
}

func (s *HTTPServer) verifyCredentials(c *gin.Context) {
	var req credentialsRequest
	if !server.BindUTF8JSON(c, &req) {
		return
	}
	u, err := s.app.VerifyCredentials(c.Request.Context(), req.Nickname, req.Password)
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, credentialsResponse{User: app.NewPublicProfile(u)})
}

func userID(c *gin.Context) string { return authn.FromContext(c.Request.Context()).UserID() }

// respond maps the use cases' errors to the contract's; apierr.Respond answers the rest (rule violations
// with 400 and their code).
func respond(c *gin.Context, err error) {
	var v *rules.Violation
	switch {
	case errors.As(err, &v) && (v.Code == "unsupported_image" || v.Code == "unsupported_media_type"):
		// The avatar rules: the body is not an image profiles takes.
		apierr.Respond(c, apierr.New(http.StatusUnsupportedMediaType, v.Code, v.Message))
	case errors.Is(err, app.ErrUserNotFound):
		apierr.Respond(c, apierr.NotFound("user_not_found", "no such user"))
	case errors.Is(err, app.ErrAvatarNotFound):
		apierr.Respond(c, apierr.NotFound("avatar_not_found", "this user has no avatar"))
	case errors.Is(err, app.ErrNicknameTaken):
		apierr.Respond(c, apierr.Conflict("nickname_taken", "this nickname is taken"))
	case errors.Is(err, app.ErrWrongPassword):
		apierr.Respond(c, apierr.Forbidden("wrong_password", "the current password is wrong"))
	case errors.Is(err, app.ErrInvalidCredentials):
		apierr.Respond(c, apierr.New(http.StatusUnauthorized, "invalid_credentials", "wrong nickname or password"))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		apierr.Respond(c, apierr.Unavailable("the request was cancelled or timed out"))
	default:
		apierr.Respond(c, err)
	}
}
