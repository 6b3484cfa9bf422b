package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// TokenSource gives the access token of the logged-in session.
type TokenSource interface {
	// Token returns an access token that is not about to expire (refreshing it first when it is).
	Token(ctx context.Context) (string, error)
	// Refresh is called after the server refused stale with 401; it returns a fresh token (or the one another
	// process already got) or ErrNotLoggedIn when the session is gone.
	Refresh(ctx context.Context, stale string) (string, error)
}

// Client calls the public API at BaseURL (e.g. http://127.0.0.1:8080).
type Client struct {
	BaseURL   string
	HTTP      *http.Client
	Tokens    TokenSource // for authenticated calls; nil when not logged in
	UserAgent string
}

// New returns a client of baseURL with a 30 s request timeout.
func New(baseURL string, tokens TokenSource, userAgent string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 30 * time.Second}, Tokens: tokens, UserAgent: userAgent}
}

// request is one call: Body is JSON-encoded unless Raw is set (then sent with ContentType).
type request struct {
	method, path string
	query        url.Values
	body         any
	raw          []byte
	contentType  string
	auth         bool
}

// do sends req and decodes a 2xx answer into out (when not nil). An authenticated call refused with 401 is
// retried once with a refreshed token, since the token may have expired or been rotated by another process.
func (c *Client) do(ctx context.Context, req request, out any) error {
	payload, ctype := req.raw, req.contentType
	if req.body != nil {
		b, err := json.Marshal(req.body)
		if err != nil {
			return err
		}
		payload, ctype = b, "application/json"
	}
	token := ""
	if req.auth {
		if c.Tokens == nil {
			return ErrNotLoggedIn
		}
		t, err := c.Tokens.Token(ctx)
		if err != nil {
			return err
		}
		token = t
	}
	for attempt := 0; ; attempt++ {
		res, err := c.send(ctx, req, payload, ctype, token)
		if err != nil {
			return err
		}
		if res.StatusCode == http.StatusUnauthorized && req.auth && attempt == 0 {
			drain(res)
			t, err := c.Tokens.Refresh(ctx, token)
			if err != nil {
				return err
			}
			token = t
			continue
		}
		defer drain(res)
		if res.StatusCode >= 300 {
			return decodeError(res)
		}
		if out == nil || res.StatusCode == http.StatusNoContent {
			return nil
		}
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return fmt.Errorf("reading the answer of %s %s: %w", req.method, req.path, err)
		}
		return nil
	}
}

func (c *Client) send(ctx context.Context, req request, payload []byte, ctype, token string) (*http.Response, error) {
	u := c.BaseURL + req.path
	if len(req.query) > 0 {
		u += "?" + req.query.Encode()
	}
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	hr, err := http.NewRequestWithContext(ctx, req.method, u, body)
	if err != nil {
		return nil, fmt.Errorf("bad server URL %q: %w", c.BaseURL, err)
	}
	if ctype != "" {
		hr.Header.Set("Content-Type", ctype)
	}
	hr.Header.Set("Accept", "application/json")
	if c.UserAgent != "" {
		hr.Header.Set("User-Agent", c.UserAgent)
	}
	if token != "" {
		hr.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.HTTP.Do(hr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &UnreachableError{URL: c.BaseURL, Err: unwrapURLError(err)}
	}
	return res, nil
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
}

// decodeError reads the contract's error body; a body of another shape (a proxy's page) still gives an Error
// with the status.
func decodeError(res *http.Response) error {
	var body struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	e := &Error{Status: res.StatusCode, RetryAfter: res.Header.Get("Retry-After")}
	if json.Unmarshal(raw, &body) == nil && body.Error.Code != "" {
		e.Code, e.Message = body.Error.Code, body.Error.Message
	} else {
		e.Code = "http_" + strconv.Itoa(res.StatusCode)
		e.Message = strings.TrimSpace(http.StatusText(res.StatusCode))
	}
	return e
}

// Register creates an account (display name optional).
func (c *Client) Register(ctx context.Context, nickname, password, displayName string) (User, error) {
	body := map[string]string{"nickname": nickname, "password": password}
	if displayName != "" {
		body["display_name"] = displayName
	}
	var u User
	err := c.do(ctx, request{method: "POST", path: "/api/v1/users", body: body}, &u)
	return u, err
}

// Login opens a session.
func (c *Client) Login(ctx context.Context, nickname, password string) (LoginResponse, error) {
	var r LoginResponse
	err := c.do(ctx, request{method: "POST", path: "/api/v1/auth/login", body: map[string]string{"nickname": nickname, "password": password}}, &r)
	return r, err
}

// RefreshTokens spends refreshToken for a new pair.
func (c *Client) RefreshTokens(ctx context.Context, refreshToken string) (TokenPair, error) {
	var p TokenPair
	err := c.do(ctx, request{method: "POST", path: "/api/v1/auth/refresh", body: map[string]string{"refresh_token": refreshToken}}, &p)
	return p, err
}

// Logout ends the current session.
func (c *Client) Logout(ctx context.Context) error {
	return c.do(ctx, request{method: "POST", path: "/api/v1/auth/logout", auth: true}, nil)
}

// Me is the caller's profile.
func (c *Client) Me(ctx context.Context) (User, error) {
	var u User
	err := c.do(ctx, request{method: "GET", path: "/api/v1/users/me", auth: true}, &u)
	return u, err
}

// UpdateMe changes the fields set in p.
func (c *Client) UpdateMe(ctx context.Context, p ProfileUpdate) (User, error) {
	var u User
	err := c.do(ctx, request{method: "PATCH", path: "/api/v1/users/me", body: p, auth: true}, &u)
	return u, err
}

// SetAvatar uploads an image (contentType image/png, image/jpeg or image/gif).
func (c *Client) SetAvatar(ctx context.Context, image []byte, contentType string) error {
	return c.do(ctx, request{method: "PUT", path: "/api/v1/users/me/avatar", raw: image, contentType: contentType, auth: true}, nil)
}

// DeleteAvatar removes the caller's avatar.
func (c *Client) DeleteAvatar(ctx context.Context) error {
	return c.do(ctx, request{method: "DELETE", path: "/api/v1/users/me/avatar", auth: true}, nil)
}

// User is the public profile of a user id.
func (c *Client) User(ctx context.Context, id string) (User, error) {
	var u User
	err := c.do(ctx, request{method: "GET", path: "/api/v1/users/" + url.PathEscape(id), auth: true}, &u)
	return u, err
}

// SearchUsers lists users whose nickname starts with prefix (an exact match first); limit 0 is the server's
// default.
func (c *Client) SearchUsers(ctx context.Context, prefix string, limit int) ([]User, error) {
	q := url.Values{"nickname": {prefix}}
	if limit != 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var r struct {
		Items []User `json:"items"`
	}
	err := c.do(ctx, request{method: "GET", path: "/api/v1/users", query: q, auth: true}, &r)
	return r.Items, err
}

// UserByNickname finds the user with exactly this nickname (in any letter case): the API addresses users by
// id, people by nickname.
func (c *Client) UserByNickname(ctx context.Context, nickname string) (User, error) {
	items, err := c.SearchUsers(ctx, nickname, 1)
	if err != nil {
		var ae *Error
		if errors.As(err, &ae) && ae.Code == "invalid_query" {
			return User{}, &Error{Status: 404, Code: "user_not_found", Message: fmt.Sprintf("no user with nickname %q", nickname)}
		}
		return User{}, err
	}
	if len(items) == 0 || !strings.EqualFold(items[0].Nickname, nickname) {
		return User{}, &Error{Status: 404, Code: "user_not_found", Message: fmt.Sprintf("no user with nickname %q", nickname)}
	}
	return items[0], nil
}

// Friends lists relationships with the given status (all, accepted, incoming, outgoing; "" is all).
func (c *Client) Friends(ctx context.Context, status string) (FriendList, error) {
	var q url.Values
	if status != "" {
		q = url.Values{"status": {status}}
	}
	var l FriendList
	err := c.do(ctx, request{method: "GET", path: "/api/v1/friends", query: q, auth: true}, &l)
	return l, err
}

// RequestFriend asks userID to be friends (or accepts their pending request).
func (c *Client) RequestFriend(ctx context.Context, userID string) (Relationship, error) {
	var r Relationship
	err := c.do(ctx, request{method: "POST", path: "/api/v1/friends/requests", body: map[string]string{"user_id": userID}, auth: true}, &r)
	if r.UserID == "" {
		r.UserID = userID
	}
	return r, err
}

// AcceptFriend accepts userID's request.
func (c *Client) AcceptFriend(ctx context.Context, userID string) (Relationship, error) {
	var r Relationship
	err := c.do(ctx, request{method: "POST", path: "/api/v1/friends/requests/" + url.PathEscape(userID) + "/accept", auth: true}, &r)
	return r, err
}

// DeclineFriend declines userID's request.
func (c *Client) DeclineFriend(ctx context.Context, userID string) error {
	return c.do(ctx, request{method: "POST", path: "/api/v1/friends/requests/" + url.PathEscape(userID) + "/decline", auth: true}, nil)
}

// RemoveFriend ends a friendship, cancels an outgoing request or declines an incoming one.
func (c *Client) RemoveFriend(ctx context.Context, userID string) error {
	return c.do(ctx, request{method: "DELETE", path: "/api/v1/friends/" + url.PathEscape(userID), auth: true}, nil)
}

// Typing tells peerID that the caller is typing in their chat.
func (c *Client) Typing(ctx context.Context, peerID string) error {
	return c.do(ctx, request{method: "POST", path: "/api/v1/chats/" + url.PathEscape(peerID) + "/typing", auth: true}, nil)
}

// Block blocks userID; Unblock lifts it; Blocks lists the users the caller blocks.
func (c *Client) Block(ctx context.Context, userID string) error {
	return c.do(ctx, request{method: "PUT", path: "/api/v1/blocks/" + url.PathEscape(userID), auth: true}, nil)
}

func (c *Client) Unblock(ctx context.Context, userID string) error {
	return c.do(ctx, request{method: "DELETE", path: "/api/v1/blocks/" + url.PathEscape(userID), auth: true}, nil)
}

func (c *Client) Blocks(ctx context.Context) (BlockList, error) {
	var l BlockList
	err := c.do(ctx, request{method: "GET", path: "/api/v1/blocks", auth: true}, &l)
	return l, err
}

// Send sends text to peerID; clientMessageID (optional) makes a retried send return the first message.
func (c *Client) Send(ctx context.Context, peerID, text, clientMessageID string) (Message, error) {
	body := map[string]string{"text": text}
	if clientMessageID != "" {
		body["client_message_id"] = clientMessageID
	}
	var m Message
	err := c.do(ctx, request{method: "POST", path: "/api/v1/chats/" + url.PathEscape(peerID) + "/messages", body: body, auth: true}, &m)
	return m, err
}

// Edit changes the text of the caller's message id in the chat with peerID.
func (c *Client) Edit(ctx context.Context, peerID, id, text string) (Message, error) {
	var m Message
	err := c.do(ctx, request{method: "PATCH", path: "/api/v1/chats/" + url.PathEscape(peerID) + "/messages/" + url.PathEscape(id),
		body: map[string]string{"text": text}, auth: true}, &m)
	return m, err
}

// Delete deletes the caller's message id in the chat with peerID, for both participants.
func (c *Client) Delete(ctx context.Context, peerID, id string) error {
	return c.do(ctx, request{method: "DELETE", path: "/api/v1/chats/" + url.PathEscape(peerID) + "/messages/" + url.PathEscape(id), auth: true}, nil)
}

// History reads one page of the chat with peerID.
func (c *Client) History(ctx context.Context, peerID string, hq HistoryQuery) (MessagePage, error) {
	q := url.Values{}
	if hq.Before != "" {
		q.Set("before", hq.Before)
	}
	if hq.After != "" {
		q.Set("after", hq.After)
	}
	if hq.Limit != 0 {
		q.Set("limit", strconv.Itoa(hq.Limit))
	}
	var p MessagePage
	err := c.do(ctx, request{method: "GET", path: "/api/v1/chats/" + url.PathEscape(peerID) + "/messages", query: q, auth: true}, &p)
	return p, err
}

// MarkRead marks the chat with peerID read up to message upToID.
func (c *Client) MarkRead(ctx context.Context, peerID, upToID string) error {
	return c.do(ctx, request{method: "POST", path: "/api/v1/chats/" + url.PathEscape(peerID) + "/read", body: map[string]string{"up_to_id": upToID}, auth: true}, nil)
}

// Chats lists the caller's chats, most recent first.
func (c *Client) Chats(ctx context.Context) (ChatList, error) {
	var l ChatList
	err := c.do(ctx, request{method: "GET", path: "/api/v1/chats", auth: true}, &l)
	return l, err
}
