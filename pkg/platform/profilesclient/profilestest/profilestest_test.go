package profilestest_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"simplemessenger/platform/profilesclient"
	"simplemessenger/platform/profilesclient/profilestest"
)

// The fake answers as profiles does, as far as the real client can tell.
func TestTheClientReadsTheFakeAsProfiles(t *testing.T) {
	p := profilestest.New(t)
	ann := p.Add("u-ann", "ann", "secret")
	p.Add("u-bob", "bob", "other")
	c := profilesclient.New(p.URL, http.DefaultClient)
	ctx := context.Background()

	got, err := c.User(ctx, "u-ann")
	if err != nil || got.ID != "u-ann" || got.Nickname != "ann" || ann["display_name"] != "Ann" {
		t.Errorf("User: %+v %v (served %v)", got, err, ann)
	}
	if _, err := c.User(ctx, "u-nobody"); !errors.Is(err, profilesclient.ErrNotFound) {
		t.Errorf("unknown user: %v", err)
	}
	users, err := c.Users(ctx, []string{"u-ann", "u-bob", "u-nobody"})
	if err != nil || len(users) != 2 || p.Batches.Load() != 1 {
		t.Errorf("Users: %v %v after %d batches", users, err, p.Batches.Load())
	}

	p.Forget("u-bob")
	if _, err := c.User(ctx, "u-bob"); !errors.Is(err, profilesclient.ErrNotFound) {
		t.Errorf("forgotten user: %v", err)
	}
	p.SetDown(true)
	if _, err := c.User(ctx, "u-ann"); !errors.Is(err, profilesclient.ErrUnavailable) {
		t.Errorf("down: %v", err)
	}
}

func TestTheCredentialCheckTakesTheNicknameInAnyCase(t *testing.T) {
	p := profilestest.New(t)
	p.Add("u-ann", "Ann", "secret")
	for body, want := range map[string]int{
		`{"nickname":"ann","password":"secret"}`: http.StatusOK,
		`{"nickname":"Ann","password":"wrong"}`:  http.StatusUnauthorized,
		`{"nickname":"bob","password":"secret"}`: http.StatusUnauthorized,
	} {
		res, err := http.Post(p.URL+"/internal/v1/credentials/verify", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != want {
			t.Errorf("%s: %d, want %d", body, res.StatusCode, want)
		}
	}
	if n := p.Checks.Load(); n != 3 {
		t.Errorf("%d checks counted, want 3", n)
	}
}
