package adapters

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/mysqlx"

	"simplemessenger/services/friends/internal/app"
	"simplemessenger/services/friends/internal/domain"
)

// endedLeaseKept is how long an ended lease stays, keeping its seq against a late statement.
const endedLeaseKept = time.Hour

// State applies the statement l to the user's lease on its gateway, unless the lease holds a later one, and
// announces the user's presence when it changed.
func (r *MySQLRepository) State(ctx context.Context, l domain.Lease, now time.Time, announce app.AnnounceFunc) error {
	return r.presenceChange(ctx, l.UserID, now, announce, func(tx *sql.Tx) error {
		// Assignments run left to right and see the columns already assigned: seq goes last, so each IF compares
		// with the stored statement's seq.
		_, err := tx.ExecContext(ctx, `INSERT INTO presence_leases (user_id, gateway_id, seq, connected, seen_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?)
			ON DUPLICATE KEY UPDATE
				connected = IF(VALUES(seq) >= seq, VALUES(connected), connected),
				seen_at = GREATEST(seen_at, VALUES(seen_at)),
				expires_at = IF(VALUES(seq) >= seq, VALUES(expires_at), expires_at),
				seq = GREATEST(seq, VALUES(seq))`,
			l.UserID, l.GatewayID, l.Seq, l.Connected, l.At, l.Expires)
		return err
	})
}

// Renew extends the connected leases that gateway holds for users until expires, and returns the users it
// cannot simply renew: those it holds no connected lease for, and those not shown online (their lease had run out
// before it was stored, say after friends lagged): their statement must be applied with State, which announces
// them.
func (r *MySQLRepository) Renew(ctx context.Context, gatewayID string, users []string, at, expires time.Time) ([]string, error) {
	if len(users) == 0 {
		return nil, nil
	}
	in, ids := mysqlx.In(users)
	args := append([]any{expires, at, gatewayID}, ids...)
	if _, err := r.db.ExecContext(ctx, `UPDATE presence_leases SET expires_at = GREATEST(expires_at, ?), seen_at = GREATEST(seen_at, ?)
		WHERE gateway_id = ? AND connected AND user_id IN (`+in+`)`, args...); err != nil {
		return nil, err
	}
	rows, err := r.db.QueryContext(ctx, `SELECT l.user_id FROM presence_leases l JOIN presence p ON p.user_id = l.user_id AND p.online
		WHERE l.gateway_id = ? AND l.connected AND l.user_id IN (`+in+`)`, args[2:]...)
	if err != nil {
		return nil, err
	}
	held, err := mysqlx.Collect(rows, mysqlx.ScanString)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(held))
	for _, id := range held {
		have[id] = true
	}
	var missing []string
	for _, u := range users {
		if !have[u] {
			missing = append(missing, u)
		}
	}
	return missing, nil
}

// Expire ends up to limit users' connected leases that ran out by now (their gateway stopped renewing them),
// announcing each user that this takes offline, and forgets leases ended long ago. It returns how many users it
// looked at.
func (r *MySQLRepository) Expire(ctx context.Context, now time.Time, limit int, announce app.AnnounceFunc) (int, error) {
	rows, err := r.db.QueryContext(ctx, "SELECT DISTINCT user_id FROM presence_leases WHERE connected AND expires_at <= ? LIMIT ?", now, limit)
	if err != nil {
		return 0, err
	}
	users, err := mysqlx.Collect(rows, mysqlx.ScanString)
	if err != nil {
		return 0, err
	}
	for _, u := range users {
		if err := r.presenceChange(ctx, u, now, announce, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "UPDATE presence_leases SET connected = FALSE WHERE user_id = ? AND connected AND expires_at <= ?", u, now)
			return err
		}); err != nil {
			return 0, err
		}
	}
	if _, err := r.db.ExecContext(ctx, "DELETE FROM presence_leases WHERE NOT connected AND expires_at < ? LIMIT 1000", now.Add(-endedLeaseKept)); err != nil {
		return len(users), err
	}
	return len(users), nil
}

// Presence returns the presence of those of ids that have ever been seen, by id.
func (r *MySQLRepository) Presence(ctx context.Context, ids []string) (map[string]domain.Presence, error) {
	out := map[string]domain.Presence{}
	if len(ids) == 0 {
		return out, nil
	}
	in, args := mysqlx.In(ids)
	rows, err := r.db.QueryContext(ctx, "SELECT user_id, online, last_seen_at, version FROM presence WHERE user_id IN ("+in+")", args...)
	if err != nil {
		return nil, err
	}
	got, err := mysqlx.Collect(rows, func(rs *sql.Rows) (domain.Presence, error) { return scanPresence(rs) })
	for _, p := range got {
		out[p.UserID] = p
	}
	return out, err
}

func scanPresence(s scanner) (domain.Presence, error) {
	var p domain.Presence
	var seen sql.NullTime
	err := s.Scan(&p.UserID, &p.Online, &seen, &p.Version)
	if seen.Valid {
		p.LastSeen = seen.Time.UTC()
	}
	return p, err
}

// presenceChange runs change on the user's leases under their presence row's lock, then compares whether they
// are online now (a connected lease that has not run out) with what the row says. On a change it stores the new
// presence and enqueues the events announce makes for it, addressed to the user's friends who are online, in
// the same transaction. A deadlock victim runs again.
func (r *MySQLRepository) presenceChange(ctx context.Context, userID string, now time.Time, announce app.AnnounceFunc, change func(*sql.Tx) error) error {
	var err error
	for range changeAttempts {
		err = mysqlx.InTxWith(ctx, r.db, &sql.TxOptions{Isolation: sql.LevelReadCommitted}, func(tx *sql.Tx) error {
			// The row exists from then on; an existing one is locked exclusively at once (INSERT IGNORE would take a
			// shared lock first, and two changes of one user upgrading theirs would deadlock).
			if _, err := tx.ExecContext(ctx, "INSERT INTO presence (user_id) VALUES (?) ON DUPLICATE KEY UPDATE user_id = user_id", userID); err != nil {
				return err
			}
			before, err := scanPresence(tx.QueryRowContext(ctx, "SELECT user_id, online, last_seen_at, version FROM presence WHERE user_id = ? FOR UPDATE", userID))
			if err != nil {
				return err
			}
			if err := change(tx); err != nil {
				return err
			}
			var online bool
			var seen sql.NullTime
			if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(connected AND expires_at > ?), FALSE), MAX(seen_at)
				FROM presence_leases WHERE user_id = ?`, now, userID).Scan(&online, &seen); err != nil {
				return err
			}
			after := domain.Presence{UserID: userID, Online: online, LastSeen: before.LastSeen, Version: before.Version}
			if seen.Valid && seen.Time.After(after.LastSeen) {
				after.LastSeen = seen.Time.UTC()
			}
			if after.Online == before.Online {
				if !after.LastSeen.Equal(before.LastSeen) {
					_, err = tx.ExecContext(ctx, "UPDATE presence SET last_seen_at = ? WHERE user_id = ?", after.LastSeen, userID)
				}
				return err
			}
			after.Version++
			if _, err := tx.ExecContext(ctx, "UPDATE presence SET online = ?, last_seen_at = ?, version = ? WHERE user_id = ?", after.Online, after.LastSeen, after.Version, userID); err != nil {
				return err
			}
			audience, err := onlineFriends(ctx, tx, userID)
			if err != nil {
				return err
			}
			events, err := announce(after, audience)
			if err != nil {
				return err
			}
			return broker.Enqueue(ctx, tx, events...)
		})
		if !mysqlx.IsDeadlock(err) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("presence of %s: %w", userID, err)
	}
	return nil
}

// onlineFriends are the user's friends that friends last saw online. Their presence rows are read with a shared
// lock: a friend whose presence is changing at the same moment (their row locked by that change) is waited for,
// or the two changes deadlock and one runs again. So of two friends coming online together, the second to commit
// sees the first online and tells them, and the snapshot each socket gets at its entry (PresenceOf) cannot miss
// a change that committed before its user's own.
//
// Each side of the pair is one query that starts from the user's relationships (an index range) and joins their
// presence rows by primary key, so only the friends' rows are locked (a subquery in IN would scan, and lock, the
// whole table).
func onlineFriends(ctx context.Context, tx *sql.Tx, userID string) ([]string, error) {
	var out []string
	for _, q := range []string{
		`SELECT STRAIGHT_JOIN p.user_id FROM relationships r JOIN presence p ON p.user_id = r.user_high
			WHERE r.user_low = ? AND r.status = 'accepted' AND p.online LOCK IN SHARE MODE`,
		`SELECT STRAIGHT_JOIN p.user_id FROM relationships r JOIN presence p ON p.user_id = r.user_low
			WHERE r.user_high = ? AND r.status = 'accepted' AND p.online LOCK IN SHARE MODE`,
	} {
		rows, err := tx.QueryContext(ctx, q, userID)
		if err != nil {
			return nil, err
		}
		ids, err := mysqlx.Collect(rows, mysqlx.ScanString)
		if err != nil {
			return nil, err
		}
		out = append(out, ids...)
	}
	return out, nil
}
