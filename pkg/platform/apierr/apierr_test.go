package apierr_test

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/go-sql-driver/mysql"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/rules"
)

func respond(err error) *httptest.ResponseRecorder {
	gin.SetMode(gin.TestMode)
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest(http.MethodGet, "/", nil)
	apierr.Respond(c, err)
	return w
}

func TestRespondAnswersEachKindOfError(t *testing.T) {
	cases := []struct {
		name   string
		err    error
		status int
		body   string
	}{
		{"a contract error as it is", apierr.Conflict("nickname_taken", "taken"), 409,
			`{"error":{"code":"nickname_taken","message":"taken"}}`},
		{"a rule violation, even wrapped, as 400 with its code", fmt.Errorf("send: %w", rules.New("invalid_text", "text must not be empty")), 400,
			`{"error":{"code":"invalid_text","message":"text must not be empty"}}`},
		{"anything else as 500 without internals", errors.New("dial tcp: secret"), 500,
			`{"error":{"code":"internal","message":"internal error"}}`},
	}
	for _, tc := range cases {
		w := respond(tc.err)
		if w.Code != tc.status || w.Body.String() != tc.body {
			t.Errorf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.body)
		}
	}
}

func TestRespondSendsRetryAfter(t *testing.T) {
	if got := respond(apierr.TooManyRequests("slow down", 3)).Header().Get("Retry-After"); got != "3" {
		t.Errorf("Retry-After %q", got)
	}
}

func TestUnreachableDependencyIs503(t *testing.T) {
	gin.SetMode(gin.TestMode)
	for name, err := range map[string]error{
		"connection refused": fmt.Errorf("query: %w", &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}),
		"bad pooled conn":    fmt.Errorf("exec: %w", driver.ErrBadConn),
		"invalid conn":       mysql.ErrInvalidConn,
		"request deadline":   fmt.Errorf("query: %w", context.DeadlineExceeded),
	} {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest("GET", "/", nil)
		apierr.Respond(c, err)
		if w.Code != 503 || w.Header().Get("Retry-After") == "" || !strings.Contains(w.Body.String(), `"unavailable"`) {
			t.Errorf("%s: %d %s, want 503 unavailable with Retry-After", name, w.Code, w.Body.String())
		}
	}
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", "/", nil)
	apierr.Respond(c, errors.New("a bug"))
	if w.Code != 500 {
		t.Errorf("an ordinary error: %d, want 500", w.Code)
	}
}
