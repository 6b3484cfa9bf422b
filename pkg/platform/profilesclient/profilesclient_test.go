package profilesclient_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/profilesclient"
)

// profilesServer answers like profiles: every id starting with "u" exists, others do not; status, when set,
// is the answer to everything instead.
func profilesServer(t *testing.T, status int, batches *atomic.Int64) *profilesclient.Client {
	t.Helper()
	profile := func(id string) string {
		return fmt.Sprintf(`{"id":%q,"nickname":"n-%s","display_name":"D %s","bio":"","has_avatar":false,"created_at":"2030-01-01T00:00:00Z"}`, id, id, id)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		if raw, ok := strings.CutPrefix(r.URL.EscapedPath(), "/internal/v1/users/"); ok {
			id, err := url.PathUnescape(raw)
			if strings.Contains(raw, "/") || err != nil {
				w.WriteHeader(http.StatusBadRequest) // not one path segment: no such route
				return
			}
			if !strings.HasPrefix(id, "u") {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			fmt.Fprint(w, profile(id))
			return
		}
		batches.Add(1)
		ids := strings.Split(r.URL.Query().Get("ids"), ",")
		if len(ids) > 100 {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var items []string
		for _, id := range ids {
			if strings.HasPrefix(id, "u") {
				items = append(items, profile(id))
			}
		}
		fmt.Fprintf(w, `{"items":[%s]}`, strings.Join(items, ","))
	}))
	t.Cleanup(srv.Close)
	return profilesclient.New(srv.URL+"/", httpclient.New(time.Second))
}

func TestReadsOneUser(t *testing.T) {
	c := profilesServer(t, 0, nil)
	ctx := context.Background()
	p, err := c.User(ctx, "u1")
	if err != nil || p.ID != "u1" || p.Nickname != "n-u1" || p.DisplayName != "D u1" || !strings.Contains(string(p.Raw), `"has_avatar":false`) {
		t.Errorf("%+v %v", p, err)
	}
	if _, err := c.User(ctx, "x1"); !errors.Is(err, profilesclient.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	// The id stays one path segment, whatever it holds.
	if p, err := c.User(ctx, "u/../x?y"); err != nil || p.ID != "u/../x?y" {
		t.Errorf("an id with slashes: %+v %v", p, err)
	}
}

func TestLooksUpManyUsersInBatchesOfAHundred(t *testing.T) {
	var batches atomic.Int64
	c := profilesServer(t, 0, &batches)
	var ids []string
	for i := range 250 {
		ids = append(ids, fmt.Sprint("u", i), fmt.Sprint("x", i))
	}
	got, err := c.Users(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 250 || got["u249"].DisplayName != "D u249" || batches.Load() != 5 {
		t.Errorf("%d users in %d calls", len(got), batches.Load())
	}
	if _, found := got["x3"]; found {
		t.Error("unknown users are left out")
	}
}

func TestFailuresAreUnavailableNotNotFound(t *testing.T) {
	ctx := context.Background()
	for _, status := range []int{http.StatusInternalServerError, http.StatusServiceUnavailable, http.StatusBadRequest} {
		c := profilesServer(t, status, nil)
		if _, err := c.User(ctx, "u1"); !errors.Is(err, profilesclient.ErrUnavailable) {
			t.Errorf("%d on one user: %v", status, err)
		}
		if _, err := c.Users(ctx, []string{"u1"}); !errors.Is(err, profilesclient.ErrUnavailable) {
			t.Errorf("%d on a batch: %v", status, err)
		}
	}
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	c := profilesclient.New(down.URL, httpclient.New(time.Second))
	if _, err := c.User(ctx, "u1"); !errors.Is(err, profilesclient.ErrUnavailable) {
		t.Errorf("unreachable: %v", err)
	}
}
