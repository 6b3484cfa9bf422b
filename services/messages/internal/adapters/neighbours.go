package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"simplemessenger/platform/httpclient"
	"simplemessenger/platform/profilesclient"

	"simplemessenger/services/messages/internal/app"
)

// FriendsClient asks the friends service whether two users are friends.
type FriendsClient struct {
	baseURL string
	client  *http.Client
}

var _ app.Friends = (*FriendsClient)(nil)

// NewFriendsClient calls the friends service at baseURL with client (httpclient.New, with a timeout).
func NewFriendsClient(baseURL string, client *http.Client) *FriendsClient {
	return &FriendsClient{baseURL: strings.TrimRight(baseURL, "/"), client: client}
}

// AreFriends asks GET /internal/v1/friendships/{a}/{b}. Only a 200 with a boolean is an answer: any other
// status, no answer or an undecodable body is an error, because "could not tell" must not look like "not
// friends".
func (f *FriendsClient) AreFriends(ctx context.Context, a, b string) (bool, error) {
	var out struct {
		Friends *bool `json:"friends"`
	}
	path := "/internal/v1/friendships/" + url.PathEscape(a) + "/" + url.PathEscape(b)
	status, err := httpclient.GetJSON(ctx, f.client, f.baseURL+path, &out)
	switch {
	case err != nil:
		return false, fmt.Errorf("friends: %w", err)
	case status != http.StatusOK:
		return false, fmt.Errorf("friends: %s answered %d", path, status)
	case out.Friends == nil:
		return false, fmt.Errorf("friends: answer without \"friends\"")
	}
	return *out.Friends, nil
}

// ProfilesClient is the profiles service (profilesclient) as the use cases ask it.
type ProfilesClient struct{ c *profilesclient.Client }

var _ app.Profiles = (*ProfilesClient)(nil)

// NewProfilesClient calls the profiles service at baseURL with client (httpclient.New, with a timeout).
func NewProfilesClient(baseURL string, client *http.Client) *ProfilesClient {
	return &ProfilesClient{profilesclient.New(baseURL, client)}
}

// Exists reports whether profiles knows the user: its "no such user" is false, any failure to answer an error.
func (p *ProfilesClient) Exists(ctx context.Context, id string) (bool, error) {
	_, err := p.c.User(ctx, id)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, profilesclient.ErrNotFound):
		return false, nil
	}
	return false, err
}

// PublicProfiles returns the public profiles of the users among ids that profiles knows, by id, as profiles
// wrote them (users it does not know are left out).
func (p *ProfilesClient) PublicProfiles(ctx context.Context, ids []string) (map[string]json.RawMessage, error) {
	users, err := p.c.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[string]json.RawMessage, len(users))
	for id, u := range users {
		out[id] = u.Raw
	}
	return out, nil
}
