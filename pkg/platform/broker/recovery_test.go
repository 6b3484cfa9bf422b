package broker_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/server/servertest"
)

// rabbitmqctl runs one rabbitmqctl command against the local node.
func rabbitmqctl(t *testing.T, ctl string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, ctl, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("rabbitmqctl %v: %v\n%s", args, err, out)
	}
	t.Logf("rabbitmqctl %v took %s", args, time.Since(start).Round(time.Millisecond))
}

// closeConnectionOf has the broker close the connection of the Conn dialled with cfg (as a node restart or a
// network cut would). The Conn names its connection after the exchange, which is unique to the test.
func closeConnectionOf(t *testing.T, ctl string, cfg broker.Config) {
	t.Helper()
	out, err := exec.Command(ctl, "list_connections", "-q", "--no-table-headers", "pid", "client_properties").CombinedOutput()
	if err != nil {
		t.Skipf("rabbitmqctl list_connections: %v\n%s", err, out)
	}
	var pid string
	for line := range strings.Lines(string(out)) {
		if strings.Contains(line, cfg.Exchange) {
			pid, _, _ = strings.Cut(line, "\t")
		}
	}
	if pid == "" {
		t.Fatalf("connection of %s not listed:\n%s", cfg.Exchange, out)
	}
	rabbitmqctl(t, ctl, "close_connection", pid, "closed by a test")
}

// A connection closed by the broker (here by an operator; the same happens on a node restart or a network
// cut) is re-established by itself, with the consumer re-declared and consuming again. Only this test's own
// connection is closed, so it runs with the others.
func TestConnAndConsumerRecoverWhenTheBrokerClosesTheConnection(t *testing.T) {
	t.Parallel()
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		t.Skip("rabbitmqctl not found; it is needed to close the connection from the broker side")
	}
	in := consumeInbox(t, "recover", "test.#")

	closeConnectionOf(t, ctl, in.cfg)

	servertest.Eventually(t, 15*time.Second, func() bool {
		return in.ready() >= 2
	}, "the consumer to be re-established")
	ev := newEvent(t, "test.after.recovery", nil)
	servertest.Eventually(t, 10*time.Second, func() bool {
		return in.conn.Publish(context.Background(), ev) == nil
	}, "a publish to succeed")
	servertest.Eventually(t, 10*time.Second, func() bool {
		return in.s.count(ev.ID) == 1
	}, "the event published after the recovery")
	if v := metricValue(t, in.m, "broker_reconnects_total", nil); v != 1 {
		t.Fatalf("broker_reconnects_total = %v, want 1", v)
	}
}

// The outbox relay loses no event across a broker restart, and the consumer comes back by itself: events are
// committed continuously before, during and after `rabbitmqctl stop_app` / `start_app`, and every one of them
// is handled exactly once (at-least-once delivery, made exactly-once handling by the inbox).
//
// It stops the machine's broker, so it runs only when asked (MESSENGER_BROKER_FAULTS=1), outside the
// parallel tests.
func TestFaultOutboxLosesNoEventAcrossBrokerRestart(t *testing.T) {
	if os.Getenv("MESSENGER_BROKER_FAULTS") != "1" {
		t.Skip("restarts the machine's RabbitMQ; set MESSENGER_BROKER_FAULTS=1 to run (make test does, in a serial phase)")
	}
	ctl, err := exec.LookPath("rabbitmqctl")
	if err != nil {
		t.Skip("rabbitmqctl not found; it is needed to restart the broker")
	}
	in := consumeInbox(t, "fault", "test.#")
	r := relay(t, in.db, in.conn, in.m)

	var mu sync.Mutex
	var ids []string
	produced := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), ids...) }
	ctx, stopProducing := context.WithCancel(context.Background())
	producerDone := make(chan struct{})
	go func() {
		defer close(producerDone)
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ev, err := broker.NewEvent("test", "test.fault.tick", nil)
			if err != nil {
				t.Error(err)
				return
			}
			enqueue(t, in.db, context.Background(), ev)
			mu.Lock()
			ids = append(ids, ev.ID)
			mu.Unlock()
			r.Notify()
		}
	}()
	defer func() { stopProducing(); <-producerDone }()

	time.Sleep(time.Second)
	before := len(produced())

	stopped := true
	defer func() {
		// Whatever happened, leave the machine's broker running.
		if stopped {
			rabbitmqctl(t, ctl, "start_app")
		}
	}()
	rabbitmqctl(t, ctl, "stop_app")
	servertest.Eventually(t, 10*time.Second, func() bool {
		return in.conn.Ready(context.Background()) != nil
	}, "the Conn to notice the broker is down")
	// Events keep being committed while nothing can be published.
	time.Sleep(1500 * time.Millisecond)
	during := len(produced())
	rabbitmqctl(t, ctl, "start_app")
	stopped = false
	outageEnd := time.Now()

	servertest.Eventually(t, 30*time.Second, func() bool {
		return in.conn.Ready(context.Background()) == nil
	}, "the Conn to reconnect")
	servertest.Eventually(t, 30*time.Second, func() bool { return in.ready() >= 2 }, "the consumer to restart")
	t.Logf("reconnected and consuming %s after start_app", time.Since(outageEnd).Round(time.Millisecond))
	time.Sleep(time.Second)
	stopProducing()
	<-producerDone
	all := produced()
	t.Logf("events committed: %d before the stop, %d while stopped, %d after the start", before, during-before, len(all)-during)
	if before == 0 || during == before || len(all) == during {
		t.Fatalf("the producer did not run in every phase (%d/%d/%d)", before, during, len(all))
	}

	servertest.Eventually(t, 30*time.Second, func() bool {
		for _, id := range all {
			if in.s.count(id) == 0 {
				return false
			}
		}
		return true
	}, "every committed event to be handled")
	for _, id := range all {
		if n := in.s.count(id); n != 1 {
			t.Errorf("event %s handled %d times", id, n)
		}
	}
	if v := metricValue(t, in.m, "broker_reconnects_total", nil); v < 1 {
		t.Errorf("broker_reconnects_total = %v, want at least 1", v)
	}
	t.Logf("duplicates absorbed by the inbox: %v", metricValue(t, in.m, "broker_consumed_total", map[string]string{"queue": "fault", "result": "duplicate"}))
}
