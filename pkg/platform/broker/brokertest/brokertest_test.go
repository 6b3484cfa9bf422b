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
