package server_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/jsonx"
	"simplemessenger/platform/server"
)

func TestWriteJSONAnswersLikeCJSONWithAContentLength(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	long := strings.Repeat("<é>", 5000) // past net/http's 2 KiB, where an unsized answer turns chunked
	app.Router.GET("/gin", func(c *gin.Context) { c.JSON(http.StatusCreated, map[string]string{"text": long}) })
	app.Router.GET("/appended", func(c *gin.Context) {
		server.WriteJSON(c, http.StatusCreated, func(b []byte) []byte {
			b = append(b, `{"text":`...)
			return append(jsonx.AppendString(b, long), '}')
		})
	})
	srv := httptest.NewServer(app.Router)
	defer srv.Close()

	get := func(path string) (*http.Response, string) {
		t.Helper()
		res, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, err := io.ReadAll(res.Body)
		if err != nil {
			t.Fatal(err)
		}
		return res, string(body)
	}
	want, wantBody := get("/gin")
	for range 3 { // pooled buffers are reused whole
		res, body := get("/appended")
		if res.StatusCode != want.StatusCode || body != wantBody || res.Header.Get("Content-Type") != want.Header.Get("Content-Type") {
			t.Fatalf("%d %q %.40s…, want %d %q %.40s…", res.StatusCode, res.Header.Get("Content-Type"), body,
				want.StatusCode, want.Header.Get("Content-Type"), wantBody)
		}
		if res.ContentLength != int64(len(wantBody)) || len(res.TransferEncoding) != 0 {
			t.Errorf("length %d, transfer encoding %v: want a Content-Length of %d", res.ContentLength, res.TransferEncoding, len(wantBody))
		}
	}
}
