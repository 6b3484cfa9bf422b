package config

import (
	"context"
	"errors"
	"fmt"
	"time"

	"simplemessenger/clients/msgr/internal/api"
)

// Refresher spends a refresh token for a new pair (api.Client.RefreshTokens).
type Refresher func(ctx context.Context, refreshToken string) (api.TokenPair, error)

// Tokens is the api.TokenSource of the session of Server in Store.
type Tokens struct {
	Store    *Store
	Server   string
	Exchange Refresher        // spends a refresh token
	Now      func() time.Time // time.Now when nil
}

var _ api.TokenSource = (*Tokens)(nil)

func (t *Tokens) now() time.Time {
	if t.Now != nil {
		return t.Now()
	}
	return time.Now()
}

// Token returns the stored access token, refreshed first when it is about to expire.
func (t *Tokens) Token(ctx context.Context) (string, error) {
	sess, ok, err := t.Store.Session(t.Server)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", api.ErrNotLoggedIn
	}
	if !sess.Expiring(t.now()) {
		return sess.AccessToken, nil
	}
	return t.renew(ctx, sess.AccessToken, false)
}

// Refresh renews the session after the server refused stale; when another process renewed it meanwhile, its
// token is used instead of spending the refresh token again.
func (t *Tokens) Refresh(ctx context.Context, stale string) (string, error) {
	return t.renew(ctx, stale, true)
}

func (t *Tokens) renew(ctx context.Context, stale string, refused bool) (string, error) {
	unlock, err := t.Store.Lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	sess, ok, err := t.Store.Session(t.Server)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", api.ErrNotLoggedIn
	}
	now := t.now()
	if sess.AccessToken != stale && !sess.Expiring(now) {
		return sess.AccessToken, nil // renewed by another process while we waited for the lock
	}
	if !refused && !sess.Expiring(now) {
		return sess.AccessToken, nil
	}
	pair, err := t.Exchange(ctx, sess.RefreshToken)
	if err != nil {
		var ae *api.Error
		if errors.As(err, &ae) && ae.Status == 401 {
			// The refresh token is spent, expired or its session revoked: the session is over.
			_ = t.Store.updateLocked(func(c *credentials) { delete(c.Sessions, t.Server) })
			return "", fmt.Errorf("%w: the session has expired or was revoked (%s)", api.ErrNotLoggedIn, ae.Code)
		}
		return "", err
	}
	sess.SetTokens(pair.AccessToken, pair.RefreshToken, time.Duration(pair.ExpiresIn)*time.Second, now)
	if err := t.Store.updateLocked(func(c *credentials) { c.Sessions[t.Server] = sess }); err != nil {
		return "", err
	}
	return sess.AccessToken, nil
}
