package apierr_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gin-gonic/gin"

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
