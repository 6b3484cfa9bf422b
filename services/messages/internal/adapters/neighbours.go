package adapters

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"simplemessenger/services/messages/internal/app"
)

// answerLimit bounds what is read of a neighbour's answer (100 public profiles are far below it).
const answerLimit = 1 << 20

// neighbour is another service's internal API.
type neighbour struct {
	name    string
	baseURL string
	client  *http.Client
}

// get asks for path and decodes the answer into out when the status is one of accept; any other status, a
// transport error or an undecodable body is an error: the neighbour could not tell, and that must not look
// like an answer.
func (n neighbour) get(ctx context.Context, path string, out any, accept ...int) (status int, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.baseURL+path, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	res, err := n.client.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", n.name, err)
	}
	defer res.Body.Close()
	body := io.LimitReader(res.Body, answerLimit)
	for _, s := range accept {
		if res.StatusCode != s {
			continue
		}
		if s == http.StatusOK {
			if err := json.NewDecoder(body).Decode(out); err != nil {
				return s, fmt.Errorf("%s: decode answer to %s: %w", n.name, path, err)
			}
		}
		_, _ = io.Copy(io.Discard, body) // lets the connection be reused
		return s, nil
	}
	_, _ = io.Copy(io.Discard, body)
	return res.StatusCode, fmt.Errorf("%s: %s answered %d", n.name, path, res.StatusCode)
}

// FriendsClient asks the friends service whether two users are friends.
type FriendsClient struct{ n neighbour }

var _ app.Friends = (*FriendsClient)(nil)

// NewFriendsClient calls the friends service at baseURL with client (httpclient.New, with a timeout).
func NewFriendsClient(baseURL string, client *http.Client) *FriendsClient {
	return &FriendsClient{neighbour{"friends", strings.TrimRight(baseURL, "/"), client}}
}

// AreFriends asks GET /internal/v1/friendships/{a}/{b}; only a 200 with a boolean is an answer.
func (f *FriendsClient) AreFriends(ctx context.Context, a, b string) (bool, error) {
	var out struct {
		Friends *bool `json:"friends"`
	}
	if _, err := f.n.get(ctx, "/internal/v1/friendships/"+url.PathEscape(a)+"/"+url.PathEscape(b), &out, http.StatusOK); err != nil {
		return false, err
	}
	if out.Friends == nil {
		return false, fmt.Errorf("friends: answer without \"friends\"")
	}
	return *out.Friends, nil
}

// ProfilesClient asks the profiles service about users.
type ProfilesClient struct{ n neighbour }

var _ app.Profiles = (*ProfilesClient)(nil)

// NewProfilesClient calls the profiles service at baseURL with client (httpclient.New, with a timeout).
func NewProfilesClient(baseURL string, client *http.Client) *ProfilesClient {
	return &ProfilesClient{neighbour{"profiles", strings.TrimRight(baseURL, "/"), client}}
}

// Exists asks GET /internal/v1/users/{id}: 200 is yes, 404 no.
func (p *ProfilesClient) Exists(ctx context.Context, id string) (bool, error) {
	var ignored json.RawMessage
	status, err := p.n.get(ctx, "/internal/v1/users/"+url.PathEscape(id), &ignored, http.StatusOK, http.StatusNotFound)
	return status == http.StatusOK, err
}

// batchLimit is the most ids profiles takes in one batch request.
const batchLimit = 100

// PublicProfiles asks GET /internal/v1/users?ids=a,b,… (in batches of 100) and keys the profiles by id. Users
// profiles does not know are left out of its answer, and so of the map.
func (p *ProfilesClient) PublicProfiles(ctx context.Context, ids []string) (map[string]json.RawMessage, error) {
	out := make(map[string]json.RawMessage, len(ids))
	for len(ids) > 0 {
		batch := ids[:min(len(ids), batchLimit)]
		ids = ids[len(batch):]
		var answer struct {
			Items []json.RawMessage `json:"items"`
		}
		q := url.Values{"ids": {strings.Join(batch, ",")}}
		if _, err := p.n.get(ctx, "/internal/v1/users?"+q.Encode(), &answer, http.StatusOK); err != nil {
			return nil, err
		}
		for _, raw := range answer.Items {
			var who struct {
				ID string `json:"id"`
			}
			if err := json.Unmarshal(raw, &who); err != nil || who.ID == "" {
				return nil, fmt.Errorf("profiles: batch answer with a profile without an id")
			}
			out[who.ID] = raw
		}
	}
	return out, nil
}
