package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
)

// Enqueue writes ev to the outbox in tx, with the trace context of ctx; the relay publishes it after commit,
// to the event's exchange with its routing key (a push to the push exchange), in the order of the outbox.
//
// Writing the event in the same transaction as the change that causes it is what makes the pair atomic:
// a rolled-back change leaves no event, a committed one always gets published (at least once). The trace
// context is stored with the row so that the publish, which happens later in the relay, continues the
// request's trace.
func Enqueue(ctx context.Context, tx *sql.Tx, ev Event) error {
	if tx == nil {
		return errors.New("broker: enqueue needs a transaction")
	}
	if err := ev.validate(); err != nil {
		return fmt.Errorf("broker: enqueue: %w", err)
	}
	payload, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("broker: enqueue: %w", err)
	}
	headers, err := json.Marshal(traceHeaders(ctx))
	if err != nil {
		return fmt.Errorf("broker: enqueue: %w", err)
	}
	_, err = tx.ExecContext(ctx,
		"INSERT INTO outbox (event_id, event_type, exchange, routing_key, payload, headers) VALUES (?, ?, ?, ?, ?, ?)",
		ev.ID, ev.Type, ev.exchange, ev.routingKey, payload, headers)
	if err != nil {
		return fmt.Errorf("broker: enqueue %s: %w", ev.Type, err)
	}
	return nil
}
