package broker_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/metrics"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server/servertest"
)

func TestPermanentIsDetectableAndKeepsTheCause(t *testing.T) {
	t.Parallel()
	cause := errors.New("no such user")
	err := fmt.Errorf("handle: %w", broker.Permanent(cause))
	if !errors.Is(err, broker.ErrPermanent) || !errors.Is(err, cause) {
		t.Fatalf("errors.Is(%v) does not find ErrPermanent and the cause", err)
	}
	if errors.Is(cause, broker.ErrPermanent) {
		t.Fatal("a plain error is taken for a permanent one")
	}
	if broker.Permanent(nil) != nil {
		t.Fatal("Permanent(nil) is not nil")
	}
}

func TestPublishedEventReachesTheConsumerWithItsTraceContext(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	db, _ := mysqltest.New(t, nil)
	conn := dial(t, cfg, nil)

	type seen struct {
		ev    broker.Event
		trace trace.TraceID
		inTx  bool
	}
	got := make(chan seen, 1)
	consume(t, conn, broker.Subscription{Queue: "roundtrip", Keys: []string{"test.user.*"}, DB: db,
		Handle: func(ctx context.Context, tx *sql.Tx, ev broker.Event) error {
			got <- seen{ev, trace.SpanContextFromContext(ctx).TraceID(), tx != nil}
			return nil
		}})

	ctx, span := otel.Tracer("test").Start(context.Background(), "request")
	ev := newEvent(t, "test.user.registered", map[string]string{"nickname": "ann"})
	if err := conn.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	span.End()

	var s seen
	select {
	case s = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("event not consumed")
	}
	if s.ev.ID != ev.ID || s.ev.Type != ev.Type || s.ev.Source != "test" || !s.ev.Time.Equal(ev.Time) || string(s.ev.Data) != string(ev.Data) {
		t.Fatalf("consumed %+v, published %+v", s.ev, ev)
	}
	if !s.inTx {
		t.Fatal("handler of a subscription with a DB got no transaction")
	}
	want := span.SpanContext().TraceID()
	if s.trace != want {
		t.Fatalf("handler runs in trace %s, publisher in %s", s.trace, want)
	}

	var producer, consumer bool
	servertest.Eventually(t, 5*time.Second, func() bool {
		producer, consumer = false, false
		for _, sp := range spansOf(ev.ID) {
			if sp.SpanContext().TraceID() != want {
				continue
			}
			switch {
			case sp.SpanKind() == trace.SpanKindProducer && sp.Name() == cfg.Exchange+" publish" &&
				attr(sp, "messaging.system") == "rabbitmq" && attr(sp, "messaging.operation.type") == "send" &&
				attr(sp, "messaging.destination.name") == cfg.Exchange &&
				attr(sp, "messaging.rabbitmq.destination.routing_key") == ev.Type:
				producer = true
			case sp.SpanKind() == trace.SpanKindConsumer && sp.Name() == cfg.QueueName("roundtrip")+" process" &&
				attr(sp, "messaging.operation.type") == "process":
				consumer = true
			}
		}
		return producer && consumer
	}, "publish and process spans")
}

func TestPublishingAnEventNobodyIsBoundToFails(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	m := metrics.New("test")
	conn := dial(t, cfg, m)
	err := conn.Publish(context.Background(), newEvent(t, "test.nobody.listens", nil))
	if !errors.Is(err, broker.ErrUnroutable) {
		t.Fatalf("Publish returned %v, want ErrUnroutable", err)
	}
	if n := metricValue(t, m, "broker_publishes_total", map[string]string{"result": "returned"}); n != 1 {
		t.Fatalf("broker_publishes_total{result=returned} = %v, want 1", n)
	}
}

func TestConcurrentPublishesEachGetTheirOwnOutcome(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	s := newSink()
	consume(t, conn, broker.Subscription{Queue: "concurrent", Keys: []string{"test.bound.#"}, Transient: true, Handle: s.handle})

	// Routable and unroutable messages in flight at once: each caller must get its own message's outcome.
	const n = 60
	errs := make([]error, n)
	evs := make([]broker.Event, n)
	var wg sync.WaitGroup
	for i := range n {
		typ := "test.bound.x"
		if i%2 == 1 {
			typ = "test.unbound.x"
		}
		evs[i] = newEvent(t, typ, i)
		wg.Go(func() { errs[i] = conn.Publish(context.Background(), evs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if i%2 == 0 && err != nil {
			t.Errorf("routable publish %d: %v", i, err)
		}
		if i%2 == 1 && !errors.Is(err, broker.ErrUnroutable) {
			t.Errorf("unroutable publish %d returned %v", i, err)
		}
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return len(s.snapshot()) == n/2 }, "every routable event")
}

func TestPublishWhileDisconnectedFails(t *testing.T) {
	t.Parallel()
	cfg := broker.DefaultConfig()
	cfg.URL = "amqp://guest:guest@127.0.0.1:1/"
	conn := broker.Dial(cfg, nil, nil)
	defer conn.Close()
	if err := conn.Ready(context.Background()); !errors.Is(err, broker.ErrNotConnected) {
		t.Fatalf("Ready = %v, want ErrNotConnected", err)
	}
	if err := conn.Publish(context.Background(), newEvent(t, "test.x", nil)); !errors.Is(err, broker.ErrNotConnected) {
		t.Fatalf("Publish = %v, want ErrNotConnected", err)
	}
	conn.Close()
	if err := conn.Ready(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Fatalf("Ready after Close = %v, want ErrClosed", err)
	}
}

// relay runs a relay of db until the test ends.
func relay(t *testing.T, db *sql.DB, conn *broker.Conn, m *metrics.Metrics) *broker.Relay {
	t.Helper()
	r := broker.NewRelay(db, conn, nil, m)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = r.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func enqueue(t *testing.T, db *sql.DB, ctx context.Context, evs ...broker.Event) {
	t.Helper()
	err := mysqlx.InTx(ctx, db, func(tx *sql.Tx) error {
		for _, ev := range evs {
			if err := broker.Enqueue(ctx, tx, ev); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestRolledBackEnqueuePublishesNothing(t *testing.T) {
	t.Parallel()
	in := consumeInbox(t, "rollback", "test.#")
	r := relay(t, in.db, in.conn, nil)

	ctx := context.Background()
	rolledBack := newEvent(t, "test.rolled.back", nil)
	tx, err := in.db.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Enqueue(ctx, tx, rolledBack); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	r.Notify()
	committed := newEvent(t, "test.committed", nil)
	enqueue(t, in.db, ctx, committed)
	r.Notify()

	servertest.Eventually(t, 10*time.Second, func() bool {
		return in.s.count(committed.ID) == 1
	}, "the committed event")
	if got := in.s.snapshot(); len(got) != 1 {
		t.Fatalf("consumed %d events, want only the committed one: %+v", len(got), got)
	}
}

func TestCommittedEventsAreRelayedInOrderInTheirRequestsTrace(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	db, _ := mysqltest.New(t, nil)
	m := metrics.New("test")
	conn := dial(t, cfg, m)
	s := newSink()
	var traces sync.Map
	consume(t, conn, broker.Subscription{Queue: "order", Keys: []string{"test.#"}, DB: db,
		Handle: func(ctx context.Context, tx *sql.Tx, ev broker.Event) error {
			traces.Store(ev.ID, trace.SpanContextFromContext(ctx).TraceID())
			return s.handle(ctx, tx, ev)
		}})
	r := relay(t, db, conn, m)

	const n = 40
	var want []string
	requestTrace := map[string]trace.TraceID{}
	for i := range n {
		ctx, span := otel.Tracer("test").Start(context.Background(), "request")
		ev := newEvent(t, "test.item.created", map[string]int{"n": i})
		enqueue(t, db, ctx, ev)
		span.End()
		r.Notify()
		want = append(want, ev.ID)
		requestTrace[ev.ID] = span.SpanContext().TraceID()
	}
	servertest.Eventually(t, 15*time.Second, func() bool { return len(s.snapshot()) >= n }, "every relayed event")
	got := s.snapshot()
	for i, ev := range got {
		if i >= n || ev.ID != want[i] {
			t.Fatalf("event %d is %s, want %s (order or duplicates broken)", i, ev.ID, want[i])
		}
		if tr, _ := traces.Load(ev.ID); tr != requestTrace[ev.ID] {
			t.Fatalf("event %d handled in trace %v, enqueued in %v", i, tr, requestTrace[ev.ID])
		}
	}
	var pending int
	if err := db.QueryRow("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&pending); err != nil {
		t.Fatal(err)
	}
	if pending != 0 {
		t.Fatalf("%d outbox rows still pending", pending)
	}
	if v := metricValue(t, m, "outbox_relayed_total", nil); v != n {
		t.Fatalf("outbox_relayed_total = %v, want %d", v, n)
	}
}

func TestRelayFlushesPendingRowsWhenStopped(t *testing.T) {
	t.Parallel()
	in := consumeInbox(t, "shutdown", "test.#")

	ev := newEvent(t, "test.last.words", nil)
	enqueue(t, in.db, context.Background(), ev)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := broker.NewRelay(in.db, in.conn, nil, nil).Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	servertest.Eventually(t, 10*time.Second, func() bool {
		return in.s.count(ev.ID) == 1
	}, "the event flushed at shutdown")
}

func TestPurgeDeletesOnlyOldPublishedRows(t *testing.T) {
	t.Parallel()
	db, _ := mysqltest.New(t, nil)
	ctx := context.Background()
	old, recent, pending := newEvent(t, "test.old", nil), newEvent(t, "test.recent", nil), newEvent(t, "test.pending", nil)
	enqueue(t, db, ctx, old, recent, pending)
	for id, age := range map[string]string{old.ID: "25 HOUR", recent.ID: "1 HOUR"} {
		if _, err := db.Exec("UPDATE outbox SET published_at = NOW(6) - INTERVAL "+age+" WHERE event_id = ?", id); err != nil {
			t.Fatal(err)
		}
	}
	n, err := broker.NewRelay(db, nil, nil, nil).Purge(ctx, 24*time.Hour)
	if err != nil || n != 1 {
		t.Fatalf("Purge = %d, %v; want 1 row", n, err)
	}
	var left []string
	rows, err := db.Query("SELECT event_id FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		_ = rows.Scan(&id)
		left = append(left, id)
	}
	if len(left) != 2 || left[0] != recent.ID || left[1] != pending.ID {
		t.Fatalf("left %v, want the recent and the pending row", left)
	}
}

func TestRedeliveredEventIsHandledOnce(t *testing.T) {
	t.Parallel()
	in := consumeInbox(t, "once", "test.#")

	ev, marker := newEvent(t, "test.twice", nil), newEvent(t, "test.marker", nil)
	for _, e := range []broker.Event{ev, ev, marker} {
		if err := in.conn.Publish(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	servertest.Eventually(t, 10*time.Second, func() bool { return in.s.count(marker.ID) == 1 }, "the marker event")
	if n := in.s.count(ev.ID); n != 1 {
		t.Fatalf("event delivered twice was handled %d times", n)
	}
	if v := metricValue(t, in.m, "broker_consumed_total", map[string]string{"queue": "once", "result": "duplicate"}); v != 1 {
		t.Fatalf("broker_consumed_total{result=duplicate} = %v, want 1", v)
	}
}

func TestFailingHandlerIsRetriedUntilItSucceeds(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	db, _ := mysqltest.New(t, nil)
	m := metrics.New("test")
	conn := dial(t, cfg, m)
	var calls atomic.Int32
	done := make(chan struct{})
	consume(t, conn, broker.Subscription{Queue: "retry", Keys: []string{"test.#"}, DB: db,
		Handle: func(ctx context.Context, tx *sql.Tx, ev broker.Event) error {
			if calls.Add(1) <= 2 {
				return errors.New("database briefly unavailable")
			}
			close(done)
			return nil
		}})

	ev := newEvent(t, "test.flaky", nil)
	if err := conn.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("handler never succeeded (%d calls)", calls.Load())
	}
	servertest.Eventually(t, 5*time.Second, func() bool {
		return metricValue(t, m, "broker_consumed_total", map[string]string{"queue": "retry", "result": "ack"}) == 1
	}, "the ack")
	if v := metricValue(t, m, "broker_consumed_total", map[string]string{"queue": "retry", "result": "retry"}); v != 2 {
		t.Fatalf("broker_consumed_total{result=retry} = %v, want 2", v)
	}
	// The failed attempts rolled back their inbox rows, or the third would have been skipped as a duplicate.
	var n int
	if err := db.QueryRow("SELECT COUNT(*) FROM inbox WHERE consumer = 'retry' AND event_id = ?", ev.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("inbox rows = %d (%v), want 1", n, err)
	}
}

func TestPermanentFailureIsDeadLetteredAtOnce(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	db, _ := mysqltest.New(t, nil)
	conn := dial(t, cfg, nil)
	var calls atomic.Int32
	consume(t, conn, broker.Subscription{Queue: "poison", Keys: []string{"test.#"}, DB: db,
		Handle: func(ctx context.Context, tx *sql.Tx, ev broker.Event) error {
			calls.Add(1)
			return broker.Permanent(errors.New("refers to a user that cannot exist"))
		}})

	ev := newEvent(t, "test.poison", nil)
	if err := conn.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	d := deadLetter(t, cfg)
	if d.MessageId != ev.ID || d.RoutingKey != ev.Type {
		t.Fatalf("dead letter %q/%q, want %q/%q", d.MessageId, d.RoutingKey, ev.ID, ev.Type)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler called %d times, want 1 (no retry)", n)
	}
}

func TestMalformedEnvelopeIsDeadLettered(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	var calls atomic.Int32
	consume(t, conn, broker.Subscription{Queue: "malformed", Keys: []string{"test.#"}, Transient: true,
		Handle: func(context.Context, *sql.Tx, broker.Event) error { calls.Add(1); return nil }})

	ch := rawChannel(t, cfg)
	if err := ch.Publish(cfg.Exchange, "test.garbage", false, false, amqp.Publishing{MessageId: "garbage", Body: []byte("{not json")}); err != nil {
		t.Fatal(err)
	}
	if d := deadLetter(t, cfg); d.MessageId != "garbage" {
		t.Fatalf("dead letter %q, want the malformed message", d.MessageId)
	}
	if calls.Load() != 0 {
		t.Fatal("handler called with a malformed envelope")
	}
}

func TestTransientSubscriptionHandlesWithoutTransactionAndStopsWithTheConn(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	got := make(chan bool, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() {
		done <- conn.Consume(ctx, broker.Subscription{Queue: "cache", Keys: []string{"test.user.updated"}, Transient: true,
			OnReady: func(context.Context) { ready <- struct{}{} },
			Handle: func(_ context.Context, tx *sql.Tx, _ broker.Event) error {
				got <- tx == nil
				return nil
			}})
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReady not called")
	}
	if err := conn.Publish(context.Background(), newEvent(t, "test.user.updated", nil)); err != nil {
		t.Fatal(err)
	}
	select {
	case noTx := <-got:
		if !noTx {
			t.Fatal("transient handler got a transaction")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not consumed")
	}
	conn.Close()
	select {
	case err := <-done:
		if !errors.Is(err, broker.ErrClosed) {
			t.Fatalf("Consume returned %v after Close, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Consume still running after Close")
	}
}

func TestSubscriptionWithoutInboxIsRefused(t *testing.T) {
	t.Parallel()
	conn := broker.Dial(brokertest.Config(t), nil, nil)
	defer conn.Close()
	err := conn.Consume(context.Background(), broker.Subscription{Queue: "q", Keys: []string{"#"},
		Handle: func(context.Context, *sql.Tx, broker.Event) error { return nil }})
	if err == nil {
		t.Fatal("durable subscription without DB accepted")
	}
}

func TestConnsSharingARegistryReportBothConnections(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	m := metrics.New("test")
	dial(t, cfg, m)
	dial(t, cfg, m)
	if v := metricValue(t, m, "broker_connected", nil); v != 2 {
		t.Fatalf("broker_connected = %v, want 2", v)
	}
}

// broker_consumers says per queue whether this process is consuming it: 0 before the consumer starts and
// after it stops (what a "consumer down" alert looks for), 1 while it runs. The queue's redelivery counter
// exists from the start, at 0.
func TestConsumersGaugeIsUpOnlyWhileTheQueueIsConsumed(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	m := metrics.New("test")
	conn := dial(t, cfg, m)
	up := func() float64 { return metricValue(t, m, "broker_consumers", map[string]string{"queue": "gauge"}) }
	ready := make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- conn.Consume(ctx, broker.Subscription{Queue: "gauge", Keys: []string{"test.gauge"}, Transient: true,
			OnReady: func(context.Context) { ready <- struct{}{} },
			Handle:  func(context.Context, *sql.Tx, broker.Event) error { return nil }})
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("OnReady not called")
	}
	deadline := time.Now().Add(5 * time.Second)
	for up() != 1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if v := up(); v != 1 {
		t.Fatalf("broker_consumers{queue=\"gauge\"} = %v while consuming, want 1", v)
	}
	cancel()
	<-done
	if v := up(); v != 0 {
		t.Fatalf("broker_consumers{queue=\"gauge\"} = %v after the consumer stopped, want 0", v)
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			if labelOf(mt, "queue") == "gauge" {
				seen[mf.GetName()] = true
			}
		}
	}
	if !seen["broker_consumers"] {
		t.Error("a stopped consumer's series must stay, at 0, for the alert to see it")
	}
	// Nothing was redelivered, yet the queue's redelivery counter exists (at 0): a dashboard shows 0.
	if !seen["broker_redeliveries_total"] {
		t.Error("broker_redeliveries_total{queue=\"gauge\"} does not exist before the first redelivery")
	} else if v := metricValue(t, m, "broker_redeliveries_total", map[string]string{"queue": "gauge"}); v != 0 {
		t.Errorf("broker_redeliveries_total{queue=\"gauge\"} = %v, want 0", v)
	}
}

// The envelope on the wire is the Event JSON with the AMQP properties consumers of other stacks rely on.
func TestPublishedMessageProperties(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	conn := dial(t, cfg, nil)
	ch := rawChannel(t, cfg)
	q, err := ch.QueueDeclare("", false, true, true, false, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "test.#", cfg.Exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	ev := newEvent(t, "test.props", map[string]int{"a": 1})
	if err := conn.Publish(context.Background(), ev); err != nil {
		t.Fatal(err)
	}
	d, ok, err := ch.Get(q.Name, true)
	if err != nil || !ok {
		t.Fatalf("get: %v %v", ok, err)
	}
	var body broker.Event
	if err := json.Unmarshal(d.Body, &body); err != nil || body.ID != ev.ID {
		t.Fatalf("body %s (%v)", d.Body, err)
	}
	if d.ContentType != "application/json" || d.DeliveryMode != amqp.Persistent || d.MessageId != ev.ID ||
		d.Type != ev.Type || d.Timestamp.IsZero() {
		t.Fatalf("properties %+v", d)
	}
}

// Replicas of a service each run a relay on the same outbox: together they still publish every event once
// and in order (the consumer here has no inbox, so a double publish would show).
func TestTwoRelaysOnOneOutboxPublishEachEventOnceInOrder(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	db, _ := mysqltest.New(t, nil)
	conn1, conn2 := dial(t, cfg, nil), dial(t, cfg, nil)
	s := newSink()
	consume(t, conn1, broker.Subscription{Queue: "replicas", Keys: []string{"test.#"}, Transient: true, Handle: s.handle})
	m1, m2 := metrics.New("replica1"), metrics.New("replica2")
	r1, r2 := relay(t, db, conn1, m1), relay(t, db, conn2, m2)

	const n = 300
	var want []string
	for i := range n {
		ev := newEvent(t, "test.replicated", i)
		enqueue(t, db, context.Background(), ev)
		want = append(want, ev.ID)
		if i%10 == 0 {
			r1.Notify()
			r2.Notify()
		}
	}
	r1.Notify()
	r2.Notify()
	servertest.Eventually(t, 20*time.Second, func() bool { return len(s.snapshot()) >= n }, "every event")
	time.Sleep(300 * time.Millisecond) // a double publish would arrive by now
	got := s.snapshot()
	if len(got) != n {
		t.Fatalf("consumed %d events, want %d (published twice?)", len(got), n)
	}
	for i, ev := range got {
		if ev.ID != want[i] {
			t.Fatalf("event %d is %s, want %s", i, ev.ID, want[i])
		}
	}
	t.Logf("relayed by replica 1: %v, by replica 2: %v",
		metricValue(t, m1, "outbox_relayed_total", nil), metricValue(t, m2, "outbox_relayed_total", nil))
}

func TestPublishRefusedByTheBrokerFails(t *testing.T) {
	t.Parallel()
	cfg := brokertest.Config(t)
	m := metrics.New("test")
	conn := dial(t, cfg, m)
	// A full queue that rejects new messages makes the broker nack the publish.
	ch := rawChannel(t, cfg)
	q, err := ch.QueueDeclare("", false, true, true, false, amqp.Table{"x-max-length": int32(0), "x-overflow": "reject-publish"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ch.QueueBind(q.Name, "test.full", cfg.Exchange, false, nil); err != nil {
		t.Fatal(err)
	}
	if err := conn.Publish(context.Background(), newEvent(t, "test.full", nil)); !errors.Is(err, broker.ErrNacked) {
		t.Fatalf("Publish = %v, want ErrNacked", err)
	}
	if v := metricValue(t, m, "broker_publishes_total", map[string]string{"result": "nack"}); v != 1 {
		t.Fatalf("broker_publishes_total{result=nack} = %v, want 1", v)
	}
	// The channel stays usable after a nack.
	if err := conn.Publish(context.Background(), newEvent(t, "test.full", nil)); !errors.Is(err, broker.ErrNacked) {
		t.Fatalf("second Publish = %v, want ErrNacked", err)
	}
}

// A handler that never succeeds (without saying Permanent) does not block its queue forever: after the
// delivery limit the event is dead-lettered.
func TestEventThatKeepsFailingIsDeadLetteredAfterTheDeliveryLimit(t *testing.T) {
	t.Parallel()
	for _, transient := range []bool{false, true} {
		t.Run(fmt.Sprintf("transient=%v", transient), func(t *testing.T) {
			t.Parallel()
			cfg := brokertest.Config(t)
			conn := dial(t, cfg, nil)
			sub := broker.Subscription{Queue: "failing", Keys: []string{"test.#"}, Transient: transient}
			if !transient {
				sub.DB, _ = mysqltest.New(t, nil)
			}
			var calls atomic.Int32
			sub.Handle = func(context.Context, *sql.Tx, broker.Event) error {
				calls.Add(1)
				return errors.New("always fails")
			}
			consume(t, conn, sub)
			ev := newEvent(t, "test.failing", nil)
			if err := conn.Publish(context.Background(), ev); err != nil {
				t.Fatal(err)
			}
			if d := deadLetter(t, cfg); d.MessageId != ev.ID {
				t.Fatalf("dead letter %q, want %q", d.MessageId, ev.ID)
			}
			if n := calls.Load(); n < 20 || n > 21 {
				t.Fatalf("handler called %d times before dead-lettering, want the delivery limit (20)", n)
			}
		})
	}
}

// The relay publishes a batch before awaiting its confirms; a connection that drops while a batch is in flight
// must fail that flush (its rows stay pending), not hang it, and the next flush after the reconnection must
// publish every row.
func TestRelayBatchCutByALostConnectionIsPublishedAfterReconnecting(t *testing.T) {
	t.Parallel()
	in := consumeInbox(t, "cut", "test.#")
	ctx := context.Background()
	var evs []broker.Event
	for i := range 3000 {
		evs = append(evs, newEvent(t, "test.cut", map[string]int{"n": i}))
	}
	enqueue(t, in.db, ctx, evs...)
	relay := broker.NewRelay(in.db, in.conn, nil, nil)
	for round := 0; round < 3; round++ {
		done := make(chan error, 1)
		go func() { done <- relay.Flush(ctx) }()
		time.Sleep(time.Duration(5+round*10) * time.Millisecond)
		broker.DropConnection(in.conn)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatalf("round %d: the flush did not return 20 s after its connection dropped", round)
		}
		servertest.Eventually(t, 15*time.Second, func() bool { return in.conn.Ready(ctx) == nil }, "the reconnection")
	}
	servertest.Eventually(t, 30*time.Second, func() bool {
		if err := relay.Flush(ctx); err != nil {
			return false
		}
		var pending int
		_ = in.db.QueryRow("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&pending)
		return pending == 0
	}, "every row published")
	servertest.Eventually(t, 30*time.Second, func() bool {
		for _, ev := range evs {
			if in.s.count(ev.ID) != 1 {
				return false
			}
		}
		return true
	}, "every event handled")
}

// Several events enqueued in one call are one statement: all or none, in the order given.
func TestEnqueueOfSeveralEventsKeepsTheirOrder(t *testing.T) {
	t.Parallel()
	db, _ := mysqltest.New(t, nil)
	ctx := context.Background()
	a, b := newEvent(t, "test.a", nil), newEvent(t, "test.b", nil)
	push, err := broker.NewPush("test", "user-1", "test.frame", map[string]int{"n": 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := mysqlx.InTx(ctx, db, func(tx *sql.Tx) error { return broker.Enqueue(ctx, tx, a, push, b) }); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range brokertest.Outbox(t, db) {
		got = append(got, o.Event.ID)
	}
	if fmt.Sprint(got) != fmt.Sprint([]string{a.ID, push.ID, b.ID}) {
		t.Fatalf("outbox %v, want %v", got, []string{a.ID, push.ID, b.ID})
	}
	// A bad event fails the whole call: nothing of it is written.
	bad := newEvent(t, "test.c", nil)
	bad.ID = ""
	err = mysqlx.InTx(ctx, db, func(tx *sql.Tx) error { return broker.Enqueue(ctx, tx, newEvent(t, "test.d", nil), bad) })
	if err == nil || len(brokertest.Outbox(t, db)) != 3 {
		t.Fatalf("a call with an invalid event: err %v, outbox %d rows, want an error and 3 rows", err, len(brokertest.Outbox(t, db)))
	}
}

// A transaction that serves several requests (a group commit) writes each request's events with that request's
// trace context, in the order of the groups, in one statement.
func TestEnqueueTracedGivesEachGroupItsOwnTraceContext(t *testing.T) {
	t.Parallel()
	db, _ := mysqltest.New(t, nil)
	first, span1 := otel.Tracer("test").Start(context.Background(), "first request")
	span1.End()
	second, span2 := otel.Tracer("test").Start(context.Background(), "second request")
	span2.End()
	a, b, c := newEvent(t, "test.a", nil), newEvent(t, "test.b", nil), newEvent(t, "test.c", nil)
	ctx := context.Background()
	err := mysqlx.InTx(ctx, db, func(tx *sql.Tx) error {
		return broker.EnqueueTraced(ctx, tx, broker.Traced{Ctx: first, Events: []broker.Event{a, b}},
			broker.Traced{Ctx: second}, broker.Traced{Ctx: second, Events: []broker.Event{c}})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]trace.TraceID{a.ID: span1.SpanContext().TraceID(), b.ID: span1.SpanContext().TraceID(),
		c.ID: span2.SpanContext().TraceID()}
	rows, err := db.Query("SELECT event_id, headers FROM outbox ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var order []string
	for rows.Next() {
		var (
			id      string
			headers []byte
		)
		if err := rows.Scan(&id, &headers); err != nil {
			t.Fatal(err)
		}
		order = append(order, id)
		var h map[string]string
		if err := json.Unmarshal(headers, &h); err != nil {
			t.Fatal(err)
		}
		if tid := want[id].String(); !strings.Contains(h["traceparent"], tid) {
			t.Errorf("event %s carries %v, want trace %s", id, h, tid)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(order) != fmt.Sprint([]string{a.ID, b.ID, c.ID}) {
		t.Fatalf("outbox %v, want %v", order, []string{a.ID, b.ID, c.ID})
	}
}
