package broker_test

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	amqp "github.com/rabbitmq/amqp091-go"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/metrics"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server/servertest"
)

// spans records every span of the test process. Tests run in parallel, so each one picks its own spans out
// by message id.
var spans = tracetest.NewInMemoryExporter()

func TestMain(m *testing.M) {
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans)))
	// Retries wait milliseconds instead of up to a second, so a message goes through the delivery limit fast.
	broker.SetRetryBackoff(time.Millisecond, 5*time.Millisecond)
	os.Exit(m.Run())
}

// dial connects to the test's topology and waits until the connection is up.
func dial(t *testing.T, cfg broker.Config, m *metrics.Metrics) *broker.Conn {
	t.Helper()
	conn := broker.Dial(cfg, nil, m)
	t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.WaitReady(ctx); err != nil {
		t.Fatalf("broker not ready: %v", err)
	}
	return conn
}

// consume runs s in the background until the test ends and waits for the first OnReady. It returns a
// function that reports how often OnReady ran.
func consume(t *testing.T, conn *broker.Conn, s broker.Subscription) (readyCount func() int) {
	t.Helper()
	var mu sync.Mutex
	n := 0
	first := make(chan struct{})
	onReady := s.OnReady
	s.OnReady = func(ctx context.Context) {
		if onReady != nil {
			onReady(ctx)
		}
		mu.Lock()
		n++
		if n == 1 {
			close(first)
		}
		mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- conn.Consume(ctx, s) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, broker.ErrClosed) {
			t.Errorf("Consume returned %v", err)
		}
	})
	select {
	case <-first:
	case err := <-done:
		t.Fatalf("Consume returned before it was ready: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("consumer not ready after 10s")
	}
	return func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// inbox is the setup most tests of the outbox and the inbox share: the test's own topology and database, a
// registry, a Conn on it and a durable consumer of one queue that collects what it handles in s.
type inbox struct {
	cfg   broker.Config
	db    *sql.DB
	m     *metrics.Metrics
	conn  *broker.Conn
	s     *sink
	ready func() int // how often the consumer's OnReady ran (more than once after a reconnection)
}

// consumeInbox sets an inbox up with queue bound to key and waits until it consumes.
func consumeInbox(t *testing.T, queue, key string) inbox {
	t.Helper()
	in := inbox{cfg: brokertest.Config(t), m: metrics.New("test"), s: newSink()} // the topology first: deleted last
	in.db, _ = mysqltest.New(t, nil)
	in.conn = dial(t, in.cfg, in.m)
	in.ready = consume(t, in.conn, broker.Subscription{Queue: queue, Keys: []string{key}, DB: in.db, Handle: in.s.handle})
	return in
}

// sink collects the events a handler saw, in order, with how often each id was handled.
type sink struct {
	mu     sync.Mutex
	events []broker.Event
	counts map[string]int
	notify chan struct{}
}

func newSink() *sink { return &sink{counts: map[string]int{}, notify: make(chan struct{}, 1)} }

func (s *sink) handle(_ context.Context, _ *sql.Tx, ev broker.Event) error {
	s.mu.Lock()
	s.events = append(s.events, ev)
	s.counts[ev.ID]++
	s.mu.Unlock()
	select {
	case s.notify <- struct{}{}:
	default:
	}
	return nil
}

func (s *sink) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[id]
}

func (s *sink) snapshot() []broker.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]broker.Event(nil), s.events...)
}

func newEvent(t *testing.T, typ string, data any) broker.Event {
	t.Helper()
	ev, err := broker.NewEvent("test", typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// spansOf returns the ended spans about the message id.
func spansOf(id string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, s := range spans.GetSpans().Snapshots() {
		for _, a := range s.Attributes() {
			if a.Key == "messaging.message.id" && a.Value.AsString() == id {
				out = append(out, s)
			}
		}
	}
	return out
}

func attr(s sdktrace.ReadOnlySpan, key attribute.Key) string {
	for _, a := range s.Attributes() {
		if a.Key == key {
			return a.Value.String()
		}
	}
	return ""
}

// metricValue reads a counter or gauge from the registry; labels must match exactly the given ones
// (besides the service label).
func metricValue(t *testing.T, m *metrics.Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			for k, v := range labels {
				if labelOf(mt, k) != v {
					continue next
				}
			}
			switch {
			case mt.Counter != nil:
				return mt.Counter.GetValue()
			case mt.Gauge != nil:
				return mt.Gauge.GetValue()
			}
		}
	}
	return 0
}

func labelOf(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// rawChannel opens a plain AMQP channel for what the API does not offer (malformed messages, reading the
// dead-letter queue).
func rawChannel(t *testing.T, cfg broker.Config) *amqp.Channel {
	t.Helper()
	c, err := amqp.Dial(cfg.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ch, err := c.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// deadLetter waits for a message in the dead-letter queue and returns it.
func deadLetter(t *testing.T, cfg broker.Config) amqp.Delivery {
	t.Helper()
	ch := rawChannel(t, cfg)
	var got amqp.Delivery
	servertest.Eventually(t, 10*time.Second, func() bool {
		d, ok, err := ch.Get(cfg.DeadLetterQueue(), true)
		if err != nil {
			t.Fatal(err)
		}
		got = d
		return ok
	}, "a dead-lettered message")
	return got
}
