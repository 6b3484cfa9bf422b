package service_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/entry"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/friends/internal/service"
)

// profilesFake stands in for the profiles service's internal user lookups.
type profilesFake struct {
	srv   *httptest.Server
	mu    sync.Mutex
	users map[string]json.RawMessage // public profiles by id
	down  bool                       // answer 503 to everything
}

func newProfilesFake(t *testing.T) *profilesFake {
	f := &profilesFake{users: map[string]json.RawMessage{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *profilesFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	if f.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	if r.Method != http.MethodGet {
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	if id, ok := strings.CutPrefix(r.URL.Path, "/internal/v1/users/"); ok {
		p, found := f.users[id]
		if !found {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_, _ = w.Write(p)
		return
	}
	if r.URL.Path != "/internal/v1/users" {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	ids := strings.Split(r.URL.Query().Get("ids"), ",")
	if len(ids) > 100 {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	items := []json.RawMessage{}
	for _, id := range ids {
		if p, found := f.users[id]; found {
			items = append(items, p)
		}
	}
	_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
}

func (f *profilesFake) setDown(down bool) {
	f.mu.Lock()
	f.down = down
	f.mu.Unlock()
}

func (f *profilesFake) forget(id string) {
	f.mu.Lock()
	delete(f.users, id)
	f.mu.Unlock()
}

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
	profiles *profilesFake
	db       *sql.DB
	conn     *broker.Conn // the test's own connection to the service's exchanges

	mu     sync.Mutex
	pushes []broker.Event
}

func start(t *testing.T) *harness {
	t.Helper()
	t.Parallel()
	brokerCfg := brokertest.Config(t) // first, so that its cleanup runs after everything using the topology stopped
	h := &harness{t: t, iss: authntest.New(t), profiles: newProfilesFake(t)}

	cfg := service.DefaultConfig()
	cfg.HTTP.LogLevel = "error"
	cfg.HTTP.ShutdownTimeout = 5 * time.Second
	cfg.MySQL = mysqltest.NewDatabase(t)
	cfg.Broker = brokerCfg
	cfg.JWKSURL = h.iss.JWKSURL
	cfg.ProfilesURL = h.profiles.srv.URL
	cfg.ProfilesTimeout = 2 * time.Second
	app, err := service.Build(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.url, _ = servertest.Serve(t, app)
	if h.db, err = mysqlx.Open(context.Background(), cfg.MySQL, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.db.Close() })

	h.conn = broker.Dial(brokerCfg, nil, nil)
	t.Cleanup(func() { h.conn.Close() })
	h.collectPushes(brokerCfg)
	return h
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

// push waits for the first push of that frame type to that user and returns it.
func (h *harness) push(to user, frame string) broker.Event {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		for _, ev := range h.pushes {
			if ev.Type == frame && ev.RoutingKey() == broker.PushKey(to.ID) {
				h.mu.Unlock()
				return ev
			}
		}
		h.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	h.t.Fatalf("no %s push to %s within 5 s; pushes: %v", frame, to.Nickname, h.pushTypes())
	return broker.Event{}
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
	u := user{ID: uuid.Must(uuid.NewV7()).String(), Nickname: nickname, DisplayName: strings.ToUpper(nickname[:1]) + nickname[1:]}
	u.Profile = map[string]any{"id": u.ID, "nickname": nickname, "display_name": u.DisplayName, "bio": "bio of " + nickname,
		"has_avatar": false, "created_at": "2030-01-01T00:00:00Z"}
	raw, err := json.Marshal(u.Profile)
	if err != nil {
		h.t.Fatal(err)
	}
	h.profiles.mu.Lock()
	h.profiles.users[u.ID] = raw
	h.profiles.mu.Unlock()
	u.Token = h.iss.Token(h.t, u.ID, uuid.NewString())
	return u
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
	User   map[string]any `json:"user"`
	Status string         `json:"status"`
	Since  string         `json:"since"`
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

// publishEntered publishes the gateway's login event, retrying until the service's queue is bound.
func (h *harness) publishEntered(u user, connectionID string) {
	h.t.Helper()
	ev, err := entry.NewEvent("gateway", entry.Entered{UserID: u.ID, SessionID: uuid.NewString(), ConnectionID: connectionID})
	if err != nil {
		h.t.Fatal(err)
	}
	brokertest.PublishUntilRouted(h.t, h.conn, ev)
}
