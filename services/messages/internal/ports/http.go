// Package ports is the messages service's inbound side: the gin handlers of the chat API and the consumer of
// the gateway's entry events.
package ports

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/authn"
	"simplemessenger/platform/jsonx"
	"simplemessenger/platform/server"

	"simplemessenger/services/messages/internal/app"
	"simplemessenger/services/messages/internal/domain"
)

// HTTPServer serves the chat API over the application.
type HTTPServer struct {
	app *app.Application
}

// NewHTTPServer makes the handlers.
func NewHTTPServer(a *app.Application) *HTTPServer { return &HTTPServer{app: a} }

// Register puts the routes on r, every one behind auth (a valid access token).
func (s *HTTPServer) Register(r gin.IRouter, auth gin.HandlerFunc) {
	chats := r.Group("/api/v1/chats", auth)
	chats.GET("", s.chats)
	chats.POST("/:user_id/messages", s.send)
	chats.GET("/:user_id/messages", s.history)
	chats.POST("/:user_id/read", s.read)
	chats.PATCH("/:user_id/messages/:message_id", s.edit)
	chats.DELETE("/:user_id/messages/:message_id", s.delete)
	chats.POST("/:user_id/typing", s.typing)

	// Internal: never routed by the gateway; friends tells of a friendship's end before it answers the user.
	r.POST("/internal/v1/friendships/:a/:b/end", s.endFriendship)
}

type endFriendshipRequest struct {
	Since time.Time `json:"since"`
}

// endFriendship answers 204 once the end is recorded: the next send between the two asks friends.
func (s *HTTPServer) endFriendship(c *gin.Context) {
	var req endFriendshipRequest
	if !server.BindJSON(c, &req) {
		return
	}
	if err := s.app.EndFriendship(c.Request.Context(), c.Param("a"), c.Param("b"), req.Since); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type sendRequest struct {
	Text            string  `json:"text"`
	ClientMessageID *string `json:"client_message_id"`
}

// send answers 201 with a new message, 200 with the first one when the client message id was used already.
func (s *HTTPServer) send(c *gin.Context) {
	var req sendRequest
	if !server.BindUTF8JSON(c, &req) {
		return
	}
	msg, created, err := s.app.Send(c.Request.Context(), app.SendCommand{
		SenderID: caller(c), RecipientID: c.Param("user_id"), Text: req.Text, ClientMessageID: req.ClientMessageID,
	})
	if err != nil {
		respond(c, err)
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	c.JSON(status, msg)
}

type editRequest struct {
	Text string `json:"text"`
}

// edit answers 200 with the message as it is now (edited_at set).
func (s *HTTPServer) edit(c *gin.Context) {
	var req editRequest
	if !server.BindUTF8JSON(c, &req) {
		return
	}
	msg, err := s.app.EditMessage(c.Request.Context(), caller(c), c.Param("user_id"), c.Param("message_id"), req.Text)
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, msg)
}

// delete answers 204, also for a message deleted before.
func (s *HTTPServer) delete(c *gin.Context) {
	if _, err := s.app.DeleteMessage(c.Request.Context(), caller(c), c.Param("user_id"), c.Param("message_id")); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// typing answers 204, also when the notice was coalesced with a recent one.
func (s *HTTPServer) typing(c *gin.Context) {
	if _, err := s.app.Typing(c.Request.Context(), caller(c), c.Param("user_id")); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type olderPage[T any] struct {
	Items      []T     `json:"items"`
	NextBefore *string `json:"next_before"`
}

// history answers a page as json.Marshal would write olderPage of the messages (or, for after=, the same with
// next_after for a cursor), but written by appendPage: pages are the most frequent answer of the service, and encoding/json's reflection over 50
// messages was a tenth of its CPU.
func (s *HTTPServer) history(c *gin.Context) {
	q := pageQuery(c)
	items, next, err := s.app.History(c.Request.Context(), caller(c), c.Param("user_id"), q)
	if err != nil {
		respond(c, err)
		return
	}
	cursor := "next_before"
	if q.After != nil {
		cursor = "next_after"
	}
	server.WriteJSON(c, http.StatusOK, func(b []byte) []byte { return appendPage(b, items, cursor, next) })
}

// appendPage appends {"items":[…],"<cursor>":"id"|null}.
func appendPage(b []byte, items []app.MessageView, cursor string, next *int64) []byte {
	b = append(b, `{"items":[`...)
	for i, m := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = m.AppendJSON(b)
	}
	b = append(b, `],"`...)
	b = append(b, cursor...)
	b = append(b, `":`...)
	if next == nil {
		b = append(b, "null"...)
	} else {
		b = jsonx.AppendInt64String(b, *next)
	}
	return append(b, '}')
}

func (s *HTTPServer) chats(c *gin.Context) {
	items, next, err := s.app.Chats(c.Request.Context(), caller(c), pageQuery(c))
	if err != nil {
		respond(c, err)
		return
	}
	c.JSON(http.StatusOK, olderPage[app.ChatItem]{Items: items, NextBefore: idString(next)})
}

type readRequest struct {
	UpToID messageID `json:"up_to_id"`
}

// messageID takes an id as the contract writes ids ("42") and, leniently, as a bare JSON number (42).
// Anything else is kept as written, for the use case to refuse as an invalid id (not as invalid JSON).
type messageID string

func (id *messageID) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		s = string(b)
	}
	*id = messageID(s)
	return nil
}

func (s *HTTPServer) read(c *gin.Context) {
	var req readRequest
	if !server.BindJSON(c, &req) {
		return
	}
	if err := s.app.MarkRead(c.Request.Context(), caller(c), c.Param("user_id"), string(req.UpToID)); err != nil {
		respond(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func caller(c *gin.Context) string { return authn.FromContext(c.Request.Context()).UserID() }

// pageQuery is the paging parameters as given; an absent parameter is nil (an empty one is "", and invalid).
func pageQuery(c *gin.Context) domain.PageQuery {
	param := func(name string) *string {
		if v, ok := c.GetQuery(name); ok {
			return &v
		}
		return nil
	}
	return domain.PageQuery{Before: param("before"), After: param("after"), Limit: param("limit")}
}

// idString writes a cursor as the contract writes ids: a decimal string, or null.
func idString(id *int64) *string {
	if id == nil {
		return nil
	}
	s := strconv.FormatInt(*id, 10)
	return &s
}

// respond maps the use cases' errors to the contract's; apierr.Respond answers the rest (rule violations
// with 400 and their code).
func respond(c *gin.Context, err error) {
	switch {
	case errors.Is(err, app.ErrNotFriends):
		apierr.Respond(c, apierr.Forbidden("not_friends", "you can only message your friends"))
	case errors.Is(err, app.ErrUserNotFound):
		apierr.Respond(c, apierr.NotFound("user_not_found", "no such user"))
	case errors.Is(err, app.ErrMessageNotFound):
		apierr.Respond(c, apierr.NotFound("message_not_found", "no such message in this chat"))
	case errors.Is(err, domain.ErrNotYourMessage):
		apierr.Respond(c, apierr.Forbidden("not_your_message", "only the sender may edit or delete a message"))
	case errors.Is(err, domain.ErrMessageDeleted):
		apierr.Respond(c, apierr.Conflict("message_deleted", "the message was deleted"))
	case errors.Is(err, app.ErrNoSince):
		apierr.Respond(c, apierr.BadRequest("since_required", "since (when the friendship began) is required"))
	case errors.Is(err, app.ErrUnavailable):
		slog.WarnContext(c.Request.Context(), "dependency unavailable", "error", err, "route", c.FullPath())
		apierr.Respond(c, apierr.Unavailable("the service cannot answer right now; try again"))
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		apierr.Respond(c, apierr.Unavailable("the request was cancelled or timed out"))
	default:
		apierr.Respond(c, err)
	}
}
