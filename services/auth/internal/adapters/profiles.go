package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"simplemessenger/platform/httpclient"

	"simplemessenger/services/auth/internal/app"
)

// ProfilesClient asks the profiles service to check credentials.
type ProfilesClient struct{ profiles httpclient.Service }

var _ app.Profiles = (*ProfilesClient)(nil)

// NewProfilesClient calls the profiles service at baseURL with client (httpclient.New, with a timeout).
func NewProfilesClient(baseURL string, client *http.Client) *ProfilesClient {
	return &ProfilesClient{httpclient.NewService(baseURL, client)}
}

// VerifyCredentials posts the credentials to profiles' internal verify endpoint. 200 is a match; 401 (and
// 400: the input cannot be anyone's credentials) is a refusal; anything else, including no answer, is an
// error: profiles could not tell, and that must not look like wrong credentials.
func (p *ProfilesClient) VerifyCredentials(ctx context.Context, nickname, password string) (app.User, bool, error) {
	var out struct {
		User json.RawMessage `json:"user"`
	}
	credentials := map[string]string{"nickname": nickname, "password": password}
	status, err := p.profiles.PostJSON(ctx, "/internal/v1/credentials/verify", credentials, &out)
	switch {
	case err != nil:
		return app.User{}, false, fmt.Errorf("profiles: %w", err)
	case status == http.StatusUnauthorized || status == http.StatusBadRequest:
		return app.User{}, false, nil
	case status != http.StatusOK:
		return app.User{}, false, fmt.Errorf("profiles: credentials check answered %d", status)
	}
	var id struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out.User, &id); err != nil || id.ID == "" {
		return app.User{}, false, fmt.Errorf("profiles: credentials answer without a user id")
	}
	return app.User{ID: id.ID, Profile: out.User}, true, nil
}
