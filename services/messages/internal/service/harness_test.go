package service_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/entry"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/messages/internal/adapters/migrations"
	"simplemessenger/services/messages/internal/service"
)

// neighbours fakes the friends and profiles services at their HTTP boundary: the users profiles knows, the
// friendships friends knows, and a switch that makes each answer 500.
type neighbours struct {
	mu          sync.Mutex
	users       map[string]map[string]any // public profiles by id
	friendships map[[2]string]bool

	friendsDown, profilesDown atomic.Bool
	friendsCalls, batchCalls  atomic.Int64
}

func (n *neighbours) friendsHandler(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/internal/v1/friendships/"), "/")
	if r.Method != http.MethodGet || len(parts) != 2 {
		http.NotFound(w, r)
		return
	}
	n.friendsCalls.Add(1)
	if n.friendsDown.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	n.mu.Lock()
	friends := n.friendships[pairOf(parts[0], parts[1])]
	n.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]bool{"friends": friends})
}

func (n *neighbours) profilesHandler(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if n.profilesDown.Load() {
		http.Error(w, "down", http.StatusInternalServerError)
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	switch {
	case r.URL.Path == "/internal/v1/users":
		n.batchCalls.Add(1)
		ids := strings.Split(r.URL.Query().Get("ids"), ",")
		if len(ids) > 100 {
			http.Error(w, "too many ids", http.StatusBadRequest)
			return
		}
		items := []map[string]any{}
		for _, id := range ids {
			if p, ok := n.users[id]; ok {
				items = append(items, p)
			}
		}
		writeJSON(w, http.StatusOK, map[string]any{"items": items})
	case strings.HasPrefix(r.URL.Path, "/internal/v1/users/"):
		if p, ok := n.users[strings.TrimPrefix(r.URL.Path, "/internal/v1/users/")]; ok {
			writeJSON(w, http.StatusOK, p)
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]any{"error": map[string]string{"code": "user_not_found", "message": "no such user"}})
	default:
		http.NotFound(w, r)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func pairOf(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// harness is one running messages service on real MariaDB and RabbitMQ, with a token issuer standing in for
// auth and fakes for friends and profiles.
type harness struct {
	t      *testing.T
	api    string
	db     *sql.DB
	broker broker.Config
	conn   *broker.Conn // the test's own: listens to pushes, plays the gateway
	iss    *authntest.Issuer
	n      *neighbours
}

func start(t *testing.T) *harness {
	t.Helper()
	t.Parallel()
	brokerCfg := brokertest.Config(t) // first: its cleanup must run after the service and the test's Conn stopped
	n := &neighbours{users: map[string]map[string]any{}, friendships: map[[2]string]bool{}}
	friends := httptest.NewServer(http.HandlerFunc(n.friendsHandler))
	t.Cleanup(friends.Close)
	profiles := httptest.NewServer(http.HandlerFunc(n.profilesHandler))
	t.Cleanup(profiles.Close)
	iss := authntest.New(t)

	cfg := service.DefaultConfig()
	cfg.HTTP.LogLevel = "error"
	cfg.HTTP.ShutdownTimeout = 5 * time.Second
	// Migrated here already (the service's own migration then finds nothing to do), for the test's handle.
	db, dbCfg := mysqltest.New(t, migrations.FS)
	cfg.MySQL = dbCfg
	cfg.Broker = brokerCfg
	cfg.JWKSURL = iss.JWKSURL
	cfg.FriendsURL = friends.URL
	cfg.ProfilesURL = profiles.URL + "/"
	cfg.NeighbourTimeout = 2 * time.Second
	app, err := service.Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	api, admin := servertest.Serve(t, app)
	// Ready first: the pushes' delays measured later must be the service's, not its start's.
	servertest.WaitReady(t, admin, 15*time.Second)
	conn := broker.Dial(brokerCfg, nil, nil)
	t.Cleanup(func() { conn.Close() })
	return &harness{t: t, api: api, db: db, broker: brokerCfg, conn: conn, iss: iss, n: n}
}

// member is a user profiles knows, with an access token.
type member struct {
	ID, Nickname, Token string
}

func (h *harness) member(nickname string) member {
	id := uuid.Must(uuid.NewV7()).String()
	h.n.mu.Lock()
	h.n.users[id] = map[string]any{"id": id, "nickname": nickname, "display_name": strings.ToUpper(nickname[:1]) + nickname[1:],
		"bio": "", "has_avatar": false, "created_at": "2030-01-01T00:00:00Z"}
	h.n.mu.Unlock()
	return member{ID: id, Nickname: nickname, Token: h.iss.Token(h.t, id, uuid.NewString())}
}

func (h *harness) befriend(a, b member) {
	h.n.mu.Lock()
	h.n.friendships[pairOf(a.ID, b.ID)] = true
	h.n.mu.Unlock()
}

func (h *harness) unfriend(a, b member) {
	h.n.mu.Lock()
	delete(h.n.friendships, pairOf(a.ID, b.ID))
	h.n.mu.Unlock()
}

// reply is an HTTP answer.
type reply struct{ servertest.Response }

func (r reply) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

// call sends a request as the member (no token for the zero member) with a raw JSON body ("" for none).
func (h *harness) call(as member, method, path, body string) reply {
	h.t.Helper()
	var payload any
	if body != "" {
		payload = body
	}
	return reply{servertest.Do(h.t, method, h.api+path, as.Token, payload)}
}

// want checks an answer's status and, for errors, its code.
func want(t *testing.T, what string, r reply, status int, code string) {
	t.Helper()
	if r.Status != status || (code != "" && r.ErrorCode() != code) {
		t.Errorf("%s: got %s, want %d %s", what, r, status, code)
	}
}

// message is a message as the API writes it.
type message struct {
	ID          string    `json:"id"`
	SenderID    string    `json:"sender_id"`
	RecipientID string    `json:"recipient_id"`
	Text        string    `json:"text"`
	CreatedAt   time.Time `json:"created_at"`
}

func decode[T any](t *testing.T, r reply) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r, err)
	}
	return v
}

// send sends text from one member to another and returns the answer, which must be 201.
func (h *harness) send(from, to member, text string) (message, reply) {
	h.t.Helper()
	body, _ := json.Marshal(map[string]string{"text": text})
	r := h.call(from, "POST", "/api/v1/chats/"+to.ID+"/messages", string(body))
	if r.Status != http.StatusCreated {
		h.t.Fatalf("send %q: %s", text, r)
	}
	return decode[message](h.t, r), r
}

// pushes binds a queue of the test's own on the push exchange to the user's routing key, as the gateway does
// for a connected user, and returns what arrives there.
func (h *harness) pushes(userID string) <-chan broker.Event {
	h.t.Helper()
	got := make(chan broker.Event, 256)
	brokertest.Consume(h.t, h.conn, broker.Subscription{
		Queue: "pushes-" + userID, Transient: true, Exchange: h.broker.PushExchange(), Keys: []string{broker.PushKey(userID)},
		Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error { got <- ev; return nil },
	})
	return got
}

// next waits for the next push, which must come within d.
func next(t *testing.T, ch <-chan broker.Event, d time.Duration) broker.Event {
	t.Helper()
	select {
	case ev := <-ch:
		return ev
	case <-time.After(d):
		t.Fatalf("no push within %v", d)
		return broker.Event{}
	}
}

// quiet checks that no push comes within d.
func quiet(t *testing.T, ch <-chan broker.Event, d time.Duration) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Errorf("unexpected push %s %s", ev.Type, ev.Data)
	case <-time.After(d):
	}
}

// enter plays the gateway: the user's socket connectionID opened (its push key is bound), so it publishes
// gateway.user.entered. The service's queue is declared when its consumer starts, so until then the event is
// unroutable and is published again.
func (h *harness) enter(userID, connectionID string) {
	h.t.Helper()
	ev, err := entry.NewEvent("gateway", entry.Entered{UserID: userID, SessionID: uuid.NewString(), ConnectionID: connectionID})
	if err != nil {
		h.t.Fatal(err)
	}
	brokertest.PublishUntilRouted(h.t, h.conn, ev)
}

// outboxTypes lists the types of the events the service wrote, in order.
func (h *harness) outboxTypes() []string {
	h.t.Helper()
	var types []string
	for _, o := range brokertest.Outbox(h.t, h.db) {
		types = append(types, o.Event.Type)
	}
	return types
}
