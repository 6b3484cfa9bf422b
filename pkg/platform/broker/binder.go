package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"

	amqp "github.com/rabbitmq/amqp091-go"
)

// Binder binds and unbinds routing keys on the queue of a running transient subscription, and keeps them
// bound across reconnects. The gateway uses it for its push queue: it binds PushKey(user) when a user's
// first socket opens on this instance and unbinds it when the last one closes.
//
//	b := broker.NewBinder()
//	go conn.Consume(ctx, broker.Subscription{Queue: "push", Transient: true, Exchange: cfg.PushExchange(), Binder: b, Handle: h})
//	err := b.Bind(ctx, broker.PushKey(userID)) // returns once the broker has answered bind-ok
//
// Bind returns only after the broker confirmed the binding (bind-ok), so a message published after Bind
// returned is routed to the queue: that is what lets the gateway publish gateway.user.entered and be sure to
// receive the replies. A transient queue lives and dies with its connection; after a reconnect the new queue
// gets every remembered key bound again before the subscription's OnReady runs. (Messages routed while the
// connection was down are lost with the old queue: OnReady is where to make up for that.)
//
// A Binder belongs to one Subscription, consumed by one Consume at a time. Its methods are safe for
// concurrent use; operations reach the broker one at a time, in call order.
type Binder struct {
	// sem serialises the binding operations and the (re)attachment to a new queue, so that the broker sees
	// them in the order they were decided and keys always describes what is bound on the live queue.
	sem chan struct{}

	mu      sync.Mutex
	keys    map[string]struct{} // bound on live (when live is set) and to be bound on every next queue
	live    *boundQueue         // nil while the subscription is not consuming
	changed chan struct{}       // closed and replaced when live changes
}

// boundQueue is one incarnation of the subscription's queue.
type boundQueue struct {
	conn     *amqp.Connection
	queue    string
	exchange string

	opsMu    sync.Mutex
	ops      *amqp.Channel // for Bind/Unbind; a failed operation closes it, so it is reopened on demand
	detached bool          // the consumer has stopped: no more operations
}

// NewBinder makes an empty Binder; put it in a Subscription.
func NewBinder() *Binder {
	return &Binder{sem: make(chan struct{}, 1), keys: map[string]struct{}{}, changed: make(chan struct{})}
}

// Bind binds key on the subscription's queue and remembers it, returning once the broker has confirmed it.
// While the subscription is not consuming (not started yet, or reconnecting) it waits for it, up to ctx.
// Binding a key that is already bound returns at once. On an error the key is not remembered.
//
// The broker's answer to a request already sent is awaited even if ctx ends meanwhile (an AMQP call cannot be
// abandoned halfway); a dead connection ends it within the heartbeat.
func (b *Binder) Bind(ctx context.Context, key string) error {
	if key == "" {
		return errors.New("broker: bind without a routing key")
	}
	for {
		if err := b.acquire(ctx); err != nil {
			return err
		}
		b.mu.Lock()
		q, changed := b.live, b.changed
		_, known := b.keys[key]
		b.mu.Unlock()
		if q == nil {
			b.release()
			select {
			case <-changed:
				continue
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if known {
			b.release()
			return nil
		}
		err := q.do(func(ch *amqp.Channel) error { return ch.QueueBind(q.queue, key, q.exchange, false, nil) })
		if err == nil {
			b.mu.Lock()
			b.keys[key] = struct{}{}
			b.mu.Unlock()
			b.release()
			// Even if the queue has just been lost, the key is remembered and the next queue gets it before
			// it is announced: the next turn returns once that has happened.
			if b.current() == q {
				return nil
			}
			continue
		}
		b.release()
		if b.current() != q || q.conn.IsClosed() {
			// The queue went away under us; bind on the next one.
			if err := b.waitChange(ctx, q); err != nil {
				return err
			}
			continue
		}
		return fmt.Errorf("broker: bind %q: %w", key, err)
	}
}

// Unbind forgets key and removes its binding from the queue, returning once the broker has confirmed it.
// Unbinding a key that is not bound is a no-op. While disconnected only the memory is updated (the queue
// that had the binding is gone).
func (b *Binder) Unbind(ctx context.Context, key string) error {
	if err := b.acquire(ctx); err != nil {
		return err
	}
	defer b.release()
	b.mu.Lock()
	_, known := b.keys[key]
	delete(b.keys, key)
	q := b.live
	b.mu.Unlock()
	if !known || q == nil {
		return nil
	}
	err := q.do(func(ch *amqp.Channel) error { return ch.QueueUnbind(q.queue, key, q.exchange, nil) })
	if err != nil && b.current() == q && !q.conn.IsClosed() {
		// The binding may linger until the queue goes; its messages are for a key nobody wants any more,
		// which the subscriber must tolerate anyway (a push may race an unbind).
		return fmt.Errorf("broker: unbind %q: %w", key, err)
	}
	return nil
}

// Keys returns the remembered keys (sorted order not guaranteed).
func (b *Binder) Keys() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.keys))
	for k := range b.keys {
		out = append(out, k)
	}
	return out
}

// attach binds every remembered key on a newly declared queue (on ch, the consumer's channel) and then
// makes it the live queue. The consumer calls it before OnReady, so OnReady sees every key bound.
func (b *Binder) attach(ctx context.Context, conn *amqp.Connection, ch *amqp.Channel, queue, exchange string) (*boundQueue, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer b.release()
	for _, key := range b.Keys() {
		if err := ch.QueueBind(queue, key, exchange, false, nil); err != nil {
			return nil, fmt.Errorf("re-bind %s to %q: %w", queue, key, err)
		}
	}
	q := &boundQueue{conn: conn, queue: queue, exchange: exchange}
	b.setLive(q)
	return q, nil
}

// detach forgets q once its consumer has stopped; Bind calls wait for the next queue.
func (b *Binder) detach(q *boundQueue) {
	b.mu.Lock()
	if b.live == q {
		b.live = nil
		close(b.changed)
		b.changed = make(chan struct{})
	}
	b.mu.Unlock()
	// Not under sem: a Bind blocked on this channel gets an error and moves on to the next queue.
	q.closeOps()
}

func (b *Binder) setLive(q *boundQueue) {
	b.mu.Lock()
	b.live = q
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

func (b *Binder) current() *boundQueue {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.live
}

// waitChange waits until the live queue is no longer q.
func (b *Binder) waitChange(ctx context.Context, q *boundQueue) error {
	for {
		b.mu.Lock()
		live, changed := b.live, b.changed
		b.mu.Unlock()
		if live != q {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *Binder) acquire(ctx context.Context) error {
	select {
	case b.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *Binder) release() { <-b.sem }

// do runs one synchronous AMQP operation on the queue's operations channel, opening it if need be.
func (q *boundQueue) do(op func(ch *amqp.Channel) error) error {
	q.opsMu.Lock()
	if q.detached {
		q.opsMu.Unlock()
		return errors.New("queue detached")
	}
	if q.ops == nil || q.ops.IsClosed() {
		ch, err := q.conn.Channel()
		if err != nil {
			q.opsMu.Unlock()
			return err
		}
		q.ops = ch
	}
	ch := q.ops
	q.opsMu.Unlock()
	return op(ch)
}

// closeOps closes the operations channel for good (an operation in flight on it fails).
func (q *boundQueue) closeOps() {
	q.opsMu.Lock()
	ch := q.ops
	q.ops, q.detached = nil, true
	q.opsMu.Unlock()
	if ch != nil {
		_ = ch.Close()
	}
}
