// Package ports is the friends service's inbound side: the gin handlers of the public and internal API and
// the consumer of users entering the messenger.
package ports

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/authn"
	"simplemessenger/platform/server"

	"simplemessenger/services/friends/internal/app"
	"simplemessenger/services/friends/internal/domain"
)

// HTTPServer serves the API over the application.
type HTTPServer struct {
	app *app.Application
}

// NewHTTPServer makes the handlers.
func NewHTTPServer(a *app.Application) *HTTPServer { return &HTTPServer{app: a} }

// Register puts the routes on r; auth guards the public ones.
func (s *HTTPServer) Register(r gin.IRouter, auth gin.HandlerFunc) {
	pub := r.Group("/api/v1/friends", auth)
	pub.GET("", s.list)
	pub.POST("/requests", s.request)
	pub.POST("/requests/:user_id/accept", s.accept)
	pub.POST("/requests/:user_id/decline", s.decline)
	pub.DELETE("/:user_id", s.remove)

	// Blocks (an addition to v1).
	blocks := r.Group("/api/v1/blocks", auth)
	blocks.GET("", s.blocks)
	blocks.PUT("/:user_id", s.block)
	blocks.DELETE("/:user_id", s.unblock)

	// Internal: never routed by the gateway; messages asks about pairs it does not know to be friends.
	r.GET("/internal/v1/friendships/:a/:b", s.friendship)
}

// relationResponse is the answer of a request or an accept: the other user and how the caller now sees them.
type relationResponse struct {
	UserID string      `json:"user_id"`
	Status domain.View `json:"status"`
}

type requestBody struct {
	UserID string `json:"user_id"`
}

func (s *HTTPServer) request(c *gin.Context) {
	var body requestBody
	if !server.BindJSON(c, &body) {
		return
	}
	me := userID(c)
	r, err := s.app.Request(c.Request.Context(), me, body.UserID)
	if err != nil {
		respond(c, err)
		return
	}
	status := http.StatusCreated
	if r.Friends() {
		// Nothing was created: the other user's request was accepted.
		status = http.StatusOK
	}
	c.JSON(status, relationResponse{UserID: body.UserID, Status: r.ViewOf(me)})
}

func (s *HTTPServer) accept(c *gin.Context) {
	me, from := userID(c), c.Param("user_id")
	r, err := s.app.Accept(c.Request.Context(), me, from)
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, relationResponse{UserID: from, Status: r.ViewOf(me)})
}

func (s *HTTPServer) decline(c *gin.Context) {
	if err := s.app.Decline(c.Request.Context(), userID(c), c.Param("user_id")); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *HTTPServer) remove(c *gin.Context) {
	if err := s.app.Remove(c.Request.Context(), userID(c), c.Param("user_id")); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type listResponse struct {
	Items []app.Item `json:"items"`
}

func (s *HTTPServer) list(c *gin.Context) {
	filter, err := domain.ParseFilter(c.Query("status"))
	if err != nil {
		respond(c, err)
		return
	}
	items, err := s.app.List(c.Request.Context(), userID(c), filter)
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, listResponse{Items: items})
}

// block answers 204, also for a user blocked already.
func (s *HTTPServer) block(c *gin.Context) {
	if err := s.app.Block(c.Request.Context(), userID(c), c.Param("user_id")); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// unblock answers 204, also when there was no block.
func (s *HTTPServer) unblock(c *gin.Context) {
	if err := s.app.Unblock(c.Request.Context(), userID(c), c.Param("user_id")); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type blocksResponse struct {
	Items []app.BlockItem `json:"items"`
}

func (s *HTTPServer) blocks(c *gin.Context) {
	items, err := s.app.Blocks(c.Request.Context(), userID(c))
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, blocksResponse{Items: items})
}

// friendshipResponse says whether two users are friends and, if they are, since when (an addition: messages
// orders what it remembers of friendships by it).
type friendshipResponse struct {
	Friends bool       `json:"friends"`
	Since   *time.Time `json:"since,omitempty"`
}

func (s *HTTPServer) friendship(c *gin.Context) {
	since, friends, err := s.app.AreFriends(c.Request.Context(), c.Param("a"), c.Param("b"))
	if err != nil {
		respond(c, err)
		return
	}
	answer := friendshipResponse{Friends: friends}
	if friends {
		answer.Since = &since
	}
	c.JSON(http.StatusOK, answer)
}

func userID(c *gin.Context) string { return authn.FromContext(c.Request.Context()).UserID() }

// answers are the contract's answers to the use cases' errors, the first match wins. apierr.Respond answers
// the rest (the domain's rule violations with 400 and their code).
var answers = []struct {
	err    error
	answer *apierr.Error
}{
	{app.ErrUserNotFound, apierr.NotFound("user_not_found", "no such user")},
	{domain.ErrRequestNotFound, apierr.NotFound("request_not_found", "no pending friend request from that user")},
	{domain.ErrFriendshipNotFound, apierr.NotFound("friendship_not_found", "no friendship or request with that user")},
	{domain.ErrAlreadyFriends, apierr.Conflict("already_friends", "you are already friends")},
	{domain.ErrAlreadyRequested, apierr.Conflict("already_requested", "you have already asked this user")},
	{domain.ErrYouBlocked, apierr.Conflict("user_blocked", "you blocked this user; unblock them first")},
	{app.ErrProfilesUnavailable, apierr.Unavailable("user profiles cannot be read right now")},
	{app.ErrMessagesUnavailable, apierr.Unavailable("the friendship cannot be ended right now; try again")},
	{context.Canceled, apierr.Unavailable("the request was cancelled or timed out")},
	{context.DeadlineExceeded, apierr.Unavailable("the request was cancelled or timed out")},
}

// respond answers err: a known error with its contract answer, anything else as apierr.Respond does.
func respond(c *gin.Context, err error) {
	for _, a := range answers {
		if errors.Is(err, a.err) {
			apierr.Respond(c, a.answer)
			return
		}
	}
	apierr.Respond(c, err)
}
