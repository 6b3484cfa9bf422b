package app

import (
	"context"
	"fmt"
	"log/slog"

	"simplemessenger/services/auth/internal/domain"
)

// Refresh spends a refresh token and returns the session's next token pair. A token presented again after it
// was spent revokes the whole session (the newest tokens of whoever refreshed first included) and is
// answered like any invalid token. The token and session rows are locked, so two concurrent uses of the
// same token are serialised: one rotates, the other is a reuse.
func (s *Application) Refresh(ctx context.Context, raw string) (Tokens, error) {
	hash, ok := domain.HashRefreshToken(raw)
	if !ok {
		s.metrics.refresh(refreshInvalid)
		return Tokens{}, ErrInvalidRefreshToken
	}
	now := s.now()
	var (
		out     Tokens
		outcome domain.RefreshOutcome
		reused  domain.Session
	)
	err := s.repo.InTx(ctx, func(tx Tx) error {
		tok, found, err := tx.LockRefreshToken(ctx, hash)
		if err != nil || !found {
			return err
		}
		sess, found, err := tx.LockSession(ctx, tok.SessionID)
		if err != nil || !found {
			return err
		}
		outcome = domain.DecideRefresh(tok, sess, now)
		switch outcome {
		case domain.RefreshReuse:
			reused = sess
			return tx.RevokeSession(ctx, sess, now)
		case domain.RefreshRotate:
		default:
			return nil
		}

		access, err := s.keys.IssueAccessToken(sess.UserID, sess.ID, now, s.cfg.AccessTokenTTL)
		if err != nil {
			return err
		}
		nextRaw, nextHash := domain.NewRefreshToken()
		next := domain.RefreshToken{Hash: nextHash, SessionID: sess.ID, CreatedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTokenTTL)}
		if err := tx.SpendRefreshToken(ctx, hash, now); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(ctx, next); err != nil {
			return err
		}
		sess.LastUsedAt = now
		sess.ExpiresAt = next.ExpiresAt
		if access.ExpiresAt.After(sess.AccessExpiresAt) {
			sess.AccessExpiresAt = access.ExpiresAt
		}
		if err := tx.SaveSessionUse(ctx, sess); err != nil {
			return err
		}
		out = Tokens{AccessToken: access, RefreshToken: nextRaw, ExpiresIn: s.cfg.AccessTokenTTL, SessionID: sess.ID}
		return nil
	})
	if err != nil {
		return Tokens{}, fmt.Errorf("refresh: %w", err)
	}
	switch outcome {
	case domain.RefreshRotate:
		s.metrics.refresh(refreshOK)
		return out, nil
	case domain.RefreshReuse:
		s.relay.Notify()
		s.metrics.refresh(refreshReuse)
		slog.WarnContext(ctx, "spent refresh token presented again; session revoked",
			"session_id", reused.ID, "user_id", reused.UserID)
		return Tokens{}, ErrInvalidRefreshToken
	default:
		s.metrics.refresh(refreshInvalid)
		return Tokens{}, ErrInvalidRefreshToken
	}
}
