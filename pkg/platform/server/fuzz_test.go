package server_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"simplemessenger/platform/server"
)

type fuzzBody struct {
	Text  string   `json:"text"`
	N     int      `json:"n"`
	Flag  *bool    `json:"flag"`
	Items []string `json:"items"`
}

// bind runs one of the binders on a request with body and content type ct, as a handler would.
func bind(fn func(*gin.Context, any) bool, ct string, body []byte, limit int64) (bool, *httptest.ResponseRecorder) {
	w := httptest.NewRecorder()
	c, _ := gin.CreateTestContext(w)
	req := httptest.NewRequest("POST", "/", bytes.NewReader(body))
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Body = http.MaxBytesReader(w, req.Body, limit)
	c.Request = req
	var v fuzzBody
	return fn(c, &v), w
}

// FuzzBindJSON: on any body and content type the binders never panic; they either accept a body that is one
// JSON document (and, for BindUTF8JSON, valid UTF-8) without answering, or answer a 4xx error themselves.
func FuzzBindJSON(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/json", `{"text":"hi","n":1,"flag":true,"items":["a"]}`},
		{"", `{"text":"grüß"}`},
		{"application/json; charset=utf-8", "{\"text\":\"\xff\"}"},
		{"text/plain", `{}`},
		{"application/json", `{"n":"x"}`},
		{"application/json", `{} {}`},
		{"application/json", `{"text":`},
		{"application/json", ``},
		{"application/json", `null`},
		{"application/json", `[1,2]`},
		{"application/json; a=\"", `{}`},
		{"text/json", " {\"items\":null} \n"},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	gin.SetMode(gin.TestMode)
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		for name, fn := range map[string]func(*gin.Context, any) bool{"BindJSON": server.BindJSON, "BindUTF8JSON": server.BindUTF8JSON} {
			for _, limit := range []int64{1 << 20, 16} {
				ok, w := bind(fn, ct, body, limit)
				if ok {
					if w.Body.Len() != 0 || int64(len(body)) > limit || !json.Valid(body) {
						t.Fatalf("%s accepted %q (limit %d) and wrote %q", name, body, limit, w.Body.String())
					}
					if name == "BindUTF8JSON" && !utf8.Valid(body) {
						t.Fatalf("BindUTF8JSON accepted invalid UTF-8 %q", body)
					}
					continue
				}
				if w.Code < 400 || w.Code > 499 || !json.Valid(w.Body.Bytes()) {
					t.Fatalf("%s refused %q (%q) with %d %q", name, body, ct, w.Code, w.Body.String())
				}
			}
		}
	})
}
