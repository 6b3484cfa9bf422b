package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// client talks to the gateway over real HTTP with keep-alive connections, as a busy front end would.
type client struct {
	base string
	http *http.Client
	// sockets, when set, dials the WebSockets (withSources).
	sockets *http.Client
}

// withSources is c with its WebSockets dialled from n loopback addresses in turn (127.0.0.1 to 127.0.0.n): one
// address has about 28,000 ephemeral ports towards the gateway's one address and port, so 50,000 sockets need
// two or more. Every address of 127.0.0.0/8 is this machine's own.
func (c *client) withSources(n int) *client {
	if n <= 1 {
		return c
	}
	var next atomic.Uint64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		src := &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+next.Add(1)%uint64(n)))}
		return (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second, LocalAddr: src}).DialContext(ctx, network, addr)
	}
	out := *c
	out.sockets = &http.Client{Transport: &http.Transport{DialContext: dial}}
	return &out
}

func newClient(base string) *client {
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     90 * time.Second,
	}
	return &client{base: strings.TrimRight(base, "/"), http: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// do sends one request; body is nil or JSON-able. It returns the status and the body.
func (c *client) do(ctx context.Context, method, path, token string, body any) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	return res.StatusCode, data, err
}

// expect is do that fails unless the status is one of want.
func (c *client) expect(ctx context.Context, method, path, token string, body any, want ...int) ([]byte, error) {
	status, data, err := c.do(ctx, method, path, token, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for _, w := range want {
		if status == w {
			return data, nil
		}
	}
	return nil, fmt.Errorf("%s %s: status %d: %s", method, path, status, truncate(data, 300))
}

func truncate(b []byte, n int) string {
	if len(b) > n {
		return string(b[:n]) + "…"
	}
	return string(b)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// user is a registered account with one session.
type user struct {
	id, nickname, password string

	mu       sync.Mutex
	access   string
	refresh  string
	loggedAt time.Time
}

func (u *user) token() string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.access
}

// register creates an account and logs it in.
func (c *client) register(ctx context.Context, prefix string) (*user, error) {
	u := &user{nickname: prefix + "_" + randomHex(5), password: "bench-" + randomHex(8)}
	data, err := c.expect(ctx, "POST", "/api/v1/users", "", map[string]any{"nickname": u.nickname, "password": u.password}, 201)
	if err != nil {
		return nil, err
	}
	var m struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(data, &m); err != nil || m.ID == "" {
		return nil, fmt.Errorf("register: no id in %s", truncate(data, 200))
	}
	u.id = m.ID
	return u, c.login(ctx, u)
}

type tokenPair struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

func (c *client) login(ctx context.Context, u *user) error {
	data, err := c.expect(ctx, "POST", "/api/v1/auth/login", "", map[string]any{"nickname": u.nickname, "password": u.password}, 200)
	if err != nil {
		return err
	}
	return u.setTokens(data)
}

func (u *user) setTokens(data []byte) error {
	var t tokenPair
	if err := json.Unmarshal(data, &t); err != nil || t.Access == "" {
		return fmt.Errorf("no tokens in %s", truncate(data, 200))
	}
	u.mu.Lock()
	u.access, u.refresh, u.loggedAt = t.Access, t.Refresh, time.Now()
	u.mu.Unlock()
	return nil
}

// freshen renews the access token (refresh call) once it is older than maxAge, so long runs outlive the
// access-token lifetime.
func (c *client) freshen(ctx context.Context, u *user, maxAge time.Duration) error {
	u.mu.Lock()
	old, refresh := time.Since(u.loggedAt), u.refresh
	u.mu.Unlock()
	if old < maxAge {
		return nil
	}
	data, err := c.expect(ctx, "POST", "/api/v1/auth/refresh", "", map[string]any{"refresh_token": refresh}, 200)
	if err != nil {
		return err
	}
	return u.setTokens(data)
}

// befriend makes a and b friends (a asks, b accepts).
func (c *client) befriend(ctx context.Context, a, b *user) error {
	if _, err := c.expect(ctx, "POST", "/api/v1/friends/requests", a.token(), map[string]any{"user_id": b.id}, 201, 200); err != nil {
		return err
	}
	_, err := c.expect(ctx, "POST", "/api/v1/friends/requests/"+a.id+"/accept", b.token(), nil, 200)
	return err
}

// send posts one message from u to peer; it returns the HTTP status (0 without an answer).
func (c *client) send(ctx context.Context, from *user, to, text string) (int, error) {
	status, data, err := c.do(ctx, "POST", "/api/v1/chats/"+to+"/messages", from.token(), map[string]any{"text": text, "client_message_id": randomHex(12)})
	if err == nil && status != 201 && status != 200 {
		err = fmt.Errorf("status %d: %s", status, truncate(data, 200))
	}
	return status, err
}

// history reads the newest limit messages of u's chat with peer.
func (c *client) history(ctx context.Context, u *user, peer string, limit int) (int, error) {
	status, data, err := c.do(ctx, "GET", fmt.Sprintf("/api/v1/chats/%s/messages?limit=%d", peer, limit), u.token(), nil)
	if err != nil {
		return status, err
	}
	if status != 200 {
		return status, fmt.Errorf("status %d: %s", status, truncate(data, 200))
	}
	var m struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return status, err
	}
	if len(m.Items) == 0 {
		return status, errors.New("empty history")
	}
	return status, nil
}

// dial opens the push WebSocket of u.
func (c *client) dial(ctx context.Context, u *user) (*websocket.Conn, error) {
	wsURL, _ := url.Parse(c.base + "/api/v1/ws")
	wsURL.Scheme = strings.Replace(wsURL.Scheme, "http", "ws", 1)
	conn, res, err := websocket.Dial(ctx, wsURL.String(), &websocket.DialOptions{
		HTTPClient: c.sockets, // nil: http.DefaultClient
		HTTPHeader: http.Header{"Authorization": {"Bearer " + u.token()}},
	})
	if err != nil {
		if res != nil {
			return nil, fmt.Errorf("websocket: status %d: %w", res.StatusCode, err)
		}
		return nil, err
	}
	conn.SetReadLimit(8 << 20)
	return conn, nil
}
