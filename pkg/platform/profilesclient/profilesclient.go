// Package profilesclient reads users from the profiles service's internal API, for the services that check
// that a user exists or show users (friends, messages): GET /internal/v1/users/{id} and the batch lookup
// GET /internal/v1/users?ids=a,b,c.
//
// Every failure to get an answer is ErrUnavailable, never ErrNotFound: a profiles service that is down must
// not look like a user that does not exist.
package profilesclient

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"simplemessenger/platform/httpclient"
)

// BatchMax is the most ids profiles takes in one batch lookup; Users splits longer lists.
const BatchMax = 100

var (
	// ErrNotFound: profiles answered that there is no such user.
	ErrNotFound = errors.New("profiles: no such user")
	// ErrUnavailable: profiles gave no usable answer; the caller may retry later (503 to its own client).
	ErrUnavailable = errors.New("profiles: unavailable")
)

// Profile is a user's public profile: the fields callers read, and the whole profile as profiles wrote it
// (Raw), to pass on unchanged (pushes carry it).
type Profile struct {
	ID          string
	Nickname    string
	DisplayName string
	HasAvatar   bool
	Raw         json.RawMessage
}

// Client calls one profiles service.
type Client struct{ profiles httpclient.Service }

// New calls the profiles service at baseURL with client (httpclient.New, with a timeout).
func New(baseURL string, client *http.Client) *Client {
	return &Client{httpclient.NewService(baseURL, client)}
}

// User returns the user's public profile, ErrNotFound or ErrUnavailable.
func (c *Client) User(ctx context.Context, id string) (Profile, error) {
	var raw json.RawMessage
	path := "/internal/v1/users/" + url.PathEscape(id)
	status, err := c.profiles.GetJSON(ctx, path, &raw)
	switch {
	case err != nil:
		return Profile{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	case status == http.StatusNotFound:
		return Profile{}, ErrNotFound
	case status != http.StatusOK:
		return Profile{}, fmt.Errorf("%w: GET %s answered %d", ErrUnavailable, path, status)
	}
	return parse(raw)
}

// Users returns the profiles of those ids that exist, by id (unknown users are simply absent), asking in
// batches of BatchMax.
func (c *Client) Users(ctx context.Context, ids []string) (map[string]Profile, error) {
	out := make(map[string]Profile, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), BatchMax)]
		ids = ids[len(batch):]
		var answer struct {
			Items []json.RawMessage `json:"items"`
		}
		query := url.Values{"ids": {strings.Join(batch, ",")}}.Encode()
		status, err := c.profiles.GetJSON(ctx, "/internal/v1/users?"+query, &answer)
		if err == nil && status != http.StatusOK {
			err = fmt.Errorf("batch lookup answered %d", status)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		for _, raw := range answer.Items {
			p, err := parse(raw)
			if err != nil {
				return nil, err
			}
			out[p.ID] = p
		}
	}
	return out, nil
}

func parse(raw json.RawMessage) (Profile, error) {
	var f struct {
		ID          string `json:"id"`
		Nickname    string `json:"nickname"`
		DisplayName string `json:"display_name"`
		HasAvatar   bool   `json:"has_avatar"`
	}
	if err := json.Unmarshal(raw, &f); err != nil || f.ID == "" {
		return Profile{}, fmt.Errorf("%w: a profile without an id: %.200s", ErrUnavailable, raw)
	}
	return Profile{ID: f.ID, Nickname: f.Nickname, DisplayName: f.DisplayName, HasAvatar: f.HasAvatar, Raw: raw}, nil
}
