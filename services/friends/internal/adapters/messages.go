package adapters

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"simplemessenger/platform/httpclient"

	"simplemessenger/services/friends/internal/app"
)

// MessagesClient tells the messages service of friendships' ends: httpclient.NewService of its URL, with a
// client that has a timeout.
type MessagesClient struct{ httpclient.Service }

var _ app.Messages = MessagesClient{}

// EndFriendship posts to /internal/v1/friendships/{a}/{b}/end; only a 204 means messages has recorded it.
func (m MessagesClient) EndFriendship(ctx context.Context, a, b string, since time.Time) error {
	path := "/internal/v1/friendships/" + url.PathEscape(a) + "/" + url.PathEscape(b) + "/end"
	status, err := m.PostJSON(ctx, path, map[string]time.Time{"since": since}, nil)
	switch {
	case err != nil:
		return fmt.Errorf("messages: %w", err)
	case status != http.StatusNoContent:
		return fmt.Errorf("messages: %s answered %d", path, status)
	}
	return nil
}
