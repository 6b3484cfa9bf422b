// Package adapters holds the profiles service's outbound side: the MySQL repository (with its migrations in
// ./migrations) and the argon2id password hasher.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/mysqlx"

	"simplemessenger/services/profiles/internal/app"
	"simplemessenger/services/profiles/internal/domain"
)

// MySQLRepository is app.Repository on MySQL/MariaDB; events go to the platform outbox in the same transaction.
type MySQLRepository struct {
	db  *sql.DB
	now func() time.Time
}

var _ app.Repository = (*MySQLRepository)(nil)

// NewMySQLRepository uses db, migrated with migrations.FS.
func NewMySQLRepository(db *sql.DB) *MySQLRepository {
	return &MySQLRepository{db: db, now: time.Now}
}

const userColumns = "id, nickname, display_name, bio, COALESCE(avatar_etag, ''), created_at"

type scanner interface{ Scan(dest ...any) error }

func scanUserRow(rows *sql.Rows) (domain.User, error) { return scanUser(rows) }

func scanUser(s scanner) (domain.User, error) {
	var u domain.User
	err := s.Scan(&u.ID, &u.Nickname, &u.DisplayName, &u.Bio, &u.AvatarETag, &u.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.User{}, app.ErrUserNotFound
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, err
}

func (r *MySQLRepository) ts() time.Time { return r.now().UTC().Truncate(time.Microsecond) }

func enqueue(ctx context.Context, tx *sql.Tx, ev app.EventFunc, u domain.User) error {
	e, err := ev(u)
	if err != nil {
		return fmt.Errorf("build event: %w", err)
	}
	if err := broker.Enqueue(ctx, tx, e); err != nil {
		return fmt.Errorf("enqueue %s: %w", e.Type, err)
	}
	return nil
}

// Create inserts the user and its registered event; a duplicate nickname (in any case) is ErrNicknameTaken.
func (r *MySQLRepository) Create(ctx context.Context, u domain.User, passwordHash string, ev app.EventFunc) error {
	return mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO users (id, nickname, display_name, bio, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?)`, u.ID, u.Nickname, u.DisplayName, u.Bio, passwordHash, u.CreatedAt, u.CreatedAt)
		if mysqlx.IsDuplicate(err) {
			return app.ErrNicknameTaken
		}
		if err != nil {
			return err
		}
		return enqueue(ctx, tx, ev, u)
	})
}

// Get returns the user by id.
func (r *MySQLRepository) Get(ctx context.Context, id string) (domain.User, error) {
	return scanUser(r.db.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ?", id))
}

// GetMany returns the users of ids that exist (one query on the primary key).
func (r *MySQLRepository) GetMany(ctx context.Context, ids []string) ([]domain.User, error) {
	if len(ids) == 0 {
		return nil, nil
	}
	in, args := mysqlx.In(ids)
	rows, err := r.db.QueryContext(ctx, "SELECT "+userColumns+" FROM users WHERE id IN ("+in+")", args...)
	if err != nil {
		return nil, err
	}
	return mysqlx.Collect(rows, scanUserRow)
}

// Credentials returns the user with the normalised nickname and its hash.
func (r *MySQLRepository) Credentials(ctx context.Context, nicknameLower string) (domain.User, string, error) {
	var u domain.User
	var hash string
	err := r.db.QueryRowContext(ctx, "SELECT "+userColumns+", password_hash FROM users WHERE nickname_lower = ?", nicknameLower).
		Scan(&u.ID, &u.Nickname, &u.DisplayName, &u.Bio, &u.AvatarETag, &u.CreatedAt, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.User{}, "", app.ErrUserNotFound
	}
	u.CreatedAt = u.CreatedAt.UTC()
	return u, hash, err
}

// PasswordHash returns the user's hash.
func (r *MySQLRepository) PasswordHash(ctx context.Context, id string) (string, error) {
	var hash string
	err := r.db.QueryRowContext(ctx, "SELECT password_hash FROM users WHERE id = ?", id).Scan(&hash)
	if errors.Is(err, sql.ErrNoRows) {
		return "", app.ErrUserNotFound
	}
	return hash, err
}

// ChangePassword swaps oldHash for newHash and writes ev; ErrPasswordChanged when the hash is no longer oldHash.
func (r *MySQLRepository) ChangePassword(ctx context.Context, id, oldHash, newHash string, ev broker.Event) error {
	return mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ? AND password_hash = ?",
			newHash, r.ts(), id, oldHash)
		if err != nil {
			return err
		}
		// Salts are random, so a successful swap always changes the row and counts as affected.
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var one int
			if err := tx.QueryRowContext(ctx, "SELECT 1 FROM users WHERE id = ?", id).Scan(&one); errors.Is(err, sql.ErrNoRows) {
				return app.ErrUserNotFound
			}
			return app.ErrPasswordChanged
		}
		return broker.Enqueue(ctx, tx, ev)
	})
}

// UpdateProfile locks the row, applies update and stores the result with the event if something changed.
func (r *MySQLRepository) UpdateProfile(ctx context.Context, id string, update func(*domain.User) (bool, error), ev app.EventFunc) (domain.User, error) {
	var u domain.User
	err := mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error {
		var err error
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		changed, err := update(&u)
		if err != nil || !changed {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET display_name = ?, bio = ?, updated_at = ? WHERE id = ?",
			u.DisplayName, u.Bio, r.ts(), id); err != nil {
			return err
		}
		return enqueue(ctx, tx, ev, u)
	})
	if err != nil {
		return domain.User{}, err
	}
	return u, nil
}

// SetAvatar stores (or replaces) the avatar and the user's avatar_etag, with the event.
func (r *MySQLRepository) SetAvatar(ctx context.Context, id string, a domain.Avatar, ev app.EventFunc) (domain.User, error) {
	var u domain.User
	err := mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error {
		var err error
		// Locking the user first orders concurrent avatar changes of one user and proves the user exists.
		u, err = scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		now := r.ts()
		if _, err := tx.ExecContext(ctx, `INSERT INTO avatars (user_id, content_type, etag, data, updated_at) VALUES (?, ?, ?, ?, ?)
			ON DUPLICATE KEY UPDATE content_type = VALUES(content_type), etag = VALUES(etag), data = VALUES(data), updated_at = VALUES(updated_at)`,
			id, a.ContentType, a.ETag, a.Data, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET avatar_etag = ?, updated_at = ? WHERE id = ?", a.ETag, now, id); err != nil {
			return err
		}
		u.AvatarETag = a.ETag
		return enqueue(ctx, tx, ev, u)
	})
	if err != nil {
		return domain.User{}, err
	}
	return u, nil
}

// DeleteAvatar removes the avatar; without one it changes nothing and writes no event.
func (r *MySQLRepository) DeleteAvatar(ctx context.Context, id string, ev app.EventFunc) error {
	return mysqlx.InTx(ctx, r.db, func(tx *sql.Tx) error {
		u, err := scanUser(tx.QueryRowContext(ctx, "SELECT "+userColumns+" FROM users WHERE id = ? FOR UPDATE", id))
		if err != nil {
			return err
		}
		if !u.HasAvatar() {
			return nil
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM avatars WHERE user_id = ?", id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE users SET avatar_etag = NULL, updated_at = ? WHERE id = ?", r.ts(), id); err != nil {
			return err
		}
		u.AvatarETag = ""
		return enqueue(ctx, tx, ev, u)
	})
}

// AvatarInfo returns the avatar's type and ETag without its bytes.
func (r *MySQLRepository) AvatarInfo(ctx context.Context, userID string) (domain.Avatar, error) {
	var a domain.Avatar
	err := r.db.QueryRowContext(ctx, "SELECT content_type, etag FROM avatars WHERE user_id = ?", userID).Scan(&a.ContentType, &a.ETag)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Avatar{}, app.ErrAvatarNotFound
	}
	return a, err
}

// Avatar returns the avatar with its bytes.
func (r *MySQLRepository) Avatar(ctx context.Context, userID string) (domain.Avatar, error) {
	var a domain.Avatar
	err := r.db.QueryRowContext(ctx, "SELECT content_type, etag, data FROM avatars WHERE user_id = ?", userID).Scan(&a.ContentType, &a.ETag, &a.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return domain.Avatar{}, app.ErrAvatarNotFound
	}
	return a, err
}

// The search queries, named so the repository tests can EXPLAIN exactly what runs.
const (
	// searchExact is a point lookup on the unique index.
	searchExact = "SELECT " + userColumns + " FROM users WHERE nickname_lower = ?"
	// searchPrefix is a range scan of the same index, already in the index's order, so LIMIT stops it early and
	// there is no filesort however many nicknames share the prefix. "> ?" leaves out the exact match, which is the
	// smallest string with the prefix and comes from searchExact.
	searchPrefix = "SELECT " + userColumns + " FROM users WHERE nickname_lower LIKE ? ESCAPE '" + domain.LikeEscape +
		"' AND nickname_lower > ? ORDER BY nickname_lower LIMIT ?"
)

// Search returns the exact match (if any) and then the prefix matches in nickname order, at most s.Limit.
func (r *MySQLRepository) Search(ctx context.Context, s domain.Search) ([]domain.User, error) {
	users := make([]domain.User, 0, s.Limit)
	exact, err := scanUser(r.db.QueryRowContext(ctx, searchExact, s.Prefix))
	switch {
	case err == nil:
		users = append(users, exact)
	case !errors.Is(err, app.ErrUserNotFound):
		return nil, err
	}
	if len(users) >= s.Limit {
		return users, nil
	}
	rows, err := r.db.QueryContext(ctx, searchPrefix, domain.LikePrefix(s.Prefix), s.Prefix, s.Limit-len(users))
	if err != nil {
		return nil, err
	}
	more, err := mysqlx.Collect(rows, scanUserRow)
	return append(users, more...), err
}
