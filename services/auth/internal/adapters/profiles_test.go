package adapters_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"simplemessenger/platform/httpclient"

	"simplemessenger/services/auth/internal/adapters"
)

// fakeProfiles answers the credentials check like profiles: alice / right password → 200, else 401.
func fakeProfiles(t *testing.T, status int) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/internal/v1/credentials/verify" {
			http.NotFound(w, r)
			return
		}
		var in struct{ Nickname, Password string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch {
		case status != 0:
			w.WriteHeader(status)
		case in.Nickname == "alice" && in.Password == "right password":
			_, _ = w.Write([]byte(`{"user":{"id":"u-1","nickname":"alice","display_name":"Alice","bio":"","has_avatar":false,"created_at":"2030-01-01T00:00:00Z"}}`))
		default:
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"invalid_credentials","message":"no"}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProfilesClientReturnsTheVerifiedUser(t *testing.T) {
	c := adapters.NewProfilesClient(fakeProfiles(t, 0).URL+"/", httpclient.New(time.Second))
	u, ok, err := c.VerifyCredentials(context.Background(), "alice", "right password")
	if err != nil || !ok {
		t.Fatalf("ok %v err %v", ok, err)
	}
	var profile map[string]any
	if err := json.Unmarshal(u.Profile, &profile); err != nil {
		t.Fatal(err)
	}
	if u.ID != "u-1" || profile["nickname"] != "alice" || profile["display_name"] != "Alice" {
		t.Errorf("user %s %v", u.ID, profile)
	}
}

func TestProfilesClientTellsRefusalFromFailure(t *testing.T) {
	ctx := context.Background()
	refusing := adapters.NewProfilesClient(fakeProfiles(t, 0).URL, httpclient.New(time.Second))
	if _, ok, err := refusing.VerifyCredentials(ctx, "alice", "wrong"); ok || err != nil {
		t.Errorf("wrong password: ok %v err %v, want a refusal", ok, err)
	}

	broken := adapters.NewProfilesClient(fakeProfiles(t, http.StatusInternalServerError).URL, httpclient.New(time.Second))
	if _, _, err := broken.VerifyCredentials(ctx, "alice", "right password"); err == nil {
		t.Error("a 500 from profiles was not an error")
	}

	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	unreachable := adapters.NewProfilesClient(down.URL, httpclient.New(time.Second))
	if _, _, err := unreachable.VerifyCredentials(ctx, "alice", "right password"); err == nil {
		t.Error("unreachable profiles was not an error")
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(time.Second):
		}
	}))
	t.Cleanup(slow.Close)
	timingOut := adapters.NewProfilesClient(slow.URL, httpclient.New(100*time.Millisecond))
	if _, _, err := timingOut.VerifyCredentials(ctx, "alice", "right password"); err == nil {
		t.Error("a profiles call past the timeout was not an error")
	}
}
