package httpclient_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/logging"
)

func TestGetJSONDecodesOKAndReportsOtherStatuses(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			// The caller's request id goes along.
			_, _ = w.Write([]byte(`{"id":"` + r.Header.Get("X-Request-ID") + `"}`))
		case "/broken":
			_, _ = w.Write([]byte(`{"id":`))
		default:
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":{"code":"user_not_found","message":"no"}}`))
		}
	}))
	defer srv.Close()
	c := httpclient.New(time.Second)
	ctx := logging.WithRequestID(context.Background(), "req-1")

	var out struct{ ID string }
	if status, err := httpclient.GetJSON(ctx, c, srv.URL+"/ok", &out); status != 200 || err != nil || out.ID != "req-1" {
		t.Errorf("ok: %d %v %+v", status, err, out)
	}
	out.ID = "untouched"
	if status, err := httpclient.GetJSON(ctx, c, srv.URL+"/missing", &out); status != 404 || err != nil || out.ID != "untouched" {
		t.Errorf("404: %d %v %+v", status, err, out)
	}
	if _, err := httpclient.GetJSON(ctx, c, srv.URL+"/broken", &out); err == nil {
		t.Error("an undecodable 200 is an error")
	}
	srv.Close()
	if _, err := httpclient.GetJSON(ctx, c, srv.URL+"/ok", &out); err == nil {
		t.Error("no answer is an error")
	}
}

func TestPostJSONSendsJSONAndDecodesOK(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in struct {
			Name string `json:"name"`
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" ||
			json.NewDecoder(r.Body).Decode(&in) != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if in.Name == "nobody" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_credentials","message":"no"}}`))
			return
		}
		_, _ = w.Write([]byte(`{"greeting":"hello ` + in.Name + `"}`))
	}))
	defer srv.Close()
	c := httpclient.New(time.Second)
	var out struct {
		Greeting string `json:"greeting"`
	}
	status, err := httpclient.PostJSON(context.Background(), c, srv.URL, map[string]string{"name": "ann"}, &out)
	if err != nil || status != http.StatusOK || out.Greeting != "hello ann" {
		t.Fatalf("%d %v %+v", status, err, out)
	}
	// Another status is an answer for the caller to judge, and its body is not decoded.
	out.Greeting = ""
	status, err = httpclient.PostJSON(context.Background(), c, srv.URL, map[string]string{"name": "nobody"}, &out)
	if err != nil || status != http.StatusUnauthorized || out.Greeting != "" {
		t.Fatalf("%d %v %+v", status, err, out)
	}
	// What cannot be encoded is not sent.
	if _, err := httpclient.PostJSON(context.Background(), c, srv.URL, make(chan int), nil); err == nil {
		t.Fatal("a channel was encoded")
	}
}
