// Package apierr is the contract's error format: every error body is
// {"error": {"code": "snake_case_code", "message": "human readable"}}.
//
// Handlers return *Error values (or wrap them); Respond writes them. A domain's rules.Violation is the
// client's mistake too: 400 with its code. Anything else is an internal failure: it is logged with the
// request's context and answered 500 without internals.
package apierr

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/go-sql-driver/mysql"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/rules"
)

// Error is an error a client may see.
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfter, in whole seconds, is sent as the Retry-After header when positive (429, 503).
	RetryAfter int `json:"-"`
}

func (e *Error) Error() string { return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message) }

// New makes an error with the given HTTP status, code and message.
func New(status int, code, message string) *Error {
	return &Error{Status: status, Code: code, Message: message}
}

// Body is the JSON document of an error.
type Body struct {
	Error *Error `json:"error"`
}

func BadRequest(code, message string) *Error { return New(http.StatusBadRequest, code, message) }
func Unauthorized(message string) *Error {
	return New(http.StatusUnauthorized, "unauthorized", message)
}
func Forbidden(code, message string) *Error { return New(http.StatusForbidden, code, message) }
func NotFound(code, message string) *Error  { return New(http.StatusNotFound, code, message) }
func Conflict(code, message string) *Error  { return New(http.StatusConflict, code, message) }

// TooManyRequests is a 429 with Retry-After.
func TooManyRequests(message string, retryAfterSeconds int) *Error {
	if retryAfterSeconds < 1 {
		retryAfterSeconds = 1
	}
	return &Error{Status: http.StatusTooManyRequests, Code: "rate_limited", Message: message, RetryAfter: retryAfterSeconds}
}

// Unavailable is a 503: a dependency is down; the client may retry.
func Unavailable(message string) *Error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "unavailable", Message: message, RetryAfter: 1}
}

// Internal is the answer to any failure that is not the client's.
var Internal = New(http.StatusInternalServerError, "internal", "internal error")

// Respond writes err in the contract format and aborts the handler chain: an *Error as it is, a
// *rules.Violation as 400 with its code and message. Other errors are logged (they may hold internals) and
// answered 500.
func Respond(c *gin.Context, err error) {
	var e *Error
	var v *rules.Violation
	switch {
	case errors.As(err, &e):
	case errors.As(err, &v):
		e = BadRequest(v.Code, v.Message)
	case dependencyDown(err):
		// The database (or another dependency) cannot be reached: the client may retry, so 503, not 500.
		slog.WarnContext(c.Request.Context(), "dependency unavailable", "error", err, "route", c.FullPath())
		e = Unavailable("a service dependency is unavailable; retry shortly")
	case errors.Is(err, context.DeadlineExceeded):
		// The request's deadline (server.HandlerTimeout) passed while a dependency was silent.
		slog.WarnContext(c.Request.Context(), "dependency timed out", "error", err, "route", c.FullPath())
		e = Unavailable("a service dependency did not answer in time; retry shortly")
	default:
		slog.ErrorContext(c.Request.Context(), "request failed", "error", err, "route", c.FullPath())
		e = Internal
	}
	Write(c, e)
}

// Write sends e and aborts.
func Write(c *gin.Context, e *Error) {
	if e.RetryAfter > 0 {
		c.Header("Retry-After", fmt.Sprint(e.RetryAfter))
	}
	c.AbortWithStatusJSON(e.Status, Body{Error: e})
}

// dependencyDown reports whether err says a dependency could not be reached (connection refused or reset,
// a dead pooled connection), as opposed to a bug or a bad query.
func dependencyDown(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, mysql.ErrInvalidConn)
}
