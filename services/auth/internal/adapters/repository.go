package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/app"
	"simplemessenger/services/auth/internal/domain"
)

// EventSource is the source of the events auth writes.
const EventSource = "auth"

// Repository is the MySQL implementation of app.Repository.
type Repository struct {
	db *sql.DB
}

var _ app.Repository = (*Repository)(nil)

// NewRepository uses db (migrated with migrations.FS).
func NewRepository(db *sql.DB) *Repository { return &Repository{db: db} }

// InTx runs fn in a transaction.
func (r *Repository) InTx(ctx context.Context, fn func(app.Tx) error) error {
	return mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error { return fn(txRepo{tx}) })
}

// Bind gives the transactional operations inside tx, a transaction someone else runs (an event consumer's
// inbox transaction).
func (r *Repository) Bind(tx *sql.Tx) app.Tx { return txRepo{tx} }

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, access_expires_at, user_agent, client_ip, revoked_at`

// CreateSession stores a new session with its first refresh token.
func (r *Repository) CreateSession(ctx context.Context, s domain.Session, first domain.RefreshToken) error {
	return mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL)`,
			s.ID, s.UserID, s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC(), s.AccessExpiresAt.UTC(), s.UserAgent, s.ClientIP); err != nil {
			return fmt.Errorf("insert session: %w", err)
		}
		return txRepo{tx}.InsertRefreshToken(ctx, first)
	})
}

// SessionInUse reports whether the user's session exists and is not revoked.
func (r *Repository) SessionInUse(ctx context.Context, userID, sessionID string) (bool, error) {
	var one int
	err := r.db.QueryRowContext(ctx, `SELECT 1 FROM sessions WHERE id = ? AND user_id = ? AND revoked_at IS NULL`,
		sessionID, userID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// ActiveSessions lists the user's sessions that are neither revoked nor expired, newest first.
func (r *Repository) ActiveSessions(ctx context.Context, userID string, now time.Time) ([]domain.Session, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ? ORDER BY created_at DESC, id DESC`, userID, now.UTC())
	if err != nil {
		return nil, err
	}
	return scanSessions(rows)
}

// RevokedSessions lists sessions revoked after revokedAfter with access tokens expiring after accessExpiresAfter.
func (r *Repository) RevokedSessions(ctx context.Context, revokedAfter, accessExpiresAfter time.Time) ([]domain.RevokedSession, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT id, user_id, access_expires_at FROM sessions
		WHERE revoked_at > ? AND access_expires_at > ? ORDER BY revoked_at`, revokedAfter.UTC(), accessExpiresAfter.UTC())
	if err != nil {
		return nil, err
	}
	return mysqlx.Collect(rows, func(r *sql.Rows) (rs domain.RevokedSession, err error) {
		return rs, r.Scan(&rs.SessionID, &rs.UserID, &rs.ExpiresAt)
	})
}

// RecentFailures returns up to limit failures of key after since, newest first.
func (r *Repository) RecentFailures(ctx context.Context, key throttle.Key, since time.Time, limit int) ([]time.Time, error) {
	rows, err := r.db.QueryContext(ctx, `SELECT failed_at FROM login_failures
		WHERE throttle_key = ? AND failed_at > ? ORDER BY failed_at DESC LIMIT ?`, key[:], since.UTC(), limit)
	if err != nil {
		return nil, err
	}
	return mysqlx.Collect(rows, func(r *sql.Rows) (at time.Time, err error) { return at, r.Scan(&at) })
}

// RecordFailure counts one failure at at against each key.
func (r *Repository) RecordFailure(ctx context.Context, at time.Time, keys ...throttle.Key) error {
	if len(keys) == 0 {
		return nil
	}
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k[:], at.UTC())
	}
	_, err := r.db.ExecContext(ctx, `INSERT INTO login_failures (throttle_key, failed_at) VALUES `+
		strings.Repeat("(?, ?), ", len(keys)-1)+`(?, ?)`, args...)
	return err
}

// ClearFailures forgets the key's failures (a successful login of the account).
func (r *Repository) ClearFailures(ctx context.Context, key throttle.Key) error {
	_, err := r.db.ExecContext(ctx, `DELETE FROM login_failures WHERE throttle_key = ?`, key[:])
	return err
}

// purgeBatch bounds each DELETE, so a purge never holds many locks for long.
const purgeBatch = 5000

// Purge deletes failures, refresh tokens and finished sessions that no rule needs any more.
func (r *Repository) Purge(ctx context.Context, failuresBefore, tokensBefore, sessionsBefore time.Time) (int64, error) {
	var total int64
	for _, st := range []struct {
		query string
		args  []any
	}{
		{`DELETE FROM login_failures WHERE failed_at < ? LIMIT ?`, []any{failuresBefore.UTC(), purgeBatch}},
		{`DELETE FROM refresh_tokens WHERE expires_at < ? LIMIT ?`, []any{tokensBefore.UTC(), purgeBatch}},
		// A session is kept while a revocation may still have to be announced or its refresh could still work.
		{`DELETE FROM sessions WHERE access_expires_at < ? AND (expires_at < ? OR revoked_at < ?) LIMIT ?`,
			[]any{sessionsBefore.UTC(), sessionsBefore.UTC(), sessionsBefore.UTC(), purgeBatch}},
	} {
		res, err := r.db.ExecContext(ctx, st.query, st.args...)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// txRepo is app.Tx over one transaction.
type txRepo struct{ tx *sql.Tx }

func (t txRepo) LockRefreshToken(ctx context.Context, h domain.RefreshTokenHash) (domain.RefreshToken, bool, error) {
	var (
		tok   domain.RefreshToken
		hash  []byte
		spent sql.NullTime
	)
	err := t.tx.QueryRowContext(ctx, `SELECT token_hash, session_id, created_at, expires_at, spent_at
		FROM refresh_tokens WHERE token_hash = ? FOR UPDATE`, h[:]).
		Scan(&hash, &tok.SessionID, &tok.CreatedAt, &tok.ExpiresAt, &spent)
	if errors.Is(err, sql.ErrNoRows) {
		return tok, false, nil
	}
	if err != nil {
		return tok, false, err
	}
	copy(tok.Hash[:], hash)
	if spent.Valid {
		tok.SpentAt = &spent.Time
	}
	return tok, true, nil
}

func (t txRepo) LockSession(ctx context.Context, id string) (domain.Session, bool, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ? FOR UPDATE`, id)
	if err != nil {
		return domain.Session{}, false, err
	}
	list, err := scanSessions(rows)
	if err != nil || len(list) == 0 {
		return domain.Session{}, false, err
	}
	return list[0], true, nil
}

func (t txRepo) LockUserSessions(ctx context.Context, userID string) ([]domain.Session, error) {
	rows, err := t.tx.QueryContext(ctx, `SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL ORDER BY id FOR UPDATE`, userID)
	if err != nil {
		return nil, err
	}
	return scanSessions(rows)
}

func (t txRepo) SpendRefreshToken(ctx context.Context, h domain.RefreshTokenHash, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE refresh_tokens SET spent_at = ? WHERE token_hash = ?`, at.UTC(), h[:])
	return err
}

func (t txRepo) InsertRefreshToken(ctx context.Context, tok domain.RefreshToken) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO refresh_tokens (token_hash, session_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		tok.Hash[:], tok.SessionID, tok.CreatedAt.UTC(), tok.ExpiresAt.UTC())
	if err != nil {
		return fmt.Errorf("insert refresh token: %w", err)
	}
	return nil
}

func (t txRepo) SaveSessionUse(ctx context.Context, s domain.Session) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE sessions SET last_used_at = ?, expires_at = ?, access_expires_at = ? WHERE id = ?`,
		s.LastUsedAt.UTC(), s.ExpiresAt.UTC(), s.AccessExpiresAt.UTC(), s.ID)
	return err
}

// RevokeSession marks the session revoked and, in the same transaction, enqueues the event that makes every
// gateway refuse its access tokens until the last of them expires.
func (t txRepo) RevokeSession(ctx context.Context, s domain.Session, at time.Time) error {
	res, err := t.tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`, at.UTC(), s.ID)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return nil // already revoked: announced then
	}
	ev, err := broker.NewEvent(EventSource, events.SessionRevoked, events.SessionRevokedData{
		SessionID: s.ID, UserID: s.UserID, ExpiresAt: s.AccessExpiresAt.UTC(),
	})
	if err != nil {
		return err
	}
	if err := broker.Enqueue(ctx, t.tx, ev); err != nil {
		return fmt.Errorf("enqueue %s: %w", ev.Type, err)
	}
	return nil
}

func scanSessions(rows *sql.Rows) ([]domain.Session, error) {
	return mysqlx.Collect(rows, func(r *sql.Rows) (s domain.Session, err error) {
		var revoked sql.NullTime
		if err := r.Scan(&s.ID, &s.UserID, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &s.AccessExpiresAt,
			&s.UserAgent, &s.ClientIP, &revoked); err != nil {
			return s, err
		}
		if revoked.Valid {
			s.RevokedAt = &revoked.Time
		}
		return s, nil
	})
}
