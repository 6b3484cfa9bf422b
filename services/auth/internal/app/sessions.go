package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"simplemessenger/services/auth/internal/domain"
)

// SessionView is a session as its user sees it.
type SessionView struct {
	domain.Session
	Current bool
}

// Sessions lists the user's active sessions, marking the one the request was made with.
func (s *Application) Sessions(ctx context.Context, userID, currentSessionID string) ([]SessionView, error) {
	list, err := s.repo.ActiveSessions(ctx, userID, s.now())
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	out := make([]SessionView, len(list))
	for i, sess := range list {
		out[i] = SessionView{Session: sess, Current: sess.ID == currentSessionID}
	}
	return out, nil
}

// RevokeSession ends one of the user's sessions (logout is this on the current one). Another user's
// session, an unknown one and one already ended are all "not found".
func (s *Application) RevokeSession(ctx context.Context, userID, sessionID string) error {
	now := s.now()
	err := s.repo.InTx(ctx, func(tx Tx) error {
		sess, found, err := tx.LockSession(ctx, sessionID)
		if err != nil {
			return err
		}
		if !found || sess.UserID != userID || sess.Revoked() {
			return ErrSessionNotFound
		}
		return tx.RevokeSession(ctx, sess, now)
	})
	if err != nil {
		return err
	}
	s.relay.Notify()
	return nil
}

// CheckSession is the extra check of auth's own authenticated routes: a verified token is not enough, its
// session must not have been revoked (auth has the truth at hand, gateways learn it from events).
func (s *Application) CheckSession(ctx context.Context, userID, sessionID string) error {
	ok, err := s.repo.SessionInUse(ctx, userID, sessionID)
	if err != nil {
		return fmt.Errorf("check session: %w", err)
	}
	if !ok {
		return ErrSessionRevoked
	}
	return nil
}

// RevokedSessions lists the sessions gateways must still refuse: revoked, with an access token that may not
// have expired yet. Tokens are only issued before a revocation, so a session revoked longer than an access
// token lifetime ago has none left; the margin covers clock skew between replicas and verifiers' leeway.
func (s *Application) RevokedSessions(ctx context.Context) ([]domain.RevokedSession, error) {
	const margin = time.Minute
	now := s.now()
	list, err := s.repo.RevokedSessions(ctx, now.Add(-s.cfg.AccessTokenTTL-margin), now.Add(-margin))
	if err != nil {
		return nil, fmt.Errorf("list revoked sessions: %w", err)
	}
	return list, nil
}

// PasswordChanged revokes all the user's sessions but keep (the one that changed the password), inside the
// consumer's transaction tx, which also records the event in the inbox: a redelivered event changes nothing.
func (s *Application) PasswordChanged(ctx context.Context, tx Tx, userID, keep string) error {
	sessions, err := tx.LockUserSessions(ctx, userID)
	if err != nil {
		return err
	}
	now := s.now()
	revoked := 0
	for _, sess := range sessions {
		if sess.ID == keep || sess.Revoked() {
			continue
		}
		if err := tx.RevokeSession(ctx, sess, now); err != nil {
			return err
		}
		revoked++
	}
	if revoked > 0 {
		// No Notify: the consumer commits after we return, and the relay's own polling picks the events up
		// well within the time gateways have to learn of revocations.
		slog.InfoContext(ctx, "password changed: other sessions revoked", "user_id", userID, "revoked", revoked)
	}
	return nil
}
