package service_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
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

	"simplemessenger/services/friends/internal/ports"
	"simplemessenger/services/friends/internal/service"
)

// user is someone registered with the fake profiles, with a token of their own.
type user struct {
	ID, Nickname, DisplayName string
	Profile                   map[string]any // the public profile as profiles serves it
	Token                     string
}

// harness is one running friends service on real MariaDB and RabbitMQ, with profiles and auth faked at their
// HTTP boundary, and a queue that receives every push the service publishes.
type harness struct {
	t        *testing.T
	url      string
	iss      *authntest.Issuer
	profiles *profilestest.Profiles
	db       *sql.DB
	conn     *broker.Conn // the test's own connection to the service's exchanges

	mu     sync.Mutex
	pushes []broker.Event

	svc      *servicetest.Service
	cfg      service.Config
	messages *fakeMessages
}

// fakeMessages is the messages service at its HTTP boundary: the friendships' ends it was told of, and a
// switch that makes it answer 503.
type fakeMessages struct {
	mu   sync.Mutex
	ends []string // "<a>/<b> <since>"
	down atomic.Bool
}

func (m *fakeMessages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/internal/v1/friendships/")
	pair, isEnd := strings.CutSuffix(rest, "/end")
	var body struct{ Since time.Time }
	if !ok || !isEnd || r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&body) != nil || body.Since.IsZero() {
		http.Error(w, "not an end of a friendship", http.StatusBadRequest)
		return
	}
	if m.down.Load() {
		http.Error(w, "down", http.StatusServiceUnavailable)
		return
	}
	m.mu.Lock()
	m.ends = append(m.ends, pair+" "+body.Since.UTC().Format(time.RFC3339Nano))
	m.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func (m *fakeMessages) told() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ends)
}

// start runs the service with the test configuration, changed by each of adjust.
func start(t *testing.T, adjust ...func(*service.Config)) *harness {
	t.Helper()
	h := &harness{t: t, profiles: profilestest.New(t), messages: &fakeMessages{}}
	messages := httptest.NewServer(h.messages)
	t.Cleanup(messages.Close)
	cfg := service.DefaultConfig()
	cfg.ProfilesURL = h.profiles.URL
	cfg.ProfilesTimeout = 2 * time.Second
	cfg.MessagesURL = messages.URL
	cfg.MessagesTimeout = 2 * time.Second
	for _, f := range adjust {
		f(&cfg)
	}
	s := servicetest.Start(t, cfg, service.Build)
	s.WaitConsuming(t, ports.UserEnteredQueue, ports.UserUpdatedQueue, ports.PresenceQueue)
	h.url, h.iss, h.db = s.URL, s.Issuer, s.DB
	h.svc, h.cfg = s, cfg
	h.conn = broker.Dial(s.Broker, nil, nil)
	t.Cleanup(func() { h.conn.Close() })
	h.collectPushes(s.Broker)
	return h
}

// friendsSince is when a and b became friends, as friends tells messages (the test fails if they are not).
func (h *harness) friendsSince(a, b user) time.Time {
	h.t.Helper()
	var got struct {
		Friends bool
		Since   time.Time
	}
	h.call(user{}, "GET", "/internal/v1/friendships/"+a.ID+"/"+b.ID, nil).into(h.t, &got)
	if !got.Friends || got.Since.IsZero() {
		h.t.Fatalf("%s and %s: %+v, want friends with a since", a.Nickname, b.Nickname, got)
	}
	return got.Since.UTC()
}

// collectPushes binds a queue of the test's own to every user's pushes and waits until it is consuming.
func (h *harness) collectPushes(cfg broker.Config) {
	brokertest.Consume(h.t, h.conn, broker.Subscription{
		Queue: "test-pushes", Keys: []string{broker.PushKey("*")}, Transient: true, Exchange: cfg.PushExchange(),
		Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error {
			h.mu.Lock()
			h.pushes = append(h.pushes, ev)
			h.mu.Unlock()
			return nil
		},
	})
}

// push waits for the first push of that frame type to that user about from (its data.user). Earlier changes
// of a test push too, and the relay may deliver them after a later call has answered, so a test waits for the
// push it means and skips the others.
func (h *harness) push(to user, frame string, from user) broker.Event {
	h.t.Helper()
	return h.waitPush(to, frame, "from "+from.Nickname, func(ev broker.Event) bool {
		var d struct{ User struct{ ID string } }
		return ev.Decode(&d) == nil && d.User.ID == from.ID
	})
}

// reply waits for the entry reply (friends.pending) to that user's connection.
func (h *harness) reply(to user, connectionID string) broker.Event {
	h.t.Helper()
	return h.waitPush(to, "friends.pending", "to "+connectionID, func(ev broker.Event) bool {
		return ev.ConnectionID == connectionID
	})
}

func (h *harness) waitPush(to user, frame, what string, match func(broker.Event) bool) broker.Event {
	h.t.Helper()
	var got broker.Event
	if !servertest.Eventually(h.t, 5*time.Second, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, ev := range h.pushes {
			if ev.Type == frame && ev.RoutingKey() == broker.PushKey(to.ID) && match(ev) {
				got = ev
				return true
			}
		}
		return false
	}, "") {
		h.t.Fatalf("no %s push to %s %s within 5 s; pushes: %v", frame, to.Nickname, what, h.pushTypes())
	}
	return got
}

func (h *harness) pushTypes() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, ev := range h.pushes {
		out = append(out, ev.Type+" → "+ev.RoutingKey())
	}
	return out
}

// pushedUser is the data.user of a friend.* push.
func pushedUser(t *testing.T, ev broker.Event) map[string]any {
	t.Helper()
	var d struct{ User map[string]any }
	if err := ev.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d.User
}

// outboxed is one row of the service's outbox.
type outboxed struct {
	Type, RoutingKey string
	Data             json.RawMessage
}

// outbox lists what the service has written to its outbox so far, in order.
func (h *harness) outbox() []outboxed {
	h.t.Helper()
	var out []outboxed
	for _, o := range brokertest.Outbox(h.t, h.db) {
		out = append(out, outboxed{Type: o.Event.Type, RoutingKey: o.RoutingKey, Data: o.Event.Data})
	}
	return out
}

func (h *harness) outboxTypes() []string {
	var out []string
	for _, o := range h.outbox() {
		out = append(out, o.Type)
	}
	return out
}

// user registers someone with the fake profiles.
func (h *harness) user(nickname string) user {
	id := uuid.Must(uuid.NewV7()).String()
	p := h.profiles.Add(id, nickname, "")
	return user{ID: id, Nickname: nickname, DisplayName: p["display_name"].(string), Profile: p,
		Token: h.iss.Token(h.t, id, uuid.NewString())}
}

// answer is an HTTP response of the service.
type answer struct{ servertest.Response }

func (a answer) into(t *testing.T, v any) {
	t.Helper()
	a.JSON(t, v)
}

// is checks the status and, for errors, the contract's error code.
func (a answer) is(t *testing.T, status int, code string) {
	t.Helper()
	if a.Status != status || a.ErrorCode() != code {
		t.Errorf("want %d %q, got %d %s", status, code, a.Status, a.Body)
	}
}

// call sends a request as the user (without a token for the zero user).
func (h *harness) call(as user, method, path string, body any) answer {
	h.t.Helper()
	return answer{servertest.Do(h.t, method, h.url+path, as.Token, body)}
}

func (h *harness) ask(from, to user) answer {
	return h.call(from, "POST", "/api/v1/friends/requests", map[string]string{"user_id": to.ID})
}

// befriend makes a and b friends (a asks, b accepts).
func (h *harness) befriend(a, b user) {
	h.t.Helper()
	h.ask(a, b).is(h.t, http.StatusCreated, "")
	h.call(b, "POST", "/api/v1/friends/requests/"+a.ID+"/accept", nil).is(h.t, http.StatusOK, "")
}

// item is one entry of a friends list.
type item struct {
	User       map[string]any `json:"user"`
	Status     string         `json:"status"`
	Since      string         `json:"since"`
	Online     *bool          `json:"online"`
	LastSeenAt *time.Time     `json:"last_seen_at"`
}

func (h *harness) list(as user, query string) []item {
	h.t.Helper()
	res := h.call(as, "GET", "/api/v1/friends"+query, nil)
	if res.Status != http.StatusOK {
		h.t.Fatalf("list %s: %d %s", query, res.Status, res.Body)
	}
	var out struct{ Items []item }
	res.into(h.t, &out)
	if out.Items == nil {
		h.t.Fatalf("items must be a list, even empty: %s", res.Body)
	}
	return out.Items
}

// summary is "nickname:status" of each item, in order.
func summary(items []item) []string {
	out := []string{}
	for _, it := range items {
		out = append(out, it.User["nickname"].(string)+":"+it.Status)
	}
	return out
}

// replica starts a second replica of the service on the same database and exchange: the two compete for the
// events of every queue, as replicas do in a cluster.
func (h *harness) replica() {
	h.t.Helper()
	cfg := h.cfg
	h.svc.Configure(h.t, &cfg)
	app, err := service.Build(context.Background(), cfg)
	if err != nil {
		h.t.Fatal(err)
	}
	_, admin := servertest.Serve(h.t, app)
	servicetest.WaitConsuming(h.t, admin, ports.PresenceQueue)
}
