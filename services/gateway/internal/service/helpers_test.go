package service_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/server/servertest"
	"simplemessenger/platform/servicetest"
	"simplemessenger/platform/telemetry"

	"simplemessenger/services/gateway/internal/service"
)

// spans records every span of the test process; tests pick theirs out by trace id.
var spans = tracetest.NewSpanRecorder()

func TestMain(m *testing.M) {
	// Installs the W3C propagator (nothing is exported without OTEL_* variables), as Build does; then a tracer
	// provider that records, as one configured by OTEL_* would export (Build keeps a provider already set).
	if _, err := telemetry.Setup(context.Background(), "gateway-test"); err != nil {
		panic(err)
	}
	otel.SetTracerProvider(sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans)))
	os.Exit(m.Run())
}

// seen is a request as an upstream received it.
type seen struct {
	Method, Path, RawQuery, RemoteAddr string
	Header                             http.Header
	Body                               []byte
	BodyErr                            error
}

// upstream fakes a service at the HTTP boundary: it records every public request and answers with
// respond (by default 200 {"upstream": name}).
type upstream struct {
	name string
	srv  *httptest.Server

	mu      sync.Mutex
	reqs    []seen
	respond func(w http.ResponseWriter, r *http.Request)
	// revoked is what auth's internal list answers (auth only).
	revoked []map[string]string
}

func newUpstream(t *testing.T, name string) *upstream {
	u := &upstream{name: name}
	u.srv = httptest.NewServer(http.HandlerFunc(u.serve))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *upstream) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/internal/v1/revoked-sessions" {
		u.mu.Lock()
		items := u.revoked
		u.mu.Unlock()
		if items == nil {
			items = []map[string]string{}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"items": items})
		return
	}
	body, err := io.ReadAll(r.Body)
	u.mu.Lock()
	u.reqs = append(u.reqs, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.RemoteAddr, r.Header.Clone(), body, err})
	respond := u.respond
	u.mu.Unlock()
	if respond != nil {
		respond(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"upstream": u.name})
}

func (u *upstream) setRespond(f func(w http.ResponseWriter, r *http.Request)) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.respond = f
}

func (u *upstream) setRevoked(items ...map[string]string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.revoked = items
}

func (u *upstream) requests() []seen {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]seen(nil), u.reqs...)
}

func (u *upstream) last(t *testing.T) seen {
	t.Helper()
	reqs := u.requests()
	if len(reqs) == 0 {
		t.Fatalf("%s received nothing", u.name)
	}
	return reqs[len(reqs)-1]
}

// env is one gateway under test with its faked neighbours.
type env struct {
	t                                 *testing.T
	iss                               *authntest.Issuer
	auth, profiles, friends, messages *upstream
	cfg                               service.Config
	url, adminURL                     string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	deps := servicetest.New(t)
	e := &env{
		t: t, iss: deps.Issuer,
		auth: newUpstream(t, "auth"), profiles: newUpstream(t, "profiles"),
		friends: newUpstream(t, "friends"), messages: newUpstream(t, "messages"),
	}
	cfg := service.DefaultConfig()
	cfg.HTTP.Addr, cfg.HTTP.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	deps.Configure(t, &cfg)
	cfg.AuthURL, cfg.ProfilesURL = e.auth.srv.URL, e.profiles.srv.URL
	cfg.FriendsURL, cfg.MessagesURL = e.friends.srv.URL, e.messages.srv.URL
	cfg.UpstreamTimeout = 5 * time.Second
	e.cfg = cfg
	return e
}

// start builds the gateway from e.cfg and serves it on ephemeral ports until the test ends.
func (e *env) start() *env {
	t := e.t
	t.Helper()
	app, err := service.Build(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.url, e.adminURL = servertest.Serve(t, app)
	return e
}

// waitReady waits until /readyz says ready: broker connected, revoked sessions loaded, queue bound.
func (e *env) waitReady() {
	e.t.Helper()
	servertest.WaitReady(e.t, e.adminURL, 10*time.Second)
}

func (e *env) token(userID, sessionID string) string { return e.iss.Token(e.t, userID, sessionID) }

// newUser returns a fresh user id with a token of a fresh session.
func (e *env) newUser() (userID, sessionID, token string) {
	userID, sessionID = uuid.NewString(), uuid.NewString()
	return userID, sessionID, e.token(userID, sessionID)
}

type reply struct {
	*http.Response
	body []byte
}

// do sends a request to the gateway; header values "Authorization" etc. are set as given.
func (e *env) do(method, path string, body io.Reader, header map[string]string) reply {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	return e.send(req)
}

func (e *env) send(req *http.Request) reply {
	e.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return reply{res, b}
}

func bearer(token string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + token}
}

// wantError checks a contract error answer.
func wantError(t *testing.T, r reply, status int, code string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("status %d, want %d; body %s", r.StatusCode, status, r.body)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type %q", ct)
	}
	var body struct {
		Error *struct{ Code, Message string } `json:"error"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Error == nil {
		t.Fatalf("body %s is not a contract error: %v", r.body, err)
	}
	if body.Error.Code != code || body.Error.Message == "" {
		t.Fatalf("error %+v, want code %q with a message", *body.Error, code)
	}
	if r.Header.Get("X-Request-ID") == "" {
		t.Fatal("no X-Request-ID on the error")
	}
}

// publisher publishes events on the gateway's exchange, as auth and profiles do through their outboxes.
func (e *env) publisher() *broker.Conn {
	e.t.Helper()
	conn := broker.Dial(e.cfg.Broker, nil, nil)
	e.t.Cleanup(func() { _ = conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := conn.WaitReady(ctx); err != nil {
		e.t.Fatal(err)
	}
	return conn
}

func (e *env) publish(conn *broker.Conn, source, typ string, data any) {
	e.t.Helper()
	ev, err := broker.NewEvent(source, typ, data)
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := conn.Publish(ctx, ev); err != nil {
		e.t.Fatal(err)
	}
}
