// Package adapters holds the gateway's outbound side: the reverse proxy to the services and the auth
// service's internal API.
package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"simplemessenger/services/gateway/internal/app"
)

// AuthClient calls the auth service's internal API.
type AuthClient struct {
	base   string
	client *http.Client
}

// NewAuthClient calls the auth service at baseURL (http://host:port) with client.
func NewAuthClient(baseURL string, client *http.Client) *AuthClient {
	return &AuthClient{base: strings.TrimRight(baseURL, "/"), client: client}
}

type revokedSessionsBody struct {
	Items []struct {
		SessionID string    `json:"session_id"`
		UserID    string    `json:"user_id"`
		ExpiresAt time.Time `json:"expires_at"`
	} `json:"items"`
}

// RevokedSessions fetches GET /internal/v1/revoked-sessions.
func (a *AuthClient) RevokedSessions(ctx context.Context) ([]app.RevokedSession, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.base+"/internal/v1/revoked-sessions", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := a.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("revoked sessions: %w", err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("revoked sessions: auth answered %d", res.StatusCode)
	}
	var body revokedSessionsBody
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil {
		return nil, fmt.Errorf("revoked sessions: decode: %w", err)
	}
	out := make([]app.RevokedSession, 0, len(body.Items))
	for _, it := range body.Items {
		out = append(out, app.RevokedSession{SessionID: it.SessionID, UserID: it.UserID, ExpiresAt: it.ExpiresAt})
	}
	return out, nil
}
