package app_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace/noop"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/gateway/internal/app"
)

// journal records the broker operations of the hub in order.
type journal struct {
	mu      sync.Mutex
	ops     []string
	bindErr error
	failKey string // Bind fails for this key only
	pubErr  error
}

func (j *journal) add(op string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.ops = append(j.ops, op)
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return slices.Clone(j.ops)
}

func (j *journal) Bind(_ context.Context, key string) error {
	if j.bindErr != nil {
		return j.bindErr
	}
	if key == j.failKey {
		return errors.New("refused")
	}
	j.add("bind " + key)
	return nil
}

func (j *journal) Unbind(_ context.Context, key string) error {
	j.add("unbind " + key)
	return nil
}

func (j *journal) PublishEntered(_ context.Context, e events.UserEnteredData) error {
	if j.pubErr != nil {
		return j.pubErr
	}
	j.add("entered " + e.UserID + presenceOf(e.GatewayPresence))
	return nil
}

func (j *journal) PublishLeft(_ context.Context, e events.UserLeftData) error {
	j.add("left " + e.UserID + presenceOf(e.GatewayPresence))
	return nil
}

func (j *journal) PublishHeartbeat(_ context.Context, e events.PresenceHeartbeatData) error {
	users := slices.Sorted(slices.Values(e.UserIDs))
	j.add(fmt.Sprintf("heartbeat %v", users) + presenceOf(e.GatewayPresence))
	return nil
}

// presenceOf is a statement's sequence number and lease ("" when presence is not kept).
func presenceOf(p events.GatewayPresence) string {
	if !p.Valid() {
		return ""
	}
	return fmt.Sprintf(" #%d %dms", p.Seq, p.LeaseMillis)
}

// fakeSocket has a bounded buffer like the real one.
type fakeSocket struct {
	mu     sync.Mutex
	frames []app.Frame
	cap    int
	code   app.CloseCode
	now    bool
	at     time.Time // when Close was called
}

func newSocket(capacity int) *fakeSocket { return &fakeSocket{cap: capacity} }

func (s *fakeSocket) Send(f app.Frame) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == s.cap {
		return false
	}
	s.frames = append(s.frames, f)
	return true
}

func (s *fakeSocket) Close(code app.CloseCode, _ string, now bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.code, s.now, s.at = code, now, time.Now()
}

func (s *fakeSocket) types() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, f := range s.frames {
		out = append(out, f.Type)
	}
	return out
}

func (s *fakeSocket) closedWith() app.CloseCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.code
}

type counts struct {
	mu          sync.Mutex
	connections int
	frames      map[string]int
	dropped     map[string]int
	fanout      []string // "type sockets" per delivered push
}

func newCounts() *counts { return &counts{frames: map[string]int{}, dropped: map[string]int{}} }

func (c *counts) Connections(d int) { c.mu.Lock(); c.connections += d; c.mu.Unlock() }
func (c *counts) Frame(typ, result string) {
	c.mu.Lock()
	c.frames[typ+" "+result]++
	c.mu.Unlock()
}
func (c *counts) Dropped(reason string) { c.mu.Lock(); c.dropped[reason]++; c.mu.Unlock() }
func (c *counts) Fanout(typ string, sockets int) {
	c.mu.Lock()
	c.fanout = append(c.fanout, fmt.Sprintf("%s %d", typ, sockets))
	c.mu.Unlock()
}

func newHub(j *journal, obs app.PushObserver) *app.Hub {
	return app.NewHub(j, j, j, obs, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func enter(t *testing.T, h *app.Hub, user, session string, s app.Socket) *app.Connection {
	t.Helper()
	c, err := h.Enter(context.Background(), user, session, s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func pushEvent(t *testing.T, user, typ string, data any, connID string) broker.Event {
	t.Helper()
	ev, err := broker.NewPush("test", user, typ, data)
	if err != nil {
		t.Fatal(err)
	}
	ev.ConnectionID = connID
	return ev
}

func TestTheUsersKeyIsBoundBeforeTheSocketIsAnnouncedAndUnboundWithTheLastSocket(t *testing.T) {
	j := &journal{}
	obs := newCounts()
	h := newHub(j, obs)
	a := enter(t, h, "u1", "s1", newSocket(8))
	b := enter(t, h, "u1", "s2", newSocket(8))
	if obs.connections != 2 || h.Count() != 2 {
		t.Fatalf("connections %d / %d", obs.connections, h.Count())
	}
	h.Leave(a)
	h.Leave(a) // idempotent
	h.Leave(b)
	want := []string{"bind user.u1.#", "bind user.*.u1", "entered u1", "entered u1", "unbind user.u1.#", "unbind user.*.u1"}
	if got := j.list(); !slices.Equal(got, want) {
		t.Fatalf("operations %v, want %v", got, want)
	}
	if obs.connections != 0 || h.Count() != 0 {
		t.Fatalf("connections left: %d", obs.connections)
	}
	// The next socket binds again.
	enter(t, h, "u1", "s3", newSocket(8))
	if got := j.list(); got[len(got)-2] != "bind user.*.u1" {
		t.Fatalf("operations %v", got)
	}
}

func TestASocketThatCannotEnterIsNotKept(t *testing.T) {
	j := &journal{bindErr: errors.New("broker down")}
	h := newHub(j, nil)
	if _, err := h.Enter(context.Background(), "u1", "s1", newSocket(8)); err == nil {
		t.Fatal("entered without a binding")
	}
	if got := j.list(); len(got) != 0 || h.Count() != 0 {
		t.Fatalf("operations %v, %d sockets", got, h.Count())
	}

	if _, err := h.Enter(context.Background(), "user.#", "s1", newSocket(8)); err == nil {
		t.Fatal("a wildcard user id was bound")
	}
	if _, err := h.Enter(context.Background(), "u1.u2", "s1", newSocket(8)); err == nil {
		t.Fatal("a user id with a dot was bound")
	}

	// A user's keys are bound all or none.
	j = &journal{failKey: "user.*.u1"}
	h = newHub(j, nil)
	if _, err := h.Enter(context.Background(), "u1", "s1", newSocket(8)); err == nil {
		t.Fatal("entered with half the bindings")
	}
	if got := j.list(); !slices.Equal(got, []string{"bind user.u1.#", "unbind user.u1.#"}) || h.Count() != 0 {
		t.Fatalf("operations %v, %d sockets", got, h.Count())
	}

	j = &journal{pubErr: errors.New("nacked")}
	h = newHub(j, nil)
	if _, err := h.Enter(context.Background(), "u1", "s1", newSocket(8)); err == nil {
		t.Fatal("entered without the event")
	}
	if got := j.list(); !slices.Equal(got, []string{"bind user.u1.#", "bind user.*.u1", "unbind user.u1.#", "unbind user.*.u1"}) || h.Count() != 0 {
		t.Fatalf("operations %v, %d sockets", got, h.Count())
	}
}

func TestPushesGoToTheUsersSocketsOrToTheOneTheyName(t *testing.T) {
	obs := newCounts()
	h := newHub(&journal{}, obs)
	s1, s2, other := newSocket(8), newSocket(8), newSocket(8)
	c1 := enter(t, h, "u1", "s1", s1)
	enter(t, h, "u1", "s2", s2)
	c3 := enter(t, h, "u2", "s3", other)

	h.Deliver(context.Background(), pushEvent(t, "u1", "message.new", map[string]string{"id": "1"}, ""))
	h.Deliver(context.Background(), pushEvent(t, "u1", "friends.pending", nil, c1.ID))
	h.Deliver(context.Background(), pushEvent(t, "u1", "message.read", nil, c3.ID))  // another user's socket: nobody
	h.Deliver(context.Background(), pushEvent(t, "u1", "message.read", nil, "gone")) // closed meanwhile: nobody
	domainEvent, _ := broker.NewEvent("test", "message.new", nil)
	h.Deliver(context.Background(), domainEvent) // not a push

	if got := s1.types(); !slices.Equal(got, []string{"message.new", "friends.pending"}) {
		t.Fatalf("socket 1 got %v", got)
	}
	if got := s2.types(); !slices.Equal(got, []string{"message.new"}) {
		t.Fatalf("socket 2 got %v", got)
	}
	if got := other.types(); len(got) != 0 {
		t.Fatalf("the other user got %v", got)
	}
	if body := string(s1.frames[0].Body); body != `{"type":"message.new","data":{"id":"1"}}` {
		t.Fatalf("frame %s", body)
	}
	// The fan-out of every push is recorded, pushes that found nobody here included.
	if want := []string{"message.new 2", "friends.pending 1", "message.read 0", "message.read 0"}; !slices.Equal(obs.fanout, want) {
		t.Fatalf("fan-out %v, want %v", obs.fanout, want)
	}
}

// A pair push (a chat's message.new) reaches every socket of both users here, each once, and no one else's.
func TestAPairPushGoesToBothUsersSockets(t *testing.T) {
	obs := newCounts()
	h := newHub(&journal{}, obs)
	a1, a2, b, other := newSocket(8), newSocket(8), newSocket(8), newSocket(8)
	ca := enter(t, h, "ua", "s1", a1)
	enter(t, h, "ua", "s2", a2)
	enter(t, h, "ub", "s3", b)
	enter(t, h, "uc", "s4", other)

	pair, err := broker.NewPairPush("test", "ub", "ua", "message.new", map[string]string{"id": "1"})
	if err != nil {
		t.Fatal(err)
	}
	h.Deliver(context.Background(), pair)
	// A pair push naming a socket reaches nobody: only one user's push addresses one socket.
	pair.ConnectionID = ca.ID
	h.Deliver(context.Background(), pair)
	for name, s := range map[string]*fakeSocket{"a1": a1, "a2": a2, "b": b} {
		if got := s.types(); !slices.Equal(got, []string{"message.new"}) {
			t.Errorf("socket %s got %v", name, got)
		}
	}
	if got := other.types(); len(got) != 0 {
		t.Errorf("the third user got %v", got)
	}
	if want := []string{"message.new 3", "message.new 0"}; !slices.Equal(obs.fanout, want) {
		t.Errorf("fan-out %v, want %v", obs.fanout, want)
	}
}

func TestEachEntryReplyReachesASocketOnce(t *testing.T) {
	obs := newCounts()
	h := newHub(&journal{}, obs)
	s := newSocket(8)
	c := enter(t, h, "u1", "s1", s)
	for range 2 {
		h.Deliver(context.Background(), pushEvent(t, "u1", "messages.unread", nil, c.ID))
		h.Deliver(context.Background(), pushEvent(t, "u1", "friends.pending", nil, c.ID))
		h.Deliver(context.Background(), pushEvent(t, "u1", "message.new", nil, ""))
	}
	want := []string{"messages.unread", "friends.pending", "message.new", "message.new"}
	if got := s.types(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if obs.frames["messages.unread duplicate"] != 1 || obs.frames["friends.pending duplicate"] != 1 {
		t.Fatalf("frames %v", obs.frames)
	}
}

func TestASocketWhoseBufferIsFullIsDroppedAndTheOthersStillReceive(t *testing.T) {
	obs := newCounts()
	h := newHub(&journal{}, obs)
	slow, fast := newSocket(2), newSocket(100)
	enter(t, h, "u1", "s1", slow)
	enter(t, h, "u1", "s2", fast)
	for range 5 {
		h.Deliver(context.Background(), pushEvent(t, "u1", "message.new", nil, ""))
	}
	if slow.closedWith() != app.ClosePolicyViolation || !slow.now {
		t.Fatalf("slow socket closed with %d (now %v)", slow.closedWith(), slow.now)
	}
	if len(slow.types()) != 2 || len(fast.types()) != 5 {
		t.Fatalf("slow got %d, fast %d", len(slow.types()), len(fast.types()))
	}
	if obs.dropped[app.DropSlowClient] != 1 || obs.frames["message.new dropped"] != 3 {
		t.Fatalf("dropped %v, frames %v", obs.dropped, obs.frames)
	}
}

func TestARevokedSessionsSocketsAreClosedAndNoOthers(t *testing.T) {
	obs := newCounts()
	h := newHub(&journal{}, obs)
	a, b, c := newSocket(8), newSocket(8), newSocket(8)
	enter(t, h, "u1", "revoked", a)
	enter(t, h, "u1", "revoked", b)
	enter(t, h, "u1", "kept", c)
	h.CloseSession("revoked")
	h.CloseSession("revoked") // a repeated revocation (from a reload) closes nothing twice
	if a.closedWith() != app.ClosePolicyViolation || b.closedWith() != app.ClosePolicyViolation || c.closedWith() != 0 {
		t.Fatalf("closed with %d %d %d", a.closedWith(), b.closedWith(), c.closedWith())
	}
	if obs.dropped[app.DropRevoked] != 2 {
		t.Fatalf("dropped %v", obs.dropped)
	}
}

func TestAfterABrokerReconnectEverySocketIsAskedToReconnect(t *testing.T) {
	h := newHub(&journal{}, nil)
	h.BrokerReady(context.Background()) // the start
	s := newSocket(8)
	enter(t, h, "u1", "s1", s)
	if s.closedWith() != 0 {
		t.Fatal("closed at the start")
	}
	h.BrokerReady(context.Background()) // a new push queue: what went to the old one is lost
	if s.closedWith() != app.CloseServiceRestart {
		t.Fatalf("closed with %d, want 1012", s.closedWith())
	}
}

func TestStoppingClosesEverySocketGoingAwayAndRefusesNewOnes(t *testing.T) {
	j := &journal{}
	h := newHub(j, nil)
	s := newSocket(8)
	c := enter(t, h, "u1", "s1", s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.Run(ctx) }()
	cancel()
	deadline := time.Now().Add(2 * time.Second)
	for s.closedWith() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("socket not closed")
		}
		time.Sleep(time.Millisecond)
	}
	if s.closedWith() != app.CloseGoingAway {
		t.Fatalf("closed with %d, want 1001", s.closedWith())
	}
	select {
	case <-done:
		t.Fatal("Run returned before the socket left")
	case <-time.After(20 * time.Millisecond):
	}
	h.Leave(c)
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run returned %v", err)
	}
	if _, err := h.Enter(context.Background(), "u2", "s2", newSocket(8)); !errors.Is(err, app.ErrStopping) {
		t.Fatalf("Enter while stopping: %v", err)
	}
}

// At shutdown the sockets close one after the other over DrainPeriod, not all at once (their clients would all
// reconnect in the same instant), and a socket still open keeps getting its pushes until its turn.
// closedMeanwhile reports whether s closes within 100 ms: the drain may take a socket between the test's look
// at it and the push (it marks the socket dropped, which stops its pushes, then closes it), and then the push
// was for a socket no longer open.
func closedMeanwhile(s *fakeSocket) bool {
	for deadline := time.Now().Add(100 * time.Millisecond); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		if s.closedWith() != 0 {
			return true
		}
	}
	return false
}

func TestDrainSpreadsTheClosesOverThePeriodAndPushesReachTheSocketsStillOpen(t *testing.T) {
	j := &journal{}
	h := newHub(j, nil)
	const n, period = 10, 500 * time.Millisecond
	h.DrainPeriod, h.DrainTimeout = period, 2*time.Second
	socks := make([]*fakeSocket, n)
	conns := make([]*app.Connection, n)
	for i := range socks {
		socks[i] = newSocket(64)
		conns[i] = enter(t, h, fmt.Sprintf("u%d", i), fmt.Sprintf("s%d", i), socks[i])
	}
	start := time.Now()
	done := make(chan struct{})
	go func() { h.Drain(context.Background()); close(done) }()

	// Half-way, the sockets not yet closed still get their pushes.
	time.Sleep(period / 2)
	open := 0
	for i, s := range socks {
		if s.closedWith() == 0 {
			open++
			if err := h.HandlePush(context.Background(), nil, pushEvent(t, conns[i].UserID, "message.new", map[string]string{"id": "m"}, "")); err != nil {
				t.Fatal(err)
			}
			if ts := s.types(); (len(ts) == 0 || ts[len(ts)-1] != "message.new") && !closedMeanwhile(s) {
				t.Errorf("socket %d, still open during the drain, did not get its push: %v", i, ts)
			}
		}
	}
	if open == 0 || open == n {
		t.Errorf("%d of %d sockets open half-way through the drain; want some closed and some open", open, n)
	}
	for _, c := range conns {
		h.Leave(c)
	}
	<-done
	var first, last time.Time
	for i, s := range socks {
		s.mu.Lock()
		code, at := s.code, s.at
		s.mu.Unlock()
		if code != app.CloseGoingAway {
			t.Fatalf("socket %d closed with %d, want 1001", i, code)
		}
		if first.IsZero() || at.Before(first) {
			first = at
		}
		if at.After(last) {
			last = at
		}
	}
	if first.Sub(start) > 50*time.Millisecond {
		t.Errorf("the first socket closed %v after the drain began; want at once", first.Sub(start))
	}
	if spread := last.Sub(first); spread < period*(n-1)/n-50*time.Millisecond || spread > period+200*time.Millisecond {
		t.Errorf("closes spread over %v; want about %v", spread, period*(n-1)/n)
	}
	if _, err := h.Enter(context.Background(), "late", "late", newSocket(8)); !errors.Is(err, app.ErrStopping) {
		t.Fatalf("Enter during the drain: %v", err)
	}
}

func TestAPushDeliveryIsASpanUnderTheConsumersWithTheFrameTypeAndSockets(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })

	h := newHub(&journal{}, nil)
	s1, s2 := newSocket(8), newSocket(8)
	enter(t, h, "u1", "s1", s1)
	enter(t, h, "u1", "s2", s2)
	ctx, consume := tp.Tracer("test").Start(context.Background(), "push process")
	h.Deliver(ctx, pushEvent(t, "u1", "message.new", nil, ""))
	consume.End()

	var send sdktrace.ReadOnlySpan
	for _, s := range spans.Ended() {
		if s.Name() == "websocket send" {
			send = s
		}
	}
	if send == nil {
		t.Fatal("no websocket send span")
	}
	if send.Parent().SpanID() != consume.SpanContext().SpanID() {
		t.Errorf("websocket send's parent is %s, want the consumer's span %s", send.Parent().SpanID(), consume.SpanContext().SpanID())
	}
	attrs := map[attribute.Key]attribute.Value{}
	for _, a := range send.Attributes() {
		attrs[a.Key] = a.Value
	}
	if attrs[app.AttrFrameType].AsString() != "message.new" || attrs[app.AttrSockets].AsInt64() != 2 {
		t.Errorf("attributes %v", send.Attributes())
	}
	// Each socket's frame names the delivery span, so its write becomes the delivery span's child.
	for _, s := range []*fakeSocket{s1, s2} {
		if got := s.frames[0].Trace.SpanID(); got != send.SpanContext().SpanID() {
			t.Errorf("frame carries span %s, want %s", got, send.SpanContext().SpanID())
		}
	}
}

// After a drain has waited for the sockets (up to DrainTimeout), Run closes what is left without waiting a second
// time: the shutdown's grace period is not spent twice.
func TestRunAfterDrainDoesNotWaitAgain(t *testing.T) {
	h := newHub(&journal{}, nil)
	h.DrainTimeout = 300 * time.Millisecond
	s := newSocket(8)
	enter(t, h, "u1", "s1", s) // never leaves
	start := time.Now()
	h.Drain(context.Background())
	if d := time.Since(start); d < h.DrainTimeout {
		t.Fatalf("Drain returned after %v, before its DrainTimeout %v with a socket still there", d, h.DrainTimeout)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start = time.Now()
	if err := h.Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Run: %v", err)
	}
	if d := time.Since(start); d > h.DrainTimeout/2 {
		t.Fatalf("Run after Drain waited %v again", d)
	}
	if s.closedWith() != app.CloseGoingAway {
		t.Fatalf("closed with %d, want 1001", s.closedWith())
	}
}

func TestPresenceStatementsAreNumberedInTheOrderOfTheSocketsComingAndGoing(t *testing.T) {
	j := &journal{}
	h := newHub(j, nil)
	h.Lease = 30 * time.Second
	a1, a2, b := newSocket(8), newSocket(8), newSocket(8)
	ca1 := enter(t, h, "ua", "s1", a1)
	ca2 := enter(t, h, "ua", "s2", a2)
	cb := enter(t, h, "ub", "s3", b)
	if n, err := h.Heartbeat(context.Background()); n != 2 || err != nil {
		t.Fatalf("heartbeat listed %d users: %v", n, err)
	}
	h.Leave(ca1) // ua still has a socket: nothing to say
	h.Leave(ca2)
	if n, err := h.Heartbeat(context.Background()); n != 1 || err != nil {
		t.Fatalf("heartbeat listed %d users: %v", n, err)
	}
	h.Leave(cb)
	if n, err := h.Heartbeat(context.Background()); n != 0 || err != nil {
		t.Fatalf("heartbeat with nobody connected listed %d users: %v", n, err)
	}
	want := []string{
		"bind user.ua.#", "bind user.*.ua", "entered ua #1 30000ms", "entered ua #2 30000ms",
		"bind user.ub.#", "bind user.*.ub", "entered ub #3 30000ms",
		"heartbeat [ua ub] #3 30000ms",
		"unbind user.ua.#", "unbind user.*.ua", "left ua #4 30000ms",
		"heartbeat [ub] #4 30000ms",
		"unbind user.ub.#", "unbind user.*.ub", "left ub #5 30000ms",
	}
	if got := j.list(); !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestAHubWithoutALeaseSaysNothingOfPresence(t *testing.T) {
	j := &journal{}
	h := newHub(j, nil)
	c := enter(t, h, "ua", "s1", newSocket(8))
	if n, err := h.Heartbeat(context.Background()); n != 0 || err != nil {
		t.Errorf("heartbeat listed %d users: %v", n, err)
	}
	h.Leave(c)
	if got, want := j.list(), []string{"bind user.ua.#", "bind user.*.ua", "entered ua", "unbind user.ua.#", "unbind user.*.ua"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
