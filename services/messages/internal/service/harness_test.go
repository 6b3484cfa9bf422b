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
	"simplemessenger/platform/profilesclient/profilestest"
	"simplemessenger/platform/server/servertest"
	"simplemessenger/platform/servicetest"

	"simplemessenger/services/messages/internal/service"
)

// neighbours fakes the friends service at its HTTP boundary: the friendships it knows, and a switch that makes
// it answer 500. Profiles is faked by profilestest.
type neighbours struct {
	mu sync.Mutex
	// friendships are the pairs that are friends, and since when.
	friendships map[[2]string]time.Time

	friendsDown  atomic.Bool
	friendsCalls atomic.Int64
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
	since, friends := n.friendships[pairOf(parts[0], parts[1])]
	n.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if !friends {
		_ = json.NewEncoder(w).Encode(map[string]bool{"friends": false})
		return
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"friends": true, "since": since})
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
	t        *testing.T
	api      string
	db       *sql.DB
	broker   broker.Config
	conn     *broker.Conn // the test's own: listens to pushes, plays the gateway
	iss      *authntest.Issuer
	n        *neighbours
	profiles *profilestest.Profiles
}

func start(t *testing.T) *harness {
	t.Helper()
	n := &neighbours{friendships: map[[2]string]time.Time{}}
	friends := httptest.NewServer(http.HandlerFunc(n.friendsHandler))
	t.Cleanup(friends.Close)
	profiles := profilestest.New(t)

	cfg := service.DefaultConfig()
	cfg.FriendsURL = friends.URL
	cfg.ProfilesURL = profiles.URL + "/"
	cfg.NeighbourTimeout = 2 * time.Second
	s := servicetest.Start(t, cfg, service.Build)
	// Ready first: the pushes' delays measured later must be the service's, not its start's.
	servertest.WaitReady(t, s.Admin, 15*time.Second)
	conn := broker.Dial(s.Broker, nil, nil)
	t.Cleanup(func() { conn.Close() })
	return &harness{t: t, api: s.URL, db: s.DB, broker: s.Broker, conn: conn, iss: s.Issuer, n: n, profiles: profiles}
}

// member is a user profiles knows, with an access token.
type member struct {
	ID, Nickname, Token string
}

func (h *harness) member(nickname string) member {
	id := uuid.Must(uuid.NewV7()).String()
	h.profiles.Add(id, nickname, "")
	return member{ID: id, Nickname: nickname, Token: h.iss.Token(h.t, id, uuid.NewString())}
}

func (h *harness) befriend(a, b member) {
	h.n.mu.Lock()
	h.n.friendships[pairOf(a.ID, b.ID)] = time.Now().UTC().Truncate(time.Microsecond)
	h.n.mu.Unlock()
}

// unfriend ends the friendship as the friends service does: it tells messages (the friendship's since), then
// forgets it.
func (h *harness) unfriend(a, b member) {
	h.t.Helper()
	h.n.mu.Lock()
	since, ok := h.n.friendships[pairOf(a.ID, b.ID)]
	delete(h.n.friendships, pairOf(a.ID, b.ID))
	h.n.mu.Unlock()
	if !ok {
		return
	}
	if r := h.do("POST", "/internal/v1/friendships/"+a.ID+"/"+b.ID+"/end", map[string]any{"since": since}); r.Status != http.StatusNoContent {
		h.t.Fatalf("telling messages of the friendship's end: %s", r)
	}
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

// do calls without a token, as another service does an internal route.
func (h *harness) do(method, path string, body any) reply {
	h.t.Helper()
	return reply{servertest.Do(h.t, method, h.api+path, "", body)}
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
		Queue: "pushes-" + userID, Transient: true, Exchange: h.broker.PushExchange(), Keys: broker.PushBindings(userID),
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

// outboxTypes lists the types of the events the service wrote, in order.
func (h *harness) outboxTypes() []string {
	h.t.Helper()
	var types []string
	for _, o := range brokertest.Outbox(h.t, h.db) {
		types = append(types, o.Event.Type)
	}
	return types
}
