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
	if tx == nil {
		return errors.New("broker: enqueue needs a transaction")
	}
	if len(evs) == 0 {
		return nil
	}
	headers, err := json.Marshal(traceHeaders(ctx))
	if err != nil {
		return fmt.Errorf("broker: enqueue: %w", err)
	}
	// One statement for all of them: the rows get consecutive seqs in this order, and the transaction pays
	// one round trip, not one per event.
	args := make([]any, 0, 6*len(evs))
	for _, ev := range evs {
		if err := ev.validate(); err != nil {
			return fmt.Errorf("broker: enqueue: %w", err)
		}
		payload, err := json.Marshal(ev)
		if err != nil {
			return fmt.Errorf("broker: enqueue: %w", err)
		}
		args = append(args, ev.ID, ev.Type, ev.exchange, ev.routingKey, payload, headers)
	}
	q := "INSERT INTO outbox (event_id, event_type, exchange, routing_key, payload, headers) VALUES (?, ?, ?, ?, ?, ?)" +
		strings.Repeat(", (?, ?, ?, ?, ?, ?)", len(evs)-1)
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("broker: enqueue %s: %w", evs[0].Type, err)
	}
	return nil
}
