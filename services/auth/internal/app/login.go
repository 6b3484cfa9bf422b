package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/domain"
)

// LoginInput is a login attempt and where it comes from.
type LoginInput struct {
	Nickname  string
	Password  string
	UserAgent string
	ClientIP  string
}

// Tokens is a fresh token pair.
type Tokens struct {
	AccessToken  domain.AccessToken
	RefreshToken string
	// ExpiresIn is the access token's lifetime.
	ExpiresIn time.Duration
	SessionID string
	// User is set on login (the profile), not on refresh.
	User *User
}

// Login checks the credentials with profiles and opens a session. While the account or the client address
// has too many recent failures it answers 429 without asking profiles, so even the right password waits.
func (s *Application) Login(ctx context.Context, in LoginInput) (Tokens, error) {
	now := s.now()
	account := domain.AccountKey(in.Nickname)
	address := throttle.AddressKey(in.ClientIP)
	if err := s.checkThrottle(ctx, s.cfg.AccountThrottle, account, now); err != nil {
		s.metrics.login(loginThrottledAccount)
		return Tokens{}, err
	}
	if err := s.checkThrottle(ctx, s.cfg.AddressThrottle, address, now); err != nil {
		s.metrics.login(loginThrottledAddress)
		return Tokens{}, err
	}

	user, ok, err := s.profiles.VerifyCredentials(ctx, in.Nickname, in.Password)
	if err != nil {
		// Never a 401: the credentials may be right, so the client should retry rather than re-prompt.
		slog.WarnContext(ctx, "profiles cannot verify credentials", "error", err)
		s.metrics.login(loginUnavailable)
		return Tokens{}, apierr.Unavailable("cannot verify credentials right now; try again")
	}
	if !ok {
		var keys []throttle.Key
		if s.cfg.AccountThrottle.Enabled() {
			keys = append(keys, account)
		}
		if s.cfg.AddressThrottle.Enabled() {
			keys = append(keys, address)
		}
		if err := s.repo.RecordFailure(ctx, now, keys...); err != nil {
			return Tokens{}, fmt.Errorf("record login failure: %w", err)
		}
		s.metrics.login(loginInvalid)
		return Tokens{}, ErrInvalidCredentials
	}

	if s.cfg.AccountThrottle.Enabled() {
		if err := s.repo.ClearFailures(ctx, account); err != nil {
			return Tokens{}, fmt.Errorf("clear login failures: %w", err)
		}
	}
	sessionID, err := uuid.NewV7()
	if err != nil {
		return Tokens{}, err
	}
	access, err := s.keys.IssueAccessToken(user.ID, sessionID.String(), now, s.cfg.AccessTokenTTL)
	if err != nil {
		return Tokens{}, err
	}
	raw, hash := domain.NewRefreshToken()
	refresh := domain.RefreshToken{Hash: hash, SessionID: sessionID.String(), CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL)}
	sess := domain.Session{
		ID: sessionID.String(), UserID: user.ID, CreatedAt: now, LastUsedAt: now,
		ExpiresAt: refresh.ExpiresAt, AccessExpiresAt: access.ExpiresAt,
		UserAgent: domain.CleanUserAgent(in.UserAgent), ClientIP: in.ClientIP,
	}
	if err := s.repo.CreateSession(ctx, sess, refresh); err != nil {
		return Tokens{}, fmt.Errorf("create session: %w", err)
	}
	s.metrics.login(loginOK)
	return Tokens{AccessToken: access, RefreshToken: raw, ExpiresIn: s.cfg.AccessTokenTTL, SessionID: sess.ID, User: &user}, nil
}

func (s *Application) checkThrottle(ctx context.Context, rule throttle.Rule, key throttle.Key, now time.Time) error {
	if !rule.Enabled() {
		return nil
	}
	failures, err := s.repo.RecentFailures(ctx, key, rule.Since(now), rule.Limit)
	if err != nil {
		return fmt.Errorf("read login failures: %w", err)
	}
	if throttled, wait := rule.Check(failures, now); throttled {
		return tooManyLoginAttempts(wait)
	}
	return nil
}
