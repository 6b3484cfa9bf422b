package adapters

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"

	"simplemessenger/services/auth/internal/app"
)

// ProfilesClient asks the profiles service to check credentials.
type ProfilesClient struct {
	baseURL string
	client  *http.Client
}

var _ app.Profiles = (*ProfilesClient)(nil)

// NewProfilesClient calls the profiles service at baseURL with client (httpclient.New, with a timeout).
func NewProfilesClient(baseURL string, client *http.Client) *ProfilesClient {
	return &ProfilesClient{baseURL: strings.TrimRight(baseURL, "/"), client: client}
}

// VerifyCredentials posts the credentials to profiles' internal verify endpoint. 200 is a match; 401 (and
// 400: the input cannot be anyone's credentials) is a refusal; anything else, including no answer, is an
// error: profiles could not tell, and that must not look like wrong credentials.
func (p *ProfilesClient) VerifyCredentials(ctx context.Context, nickname, password string) (app.User, bool, error) {
	body, err := json.Marshal(map[string]string{"nickname": nickname, "password": password})
	if err != nil {
		return app.User{}, false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.baseURL+"/internal/v1/credentials/verify", bytes.NewReader(body))
	if err != nil {
		return app.User{}, false, err
	}
	req.Header.Set("Content-Type", "application/json")
	res, err := p.client.Do(req)
	if err != nil {
		return app.User{}, false, fmt.Errorf("profiles: %w", err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
	case http.StatusUnauthorized, http.StatusBadRequest:
		_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10)) // lets the connection be reused
		return app.User{}, false, nil
	default:
		return app.User{}, false, fmt.Errorf("profiles: credentials check answered %d", res.StatusCode)
	}
	var out struct {
		User json.RawMessage `json:"user"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&out); err != nil {
		return app.User{}, false, fmt.Errorf("profiles: decode credentials answer: %w", err)
	}
	var id struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(out.User, &id); err != nil || id.ID == "" {
		return app.User{}, false, fmt.Errorf("profiles: credentials answer without a user id")
	}
	return app.User{ID: id.ID, Profile: out.User}, true, nil
}
