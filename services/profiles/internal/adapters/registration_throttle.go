package adapters

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/throttle"
)

// errThrottled rolls the admission transaction back (so a refusal leaves no trace).
var errThrottled = errors.New("throttled")

// AdmitRegistration locks the key's row first (creating it if needed), so concurrent attempts of one address on
// any replica queue behind each other: each then counts the attempts committed before it, and the limit cannot
// be overrun by requests that all counted before any of them recorded. READ COMMITTED: the count after the lock
// sees what the previous holder committed, and the insert of a new key takes no gap locks (which would block
// other addresses and deadlock two first attempts of one address).
func (r *MySQLRepository) AdmitRegistration(ctx context.Context, key throttle.Key, rule throttle.Rule, now time.Time) (bool, time.Duration, error) {
	at := now.UTC().Truncate(time.Microsecond)
	var wait time.Duration
	err := mysqlx.InTxWith(ctx, r.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO registration_addresses (throttle_key, last_attempt_at) VALUES (?, ?)
			ON DUPLICATE KEY UPDATE last_attempt_at = GREATEST(last_attempt_at, VALUES(last_attempt_at))`, key[:], at); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT attempted_at FROM registration_attempts
			WHERE throttle_key = ? AND attempted_at > ? ORDER BY attempted_at DESC LIMIT ?`, key[:], rule.Since(at), rule.Limit)
		if err != nil {
			return err
		}
		recent, err := mysqlx.Collect(rows, func(r *sql.Rows) (t time.Time, err error) { return t, r.Scan(&t) })
		if err != nil {
			return err
		}
		var throttled bool
		if throttled, wait = rule.Check(recent, at); throttled {
			return errThrottled
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO registration_attempts (throttle_key, attempted_at) VALUES (?, ?)`, key[:], at)
		return err
	})
	if errors.Is(err, errThrottled) {
		return true, wait, nil
	}
	return false, 0, err
}

// purgeBatch bounds each DELETE, so a purge never holds many locks for long.
const purgeBatch = 5000

// PurgeRegistrationAttempts deletes attempts that left every window, and addresses with none left, in batches.
func (r *MySQLRepository) PurgeRegistrationAttempts(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for _, q := range []string{
		`DELETE FROM registration_attempts WHERE attempted_at < ? LIMIT ?`,
		`DELETE FROM registration_addresses WHERE last_attempt_at < ? LIMIT ?`,
	} {
		for {
			res, err := r.db.ExecContext(ctx, q, before.UTC(), purgeBatch)
			if err != nil {
				return total, err
			}
			n, _ := res.RowsAffected()
			total += n
			if n < purgeBatch {
				break
			}
		}
	}
	return total, nil
}
