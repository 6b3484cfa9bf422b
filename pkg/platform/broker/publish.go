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
	ctx, msg, done := c.startPublish(ctx, exchange, key, id, typ, ts, body)
	result := "error"
	defer func() { done(result, err) }()

	if c.ctx.Err() != nil {
		return ErrClosed
	}
	sess := c.current()
	if sess == nil {
		return ErrNotConnected
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
	case ret, ok := <-pc.returns:
		if ok { // a closed listener (the channel went away after the ack) is no return
			sess.pub.release(pc)
			result = "returned"
			return fmt.Errorf("%w: %s with key %q: %d %s", ErrUnroutable, ret.Exchange, ret.RoutingKey, ret.ReplyCode, ret.ReplyText)
		}
	default:
	}
	sess.pub.release(pc)
	result = "ok"
	return nil
}

// startPublish opens the producer span of one message and builds the message with the span's trace context
// in its headers; done records the result ("ok", "returned", "nack" or "error") and ends the span.
func (c *Conn) startPublish(ctx context.Context, exchange, key, id, typ string, ts time.Time, body []byte) (context.Context, amqp.Publishing, func(result string, err error)) {
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
	done := func(result string, err error) {
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
	}
	return ctx, msg, done
}

// envelope is one message of a batch: its trace context (ctx), destination and stored body.
type envelope struct {
	ctx                    context.Context
	exchange, key, id, typ string
	ts                     time.Time
	body                   []byte
}

// publishBatch sends the envelopes in order on one confirm channel without waiting between them, then waits for
// their confirms (within ctx). It returns how many envelopes from the first one on were settled by the broker
// (acked, or returned as unroutable: the relay does not mind) before the first that was not, and why that one
// was not. A channel carries its messages in order, so the broker receives them in the batch's order.
func (c *Conn) publishBatch(ctx context.Context, batch []envelope) (settled int, err error) {
	if c.ctx.Err() != nil {
		return 0, ErrClosed
	}
	sess := c.current()
	if sess == nil {
		return 0, ErrNotConnected
	}
	pc, err := sess.pub.acquire(ctx, sess.lost)
	if err != nil {
		return 0, err
	}
	// Returns come in frame order before their message's ack, delivered one at a time to pc.returns: they
	// must be read while the confirms are awaited, or the library's reader would block on them.
	returned := map[string]bool{}
	stop := make(chan struct{})
	drained := make(chan struct{})
	go func() {
		defer close(drained)
		for {
			select {
			case ret, ok := <-pc.returns:
				if !ok {
					return // the channel closed: the library closes its listeners, nothing more comes
				}
				returned[ret.MessageId] = true
			case <-stop:
				// The last return sent may still sit in the channel's buffer.
				for {
					select {
					case ret, ok := <-pc.returns:
						if !ok {
							return
						}
						returned[ret.MessageId] = true
					default:
						return
					}
				}
			}
		}
	}()
	type pending struct {
		id     string
		dc     *amqp.DeferredConfirmation
		done   func(string, error)
		result string
		err    error
	}
	sent := make([]pending, 0, len(batch))
	var sendErr error
	for _, e := range batch {
		_, msg, done := c.startPublish(e.ctx, e.exchange, e.key, e.id, e.typ, e.ts, e.body)
		dc, err := pc.ch.PublishWithDeferredConfirmWithContext(ctx, e.exchange, e.key, true, false, msg)
		if err != nil {
			sendErr = fmt.Errorf("broker: publish: %w", err)
			done("error", sendErr)
			break
		}
		sent = append(sent, pending{id: e.id, dc: dc, done: done, result: "error"})
	}
	broken := sendErr != nil
	for i := range sent {
		p := &sent[i]
		select {
		case <-p.dc.Done():
			switch {
			case p.dc.Acked():
				p.result = "ok"
			case pc.ch.IsClosed():
				p.err = fmt.Errorf("%w: channel closed before the confirm", ErrNotConnected)
				broken = true
			default:
				p.result, p.err = "nack", ErrNacked
			}
		case <-ctx.Done():
			p.err = fmt.Errorf("broker: waiting for confirm: %w", ctx.Err())
			broken = true // confirms may still come: the channel cannot be reused
		}
		if p.result == "ok" && settled == i {
			settled++
		}
		if p.err != nil && err == nil {
			err = fmt.Errorf("message %d of %d: %w", i+1, len(batch), p.err)
		}
	}
	// Every return of an acked message came before its ack, so the drainer has it by now.
	close(stop)
	<-drained
	for _, p := range sent {
		if p.result == "ok" && returned[p.id] {
			p.result = "returned"
		}
		p.done(p.result, p.err)
	}
	if err == nil {
		err = sendErr
	}
	if broken {
		sess.pub.discard(pc)
	} else {
		sess.pub.release(pc)
	}
	return settled, err
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
