package broker_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"os/exec"
	"slices"
	"testing"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/metrics"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server/servertest"
)

func newPush(t *testing.T, userID, typ string, data any) broker.Event {
	t.Helper()
	ev, err := broker.NewPush("test", userID, typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// pushQueue runs a transient subscription on the push exchange with a Binder, as the gateway does.
func pushQueue(t *testing.T, conn *broker.Conn, s *sink) (*broker.Binder, func() int) {
	t.Helper()
	b := broker.NewBinder()
	ready := consume(t, conn, broker.Subscription{Queue: "push", Transient: true, Exchange: conn.Config().PushExchange(),
		Binder: b, Handle: s.handle})
	return b, ready
}

func bind(t *testing.T, b *broker.Binder, key string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.Bind(ctx, key); err != nil {
		t.Fatalf("Bind(%q): %v", key, err)
	}
}

func TestPushIsAddressedToItsUser(t *testing.T) {
	ev, err := broker.NewPush("messages", "u1", "message.new", map[string]string{"id": "7"})
	if err != nil {
		t.Fatal(err)
	}
	if !ev.IsPush() || ev.RoutingKey() != "user.u1" || ev.Type != "message.new" || ev.ID == "" {
		t.Fatalf("push %+v: IsPush %v, key %q", ev, ev.IsPush(), ev.RoutingKey())
	}
	dom := newEvent(t, "profiles.user.updated", nil)
	if dom.IsPush() || dom.RoutingKey() != "profiles.user.updated" {
		t.Fatalf("domain event: IsPush %v, key %q", dom.IsPush(), dom.RoutingKey())
	}
	if _, err := broker.NewPush("messages", "", "message.new", nil); err == nil {
		t.Fatal("push without a user accepted")
	}
	if got := (broker.Config{Exchange: "messenger.events"}).PushExchange(); got != "messenger.events.push" {
		t.Fatalf("PushExchange = %q", got)
	}
	// The route is not part of the envelope; the connection id is, when set.
	ev.ConnectionID = "c1"
	raw, _ := json.Marshal(ev)
	var fields map[string]any
	_ = json.Unmarshal(raw, &fields)
	if len(fields) != 6 || fields["connection_id"] != "c1" {
		t.Fatalf("envelope %s", raw)
	}
	raw, _ = json.Marshal(dom)
	fields = nil
	_ = json.Unmarshal(raw, &fields)
	if _, ok := fields["connection_id"]; ok || len(fields) != 5 {
		t.Fatalf("domain envelope %s", raw)
	}
}

// A push reaches the queue that bound its user's key, and only that user's pushes do; a push for a user
// nobody has bound is dropped without an error (no socket is open to receive it).
func TestBoundPushIsDeliveredAndAnUnboundOneIsNotAnError(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	m := metrics.New("test")
	conn := dial(t, cfg, m)
	s := newSink()
	b, _ := pushQueue(t, conn, s)
	bind(t, b, broker.PushKey("alice"))

	ctx := context.Background()
	toBob := newPush(t, "bob", "message.new", nil)
	if err := conn.Publish(ctx, toBob); err != nil {
		t.Fatalf("unroutable push: Publish = %v, want nil", err)
	}
	toAlice := newPush(t, "alice", "message.new", map[string]string{"text": "hi"})
	toAlice.ConnectionID = "conn-1"
	if err := conn.Publish(ctx, toAlice); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return s.count(toAlice.ID) == 1 }, "alice's push")
	got := s.snapshot()
	if len(got) != 1 {
		t.Fatalf("consumed %d events, want alice's only", len(got))
	}
	if ev := got[0]; !ev.IsPush() || ev.RoutingKey() != "user.alice" || ev.ConnectionID != "conn-1" ||
		ev.Type != "message.new" || string(ev.Data) != `{"text":"hi"}` {
		t.Fatalf("consumed %+v (push %v, key %q)", ev, ev.IsPush(), ev.RoutingKey())
	}
	if n := metricValue(t, m, "broker_publishes_total", map[string]string{"exchange": cfg.PushExchange(), "result": "returned"}); n != 1 {
		t.Fatalf("broker_publishes_total{exchange=push,result=returned} = %v, want 1", n)
	}
	// A domain event nobody listens to is still an error: it means a missing consumer.
	if err := conn.Publish(ctx, newEvent(t, "test.nobody", nil)); !errors.Is(err, broker.ErrUnroutable) {
		t.Fatalf("unroutable domain event: Publish = %v, want ErrUnroutable", err)
	}
}

func TestPushUsersReadsTheKeys(t *testing.T) {
	for key, want := range map[string][]string{
		broker.PushKey("u1"):           {"u1"},
		broker.PairPushKey("u1", "u2"): {"u1", "u2"},
		broker.PairPushKey("u1", "u1"): {"u1"},
		"user.":                        nil,
		"user.u1.":                     nil,
		"user..u2":                     nil,
		"user.u1.u2.u3":                nil,
		"profiles.user.updated":        nil,
		"users.u1":                     nil,
	} {
		if got := broker.PushUsers(key); !slices.Equal(got, want) {
			t.Errorf("PushUsers(%q) = %q, want %q", key, got, want)
		}
	}
	if _, err := broker.NewPairPush("messages", "u1", "", "message.new", nil); err == nil {
		t.Fatal("pair push without a second user accepted")
	}
}

// One pair push reaches the queue of each of its two users, once even where one queue has both (a gateway
// with both participants connected), and no queue of a third user; the users' own pushes still arrive through
// the same bindings.
func TestPairPushReachesBothUsersOnce(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, metrics.New("test"))
	both, first, second, other := newSink(), newSink(), newSink(), newSink()
	for s, users := range map[*sink][]string{both: {"ann", "ben"}, first: {"ann"}, second: {"ben"}, other: {"cal"}} {
		b, _ := pushQueue(t, conn, s)
		for _, u := range users {
			for _, key := range broker.PushBindings(u) {
				bind(t, b, key)
			}
		}
	}
	ctx := context.Background()
	pair, err := broker.NewPairPush("messages", "ann", "ben", "message.new", map[string]string{"id": "1"})
	if err != nil {
		t.Fatal(err)
	}
	own := newPush(t, "ben", "message.read", nil)
	for _, ev := range []broker.Event{pair, own} {
		if err := conn.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	for name, s := range map[string]*sink{"both": both, "first": first, "second": second} {
		servertest.Eventually(t, 10*time.Second, func() bool { return s.count(pair.ID) == 1 }, "%s gets the pair push", name)
		if got := s.snapshot()[0]; got.RoutingKey() != "user.ann.ben" || !slices.Equal(broker.PushUsers(got.RoutingKey()), []string{"ann", "ben"}) {
			t.Fatalf("%s consumed key %q", name, got.RoutingKey())
		}
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return both.count(own.ID) == 1 && second.count(own.ID) == 1 }, "ben's own push")
	// A marker published after everything else shows that nothing more is on its way to the queues.
	marker := newPush(t, "cal", "marker", nil)
	if err := conn.Publish(ctx, marker); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return other.count(marker.ID) == 1 }, "the marker")
	if n := len(other.snapshot()); n != 1 {
		t.Fatalf("the third user's queue got %d pushes, want the marker only", n)
	}
	if n, m := len(both.snapshot()), len(first.snapshot()); n != 2 || m != 1 || both.count(pair.ID) != 1 {
		t.Fatalf("queue with both users: %d pushes (pair %d times), first user's: %d", n, both.count(pair.ID), m)
	}
}

func TestUnbindStopsDelivery(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	s := newSink()
	b, _ := pushQueue(t, conn, s)
	key := broker.PushKey("carol")
	bind(t, b, key)
	bind(t, b, key) // idempotent
	ctx := context.Background()
	before := newPush(t, "carol", "friend.request", nil)
	if err := conn.Publish(ctx, before); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return s.count(before.ID) == 1 }, "the push while bound")

	if err := b.Unbind(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := b.Unbind(ctx, key); err != nil {
		t.Fatalf("second Unbind: %v", err)
	}
	if keys := b.Keys(); len(keys) != 0 {
		t.Fatalf("keys after Unbind: %v", keys)
	}
	after := newPush(t, "carol", "friend.request", nil)
	if err := conn.Publish(ctx, after); err != nil {
		t.Fatal(err)
	}
	// The broker answered unbind-ok before Unbind returned, so the push is routed nowhere; a marker pushed
	// to a bound key afterwards shows that nothing else was on its way.
	bind(t, b, broker.PushKey("marker"))
	marker := newPush(t, "marker", "x", nil)
	if err := conn.Publish(ctx, marker); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return s.count(marker.ID) == 1 }, "the marker")
	if s.count(after.ID) != 0 {
		t.Fatal("push delivered after Unbind")
	}
}

// Bind waits for the subscription to be consuming, so a caller that is quicker than the start-up does not
// fail (the gateway may accept a socket before its push queue is up).
func TestBindWaitsForTheSubscriptionToStart(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	b := broker.NewBinder()
	bound := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		bound <- b.Bind(ctx, broker.PushKey("dave"))
	}()
	select {
	case err := <-bound:
		t.Fatalf("Bind returned %v before the subscription started", err)
	case <-time.After(100 * time.Millisecond):
	}
	s := newSink()
	consume(t, conn, broker.Subscription{Queue: "push", Transient: true, Exchange: cfg.PushExchange(), Binder: b, Handle: s.handle})
	if err := <-bound; err != nil {
		t.Fatal(err)
	}
	ev := newPush(t, "dave", "x", nil)
	if err := conn.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return s.count(ev.ID) == 1 }, "the push")

	// Without a subscription Bind gives up with its context.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := broker.NewBinder().Bind(ctx, "user.x"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Bind without a subscription = %v", err)
	}
}

func TestBinderNeedsATransientSubscription(t *testing.T) {
	t.Parallel()
	db, _ := mysqltest.New(t, nil)
	conn := broker.Dial(brokertest.Config(t), nil, nil)
	defer conn.Close()
	err := conn.Consume(context.Background(), broker.Subscription{Queue: "q", DB: db, Binder: broker.NewBinder(),
		Handle: func(context.Context, *sql.Tx, broker.Event) error { return nil }})
	if err == nil {
		t.Fatal("durable subscription with a Binder accepted")
	}
}

// The transient queue dies with the connection; the new one gets every bound key before OnReady runs, so
// pushes flow again without the subscriber doing anything.
func TestBoundKeysSurviveAReconnect(t *testing.T) {
	t.Parallel()
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		t.Skip("rabbitmqctl not found; it is needed to close the connection from the broker side")
	}
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	s := newSink()
	b := broker.NewBinder()
	keysAtReady := make(chan []string, 4)
	ready := consume(t, conn, broker.Subscription{Queue: "push", Transient: true, Exchange: cfg.PushExchange(), Binder: b,
		Handle:  s.handle,
		OnReady: func(context.Context) { keysAtReady <- b.Keys() }})
	<-keysAtReady
	bind(t, b, broker.PushKey("erin"))
	bind(t, b, broker.PushKey("frank"))

	closeConnectionOf(t, ctl, cfg)
	servertest.Eventually(t, 15*time.Second, func() bool {
		return ready() >= 2
	}, "the subscription to be re-established")
	if keys := <-keysAtReady; len(keys) != 2 {
		t.Fatalf("keys bound when OnReady ran after the reconnect: %v", keys)
	}
	// Bound means bound at the broker: a push published right away is delivered.
	for _, user := range []string{"erin", "frank"} {
		ev := newPush(t, user, "x", nil)
		servertest.Eventually(t, 10*time.Second, func() bool {
			return conn.Publish(context.Background(), ev) == nil
		}, "a publish to succeed")
		servertest.Eventually(t, 10*time.Second, func() bool {
			return s.count(ev.ID) == 1
		}, "the push to %s after the reconnect", user)
	}
}

// Pushes go through the outbox like domain events: the relay publishes each row to its own exchange and key,
// in outbox order.
func TestEnqueuedPushesAreRelayedToTheirUsersInOrder(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	db, _ := mysqltest.New(t, nil)
	conn := dial(t, cfg, nil)
	pushes, events := newSink(), newSink()
	b, _ := pushQueue(t, conn, pushes)
	bind(t, b, broker.PushKey("gina"))
	consume(t, conn, broker.Subscription{Queue: "domain", Keys: []string{"test.#"}, DB: db, Handle: events.handle})
	r := relay(t, db, conn, nil)

	const n = 30
	var want []string
	var domain []string
	for i := range n {
		p := newPush(t, "gina", "message.new", map[string]int{"n": i})
		other := newPush(t, "nobody", "message.new", nil) // unroutable: must not hold back the next rows
		d := newEvent(t, "test.message.created", map[string]int{"n": i})
		enqueue(t, db, context.Background(), p, other, d)
		r.Notify()
		want = append(want, p.ID)
		domain = append(domain, d.ID)
	}
	servertest.Eventually(t, 15*time.Second, func() bool { return len(pushes.snapshot()) >= n }, "every push")
	for i, ev := range pushes.snapshot() {
		if ev.ID != want[i] || ev.RoutingKey() != "user.gina" {
			t.Fatalf("push %d is %s (key %q), want %s", i, ev.ID, ev.RoutingKey(), want[i])
		}
	}
	servertest.Eventually(t, 15*time.Second, func() bool { return len(events.snapshot()) >= n }, "every domain event")
	for i, ev := range events.snapshot() {
		if ev.ID != domain[i] || ev.IsPush() {
			t.Fatalf("domain event %d is %s, want %s", i, ev.ID, domain[i])
		}
	}
}

// Rows written before the outbox knew routes (no exchange, no routing key) are relayed as domain events.
func TestOutboxRowWithoutRouteIsRelayedAsADomainEvent(t *testing.T) {
	t.Parallel()
	in := consumeInbox(t, "legacy", "test.legacy")
	ev := newEvent(t, "test.legacy", nil)
	payload, _ := json.Marshal(ev)
	if _, err := in.db.Exec("INSERT INTO outbox (event_id, event_type, payload, headers) VALUES (?, ?, ?, '{}')",
		ev.ID, ev.Type, payload); err != nil {
		t.Fatal(err)
	}
	relay(t, in.db, in.conn, nil).Notify()
	servertest.Eventually(t, 10*time.Second, func() bool { return in.s.count(ev.ID) == 1 }, "the legacy row's event")
}
