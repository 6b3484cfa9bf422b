package api

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/coder/websocket"
)

// WebSocketURL is the push endpoint of the server at baseURL (http→ws, https→wss).
func WebSocketURL(baseURL string) (string, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return "", err
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("server URL %q: scheme must be http or https", baseURL)
	}
	u.Path += "/api/v1/ws"
	return u.String(), nil
}

// DialPush opens the push connection with token. A refusal before the upgrade is an *Error with the server's
// status and code; no answer at all is an *UnreachableError.
func (c *Client) DialPush(ctx context.Context, token string) (*websocket.Conn, error) {
	u, err := WebSocketURL(c.BaseURL)
	if err != nil {
		return nil, err
	}
	h := http.Header{"Authorization": {"Bearer " + token}}
	if c.UserAgent != "" {
		h.Set("User-Agent", c.UserAgent)
	}
	dctx, cancel := context.WithTimeout(ctx, 15*time.Second) // the handshake only; the socket outlives it
	defer cancel()
	conn, res, err := websocket.Dial(dctx, u, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		// Frames are small, but messages.unread carries up to 100 messages of 4000 characters.
		conn.SetReadLimit(8 << 20)
		return conn, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if res != nil && res.StatusCode != http.StatusSwitchingProtocols {
		if res.Body == nil {
			res.Body = io.NopCloser(strings.NewReader(""))
		}
		return nil, decodeError(res)
	}
	return nil, &UnreachableError{URL: c.BaseURL, Err: unwrapURLError(err)}
}
