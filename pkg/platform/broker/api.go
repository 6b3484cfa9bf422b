// Package broker is the services' RabbitMQ layer: a self-healing connection, a confirming publisher, the
// transactional outbox and its relay, and idempotent consumers with an inbox.
//
// API STUB — the bodies below are being implemented; the exported names and signatures are fixed.
package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/metrics"
)

// Config says where the broker is and how the topology is named.
type Config struct {
	URL string `env:"AMQP_URL"`
	// Exchange is the durable topic exchange of domain events; queues and the dead-letter exchange are named
	// after it, so tests isolate themselves by choosing a unique one.
	Exchange string `env:"AMQP_EXCHANGE"`
	// Prefetch bounds unacknowledged deliveries per consumer.
	Prefetch int `env:"AMQP_PREFETCH"`
}

// DefaultConfig is the local broker with the messenger's exchange.
func DefaultConfig() Config {
	return Config{URL: "amqp://guest:guest@127.0.0.1:5672/", Exchange: "messenger.events", Prefetch: 32}
}

// Event is the envelope of every domain event. Type is also the routing key ("profiles.user.registered").
type Event struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Source string          `json:"source"`
	Data   json.RawMessage `json:"data"`
}

// NewEvent makes an event with a fresh id and the current time.
func NewEvent(source, typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: uuid.NewString(), Type: typ, Time: time.Now().UTC(), Source: source, Data: raw}, nil
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// Conn is a connection that reconnects by itself and re-declares the topology and consumers.
type Conn struct{}

// Dial starts connecting in the background and returns at once; Ready tells when it is up.
func Dial(cfg Config, log *slog.Logger, m *metrics.Metrics) *Conn { return &Conn{} }

// Ready returns nil while connected (the /readyz check).
func (c *Conn) Ready(ctx context.Context) error { return errors.New("not implemented") }

// Close stops reconnecting and closes the connection.
func (c *Conn) Close() error { return nil }

// Publish sends ev with publisher confirms and the mandatory flag, carrying the trace context of ctx in
// the message headers. It returns an error when not connected, nacked, or returned unroutable.
func (c *Conn) Publish(ctx context.Context, ev Event) error { return errors.New("not implemented") }

// Enqueue writes ev to the outbox in tx, with the trace context of ctx; the relay publishes it after commit.
func Enqueue(ctx context.Context, tx *sql.Tx, ev Event) error { return errors.New("not implemented") }

// Relay publishes outbox rows in order and marks them sent.
type Relay struct{}

// NewRelay makes the relay of db's outbox.
func NewRelay(db *sql.DB, conn *Conn, log *slog.Logger, m *metrics.Metrics) *Relay { return &Relay{} }

// Notify wakes the relay at once (call after committing a transaction that enqueued events).
func (r *Relay) Notify() {}

// Run relays until ctx ends, then makes a last bounded flush.
func (r *Relay) Run(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }

// Handler handles one event. With an inbox (Subscription.DB set) it runs inside tx, which also records the
// event id, so a redelivery is acknowledged without a second call. Without one, tx is nil.
type Handler func(ctx context.Context, tx *sql.Tx, ev Event) error

// Permanent marks a handler error as one that a retry cannot fix: the event goes to the dead-letter exchange
// at once instead of being retried.
func Permanent(err error) error { return err }

// Subscription describes one consumer.
type Subscription struct {
	// Queue is the consumer's name; the queue is "<exchange>.<Queue>".
	Queue string
	// Keys are the routing keys (topic patterns) bound to the queue.
	Keys []string
	// DB holds the inbox; required unless Transient.
	DB *sql.DB
	// Handle is called for each event.
	Handle Handler
	// Transient makes a per-process exclusive auto-delete queue (gateways: cache invalidation, revocations).
	Transient bool
	// OnReady runs each time the queue has been (re)declared and consuming started: resynchronise there
	// whatever a transient queue may have missed while disconnected.
	OnReady func(ctx context.Context)
}

// Consume runs the subscription until ctx ends, across reconnects.
func (c *Conn) Consume(ctx context.Context, s Subscription) error { <-ctx.Done(); return ctx.Err() }
