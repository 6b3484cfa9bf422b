package adapters

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"simplemessenger/platform/profilesclient"

	"simplemessenger/services/friends/internal/app"
)

// ProfilesClient is the profiles service (profilesclient) as the use cases ask it.
type ProfilesClient struct{ c *profilesclient.Client }

var _ app.Profiles = (*ProfilesClient)(nil)

// NewProfilesClient calls the profiles service at baseURL with client (httpclient.New, with a timeout).
func NewProfilesClient(baseURL string, client *http.Client) *ProfilesClient {
	return &ProfilesClient{profilesclient.New(baseURL, client)}
}

// User returns the user's public profile, app.ErrUserNotFound or app.ErrProfilesUnavailable.
func (p *ProfilesClient) User(ctx context.Context, id string) (app.Profile, error) {
	u, err := p.c.User(ctx, id)
	if err != nil {
		return app.Profile{}, useCaseError(err)
	}
	return profile(u), nil
}

// Users returns the profiles of those ids that exist, by id, or app.ErrProfilesUnavailable.
func (p *ProfilesClient) Users(ctx context.Context, ids []string) (map[string]app.Profile, error) {
	users, err := p.c.Users(ctx, ids)
	if err != nil {
		return nil, useCaseError(err)
	}
	out := make(map[string]app.Profile, len(users))
	for id, u := range users {
		out[id] = profile(u)
	}
	return out, nil
}

func profile(u profilesclient.Profile) app.Profile {
	return app.Profile{ID: u.ID, Nickname: u.Nickname, DisplayName: u.DisplayName, HasAvatar: u.HasAvatar, Raw: u.Raw}
}

// useCaseError says profilesclient's errors in the use cases' words, keeping the cause for the logs.
func useCaseError(err error) error {
	if errors.Is(err, profilesclient.ErrNotFound) {
		return app.ErrUserNotFound
	}
	return fmt.Errorf("%w: %v", app.ErrProfilesUnavailable, err)
}
