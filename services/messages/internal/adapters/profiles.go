package adapters

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"simplemessenger/platform/profilesclient"

	"simplemessenger/services/messages/internal/app"
)

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
