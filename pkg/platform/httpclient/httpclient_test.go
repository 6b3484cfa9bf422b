package httpclient_test

import (
	"context"
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
