// Package adapters holds the friends service's outbound side: the MySQL repository (its schema is in
// migrations) and the client of the profiles service.
package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/mysqlx"

	"simplemessenger/services/friends/internal/app"
	"simplemessenger/services/friends/internal/domain"
)

// changeAttempts bounds the retries of one change that keeps losing races (each lost race means another
// change of the same pair committed, so a few attempts always suffice in practice).
const changeAttempts = 10

// MySQLRepository is app.Repository on MySQL/MariaDB; events go to the platform outbox in the same transaction.
type MySQLRepository struct {
	db *sql.DB
}

var _ app.Repository = (*MySQLRepository)(nil)

// NewMySQLRepository uses db, migrated with migrations.FS.
func NewMySQLRepository(db *sql.DB) *MySQLRepository { return &MySQLRepository{db: db} }

const columns = "user_low, user_high, requester_id, status, created_at, updated_at"

type scanner interface{ Scan(dest ...any) error }

func scan(s scanner) (domain.Relationship, error) {
	var r domain.Relationship
	err := s.Scan(&r.Pair.Low, &r.Pair.High, &r.RequesterID, &r.Status, &r.CreatedAt, &r.Since)
	r.CreatedAt, r.Since = r.CreatedAt.UTC(), r.Since.UTC()
	return r, err
}

// errRaced: the row the change was about to insert was inserted by a concurrent change first.
var errRaced = errors.New("relationship inserted concurrently")

// Change reads the pair's row with a locking read, lets change decide, and inserts, updates or deletes the row
// and enqueues the events, all in one READ COMMITTED transaction.
//
// Concurrency: an existing row is locked, so changes of it are serialised. A missing row cannot be locked
// (READ COMMITTED takes no gap locks, which would make two inserters deadlock and block unrelated pairs), so two
// first requests may both decide to insert: the primary key lets one win, the other waits for it to commit,
// gets a duplicate-key error and runs again, now seeing (and locking) the winner's row. A deadlock victim is
// run again too.
func (r *MySQLRepository) Change(ctx context.Context, pair domain.Pair, change app.ChangeFunc) error {
	var err error
	for range changeAttempts {
		err = mysqlx.InTxWith(ctx, r.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
			return r.change(ctx, tx, pair, change)
		})
		if !errors.Is(err, errRaced) && !mysqlx.IsDeadlock(err) {
			return err
		}
	}
	return fmt.Errorf("change of %s/%s kept racing: %w", pair.Low, pair.High, err)
}

func (r *MySQLRepository) change(ctx context.Context, tx *sql.Tx, pair domain.Pair, change app.ChangeFunc) error {
	var current *domain.Relationship
	got, err := scan(tx.QueryRowContext(ctx, "SELECT "+columns+" FROM relationships WHERE user_low = ? AND user_high = ? FOR UPDATE", pair.Low, pair.High))
	switch {
	case err == nil:
		current = &got
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	next, events, err := change(current)
	if err != nil {
		return err
	}
	switch {
	case next != nil && next.Pair != pair:
		return fmt.Errorf("change of %s/%s returned the pair %s/%s", pair.Low, pair.High, next.Pair.Low, next.Pair.High)
	case current == nil && next != nil:
		_, err = tx.ExecContext(ctx, "INSERT INTO relationships ("+columns+") VALUES (?, ?, ?, ?, ?, ?)",
			pair.Low, pair.High, next.RequesterID, next.Status, next.CreatedAt, next.Since)
		if mysqlx.IsDuplicate(err) {
			return errRaced
		}
	case current != nil && next != nil:
		_, err = tx.ExecContext(ctx, "UPDATE relationships SET requester_id = ?, status = ?, updated_at = ? WHERE user_low = ? AND user_high = ?",
			next.RequesterID, next.Status, next.Since, pair.Low, pair.High)
	case current != nil && next == nil:
		_, err = tx.ExecContext(ctx, "DELETE FROM relationships WHERE user_low = ? AND user_high = ?", pair.Low, pair.High)
	}
	if err != nil {
		return err
	}
	return broker.Enqueue(ctx, tx, events...)
}

// Get returns the pair's relationship, nil when there is none.
func (r *MySQLRepository) Get(ctx context.Context, pair domain.Pair) (*domain.Relationship, error) {
	got, err := scan(r.db.QueryRowContext(ctx, "SELECT "+columns+" FROM relationships WHERE user_low = ? AND user_high = ?", pair.Low, pair.High))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &got, nil
}

// List returns me's relationships selected by filter, newest first.
func (r *MySQLRepository) List(ctx context.Context, me string, filter domain.Filter) ([]domain.Relationship, error) {
	q, args := listQuery(me, filter)
	rows, err := r.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return mysqlx.Collect(rows, func(rs *sql.Rows) (domain.Relationship, error) { return scan(rs) })
}

// listQuery reads me's side of the pairs twice: the rows where me is user_low (relationships_by_low) and those
// where me is user_high (relationships_by_high), merged by the sort. Each half is an index lookup of one user.
func listQuery(me string, filter domain.Filter) (string, []any) {
	cond, condArgs := filterCondition(me, filter)
	q := "SELECT " + columns + " FROM relationships WHERE user_low = ?" + cond +
		" UNION ALL SELECT " + columns + " FROM relationships WHERE user_high = ?" + cond +
		" ORDER BY updated_at DESC, user_low, user_high"
	args := append([]any{me}, condArgs...)
	return q, append(args, args...)
}

// filterCondition is the SQL of filter as me sees it.
func filterCondition(me string, filter domain.Filter) (string, []any) {
	switch filter {
	case domain.FilterAccepted:
		return " AND status = 'accepted'", nil
	case domain.FilterIncoming:
		return " AND status = 'pending' AND requester_id <> ?", []any{me}
	case domain.FilterOutgoing:
		return " AND status = 'pending' AND requester_id = ?", []any{me}
	default:
		return "", nil
	}
}

// Block records that blocker blocks blocked (again: nothing changes) and, in the same transaction, lets change
// end whatever relationship the two had (under the pair's lock, as Change does).
func (r *MySQLRepository) Block(ctx context.Context, b domain.Block, change app.ChangeFunc) error {
	pair, err := domain.NewPair(b.BlockerID, b.BlockedID)
	if err != nil {
		return err
	}
	for range changeAttempts {
		err = mysqlx.InTxWith(ctx, r.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
			if _, err := tx.ExecContext(ctx, "INSERT IGNORE INTO blocks (blocker_id, blocked_id, created_at) VALUES (?, ?, ?)",
				b.BlockerID, b.BlockedID, b.Since); err != nil {
				return fmt.Errorf("block: %w", err)
			}
			return r.change(ctx, tx, pair, change)
		})
		if !errors.Is(err, errRaced) && !mysqlx.IsDeadlock(err) {
			return err
		}
	}
	return err
}

// Unblock forgets that blocker blocks blocked (nothing to forget is no error).
func (r *MySQLRepository) Unblock(ctx context.Context, blockerID, blockedID string) error {
	_, err := r.db.ExecContext(ctx, "DELETE FROM blocks WHERE blocker_id = ? AND blocked_id = ?", blockerID, blockedID)
	return err
}

// Blocks lists the users blocker blocks, the most recent block first.
func (r *MySQLRepository) Blocks(ctx context.Context, blockerID string) ([]domain.Block, error) {
	rows, err := r.db.QueryContext(ctx, "SELECT blocker_id, blocked_id, created_at FROM blocks WHERE blocker_id = ? ORDER BY created_at DESC, blocked_id", blockerID)
	if err != nil {
		return nil, err
	}
	return mysqlx.Collect(rows, func(rs *sql.Rows) (b domain.Block, err error) {
		err = rs.Scan(&b.BlockerID, &b.BlockedID, &b.Since)
		b.Since = b.Since.UTC()
		return b, err
	})
}

// Blocking tells whether a blocks b and whether b blocks a (two primary-key lookups).
func (r *MySQLRepository) Blocking(ctx context.Context, a, b string) (aBlocksB, bBlocksA bool, err error) {
	rows, err := r.db.QueryContext(ctx, "SELECT blocker_id FROM blocks WHERE (blocker_id = ? AND blocked_id = ?) OR (blocker_id = ? AND blocked_id = ?)", a, b, b, a)
	if err != nil {
		return false, false, err
	}
	blockers, err := mysqlx.Collect(rows, mysqlx.ScanString)
	for _, id := range blockers {
		aBlocksB = aBlocksB || id == a
		bBlocksA = bBlocksA || id == b
	}
	return aBlocksB, bBlocksA, err
}
