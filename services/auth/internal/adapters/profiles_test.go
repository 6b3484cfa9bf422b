package adapters_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/profilesclient/profilestest"
	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/auth/internal/adapters"
)

// profiles answers the credentials check like profiles: alice / right password → 200, else 401.
func profiles(t *testing.T) string {
	p := profilestest.New(t)
	p.Add("u-1", "alice", "right password")
	return p.URL
}

func TestProfilesClientReturnsTheVerifiedUser(t *testing.T) {
	c := adapters.NewProfilesClient(profiles(t)+"/", httpclient.New(time.Second))
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
	refusing := adapters.NewProfilesClient(profiles(t), httpclient.New(time.Second))
	if _, ok, err := refusing.VerifyCredentials(ctx, "alice", "wrong"); ok || err != nil {
		t.Errorf("wrong password: ok %v err %v, want a refusal", ok, err)
	}

	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(failing.Close)
	broken := adapters.NewProfilesClient(failing.URL, httpclient.New(time.Second))
	if _, _, err := broken.VerifyCredentials(ctx, "alice", "right password"); err == nil {
		t.Error("a 500 from profiles was not an error")
	}

	unreachable := adapters.NewProfilesClient(servertest.ClosedURL(t), httpclient.New(time.Second))
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
