package brokertest

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
)

// Consume runs sub on conn until the test ends and returns once the subscription consumes (its OnReady has
// run; sub's own OnReady, if any, runs first), so that what the test publishes next reaches it. It fails the
// test when the consumer stops or is not ready within 10 seconds.
func Consume(t testing.TB, conn *broker.Conn, sub broker.Subscription) {
	t.Helper()
	ready := make(chan struct{})
	var once sync.Once
	onReady := sub.OnReady
	sub.OnReady = func(ctx context.Context) {
		if onReady != nil {
			onReady(ctx)
		}
		once.Do(func() { close(ready) })
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	var err error
	go func() {
		defer close(stopped)
		err = conn.Consume(ctx, sub)
	}()
	t.Cleanup(func() { cancel(); <-stopped })
	select {
	case <-ready:
	case <-stopped:
		t.Fatalf("consumer %s stopped before it was ready: %v", sub.Queue, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("consumer %s not ready within 10 s", sub.Queue)
	}
}

// PublishUntilRouted publishes ev on conn, again while it comes back unroutable or conn is not connected yet,
// for up to 10 seconds: a service declares and binds its queue only once its consumer runs, so a test that
// plays another service (the gateway announcing an entry) publishes until the service under test listens.
func PublishUntilRouted(t testing.TB, conn *broker.Conn, ev broker.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		err := conn.Publish(ctx, ev)
		if err == nil {
			return
		}
		if !errors.Is(err, broker.ErrUnroutable) && !errors.Is(err, broker.ErrNotConnected) || ctx.Err() != nil {
			t.Fatalf("publish %s: %v", ev.Type, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Enter plays the gateway when a user's socket connectionID opens: it publishes the user-entered event (of a
// fresh session), until the service under test has bound its queue, as PublishUntilRouted does. The services
// that greet a user answer it with pushes to that connection.
func Enter(t testing.TB, conn *broker.Conn, userID, connectionID string) {
	t.Helper()
	entered := events.UserEnteredData{UserID: userID, SessionID: uuid.NewString(), ConnectionID: connectionID}
	ev, err := events.NewUserEntered("gateway", entered)
	if err != nil {
		t.Fatal(err)
	}
	PublishUntilRouted(t, conn, ev)
}

// Outboxed is one row of a service's outbox (written by broker.Enqueue).
type Outboxed struct {
	// Event is the envelope as the relay publishes it.
	Event broker.Event
	// Exchange and RoutingKey are where the row goes, as stored: both "" for a domain event (the domain
	// exchange, the type as the key), "push" and broker.PushKey(user) for a push.
	Exchange, RoutingKey string
}

// Outbox returns the rows of the outbox in db, published or not, in the order the relay publishes them.
func Outbox(t testing.TB, db *sql.DB) []Outboxed {
	t.Helper()
	rows, err := db.Query("SELECT exchange, routing_key, payload FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []Outboxed
	for rows.Next() {
		var o Outboxed
		var payload []byte
		if err := rows.Scan(&o.Exchange, &o.RoutingKey, &payload); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(payload, &o.Event); err != nil {
			t.Fatalf("undecodable outbox payload %q: %v", payload, err)
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
