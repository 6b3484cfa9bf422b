package broker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// publishChannels bounds the confirm channels of one connection, hence the publishes in flight at once.
//
// Each channel carries one unconfirmed message at a time. That is what makes basic.return attributable: the
// broker sends a mandatory message's basic.return before its basic.ack, and the client library hands both
// over in frame order, so once the confirm of the only message in flight has arrived, any return for it is
// already waiting in the channel's (1-buffered) return listener. Concurrency comes from the pool instead.
const publishChannels = 8

// Publish sends ev to its exchange (the domain exchange, or the push exchange for a push) with publisher
// confirms and the mandatory flag, carrying the trace context of ctx in the message headers. It returns an
// error when not connected or nacked, and for a domain event also when it came back unroutable (no queue
// bound for its type). An unroutable push is not an error: no socket of that user is open anywhere, so
// nobody is there to receive it (what matters is kept by the services and sent at the next connection).
func (c *Conn) Publish(ctx context.Context, ev Event) error {
	if err := ev.validate(); err != nil {
		return fmt.Errorf("broker: publish: %w", err)
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("broker: publish: %w", err)
	}
	err = c.publish(ctx, ev.exchangeName(c.cfg), ev.RoutingKey(), ev.ID, ev.Type, ev.Time, body)
	if ev.IsPush() && errors.Is(err, ErrUnroutable) {
		return nil
	}
	return err
}

// publish sends one envelope (already encoded; the relay passes the outbox payload as stored) to exchange
// with key and waits for its confirm. The span it records is the parent of the consumer's span: its context
// goes in the headers.
func (c *Conn) publish(ctx context.Context, exchange, key, id, typ string, ts time.Time, body []byte) (err error) {
	start := time.Now()
	ctx, span := tracer().Start(ctx, exchange+" publish",
		trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithAttributes(
			semconv.MessagingSystemRabbitMQ,
			semconv.MessagingOperationTypeSend,
			semconv.MessagingOperationName("publish"),
			semconv.MessagingDestinationName(exchange),
			semconv.MessagingRabbitMQDestinationRoutingKey(key),
			semconv.MessagingMessageID(id),
			semconv.MessagingMessageBodySize(len(body)),
			attribute.String("messaging.message.type", typ),
		))
	result := "error"
	defer func() {
		c.met.publishes.WithLabelValues(exchange, result).Inc()
		if result == "ok" || result == "returned" {
			c.met.publishDuration.WithLabelValues(exchange).Observe(time.Since(start).Seconds())
		}
		switch {
		case result == "returned":
			// Settled by the broker with no queue bound for the key: nobody subscribes to the event, or the
			// push's user has no socket open. The caller decides whether that matters (the relay does not
			// mind); in the trace it is a fact, not a failure.
			span.SetAttributes(attribute.Bool("messaging.rabbitmq.message.returned", true))
		case err != nil:
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}()

	if c.ctx.Err() != nil {
		return ErrClosed
	}
	sess := c.current()
	if sess == nil {
		return ErrNotConnected
	}
	headers := amqp.Table{}
	otel.GetTextMapPropagator().Inject(ctx, tableCarrier(headers))
	if ts.IsZero() {
		ts = time.Now()
	}
	msg := amqp.Publishing{
		Headers:      headers,
		ContentType:  "application/json",
		DeliveryMode: amqp.Persistent,
		MessageId:    id,
		Type:         typ,
		Timestamp:    ts.UTC(),
		Body:         body,
	}

	pc, err := sess.pub.acquire(ctx, sess.lost)
	if err != nil {
		return err
	}
	dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, msg)
	if err != nil {
		sess.pub.discard(pc)
		return fmt.Errorf("broker: publish: %w", err)
	}
	select {
	case <-dc.Done():
	case <-ctx.Done():
		// The confirm (or return) may still come; the channel cannot be reused without mixing it up with
		// the next message's.
		sess.pub.discard(pc)
		return fmt.Errorf("broker: waiting for confirm: %w", ctx.Err())
	}
	if !dc.Acked() {
		if pc.ch.IsClosed() {
			// Pending confirms are nacked locally when the channel or connection goes away: the broker may
			// or may not have the message, and the caller must assume it has not.
			sess.pub.discard(pc)
			return fmt.Errorf("%w: channel closed before the confirm", ErrNotConnected)
		}
		sess.pub.release(pc)
		result = "nack"
		return ErrNacked
	}
	select {
	case ret := <-pc.returns:
		sess.pub.release(pc)
		result = "returned"
		return fmt.Errorf("%w: %s with key %q: %d %s", ErrUnroutable, ret.Exchange, ret.RoutingKey, ret.ReplyCode, ret.ReplyText)
	default:
	}
	sess.pub.release(pc)
	result = "ok"
	return nil
}

// publisherPool lends confirm-mode channels of one connection, opening them on demand.
type publisherPool struct {
	conn  *amqp.Connection
	slots chan struct{} // one token per channel in use
	mu    sync.Mutex
	idle  []*pubChannel
}

type pubChannel struct {
	ch      *amqp.Channel
	returns chan amqp.Return
}

func newPublisherPool(conn *amqp.Connection) *publisherPool {
	return &publisherPool{conn: conn, slots: make(chan struct{}, publishChannels)}
}

func (p *publisherPool) acquire(ctx context.Context, lost <-chan struct{}) (*pubChannel, error) {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-lost:
		return nil, ErrNotConnected
	}
	p.mu.Lock()
	for len(p.idle) > 0 {
		pc := p.idle[len(p.idle)-1]
		p.idle = p.idle[:len(p.idle)-1]
		if !pc.ch.IsClosed() {
			p.mu.Unlock()
			return pc, nil
		}
	}
	p.mu.Unlock()
	pc, err := p.open()
	if err != nil {
		<-p.slots
		if p.conn.IsClosed() || errors.Is(err, amqp.ErrClosed) {
			return nil, fmt.Errorf("%w: %v", ErrNotConnected, err)
		}
		return nil, fmt.Errorf("broker: open publish channel: %w", err)
	}
	return pc, nil
}

func (p *publisherPool) open() (*pubChannel, error) {
	ch, err := p.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return &pubChannel{ch: ch, returns: ch.NotifyReturn(make(chan amqp.Return, 1))}, nil
}

// release gives back a channel whose message has been settled.
func (p *publisherPool) release(pc *pubChannel) {
	select {
	case <-pc.returns: // already reported, or stale; the next message must not see it
	default:
	}
	if !pc.ch.IsClosed() {
		p.mu.Lock()
		p.idle = append(p.idle, pc)
		p.mu.Unlock()
	}
	<-p.slots
}

// discard drops a channel that may still have a message in flight, or is broken.
func (p *publisherPool) discard(pc *pubChannel) {
	go func() { _ = pc.ch.Close() }()
	<-p.slots
}
