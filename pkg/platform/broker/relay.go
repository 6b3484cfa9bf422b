package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"simplemessenger/platform/metrics"
	"simplemessenger/platform/mysqlx"
)

const (
	// relayInterval is how often the relay looks for rows nobody told it about (other replicas' commits,
	// rows left after a failure); Notify makes the common case immediate.
	relayInterval = 300 * time.Millisecond
	// relayBatch rows are locked, published and marked per transaction.
	relayBatch = 100
	// relayPublishTimeout bounds the wait for one confirm, so a stalled broker cannot hold the rows' locks
	// for long.
	relayPublishTimeout = 10 * time.Second
	// relayLockWait is how long a relay waits for another replica's batch before leaving the rows to it.
	relayLockWait = 2 * time.Second
	// relayFinalFlush bounds the last flush at shutdown (within the pod's termination grace period).
	relayFinalFlush = 5 * time.Second
	// relayGaugeInterval is how often the backlog gauges are refreshed.
	relayGaugeInterval = 2 * time.Second
	// Published rows are kept outboxRetention for inspection, then purged every purgeInterval.
	outboxRetention = 24 * time.Hour
	purgeInterval   = 10 * time.Minute
	purgeBatch      = 5000
	// relayErrorLogInterval keeps a broker outage from logging a line every poll.
	relayErrorLogInterval = 30 * time.Second
)

// Relay publishes outbox rows in order and marks them sent.
type Relay struct {
	db   *sql.DB
	conn *Conn
	log  *slog.Logger
	met  *brokerMetrics
	wake chan struct{}

	mu sync.Mutex // one flush at a time in this process (Run and Flush)

	lastPurge, lastGauge time.Time
	failing              bool
	lastErrLog           time.Time
}

// NewRelay makes the relay of db's outbox.
func NewRelay(db *sql.DB, conn *Conn, log *slog.Logger, m *metrics.Metrics) *Relay {
	if log == nil {
		log = slog.Default()
	}
	return &Relay{db: db, conn: conn, log: log.With("component", "outbox-relay"), met: newMetrics(m), wake: make(chan struct{}, 1)}
}

// Notify wakes the relay at once (call after committing a transaction that enqueued events).
func (r *Relay) Notify() {
	select {
	case r.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this commit's rows too
	}
}

// Run relays until ctx ends, then makes a last bounded flush.
func (r *Relay) Run(ctx context.Context) error {
	t := time.NewTicker(relayInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), relayFinalFlush)
			err := r.Flush(fctx)
			cancel()
			if err != nil {
				r.log.Warn("outbox: events left pending at shutdown; the next start (or another replica) publishes them", "error", err)
			}
			return ctx.Err()
		case <-t.C:
		case <-r.wake:
		}
		r.report(ctx, r.Flush(ctx))
		r.maintain(ctx)
	}
}

// report logs relay failures once when they start, then at most every relayErrorLogInterval, and once
// when they stop.
func (r *Relay) report(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	now := time.Now()
	switch {
	case err == nil && r.failing:
		r.failing = false
		r.log.Info("outbox: relaying again")
	case err != nil && (!r.failing || now.Sub(r.lastErrLog) >= relayErrorLogInterval):
		r.failing = true
		r.lastErrLog = now
		r.log.Warn("outbox: relay failed; rows stay pending and are retried", "error", err)
	}
}

// Flush publishes every pending row now, in seq order, and returns the first error (the rows from the failed
// one on stay pending). Several replicas may flush the same outbox: a batch holds the outbox's advisory lock
// until its rows are marked, so a second relay waits for it, sees its marks, and never publishes a later row first.
func (r *Relay) Flush(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.conn.Ready(ctx); err != nil {
		// No point in locking rows we cannot publish.
		return err
	}
	for {
		n, err := r.flushBatch(ctx)
		if err != nil {
			r.met.outboxFailures.Inc()
			return err
		}
		if n < relayBatch {
			return nil
		}
	}
}

type outboxRow struct {
	seq       uint64
	id, typ   string
	exchange  string // "" = the domain exchange, else the suffix after Config.Exchange+"."
	key       string // "" = typ
	payload   []byte
	headers   []byte
	eventTime time.Time
}

// relayLock names the advisory lock that lets one relay at a time work on a database's outbox.
const relayLock = "CONCAT('outbox_relay:', DATABASE())"

// flushBatch publishes up to relayBatch pending rows and marks them published, and reports how many it took.
//
// Replicas take turns: a batch runs under a MySQL advisory lock per outbox (a relay that finds it taken waits
// up to relayLockWait, then leaves the rows to the holder), so no two relays read, publish and mark at once, and
// rows go out in seq order. The lock is all the exclusion needed: the batch reads the pending rows without
// locking them and marks what it published in one autocommit UPDATE before it lets the lock go, so the next
// holder sees the marks: four round trips per batch (lock, read, mark, unlock), where a transaction with row
// locks took seven. (Row locks alone let two relays deadlock on the outbox index; a deadlock after publishing
// rolled the marks back and sent the batch twice.) A row whose transaction is not committed yet is not seen,
// and goes out with a later batch: it was concurrent with the rows published first, so neither order is wrong.
func (r *Relay) flushBatch(ctx context.Context) (int, error) {
	c, err := r.db.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	var got sql.NullInt64
	if err := c.QueryRowContext(ctx, "SELECT GET_LOCK("+relayLock+", ?)", relayLockWait.Seconds()).Scan(&got); err != nil {
		return 0, err
	}
	if got.Int64 != 1 {
		return 0, nil // another replica is relaying this outbox right now
	}
	defer func() {
		_, _ = c.ExecContext(context.WithoutCancel(ctx), "DO RELEASE_LOCK("+relayLock+")")
	}()
	rows, err := r.pending(ctx, c)
	if err != nil || len(rows) == 0 {
		return 0, err
	}
	// The whole batch goes out on one channel without waiting between messages (the broker keeps their order),
	// then the confirms are awaited together: one round trip per batch instead of one per row.
	envs := make([]envelope, len(rows))
	for i, row := range rows {
		envs[i] = r.envelopeOf(ctx, row)
	}
	pctx, cancel := context.WithTimeout(ctx, relayPublishTimeout)
	n, pubErr := r.conn.publishBatch(pctx, envs)
	cancel()
	if pubErr != nil {
		row := rows[n]
		pubErr = fmt.Errorf("publish outbox row %d (%s %s): %w", row.seq, row.typ, row.id, pubErr)
	}
	if n > 0 {
		seqs := make([]uint64, n)
		for i := range n {
			seqs[i] = rows[i].seq
		}
		// Mark exactly the rows published, never a seq range: a transaction that took a lower seq may
		// commit after our SELECT, and its row must stay pending. When the marks do not stick, the rows are
		// published again, which the consumers' inbox absorbs.
		in, sent := mysqlx.In(seqs)
		if _, err := c.ExecContext(ctx, "UPDATE outbox SET published_at = NOW(6) WHERE seq IN ("+in+")", sent...); err != nil {
			return 0, errors.Join(pubErr, err)
		}
		r.met.outboxRelayed.Add(float64(len(sent)))
	}
	return len(rows), pubErr
}

// pending reads up to relayBatch rows not yet published, in seq order.
func (r *Relay) pending(ctx context.Context, c *sql.Conn) ([]outboxRow, error) {
	rs, err := c.QueryContext(ctx,
		"SELECT seq, event_id, event_type, exchange, routing_key, payload, headers, created_at FROM outbox"+
			" WHERE published_at IS NULL ORDER BY seq LIMIT ?", relayBatch)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []outboxRow
	for rs.Next() {
		var row outboxRow
		if err := rs.Scan(&row.seq, &row.id, &row.typ, &row.exchange, &row.key, &row.payload, &row.headers, &row.eventTime); err != nil {
			return nil, err
		}
		out = append(out, row)
	}
	return out, rs.Err()
}

// envelopeOf is the stored envelope of row as it goes out, under the trace context captured at Enqueue. A
// message nobody is bound to is settled by the broker as returned: nobody subscribes to the type (yet), or no
// socket of the push's user is open; holding the row back would hold back every later event.
func (r *Relay) envelopeOf(ctx context.Context, row outboxRow) envelope {
	var headers map[string]string
	if err := json.Unmarshal(row.headers, &headers); err != nil {
		// Only the trace link is lost; the event itself must still go out.
		r.log.WarnContext(ctx, "outbox: unreadable trace headers", "seq", row.seq, "error", err)
	}
	ts := row.eventTime
	var ev Event
	if err := json.Unmarshal(row.payload, &ev); err == nil && !ev.Time.IsZero() {
		ts = ev.Time
	}
	key := row.key
	if key == "" {
		key = row.typ
	}
	return envelope{ctx: withTraceHeaders(ctx, headers), exchange: exchangeName(r.conn.cfg, row.exchange), key: key,
		id: row.id, typ: row.typ, ts: ts, body: row.payload}
}

// maintain refreshes the backlog gauges and now and then purges old published rows.
func (r *Relay) maintain(ctx context.Context) {
	now := time.Now()
	if now.Sub(r.lastGauge) >= relayGaugeInterval {
		r.lastGauge = now
		if err := r.refreshGauges(ctx); err != nil && ctx.Err() == nil {
			r.log.Debug("outbox: backlog query failed", "error", err)
		}
	}
	if now.Sub(r.lastPurge) >= purgeInterval {
		r.lastPurge = now
		if n, err := r.Purge(ctx, outboxRetention); err != nil && ctx.Err() == nil {
			r.log.Warn("outbox: purge failed", "error", err)
		} else if n > 0 {
			r.log.Debug("outbox: purged published rows", "rows", n)
		}
	}
}

func (r *Relay) refreshGauges(ctx context.Context) error {
	var n int64
	var ageMicros sql.NullInt64
	err := r.db.QueryRowContext(ctx,
		"SELECT COUNT(*), TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(6)) FROM outbox WHERE published_at IS NULL").
		Scan(&n, &ageMicros)
	if err != nil {
		return err
	}
	r.met.outboxBacklog.Set(float64(n))
	r.met.outboxOldest.Set(max(float64(ageMicros.Int64)/1e6, 0))
	return nil
}

// Purge deletes rows published more than olderThan ago, in batches, and returns how many it deleted. Run
// calls it every few minutes with a 24 h retention.
func (r *Relay) Purge(ctx context.Context, olderThan time.Duration) (int64, error) {
	var total int64
	for {
		res, err := r.db.ExecContext(ctx,
			"DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < NOW(6) - INTERVAL ? MICROSECOND"+
				" ORDER BY published_at LIMIT ?", olderThan.Microseconds(), purgeBatch)
		if err != nil {
			return total, err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return total, err
		}
		total += n
		if n < purgeBatch {
			return total, nil
		}
	}
}
