package adapters

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"simplemessenger/platform/httpclient"

	"simplemessenger/services/messages/internal/app"
)

// FriendsClient asks the friends service whether two users are friends.
type FriendsClient struct{ friends httpclient.Service }

var _ app.Friends = (*FriendsClient)(nil)

// NewFriendsClient calls the friends service at baseURL with client (httpclient.New, with a timeout).
func NewFriendsClient(baseURL string, client *http.Client) *FriendsClient {
	return &FriendsClient{httpclient.NewService(baseURL, client)}
}

// AreFriends asks GET /internal/v1/friendships/{a}/{b}. Only a 200 with a boolean is an answer: any other
// status, no answer or an undecodable body is an error, because "could not tell" must not look like "not
// friends". since is when the friendship began (zero from a friends service that does not say).
func (f *FriendsClient) AreFriends(ctx context.Context, a, b string) (app.Friendship, error) {
	var out struct {
		Friends *bool     `json:"friends"`
		Since   time.Time `json:"since"`
	}
	path := "/internal/v1/friendships/" + url.PathEscape(a) + "/" + url.PathEscape(b)
	status, err := f.friends.GetJSON(ctx, path, &out)
	switch {
	case err != nil:
		return app.Friendship{}, fmt.Errorf("friends: %w", err)
	case status != http.StatusOK:
		return app.Friendship{}, fmt.Errorf("friends: %s answered %d", path, status)
	case out.Friends == nil:
		return app.Friendship{}, fmt.Errorf("friends: answer without \"friends\"")
	}
	return app.Friendship{Friends: *out.Friends, Since: out.Since}, nil
}
