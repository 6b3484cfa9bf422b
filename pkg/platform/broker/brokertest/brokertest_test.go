package brokertest_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/mysqlx/mysqltest"
)

func TestConfigIsUniquePerCall(t *testing.T) {
	a, b := brokertest.Config(t), brokertest.Config(t)
	if a.Exchange == b.Exchange || !strings.HasPrefix(a.Exchange, "test.testconfigisuniquepercall.") {
		t.Fatalf("exchanges %q and %q", a.Exchange, b.Exchange)
	}
}

// What a test declared is gone once it has ended, so the next run starts from a clean broker.
func TestCleanupDeletesTheTopology(t *testing.T) {
	var cfg broker.Config
	t.Run("test using the broker", func(t *testing.T) {
		cfg = brokertest.Config(t)
		db, _ := mysqltest.New(t, nil)
		conn := broker.Dial(cfg, nil, nil)
		t.Cleanup(func() { _ = conn.Close() })
		ctx, cancel := context.WithCancel(context.Background())
		ready := make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- conn.Consume(ctx, broker.Subscription{Queue: "cleanup", Keys: []string{"#"}, DB: db,
				OnReady: func(context.Context) { close(ready) },
				Handle:  func(context.Context, *sql.Tx, broker.Event) error { return nil }})
		}()
		t.Cleanup(func() { cancel(); <-done })
		select {
		case <-ready:
		case err := <-done:
			t.Fatal(err)
		case <-time.After(10 * time.Second):
			t.Fatal("consumer not ready")
		}
	})

	c, err := amqp.Dial(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, q := range []string{cfg.QueueName("cleanup"), cfg.DeadLetterQueue()} {
		if exists(t, c, func(ch *amqp.Channel) error {
			_, err := ch.QueueDeclarePassive(q, true, false, false, false, nil)
			return err
		}) {
			t.Errorf("queue %s left behind", q)
		}
	}
	for _, x := range []string{cfg.Exchange, cfg.PushExchange(), cfg.DeadLetterExchange()} {
		if exists(t, c, func(ch *amqp.Channel) error {
			return ch.ExchangeDeclarePassive(x, amqp.ExchangeTopic, true, false, false, false, nil)
		}) {
			t.Errorf("exchange %s left behind", x)
		}
	}
}

// exists runs a passive declaration on a channel of its own (a 404 closes the channel) and tells whether
// the entity is there.
func exists(t *testing.T, c *amqp.Connection, declarePassive func(*amqp.Channel) error) bool {
	t.Helper()
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Close()
	err = declarePassive(ch)
	var ae *amqp.Error
	if errors.As(err, &ae) && ae.Code == amqp.NotFound {
		return false
	}
	if err != nil {
		t.Fatal(err)
	}
	return true
}

func TestConsumeReturnsOnceTheQueueIsBound(t *testing.T) {
	cfg := brokertest.Config(t)
	conn := broker.Dial(cfg, nil, nil)
	t.Cleanup(func() { _ = conn.Close() })
	got := make(chan broker.Event, 1)
	brokertest.Consume(t, conn, broker.Subscription{Queue: "bound", Keys: []string{"test.bound"}, Transient: true,
		Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error { got <- ev; return nil }})

	// One publish, no retry: the queue is there already.
	ev, err := broker.NewEvent("test", "test.bound", nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	receive(t, got, ev)
}

func TestPublishUntilRoutedWaitsForALateConsumer(t *testing.T) {
	cfg := brokertest.Config(t)
	conn := broker.Dial(cfg, nil, nil)
	t.Cleanup(func() { _ = conn.Close() })
	got := make(chan broker.Event, 1)
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		time.Sleep(300 * time.Millisecond) // the event is unroutable until then
		_ = conn.Consume(ctx, broker.Subscription{Queue: "late", Keys: []string{"test.late"}, Transient: true,
			Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error { got <- ev; return nil }})
	}()
	t.Cleanup(func() { cancel(); <-stopped })

	ev, err := broker.NewEvent("test", "test.late", nil)
	if err != nil {
		t.Fatal(err)
	}
	brokertest.PublishUntilRouted(t, conn, ev)
	receive(t, got, ev)
}

// receive waits for the consumer to get want.
func receive(t *testing.T, got <-chan broker.Event, want broker.Event) {
	t.Helper()
	select {
	case e := <-got:
		if e.ID != want.ID {
			t.Errorf("got %+v, want %s", e, want.ID)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("nothing consumed")
	}
}

func TestOutboxListsTheRowsInRelayOrder(t *testing.T) {
	db, _ := mysqltest.New(t, nil)
	domainEvent, err := broker.NewEvent("test", "test.happened", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	push, err := broker.NewPush("test", "u1", "thing.new", map[string]int{"n": 2})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range []broker.Event{domainEvent, push} {
		if err := broker.Enqueue(context.Background(), tx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	ob := brokertest.Outbox(t, db)
	if len(ob) != 2 {
		t.Fatalf("%d rows", len(ob))
	}
	if o := ob[0]; o.Event.ID != domainEvent.ID || o.Event.Type != "test.happened" || string(o.Event.Data) != `{"n":1}` ||
		o.Exchange != "" || o.RoutingKey != "" {
		t.Errorf("domain event row %+v", o)
	}
	if o := ob[1]; o.Event.ID != push.ID || o.Event.Type != "thing.new" || o.Exchange != "push" || o.RoutingKey != broker.PushKey("u1") {
		t.Errorf("push row %+v", o)
	}
}
