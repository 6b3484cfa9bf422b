package adapters_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"simplemessenger/platform/httpclient"

	"simplemessenger/services/messages/internal/adapters"
)

// serve answers every request with handle and counts the requests.
func serve(t *testing.T, handle func(w http.ResponseWriter, r *http.Request)) (url string, requests *atomic.Int64) {
	t.Helper()
	requests = &atomic.Int64{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		handle(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, requests
}

func TestFriendsClientTakesOnlyAClearAnswer(t *testing.T) {
	t.Parallel()
	answers := map[string]struct {
		status int
		body   string
	}{
		"/internal/v1/friendships/a/b": {200, `{"friends":true,"since":"2026-12-07T10:00:00.123456Z"}`},
		"/internal/v1/friendships/a/c": {200, `{"friends":false}`},
		"/internal/v1/friendships/a/d": {500, `oops`},
		"/internal/v1/friendships/a/e": {200, `{}`},
		"/internal/v1/friendships/a/f": {404, `{"error":{"code":"not_found"}}`},
		"/internal/v1/friendships/a/g": {200, `{"friends":`},
	}
	url, _ := serve(t, func(w http.ResponseWriter, r *http.Request) {
		a := answers[r.URL.Path]
		w.WriteHeader(a.status)
		fmt.Fprint(w, a.body)
	})
	c := adapters.NewFriendsClient(url+"/", httpclient.New(time.Second))
	ctx := context.Background()
	since := time.Date(2026, 12, 7, 10, 0, 0, 123456000, time.UTC)
	if f, err := c.AreFriends(ctx, "a", "b"); !f.Friends || !f.Since.Equal(since) || err != nil {
		t.Errorf("friends: %+v %v", f, err)
	}
	if f, err := c.AreFriends(ctx, "a", "c"); f.Friends || err != nil {
		t.Errorf("not friends: %+v %v", f, err)
	}
	// Anything else is "could not tell", never "not friends".
	for _, b := range []string{"d", "e", "f", "g"} {
		if _, err := c.AreFriends(ctx, "a", b); err == nil {
			t.Errorf("%s: an unclear answer taken as one", b)
		}
	}
	if _, err := adapters.NewFriendsClient("http://127.0.0.1:1", httpclient.New(time.Second)).AreFriends(ctx, "a", "b"); err == nil {
		t.Error("no friends service, no error")
	}
}

func TestProfilesClientExistsAndBatches(t *testing.T) {
	t.Parallel()
	var asked []string
	url, requests := serve(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/internal/v1/users/known":
			fmt.Fprint(w, `{"id":"known","nickname":"k"}`)
		case r.URL.Path == "/internal/v1/users/broken":
			w.WriteHeader(503)
		case r.URL.Path == "/internal/v1/users":
			ids := strings.Split(r.URL.Query().Get("ids"), ",")
			asked = append(asked, fmt.Sprint(len(ids)))
			var items []string
			for _, id := range ids {
				if id != "ghost" {
					items = append(items, fmt.Sprintf(`{"id":%q,"nickname":"n-%s"}`, id, id))
				}
			}
			fmt.Fprintf(w, `{"items":[%s]}`, strings.Join(items, ","))
		default:
			w.WriteHeader(404)
		}
	})
	c := adapters.NewProfilesClient(url, httpclient.New(time.Second))
	ctx := context.Background()
	if ok, err := c.Exists(ctx, "known"); !ok || err != nil {
		t.Errorf("known: %v %v", ok, err)
	}
	if ok, err := c.Exists(ctx, "unknown"); ok || err != nil {
		t.Errorf("unknown: %v %v", ok, err)
	}
	if _, err := c.Exists(ctx, "broken"); err == nil {
		t.Error("a 503 taken as an answer")
	}

	ids := []string{"ghost"}
	for i := range 149 {
		ids = append(ids, fmt.Sprint("u", i))
	}
	before := requests.Load()
	got, err := c.PublicProfiles(ctx, ids)
	if err != nil {
		t.Fatal(err)
	}
	if n := requests.Load() - before; n != 2 || strings.Join(asked, ",") != "100,50" {
		t.Errorf("150 ids took %d requests of %v ids, want batches of at most 100", n, asked)
	}
	if len(got) != 149 || string(got["u7"]) != `{"id":"u7","nickname":"n-u7"}` {
		t.Errorf("%d profiles, u7 %s", len(got), got["u7"])
	}
	if _, ok := got["ghost"]; ok {
		t.Error("a user profiles left out is not in the map")
	}
}
