package server

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/logging"
)

// RequestIDHeader is echoed on every response.
const RequestIDHeader = "X-Request-ID"

// DefaultBodyLimit is the contract's limit for request bodies.
const DefaultBodyLimit = 64 << 10

// requestID takes the client's X-Request-ID when it is sane, else makes one, and puts it on the response and
// into the request context (for logs and for calls to other services).
func requestID() gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.GetHeader(RequestIDHeader)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Header(RequestIDHeader, id)
		c.Request = c.Request.WithContext(logging.WithRequestID(c.Request.Context(), id))
		c.Next()
	}
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if id[i] < 0x21 || id[i] > 0x7e {
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recovery turns a panic into a logged 500 in the contract format. http.ErrAbortHandler is re-raised, as
// net/http expects.
func recovery() gin.HandlerFunc {
	return func(c *gin.Context) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r)
				}
				slog.ErrorContext(c.Request.Context(), "panic while serving request",
					"panic", fmt.Sprint(r), "route", c.FullPath(), "stack", string(debug.Stack()))
				if !c.Writer.Written() {
					apierr.Write(c, apierr.Internal)
				} else {
					c.Abort()
				}
			}
		}()
		c.Next()
	}
}

// bodyLimit refuses bodies over the route's limit with 413, before a handler reads them when the length is
// declared, and while reading them otherwise (http.MaxBytesReader; BindJSON and ReadBody map the error).
func bodyLimit(limits map[string]int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		limit := int64(DefaultBodyLimit)
		if l, ok := limits[c.FullPath()]; ok {
			limit = l
		}
		if c.Request.ContentLength > limit {
			apierr.Write(c, TooLarge(limit))
			return
		}
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, limit)
		}
		c.Next()
	}
}

// TooLarge is the 413 answer for a body over limit bytes.
func TooLarge(limit int64) *apierr.Error {
	return apierr.New(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("request body is larger than %d bytes", limit))
}

// accessLog logs server errors at error level and everything else at debug (a line per request is too much
// at info under load; the RED metrics count them).
func accessLog() gin.HandlerFunc {
	return func(c *gin.Context) {
		start := time.Now()
		c.Next()
		status := c.Writer.Status()
		level := slog.LevelDebug
		if status >= 500 {
			level = slog.LevelError
		}
		// Asked first, so that a line that is not written allocates nothing (its arguments would).
		ctx := c.Request.Context()
		if !slog.Default().Enabled(ctx, level) {
			return
		}
		slog.Log(ctx, level, "request",
			"method", c.Request.Method, "route", c.FullPath(), "status", status,
			"duration_ms", float64(time.Since(start).Microseconds())/1000)
	}
}
