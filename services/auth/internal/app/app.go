// Package app holds the auth service's use cases: login (with throttling), refresh-token rotation, sessions
// and their revocation, and the published keys. It works over small interfaces (repository, profiles client,
// outbox notifier, clock) that adapters implement.
package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/go-jose/go-jose/v4"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/domain"
)

// User is the profile a successful credential check returns: its id, and the PublicProfile document as
// profiles wrote it (passed through to the client unchanged).
type User struct {
	ID      string
	Profile json.RawMessage
}

// Profiles checks credentials with the profiles service.
type Profiles interface {
	// VerifyCredentials returns the user and ok = true for good credentials, ok = false for an unknown user or
	// a wrong password, and an error when profiles cannot answer.
	VerifyCredentials(ctx context.Context, nickname, password string) (u User, ok bool, err error)
}

// Repository stores sessions, refresh tokens and login failures.
type Repository interface {
	// InTx runs fn in a transaction, committed when fn returns nil. (An event consumer's inbox transaction
	// reaches the use cases as a Tx too: the adapter binds it.)
	InTx(ctx context.Context, fn func(Tx) error) error

	CreateSession(ctx context.Context, s domain.Session, first domain.RefreshToken) error
	// SessionInUse reports whether the user's session exists and is not revoked.
	SessionInUse(ctx context.Context, userID, sessionID string) (bool, error)
	// ActiveSessions lists the user's sessions that are neither revoked nor expired at now, newest first.
	ActiveSessions(ctx context.Context, userID string, now time.Time) ([]domain.Session, error)
	// RevokedSessions lists sessions revoked after revokedAfter whose access tokens may be unexpired after
	// accessExpiresAfter.
	RevokedSessions(ctx context.Context, revokedAfter, accessExpiresAfter time.Time) ([]domain.RevokedSession, error)

	// RecentFailures returns up to limit login failures of key after since, newest first.
	RecentFailures(ctx context.Context, key throttle.Key, since time.Time, limit int) ([]time.Time, error)
	RecordFailure(ctx context.Context, at time.Time, keys ...throttle.Key) error
	ClearFailures(ctx context.Context, key throttle.Key) error

	// Purge deletes what no rule needs any more: failures before failuresBefore, refresh tokens expired
	// before tokensBefore, and sessions over (expired or revoked) whose access tokens expired before
	// sessionsBefore.
	Purge(ctx context.Context, failuresBefore, tokensBefore, sessionsBefore time.Time) (int64, error)
}

// Tx is what the use cases do inside one transaction; Lock* take row locks until it ends.
type Tx interface {
	LockRefreshToken(ctx context.Context, h domain.RefreshTokenHash) (domain.RefreshToken, bool, error)
	LockSession(ctx context.Context, id string) (domain.Session, bool, error)
	LockUserSessions(ctx context.Context, userID string) ([]domain.Session, error)
	SpendRefreshToken(ctx context.Context, h domain.RefreshTokenHash, at time.Time) error
	InsertRefreshToken(ctx context.Context, t domain.RefreshToken) error
	// SaveSessionUse stores the session's LastUsedAt, ExpiresAt and AccessExpiresAt.
	SaveSessionUse(ctx context.Context, s domain.Session) error
	// RevokeSession marks the session revoked at at and enqueues its auth.session.revoked event.
	RevokeSession(ctx context.Context, s domain.Session, at time.Time) error
}

// Notifier wakes the outbox relay after a commit that enqueued events.
type Notifier interface{ Notify() }

// Config holds the use cases' tunables.
type Config struct {
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// AccountThrottle limits failed logins per nickname, AddressThrottle per client address.
	AccountThrottle throttle.Rule
	AddressThrottle throttle.Rule
}

// Application is the auth service's use cases.
type Application struct {
	cfg      Config
	keys     *domain.KeyRing
	repo     Repository
	profiles Profiles
	relay    Notifier
	now      func() time.Time
	metrics  *Metrics
}

// New wires the use cases; now is the clock (time.Now outside tests).
func New(cfg Config, keys *domain.KeyRing, repo Repository, profiles Profiles, relay Notifier, now func() time.Time, m *Metrics) *Application {
	if now == nil {
		now = time.Now
	}
	if m == nil {
		m, _ = NewMetrics(nil) // cannot fail without a registerer
	}
	return &Application{cfg: cfg, keys: keys, repo: repo, profiles: profiles, relay: relay, now: now, metrics: m}
}

// Errors the use cases answer with (the contract's codes).
var (
	ErrInvalidCredentials  = apierr.New(http.StatusUnauthorized, "invalid_credentials", "the nickname or password is wrong")
	ErrInvalidRefreshToken = apierr.New(http.StatusUnauthorized, "invalid_refresh_token", "the refresh token is invalid, expired or revoked")
	ErrSessionNotFound     = apierr.NotFound("session_not_found", "no such session")
	ErrSessionRevoked      = apierr.Unauthorized("the session has ended")
)

func tooManyLoginAttempts(retryAfter time.Duration) *apierr.Error {
	e := apierr.TooManyRequests("too many failed login attempts; try again later", throttle.RetryAfterSeconds(retryAfter))
	e.Code = "too_many_login_attempts"
	return e
}

// JWKS is the public key set tokens are verified with.
func (s *Application) JWKS() jose.JSONWebKeySet { return s.keys.JWKS() }
