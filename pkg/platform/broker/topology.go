package broker

import (
	"context"
	"errors"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// declared remembers, per exchange, the durable queues this process declared, so that DeleteTopology can
// remove them even after the Conn that declared them is closed (the broker has no way to list queues by
// name prefix over AMQP).
var declared = struct {
	sync.Mutex
	queues map[string]map[string]struct{}
}{queues: map[string]map[string]struct{}{}}

func rememberQueue(exchange, queue string) {
	declared.Lock()
	defer declared.Unlock()
	if declared.queues[exchange] == nil {
		declared.queues[exchange] = map[string]struct{}{}
	}
	declared.queues[exchange][queue] = struct{}{}
}

// DeleteTopology deletes cfg.Exchange, its push exchange, its dead-letter exchange and queue, and every durable consumer queue
// this process declared under it, over a connection of its own. Tests use it (through brokertest) to leave
// the broker as they found it; close the Conns and stop the consumers first, or they re-declare what was
// deleted. Deleting something that does not exist is not an error.
func DeleteTopology(ctx context.Context, cfg Config) error {
	dialURL, err := cfg.DialURL()
	if err != nil {
		return err
	}
	conn, err := amqp.DialConfig(dialURL, amqp.Config{Dial: amqp.DefaultDial(dialTimeout), Heartbeat: heartbeat, Locale: "en_US"})
	if err != nil {
		return err
	}
	defer conn.Close()

	declared.Lock()
	queues := []string{cfg.DeadLetterQueue()}
	for q := range declared.queues[cfg.Exchange] {
		queues = append(queues, q)
	}
	declared.Unlock()

	// A failed operation closes its channel, so each one gets a fresh channel.
	do := func(op func(ch *amqp.Channel) error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		ch, err := conn.Channel()
		if err != nil {
			return err
		}
		defer ch.Close()
		err = op(ch)
		var ae *amqp.Error
		if errors.As(err, &ae) && ae.Code == amqp.NotFound {
			return nil
		}
		return err
	}
	var errs []error
	for _, q := range queues {
		errs = append(errs, do(func(ch *amqp.Channel) error { _, err := ch.QueueDelete(q, false, false, false); return err }))
	}
	for _, x := range []string{cfg.Exchange, cfg.PushExchange(), cfg.DeadLetterExchange()} {
		errs = append(errs, do(func(ch *amqp.Channel) error { return ch.ExchangeDelete(x, false, false) }))
	}
	if err := errors.Join(errs...); err != nil {
		// Keep the names, so a retry deletes what is left.
		return err
	}
	declared.Lock()
	delete(declared.queues, cfg.Exchange)
	declared.Unlock()
	return nil
}
