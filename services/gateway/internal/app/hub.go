package app

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/gateway/internal/domain"
)

// CloseCode is a WebSocket close status (RFC 6455 §7.4).
type CloseCode int

const (
	// CloseGoingAway: this gateway is stopping; reconnect (to another replica).
	CloseGoingAway CloseCode = 1001
	// ClosePolicyViolation: the session was revoked, or the client did not keep up with its frames.
	ClosePolicyViolation CloseCode = 1008
	// CloseInternalError: entering failed (broker trouble); reconnect.
	CloseInternalError CloseCode = 1011
	// CloseServiceRestart: the gateway's push queue was re-created after a broker reconnect, so pushes may
	// have been lost; reconnect to get the entry replies again.
	CloseServiceRestart CloseCode = 1012
)

// Reasons a connection is dropped (the gateway_websocket_dropped_total label).
const (
	DropSlowClient      = "slow_client"
	DropWriteFailed     = "write_failed"
	DropPingTimeout     = "ping_timeout"
	DropRevoked         = "revoked"
	DropEnterFailed     = "enter_failed"
	DropBrokerReconnect = "broker_reconnect"
)

// DropReasons are all of them.
var DropReasons = []string{DropSlowClient, DropWriteFailed, DropPingTimeout, DropRevoked, DropEnterFailed, DropBrokerReconnect}

// Frame results (the gateway_push_frames_total label).
const (
	FrameSent      = "sent"
	FrameDropped   = "dropped"
	FrameDuplicate = "duplicate"
)

// Frame is one frame for a socket, encoded once for all its recipients.
type Frame struct {
	Type string
	// Body is the JSON text {"type": ..., "data": ...}.
	Body []byte
	// Created is when the producer made the push (for the delivery latency).
	Created time.Time
	// Trace is the span of the push's delivery ("websocket send"): each socket's write is recorded as its
	// child, so the trace of the request that caused the push ends at the frame written.
	Trace trace.SpanContext
}

// Span attributes of the push spans.
const (
	AttrFrameType    = attribute.Key("messenger.push.frame_type")
	AttrSockets      = attribute.Key("messenger.push.sockets")
	AttrConnectionID = attribute.Key("messenger.push.connection_id")
)

// Tracer makes the gateway's own spans (the push connection's connect, a push's delivery and its writes).
func Tracer() trace.Tracer { return otel.Tracer("simplemessenger/services/gateway") }

// Socket is one open WebSocket as the hub sees it. Both methods return at once: the socket's own goroutines
// write and close, so a slow client never holds up the hub.
type Socket interface {
	// Send queues f for writing; false means the socket's buffer is full.
	Send(f Frame) bool
	// Close asks for the socket to be closed with code (with the closing handshake unless now is set, for
	// peers that cannot take part in it anyway).
	Close(code CloseCode, reason string, now bool)
}

// Binder binds and unbinds routing keys on this gateway's push queue, waiting for the broker's answer
// (*broker.Binder).
type Binder interface {
	Bind(ctx context.Context, key string) error
	Unbind(ctx context.Context, key string) error
}

// EntryPublisher publishes gateway.user.entered (events.UserEntered) and returns once the broker has confirmed
// it; friends and messages answer it with the entry replies, pushed to the connection.
type EntryPublisher interface {
	PublishEntered(ctx context.Context, e events.UserEnteredData) error
}

// PresencePublisher publishes what this gateway says about its users' sockets, for friends to keep presence
// from: events.UserLeft when a user's last socket here closes, and events.PresenceHeartbeat for the users still
// connected. Both return once the broker has confirmed (or refused) the event.
type PresencePublisher interface {
	PublishLeft(ctx context.Context, e events.UserLeftData) error
	PublishHeartbeat(ctx context.Context, e events.PresenceHeartbeatData) error
}

// PushObserver records what happens to sockets and frames (metrics).
type PushObserver interface {
	Connections(delta int)
	Frame(frameType, result string)
	Dropped(reason string)
	// Fanout records to how many of this gateway's sockets a push was handed.
	Fanout(frameType string, sockets int)
}

// ErrStopping refuses sockets while the gateway shuts down.
var ErrStopping = errors.New("the gateway is shutting down")

// Connection is one registered socket.
type Connection struct {
	ID        string
	UserID    string
	SessionID string

	socket  Socket
	dropped atomic.Bool // closed by the hub; nothing more is sent to it

	mu   sync.Mutex
	once map[string]bool // entry reply types already delivered
}

// Hub keeps this gateway's sockets and delivers pushes to them.
//
// Entering: the user's key is bound on the push queue (waiting for the broker's bind-ok) before the socket
// is registered and gateway.user.entered is published, so the replies to that event are routed to this
// gateway and find the socket. Bindings are counted per user: the first socket binds, the last one unbinds.
// Delivery happens on the push consumer's goroutine, in arrival order, and never blocks on a socket.
//
// Presence: the hub numbers what it says about a user's sockets (entered, left, heartbeat) in one sequence per
// process (GatewayID), so that friends keeps the latest statement whatever order the events arrive in. A user's
// first socket is announced by their entered event, their last socket's closing by events.UserLeft, and every
// HeartbeatInterval the users still connected are listed again (Beat), renewing their leases of
// Lease; a gateway that dies stops renewing, and its users go offline when the leases run out.
type Hub struct {
	binder   Binder
	entries  EntryPublisher
	presence PresencePublisher
	obs      PushObserver
	log      *slog.Logger
	// GatewayID names this process in presence statements; HeartbeatInterval is how often the connected users
	// are listed again, Lease how long each statement holds (0: presence is not kept).
	GatewayID                string
	HeartbeatInterval, Lease time.Duration
	seq                      atomic.Uint64
	// EnterTimeout bounds binding and publishing the entered event; LeaveTimeout the unbinding.
	EnterTimeout, LeaveTimeout time.Duration
	// DrainPeriod spreads the closing of the sockets at shutdown (0: all at once); DrainTimeout bounds the wait
	// for them to finish closing after that.
	DrainPeriod, DrainTimeout time.Duration

	mu        sync.RWMutex
	byID      map[string]*Connection
	byUser    map[string]map[string]*Connection
	bySession map[string]map[string]*Connection
	stopping  bool
	drained   chan struct{} // closed when stopping and the last socket has left
	drainOnce sync.Once
	// drainedOnce: a drain has waited for the sockets already (Run then does not wait again).
	drainedOnce atomic.Bool

	usersMu sync.Mutex
	users   map[string]*userBinding

	readyCount atomic.Int64
}

// userBinding serialises entering and leaving of one user's sockets, so the binding of their key follows
// the count of sockets.
type userBinding struct {
	mu      sync.Mutex
	sockets int // registered sockets (guarded by mu)
	holders int // goroutines holding or waiting for mu (guarded by Hub.usersMu)
}

// NewHub makes the hub; presence and obs may be nil (no presence kept, no metrics).
func NewHub(binder Binder, entries EntryPublisher, presence PresencePublisher, obs PushObserver, log *slog.Logger) *Hub {
	if obs == nil {
		obs = nopObserver{}
	}
	if log == nil {
		log = slog.Default()
	}
	return &Hub{
		binder: binder, entries: entries, presence: presence, obs: obs, log: log, GatewayID: uuid.NewString(),
		EnterTimeout: 5 * time.Second, LeaveTimeout: 5 * time.Second, DrainTimeout: 10 * time.Second,
		byID:      map[string]*Connection{},
		byUser:    map[string]map[string]*Connection{},
		bySession: map[string]map[string]*Connection{},
		drained:   make(chan struct{}),
		users:     map[string]*userBinding{},
	}
}

// Enter registers an authenticated socket: it binds the user's key if this is their first socket here,
// registers the socket, then publishes gateway.user.entered. On an error the socket is not registered and
// the caller closes it (CloseInternalError, so that the client reconnects); Leave is not needed then.
func (h *Hub) Enter(ctx context.Context, userID, sessionID string, s Socket) (*Connection, error) {
	if userID == "" || strings.ContainsAny(userID, "*#.") {
		// The keys are bound on a topic exchange: a wildcard or a dot in the id would subscribe this socket to
		// other users' pushes. Auth issues UUIDs, so this only guards against a token that should never verify.
		return nil, fmt.Errorf("user id %q cannot be a push routing key", userID)
	}
	c := &Connection{ID: uuid.NewString(), UserID: userID, SessionID: sessionID, socket: s, once: map[string]bool{}}
	if h.isStopping() {
		return nil, ErrStopping
	}
	ctx, cancel := context.WithTimeout(ctx, h.EnterTimeout)
	defer cancel()

	u := h.lockUser(userID)
	if u.sockets == 0 {
		if err := h.bindPushes(ctx, userID); err != nil {
			h.unlockUser(userID, u)
			return nil, fmt.Errorf("bind the user's pushes: %w", err)
		}
	}
	u.sockets++
	h.register(c)
	// Numbered after the registration, under the user's lock: a heartbeat that lists the user, or their leaving,
	// is ordered consistently with it (see Heartbeat).
	stated := h.statement()
	h.unlockUser(userID, u)

	if h.isStopping() {
		h.Leave(c)
		return nil, ErrStopping
	}
	// Only now, with the key bound and the socket registered, may the services answer.
	entered := events.UserEnteredData{UserID: userID, SessionID: sessionID, ConnectionID: c.ID, GatewayPresence: stated}
	if err := h.entries.PublishEntered(ctx, entered); err != nil {
		h.Leave(c)
		return nil, fmt.Errorf("publish %s: %w", events.UserEntered, err)
	}
	return c, nil
}

// Leave unregisters a socket that has closed (idempotent) and unbinds the user's key with their last socket.
func (h *Hub) Leave(c *Connection) {
	if !h.unregister(c) {
		return
	}
	u := h.lockUser(c.UserID)
	u.sockets--
	if u.sockets > 0 {
		h.unlockUser(c.UserID, u)
		return
	}
	stated := h.statement()
	ctx, cancel := context.WithTimeout(context.Background(), h.LeaveTimeout)
	defer cancel()
	for _, key := range broker.PushBindings(c.UserID) {
		if err := h.binder.Unbind(ctx, key); err != nil {
			// The binding stays until the queue goes; pushes for this user are then delivered to nobody here.
			h.log.Warn("cannot unbind a user's pushes", "user_id", c.UserID, "key", key, "error", err)
		}
	}
	h.unlockUser(c.UserID, u)
	if h.presence == nil || !stated.Valid() {
		return
	}
	if err := h.presence.PublishLeft(ctx, events.UserLeftData{UserID: c.UserID, GatewayPresence: stated}); err != nil {
		// The user's lease here runs out by itself.
		h.log.Warn("cannot announce that a user left", "user_id", c.UserID, "error", err)
	}
}

// bindPushes binds every key of the user's pushes (broker.PushBindings: their own and the pair pushes of
// their chats), or none: a key bound before a failure is unbound again.
func (h *Hub) bindPushes(ctx context.Context, userID string) error {
	keys := broker.PushBindings(userID)
	for i, key := range keys {
		if err := h.binder.Bind(ctx, key); err != nil {
			for _, bound := range keys[:i] {
				if uerr := h.binder.Unbind(context.WithoutCancel(ctx), bound); uerr != nil {
					h.log.Warn("cannot unbind a user's pushes", "user_id", userID, "key", bound, "error", uerr)
				}
			}
			return err
		}
	}
	return nil
}

// statement numbers a new presence statement (none when presence is not kept).
func (h *Hub) statement() events.GatewayPresence {
	if h.presence == nil || h.Lease <= 0 {
		return events.GatewayPresence{}
	}
	return events.GatewayPresence{GatewayID: h.GatewayID, Seq: h.seq.Add(1), LeaseMillis: h.Lease.Milliseconds()}
}

// Heartbeat lists the users connected here, renewing their leases; it returns how many it listed.
//
// Order: the sequence number is read before the users are, so a user's leaving that is not reflected in the
// list (it unregistered after the list was taken) is numbered after the heartbeat and wins over it; a user's
// entering numbered after it only repeats what the list says.
func (h *Hub) Heartbeat(ctx context.Context) (int, error) {
	if h.presence == nil || h.Lease <= 0 {
		return 0, nil
	}
	seq := h.seq.Load()
	h.mu.RLock()
	users := make([]string, 0, len(h.byUser))
	for id := range h.byUser {
		users = append(users, id)
	}
	h.mu.RUnlock()
	if seq == 0 || len(users) == 0 {
		return 0, nil
	}
	stated := events.GatewayPresence{GatewayID: h.GatewayID, Seq: seq, LeaseMillis: h.Lease.Milliseconds()}
	for start := 0; start < len(users); start += events.HeartbeatBatch {
		batch := users[start:min(start+events.HeartbeatBatch, len(users))]
		if err := h.presence.PublishHeartbeat(ctx, events.PresenceHeartbeatData{UserIDs: batch, GatewayPresence: stated}); err != nil {
			return start, err
		}
	}
	return len(users), nil
}

// Beat sends one heartbeat, within HeartbeatInterval (the service runs it every HeartbeatInterval). A failure
// is logged: the users' leases run out unless the next one gets through.
func (h *Hub) Beat(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, h.HeartbeatInterval)
	defer cancel()
	if _, err := h.Heartbeat(ctx); err != nil {
		h.log.Warn("presence heartbeat failed; the users' leases run out unless the next one gets through", "error", err)
	}
}

// HandlePush is the broker.Handler of the push subscription: it delivers the push to the socket it names
// (ConnectionID) or to all of its user's sockets here, or both users' for a pair push (a chat's message.new). It never fails: a push nobody here can take is simply
// dropped (the services keep what matters and send it again at the next connection).
func (h *Hub) HandlePush(ctx context.Context, _ *sql.Tx, ev broker.Event) error {
	h.Deliver(ctx, ev)
	return nil
}

// Deliver is HandlePush without the handler signature. ctx carries the consumer's span: the delivery's
// "websocket send" span is its child, and each socket's write a child of that.
func (h *Hub) Deliver(ctx context.Context, ev broker.Event) {
	users := broker.PushUsers(ev.RoutingKey())
	if !ev.IsPush() || len(users) == 0 {
		h.log.DebugContext(ctx, "ignoring an event that is not a push", "event_id", ev.ID, "routing_key", ev.RoutingKey())
		return
	}
	data := ev.Data
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	body, err := json.Marshal(struct {
		Type string          `json:"type"`
		Data json.RawMessage `json:"data"`
	}{ev.Type, data})
	if err != nil {
		h.log.WarnContext(ctx, "dropping a push with malformed data", "event_id", ev.ID, "type", ev.Type, "error", err)
		return
	}

	var targets []*Connection
	h.mu.RLock()
	if ev.ConnectionID != "" {
		// Only a push to one user addresses one socket (the replies to gateway.user.entered).
		if c := h.byID[ev.ConnectionID]; c != nil && len(users) == 1 && c.UserID == users[0] {
			targets = append(targets, c)
		}
	} else {
		for _, u := range users {
			for _, c := range h.byUser[u] {
				targets = append(targets, c)
			}
		}
	}
	h.mu.RUnlock()

	attrs := []attribute.KeyValue{AttrFrameType.String(ev.Type), AttrSockets.Int(len(targets))}
	if ev.ConnectionID != "" {
		attrs = append(attrs, AttrConnectionID.String(ev.ConnectionID))
	}
	_, span := Tracer().Start(ctx, "websocket send", trace.WithAttributes(attrs...))
	defer span.End()
	h.obs.Fanout(ev.Type, len(targets))
	f := Frame{Type: ev.Type, Body: body, Created: ev.Time, Trace: span.SpanContext()}
	for _, c := range targets {
		h.send(c, f)
	}
}

func (h *Hub) send(c *Connection, f Frame) {
	if c.dropped.Load() {
		h.obs.Frame(f.Type, FrameDropped)
		return
	}
	if domain.OncePerConnection(f.Type) {
		c.mu.Lock()
		seen := c.once[f.Type]
		c.once[f.Type] = true
		c.mu.Unlock()
		if seen {
			h.obs.Frame(f.Type, FrameDuplicate)
			return
		}
	}
	if !c.socket.Send(f) {
		h.obs.Frame(f.Type, FrameDropped)
		h.Drop(c, ClosePolicyViolation, DropSlowClient, "too slow to read its frames", true)
	}
}

// Drop closes a connection for a reason (counted once per connection). The socket leaves through Leave when
// its handler ends.
func (h *Hub) Drop(c *Connection, code CloseCode, reason, text string, now bool) {
	if c.dropped.Swap(true) {
		return
	}
	h.obs.Dropped(reason)
	c.socket.Close(code, text, now)
}

// CloseSession closes the sockets of a revoked session (policy violation).
func (h *Hub) CloseSession(sessionID string) {
	h.mu.RLock()
	var conns []*Connection
	for _, c := range h.bySession[sessionID] {
		conns = append(conns, c)
	}
	h.mu.RUnlock()
	for _, c := range conns {
		h.Drop(c, ClosePolicyViolation, DropRevoked, "session revoked", false)
	}
}

// BrokerReady is the push subscription's OnReady. The first call is the start; every later one follows a
// reconnect, after which the push queue is a new one: pushes routed while it was missing are lost, so every
// socket is closed for its client to reconnect and receive the entry replies again.
func (h *Hub) BrokerReady(context.Context) {
	if h.readyCount.Add(1) == 1 {
		return
	}
	for _, c := range h.all() {
		h.Drop(c, CloseServiceRestart, DropBrokerReconnect, "reconnect to catch up", false)
	}
}

// Drain stops taking sockets and closes the open ones with CloseGoingAway (clients reconnect, to another
// replica), spread evenly over DrainPeriod so that they do not all reconnect at the same moment, then waits up to
// DrainTimeout for them to leave. The App runs it at shutdown before it stops the push consumer: a socket keeps
// getting its pushes until its turn comes. It returns early when ctx ends.
func (h *Hub) Drain(ctx context.Context) {
	h.drain(ctx, h.DrainPeriod)
}

// Run waits for ctx to end, then closes at once whatever socket is still open (none after Drain) and, unless
// Drain has waited already, waits up to DrainTimeout for them to leave.
func (h *Hub) Run(ctx context.Context) error {
	<-ctx.Done()
	wait := context.Background()
	if h.drainedOnce.Load() {
		var cancel context.CancelFunc
		wait, cancel = context.WithCancel(wait)
		cancel() // the shutdown's time is spent: close, do not wait again
	}
	h.drain(wait, 0)
	return ctx.Err()
}

func (h *Hub) drain(ctx context.Context, period time.Duration) {
	h.mu.Lock()
	h.stopping = true
	empty := len(h.byID) == 0
	h.mu.Unlock()
	if empty {
		h.closeDrained()
	}
	conns := h.all()
	start := time.Now()
	for i, c := range conns {
		// Socket i of n closes at i/n of the period; waits under a few milliseconds are not worth a timer.
		if wait := time.Until(start.Add(period * time.Duration(i) / time.Duration(len(conns)))); wait > 5*time.Millisecond {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				period = 0 // told to hurry: the rest at once
			}
		}
		if !c.dropped.Swap(true) {
			c.socket.Close(CloseGoingAway, "server shutting down", false)
		}
	}
	if period > 0 && len(conns) > 0 {
		h.log.Info("sockets closed for shutdown", "count", len(conns), "over", time.Since(start).Round(time.Millisecond))
	}
	defer h.drainedOnce.Store(true)
	select {
	case <-h.drained:
	case <-ctx.Done():
	case <-time.After(h.DrainTimeout):
		h.log.Warn("sockets still open after the shutdown drain", "count", h.Count())
	}
}

// Count is the number of registered sockets.
func (h *Hub) Count() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.byID)
}

func (h *Hub) all() []*Connection {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]*Connection, 0, len(h.byID))
	for _, c := range h.byID {
		out = append(out, c)
	}
	return out
}

func (h *Hub) isStopping() bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.stopping
}

func (h *Hub) register(c *Connection) {
	h.mu.Lock()
	h.byID[c.ID] = c
	add(h.byUser, c.UserID, c)
	add(h.bySession, c.SessionID, c)
	h.mu.Unlock()
	h.obs.Connections(1)
}

// unregister reports whether c was registered.
func (h *Hub) unregister(c *Connection) bool {
	h.mu.Lock()
	if _, ok := h.byID[c.ID]; !ok {
		h.mu.Unlock()
		return false
	}
	delete(h.byID, c.ID)
	remove(h.byUser, c.UserID, c.ID)
	remove(h.bySession, c.SessionID, c.ID)
	last := h.stopping && len(h.byID) == 0
	h.mu.Unlock()
	h.obs.Connections(-1)
	if last {
		h.closeDrained()
	}
	return true
}

func (h *Hub) closeDrained() { h.drainOnce.Do(func() { close(h.drained) }) }

func add(m map[string]map[string]*Connection, key string, c *Connection) {
	if m[key] == nil {
		m[key] = map[string]*Connection{}
	}
	m[key][c.ID] = c
}

func remove(m map[string]map[string]*Connection, key, id string) {
	delete(m[key], id)
	if len(m[key]) == 0 {
		delete(m, key)
	}
}

func (h *Hub) lockUser(userID string) *userBinding {
	h.usersMu.Lock()
	u := h.users[userID]
	if u == nil {
		u = &userBinding{}
		h.users[userID] = u
	}
	u.holders++
	h.usersMu.Unlock()
	u.mu.Lock()
	return u
}

func (h *Hub) unlockUser(userID string, u *userBinding) {
	// Read under u.mu; if nobody else holds or waits for it (checked below), nobody can have changed it since.
	sockets := u.sockets
	u.mu.Unlock()
	h.usersMu.Lock()
	u.holders--
	if u.holders == 0 && sockets == 0 {
		delete(h.users, userID)
	}
	h.usersMu.Unlock()
}

type nopObserver struct{}

func (nopObserver) Connections(int)      {}
func (nopObserver) Frame(string, string) {}
func (nopObserver) Dropped(string)       {}
func (nopObserver) Fanout(string, int)   {}
