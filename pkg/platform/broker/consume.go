package broker

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/mysqlx"
)

const (
	// deliveryLimit is how often a quorum queue redelivers a message whose handler keeps failing before it
	// dead-letters it, so a poison message cannot block a consumer forever.
	deliveryLimit = 20
	// Inbox rows are kept inboxRetention (far longer than any redelivery can come late), then purged.
	inboxRetention     = 7 * 24 * time.Hour
	inboxPurgeInterval = time.Hour
	inboxPurgeBatch    = 5000
)

// Before a failed delivery is requeued the consumer waits retryMin, doubling per redelivery up to retryMax:
// a database hiccup gets time to pass without a hot loop. (Variables so that tests can shorten them.)
var (
	retryMin = 50 * time.Millisecond
	retryMax = time.Second
)

// errDuplicate rolls back the inbox transaction of an event that was already handled.
var errDuplicate = errors.New("event already handled")

// Consume runs the subscription until ctx ends, across reconnects.
//
// On every (re)connect it declares and binds the queue (Keys, and the keys of the Binder if any), sets the
// prefetch, starts consuming and calls OnReady. Deliveries are handled one at a time, in order: with an inbox, in one transaction that records
// the event id and runs the handler, acknowledged after the commit. A handler error is retried by requeueing
// (after a short pause), a Permanent one or an undecodable message is dead-lettered at once.

// The results of a delivery (the broker_consumed_total label).
const (
	resultAck        = "ack"
	resultDuplicate  = "duplicate"
	resultRetry      = "retry"
	resultDeadLetter = "dead_letter"
)

func (c *Conn) Consume(ctx context.Context, s Subscription) error {
	switch {
	case s.Queue == "":
		return errors.New("broker: subscription without a queue name")
	case s.Handle == nil:
		return fmt.Errorf("broker: subscription %s without a handler", s.Queue)
	case s.DB == nil && !s.Transient:
		return fmt.Errorf("broker: durable subscription %s needs a DB for its inbox", s.Queue)
	case s.Binder != nil && !s.Transient:
		return fmt.Errorf("broker: subscription %s: a Binder needs a transient queue", s.Queue)
	case len(s.Keys) == 0 && s.Binder == nil:
		return fmt.Errorf("broker: subscription %s without routing keys", s.Queue)
	}
	if s.DB != nil {
		pctx, stop := context.WithCancel(ctx)
		defer stop()
		go c.purgeInbox(pctx, s)
	}
	log := c.log.With("queue", s.Queue)
	// The series exists (at 0) from the start, so "no consumer" is visible before the first connect too.
	c.met.consumers.WithLabelValues(s.Queue).Add(0)
	c.met.redeliveries.WithLabelValues(s.Queue).Add(0)
	for _, r := range []string{resultAck, resultDuplicate, resultRetry, resultDeadLetter} {
		c.met.consumed.WithLabelValues(s.Queue, r)
	}
	bo := backoff{min: reconnectMin, max: reconnectMax}
	// Classic (transient) queues do not count deliveries, so failures are counted here, by event id; the
	// queue is exclusive to this connection, so the count is complete. Only failing events are in it.
	attempts := map[string]int{}
	for {
		sess, err := c.waitSession(ctx)
		if err != nil {
			return err
		}
		started, err := c.consumeSession(ctx, sess, s, attempts)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if c.ctx.Err() != nil {
			return ErrClosed
		}
		if started {
			bo.reset()
		}
		if sess.conn.IsClosed() {
			// The connection's loss is logged once by the Conn; wait for it to notice, then for the next one.
			log.Debug("consumer stopped with the connection", "error", err)
			select {
			case <-sess.lost:
			case <-ctx.Done():
				return ctx.Err()
			}
			continue
		}
		d := bo.next()
		log.Warn("consumer stopped; restarting", "error", err, "retry_in", d.String())
		if !sleep(ctx, d) {
			return ctx.Err()
		}
	}
}

// consumeSession consumes on one connection until the channel dies or ctx ends. started reports whether
// consuming got going (so the next failure retries quickly).
func (c *Conn) consumeSession(ctx context.Context, sess *session, s Subscription, attempts map[string]int) (started bool, err error) {
	ch, err := sess.conn.Channel()
	if err != nil {
		return false, err
	}
	defer func() { _ = ch.Close() }()
	queue, err := c.declareQueue(ch, s)
	if err != nil {
		return false, err
	}
	if err := ch.Qos(c.cfg.Prefetch, 0, false); err != nil {
		return false, err
	}
	deliveries, err := ch.Consume(queue, "", false, false, false, false, nil)
	if err != nil {
		return false, fmt.Errorf("consume %s: %w", queue, err)
	}
	clear(attempts) // a new transient queue: nothing in it has failed yet
	if s.Binder != nil {
		bq, err := s.Binder.attach(ctx, sess.conn, ch, queue, c.exchangeOf(s))
		if err != nil {
			return false, err
		}
		defer s.Binder.detach(bq)
	}
	if s.OnReady != nil {
		s.OnReady(ctx)
	}
	up := c.met.consumers.WithLabelValues(s.Queue)
	up.Inc()
	defer up.Dec()
	for {
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case d, ok := <-deliveries:
			if !ok {
				// Channel or connection closed, or the broker cancelled the consumer (queue deleted).
				return true, errors.New("delivery channel closed")
			}
			c.handle(ctx, s, d, attempts)
		}
	}
}

// declareQueue declares and binds the subscription's queue and returns its name. Durable consumers get a
// quorum queue (replicated, with a delivery limit that dead-letters poison messages); transient ones a
// server-named exclusive queue that vanishes with the connection and is declared afresh on the next one.
func (c *Conn) declareQueue(ch *amqp.Channel, s Subscription) (string, error) {
	var q amqp.Queue
	var err error
	if s.Transient {
		q, err = ch.QueueDeclare("", false, true, true, false, amqp.Table{
			"x-dead-letter-exchange": c.cfg.DeadLetterExchange(),
		})
	} else {
		name := c.cfg.QueueName(s.Queue)
		rememberQueue(c.cfg.Exchange, name)
		q, err = ch.QueueDeclare(name, true, false, false, false, amqp.Table{
			amqp.QueueTypeArg:        amqp.QueueTypeQuorum,
			"x-dead-letter-exchange": c.cfg.DeadLetterExchange(),
			"x-delivery-limit":       deliveryLimit,
		})
	}
	if err != nil {
		return "", fmt.Errorf("declare queue for %s: %w", s.Queue, err)
	}
	for _, key := range s.Keys {
		if err := ch.QueueBind(q.Name, key, c.exchangeOf(s), false, nil); err != nil {
			return "", fmt.Errorf("bind %s to %q: %w", q.Name, key, err)
		}
	}
	return q.Name, nil
}

// exchangeOf is the exchange the subscription's keys are bound on.
func (c *Conn) exchangeOf(s Subscription) string {
	if s.Exchange == "" {
		return c.cfg.Exchange
	}
	return s.Exchange
}

// handle processes and settles one delivery; it never returns an error because every outcome ends in an
// ack or a nack.
func (c *Conn) handle(ctx context.Context, s Subscription, d amqp.Delivery, attempts map[string]int) {
	if d.Headers == nil {
		d.Headers = amqp.Table{}
	}
	ctx = otel.GetTextMapPropagator().Extract(ctx, tableCarrier(d.Headers))
	// Named after the logical queue: a transient queue's server-generated name would make every process's
	// spans differently named.
	ctx, span := tracer().Start(ctx, c.cfg.QueueName(s.Queue)+" process",
		trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(
			semconv.MessagingSystemRabbitMQ,
			semconv.MessagingOperationTypeProcess,
			semconv.MessagingOperationName("process"),
			semconv.MessagingDestinationName(d.Exchange),
			semconv.MessagingRabbitMQDestinationRoutingKey(d.RoutingKey),
			semconv.MessagingConsumerGroupName(s.Queue),
			semconv.MessagingMessageID(d.MessageId),
			semconv.MessagingMessageBodySize(len(d.Body)),
			semconv.MessagingRabbitMQMessageDeliveryTag(int(d.DeliveryTag)),
		))
	defer span.End()
	log := c.log.With("queue", s.Queue, "event_id", d.MessageId, "event_type", d.Type)
	count := func(result string) { c.met.consumed.WithLabelValues(s.Queue, result).Inc() }
	if d.Redelivered {
		c.met.redeliveries.WithLabelValues(s.Queue).Inc()
	}

	var ev Event
	if err := json.Unmarshal(d.Body, &ev); err != nil || ev.validate() != nil {
		if err == nil {
			err = ev.validate()
		}
		log.ErrorContext(ctx, "malformed event envelope; dead-lettering", "error", err)
		span.SetStatus(codes.Error, "malformed envelope")
		settle(ctx, log, d.Nack(false, false))
		count(resultDeadLetter)
		return
	}
	span.SetAttributes(attribute.String("messaging.message.type", ev.Type))
	c.restoreRoute(&ev, d)

	err := c.run1(ctx, s, ev)
	if err == nil || errors.Is(err, ErrPermanent) {
		delete(attempts, ev.ID)
	}
	switch {
	case err == nil:
		settle(ctx, log, d.Ack(false))
		count(resultAck)
	case errors.Is(err, errDuplicate):
		span.SetAttributes(attribute.Bool("messaging.message.duplicate", true))
		settle(ctx, log, d.Ack(false))
		count(resultDuplicate)
	case errors.Is(err, ErrPermanent):
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		log.ErrorContext(ctx, "event handler failed permanently; dead-lettering", "error", err)
		settle(ctx, log, d.Nack(false, false))
		count(resultDeadLetter)
	case ctx.Err() != nil:
		// Shutting down mid-handler: the transaction was rolled back, and the requeued message is handled
		// by the next consumer (or this one after the restart). Not worth a warning at every deploy.
		log.DebugContext(ctx, "event handling interrupted by shutdown; requeueing", "error", err)
		settle(ctx, log, d.Nack(false, true))
		count(resultRetry)
	default:
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
		n := max(deliveryCount(d), 0)
		if s.Transient {
			attempts[ev.ID]++
			n = attempts[ev.ID]
			if n >= deliveryLimit {
				delete(attempts, ev.ID)
				log.ErrorContext(ctx, "event handler keeps failing; dead-lettering", "error", err, "attempts", n)
				settle(ctx, log, d.Nack(false, false))
				count(resultDeadLetter)
				return
			}
		}
		wait := min(retryMin<<min(n, 10), retryMax)
		log.WarnContext(ctx, "event handler failed; will retry", "error", err, "delivery_count", n, "retry_in", wait.String())
		// Holding the message while waiting keeps it from being redelivered at once in a hot loop; the
		// quorum queue's delivery limit dead-letters it if it never succeeds.
		sleep(ctx, wait)
		settle(ctx, log, d.Nack(false, true))
		count(resultRetry)
	}
}

// run1 runs the handler once: inside an inbox transaction when the subscription has a DB.
func (c *Conn) run1(ctx context.Context, s Subscription, ev Event) error {
	if s.DB == nil {
		return safeHandle(ctx, s.Handle, nil, ev)
	}
	return mysqlx.InTx(ctx, s.DB, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO inbox (consumer, event_id) VALUES (?, ?)", s.Queue, ev.ID)
		if mysqlx.IsDuplicate(err) {
			return errDuplicate
		}
		if err != nil {
			return fmt.Errorf("inbox: %w", err)
		}
		return safeHandle(ctx, s.Handle, tx, ev)
	})
}

// safeHandle turns a handler panic into an ordinary (retried) error instead of killing the service.
func safeHandle(ctx context.Context, h Handler, tx *sql.Tx, ev Event) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panic: %v\n%s", p, debug.Stack())
		}
	}()
	return h(ctx, tx, ev)
}

// settle logs a failed ack or nack: the channel is gone and the broker will redeliver the message, which
// the inbox makes harmless.
func settle(ctx context.Context, log *slog.Logger, err error) {
	if err != nil {
		log.DebugContext(ctx, "settling delivery failed; it will be redelivered", "error", err)
	}
}

// deliveryCount is how many times the message was delivered before (quorum queues count it in the
// x-delivery-count header; classic queues only flag redeliveries).
func deliveryCount(d amqp.Delivery) int {
	switch v := d.Headers["x-delivery-count"].(type) {
	case int64:
		return int(v)
	case int32:
		return int(v)
	case int:
		return v
	}
	if d.Redelivered {
		return 1
	}
	return 0
}

// purgeInbox deletes the subscription's old inbox rows now and then while Consume runs.
func (c *Conn) purgeInbox(ctx context.Context, s Subscription) {
	for {
		for {
			res, err := s.DB.ExecContext(ctx,
				"DELETE FROM inbox WHERE consumer = ? AND processed_at < NOW(6) - INTERVAL ? MICROSECOND LIMIT ?",
				s.Queue, inboxRetention.Microseconds(), inboxPurgeBatch)
			if err != nil {
				if ctx.Err() == nil {
					c.log.Warn("inbox purge failed", "queue", s.Queue, "error", err)
				}
				break
			}
			if n, _ := res.RowsAffected(); n < inboxPurgeBatch {
				break
			}
		}
		if !sleep(ctx, inboxPurgeInterval) {
			return
		}
	}
}

// restoreRoute gives a consumed event the route it was published with, so that it is the event the producer
// made (IsPush, RoutingKey) and could be published again as it is.
func (c *Conn) restoreRoute(ev *Event, d amqp.Delivery) {
	if d.Exchange == c.cfg.Exchange {
		if d.RoutingKey != ev.Type {
			ev.routingKey = d.RoutingKey
		}
		return
	}
	if d.Exchange == c.cfg.PushExchange() {
		ev.exchange, ev.routingKey = pushSuffix, d.RoutingKey
	}
}
