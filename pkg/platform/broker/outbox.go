package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Enqueue writes evs to the outbox in tx (in that order), with the trace context of ctx; the relay publishes them after commit,
// each to its exchange with its routing key (a push to the push exchange), in the order of the outbox.
//
// Writing the event in the same transaction as the change that causes it is what makes the pair atomic:
// a rolled-back change leaves no event, a committed one always gets published (at least once). The trace
// context is stored with the row so that the publish, which happens later in the relay, continues the
// request's trace.
func Enqueue(ctx context.Context, tx *sql.Tx, evs ...Event) error {
	return EnqueueTraced(ctx, tx, Traced{Ctx: ctx, Events: evs})
}

// Traced is events enqueued on behalf of one request, whose trace context (that of Ctx) they carry to the
// publish and beyond.
type Traced struct {
	Ctx    context.Context
	Events []Event
}

// EnqueueTraced is Enqueue for a transaction that serves several requests (a group commit): the events of
// every group, in order, in one statement, each row with its own group's trace context. ctx is the
// transaction's.
func EnqueueTraced(ctx context.Context, tx *sql.Tx, groups ...Traced) error {
	if tx == nil {
		return errors.New("broker: enqueue needs a transaction")
	}
	n := 0
	for _, g := range groups {
		n += len(g.Events)
	}
	if n == 0 {
		return nil
	}
	// One statement for all of them: the rows get consecutive seqs in this order, and the transaction pays
	// one round trip, not one per event.
	args := make([]any, 0, 6*n)
	var first string
	for _, g := range groups {
		if len(g.Events) == 0 {
			continue
		}
		headers, err := json.Marshal(traceHeaders(g.Ctx))
		if err != nil {
			return fmt.Errorf("broker: enqueue: %w", err)
		}
		for _, ev := range g.Events {
			if err := ev.validate(); err != nil {
				return fmt.Errorf("broker: enqueue: %w", err)
			}
			payload, err := json.Marshal(ev)
			if err != nil {
				return fmt.Errorf("broker: enqueue: %w", err)
			}
			if first == "" {
				first = ev.Type
			}
			args = append(args, ev.ID, ev.Type, ev.exchange, ev.routingKey, payload, headers)
		}
	}
	q := "INSERT INTO outbox (event_id, event_type, exchange, routing_key, payload, headers) VALUES (?, ?, ?, ?, ?, ?)" +
		strings.Repeat(", (?, ?, ?, ?, ?, ?)", n-1)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("broker: enqueue %s: %w", first, err)
	}
	return nil
}
