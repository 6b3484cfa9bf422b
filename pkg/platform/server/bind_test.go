package server_test

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
)

func TestBindUTF8JSONRefusesBytesThatAreNotUTF8(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	app.Router.POST("/text", func(c *gin.Context) {
		var v struct{ Text string }
		if server.BindUTF8JSON(c, &v) {
			c.String(200, v.Text)
		}
	})
	base, _ := servertest.Serve(t, app)
	post := func(ct, body string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("POST", base+"/text", strings.NewReader(body))
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { res.Body.Close() })
		return res
	}

	if res := post("application/json", `{"Text":"grüß 👋"}`); res.StatusCode != 200 {
		t.Errorf("valid UTF-8: %d", res.StatusCode)
	}
	for name, c := range map[string]struct {
		ct, body string
		status   int
		code     string
	}{
		"latin-1 byte":   {"application/json", "{\"Text\":\"gr\xfc\xdf\"}", 400, "invalid_json"},
		"cut sequence":   {"", "{\"Text\":\"\xf0\x9f\"}", 400, "invalid_json"},
		"malformed":      {"application/json", `{"Text":`, 400, "invalid_json"},
		"wrong type":     {"application/json", `{"Text":1}`, 400, "invalid_field"},
		"not JSON":       {"text/plain", `{"Text":"x"}`, 415, "unsupported_media_type"},
		"over the limit": {"application/json", `{"Text":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
	} {
		res := post(c.ct, c.body)
		if res.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d", name, res.StatusCode, c.status)
		}
		if got := errorBody(t, res); got != c.code {
			t.Errorf("%s: code %q, want %q", name, got, c.code)
		}
	}
}
