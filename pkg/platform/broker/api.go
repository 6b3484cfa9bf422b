// Package broker is the services' RabbitMQ layer: a self-healing connection, a confirming publisher, the
// transactional outbox and its relay, and idempotent consumers with an inbox.
//
// Delivery is at-least-once end to end: the outbox makes "the change committed" imply "the event will be
// published" (the relay retries until the broker confirms), and the inbox makes "delivered twice" imply
// "handled once" (the event id is recorded in the handler's own transaction). Order is kept per producer
// database (the relay publishes outbox rows one by one in seq order, under row locks) and per consumer
// (deliveries are handled one at a time).
//
// Topology, all named after Config.Exchange so that a test can isolate itself by choosing a unique name:
//
//	<Exchange>                 durable topic exchange of domain events (routing key = event type)
//	<Exchange>.push            durable topic exchange of pushes to users' sockets (routing key user.<id>, or
//	                           user.<id>.<id> for both participants of a chat), bound per connected user
//	                           (PushBindings) by each gateway's transient queue (see Binder)
//	<Exchange>.<Queue>         durable quorum queue of one consumer (dead-letters to <Exchange>.dlx)
//	<Exchange>.dlx             topic exchange receiving rejected and poison messages
//	<Exchange>.dead-letters    durable queue bound to <Exchange>.dlx with "#", kept for inspection
package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Config says where the broker is and how the topology is named.
type Config struct {
	URL string `env:"AMQP_URL"`
	// Username and Password, when set, replace the user and the password of URL (each on its own), so that the
	// URL can be a plain setting (amqp://host:5672/vhost) and the credentials come from a Secret, unescaped.
	Username string `env:"AMQP_USERNAME"`
	Password string `env:"AMQP_PASSWORD"`
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

// DialURL is URL with Username and Password in its userinfo (escaped), when they are set. Its error never
// holds the URL, which may carry a password.
func (c Config) DialURL() (string, error) {
	if c.Username == "" && c.Password == "" {
		return c.URL, nil
	}
	u, err := url.Parse(c.URL)
	if err != nil || u.Host == "" || (u.Scheme != "amqp" && u.Scheme != "amqps") {
		return "", errors.New("AMQP_URL is not an amqp:// or amqps:// URL with a host")
	}
	user, password := "", ""
	if u.User != nil {
		user = u.User.Username()
		password, _ = u.User.Password()
	}
	if c.Username != "" {
		user = c.Username
	}
	if c.Password != "" {
		password = c.Password
	}
	if user == "" {
		return "", errors.New("AMQP_PASSWORD is set without a user: set AMQP_USERNAME (or a user in AMQP_URL)")
	}
	u.User = url.UserPassword(user, password)
	return u.String(), nil
}

// DeadLetterExchange is the name of the exchange that rejected and poison messages are routed to.
func (c Config) DeadLetterExchange() string { return c.Exchange + ".dlx" }

// DeadLetterQueue is the name of the durable queue that keeps every dead-lettered message.
func (c Config) DeadLetterQueue() string { return c.Exchange + ".dead-letters" }

// QueueName is the name of the durable queue of the consumer called queue.
func (c Config) QueueName(queue string) string { return c.Exchange + "." + queue }

// PushExchange is the name of the durable topic exchange of pushes (frames for a user's sockets, routing key
// PushKey(userID)).
func (c Config) PushExchange() string { return c.Exchange + "." + pushSuffix }

// pushSuffix names the push exchange relative to Config.Exchange; the outbox stores it (not the full name), so
// that rows do not depend on the exchange name of the process that wrote them.
const pushSuffix = "push"

// PushKey is the routing key of the pushes to one user on the push exchange.
func PushKey(userID string) string { return "user." + userID }

// PairPushKey is the routing key of a push to two users at once (the two participants of a chat): the broker
// routes the one message to the queues of both users' sockets, and a queue that has both gets it once.
func PairPushKey(first, second string) string { return "user." + first + "." + second }

// PushBindings are the keys a queue binds to receive every push to userID: user.<id>.# matches the user's own
// pushes (PushKey: # matches zero words too) and pair pushes that name the user first; user.*.<id> those that
// name the user second. User ids hold no dots, so every id is one word of the key.
func PushBindings(userID string) []string {
	return []string{"user." + userID + ".#", "user.*." + userID}
}

// PushUsers returns the users a push's routing key addresses: one for PushKey, two for PairPushKey, none for a
// key that is neither.
func PushUsers(key string) []string {
	rest, ok := strings.CutPrefix(key, "user.")
	if !ok || rest == "" {
		return nil
	}
	first, second, pair := strings.Cut(rest, ".")
	switch {
	case !pair:
		return []string{first}
	case first == "" || second == "" || strings.Contains(second, "."):
		return nil
	case first == second:
		return []string{first}
	}
	return []string{first, second}
}

// Event is the envelope of every event. A domain event (NewEvent) goes to the domain exchange with its Type
// as the routing key ("profiles.user.registered"); a push (NewPush) goes to the push exchange with the
// routing key of its user. The route is not part of the JSON envelope.
type Event struct {
	ID     string          `json:"id"`
	Type   string          `json:"type"`
	Time   time.Time       `json:"time"`
	Source string          `json:"source"`
	Data   json.RawMessage `json:"data"`
	// ConnectionID, set on a push, addresses one socket of the user instead of all of them (the replies to
	// gateway.user.entered).
	ConnectionID string `json:"connection_id,omitempty"`

	// exchange is "" for the domain exchange, else the suffix of the exchange's name after Config.Exchange+"."
	// (pushSuffix); routingKey is "" for Type.
	exchange   string
	routingKey string
}

// NewEvent makes an event with a fresh id and the current time.
func NewEvent(source, typ string, data any) (Event, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return Event{}, err
	}
	return Event{ID: uuid.NewString(), Type: typ, Time: time.Now().UTC(), Source: source, Data: raw}, nil
}

// NewPush makes a push: one frame {"type": frameType, "data": data} for every socket of the user userID,
// routed to the push exchange with key PushKey(userID). Set ConnectionID on it to address one socket only.
// Enqueue it like any event (or Publish it directly when there is nothing to roll back).
func NewPush(source, userID, frameType string, data any) (Event, error) {
	if userID == "" {
		return Event{}, errors.New("broker: push without a user id")
	}
	return newPush(source, PushKey(userID), frameType, data)
}

// NewPairPush makes one push of the same frame to every socket of two users (PairPushKey): what both
// participants of a chat are told, as one message through the outbox and the broker instead of two.
func NewPairPush(source, first, second, frameType string, data any) (Event, error) {
	if first == "" || second == "" {
		return Event{}, errors.New("broker: pair push without two user ids")
	}
	return newPush(source, PairPushKey(first, second), frameType, data)
}

// newPush is an event routed to the push exchange with key.
func newPush(source, key, frameType string, data any) (Event, error) {
	ev, err := NewEvent(source, frameType, data)
	if err != nil {
		return Event{}, err
	}
	ev.exchange, ev.routingKey = pushSuffix, key
	return ev, nil
}

// IsPush reports whether the event is routed to the push exchange.
func (e Event) IsPush() bool { return e.exchange == pushSuffix }

// RoutingKey is the key the event is published with: its Type for a domain event, PushKey(user) for a push.
func (e Event) RoutingKey() string {
	if e.routingKey != "" {
		return e.routingKey
	}
	return e.Type
}

// exchangeName is the full name of the exchange the event goes to under cfg.
func (e Event) exchangeName(cfg Config) string { return exchangeName(cfg, e.exchange) }

// exchangeName resolves a stored exchange suffix ("" = the domain exchange).
func exchangeName(cfg Config, suffix string) string {
	if suffix == "" {
		return cfg.Exchange
	}
	return cfg.Exchange + "." + suffix
}

// Decode unmarshals the event's data into v.
func (e Event) Decode(v any) error { return json.Unmarshal(e.Data, v) }

// validate rejects envelopes that cannot be routed or deduplicated; the outbox and inbox key on the id
// (CHAR(36)), and the routing key (the type, or user.<id> for a push) must fit AMQP's limit.
func (e Event) validate() error {
	switch {
	case e.ID == "":
		return errors.New("event without id")
	case len(e.ID) > 36:
		return fmt.Errorf("event id %q longer than 36 characters", e.ID)
	case e.Type == "":
		return errors.New("event without type")
	case len(e.RoutingKey()) > 255:
		// AMQP short string; the broker would close the channel instead of answering.
		return fmt.Errorf("routing key of %d bytes (at most 255)", len(e.RoutingKey()))
	}
	return nil
}

var (
	// ErrNotConnected is returned by Publish (and Ready) while the connection is down; the outbox relay
	// keeps its rows and retries after the reconnect.
	ErrNotConnected = errors.New("broker: not connected")
	// ErrClosed is returned once Close has been called.
	ErrClosed = errors.New("broker: connection closed")
	// ErrNacked is returned by Publish when the broker refused the message (basic.nack).
	ErrNacked = errors.New("broker: message nacked")
	// ErrUnroutable is returned by Publish when no queue is bound for the routing key (the mandatory message
	// came back as basic.return). The relay treats it as sent: nobody subscribes to that event (yet), and
	// waiting would block every later event of the outbox.
	ErrUnroutable = errors.New("broker: message unroutable")
	// ErrPermanent is what errors.Is finds in an error made by Permanent.
	ErrPermanent = errors.New("permanent failure")
)

// Handler handles one event. With an inbox (Subscription.DB set) it runs inside tx, which also records the
// event id, so a redelivery is acknowledged without a second call. Without one, tx is nil.
type Handler func(ctx context.Context, tx *sql.Tx, ev Event) error

// Permanent marks a handler error as one that a retry cannot fix: the event goes to the dead-letter exchange
// at once instead of being retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// permanentError keeps the handler's error reachable (errors.Is/As find both it and ErrPermanent).
type permanentError struct{ err error }

func (p permanentError) Error() string { return "permanent: " + p.err.Error() }
func (p permanentError) Unwrap() []error {
	return []error{p.err, ErrPermanent}
}

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
	// Transient makes a per-process exclusive auto-delete queue (gateways: cache invalidation, revocations,
	// pushes).
	Transient bool
	// Exchange is the exchange Keys (and Binder's keys) are bound on: "" is the domain exchange
	// (Config.Exchange); the gateway's push queue uses Config.PushExchange(). It must exist (both are declared
	// by every Conn).
	Exchange string
	// Binder, for a Transient subscription only, binds and unbinds routing keys while the subscription runs
	// (the gateway binds PushKey(user) for each user connected to it). Keys may then be empty.
	Binder *Binder
	// OnReady runs each time the queue has been (re)declared and consuming started: resynchronise there
	// whatever a transient queue may have missed while disconnected.
	OnReady func(ctx context.Context)
}
