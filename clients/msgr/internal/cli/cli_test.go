package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"simplemessenger/platform/server/servertest"

	"simplemessenger/clients/msgr/internal/config"
)

// syncBuffer is a bytes.Buffer safe to read while msgr writes to it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type run struct {
	code           int
	stdout, stderr string
}

func msgr(ctx context.Context, stdin string, args ...string) run {
	var out, errb syncBuffer
	code := Run(ctx, args, strings.NewReader(stdin), &out, &errb)
	return run{code, out.String(), errb.String()}
}

// loggedIn stores a session for server in a new config directory.
func loggedIn(t *testing.T, server string) string {
	dir := t.TempDir()
	s, err := config.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	sess := config.Session{Server: server, UserID: "u-ada", Nickname: "ada"}
	sess.SetTokens("access-1", "refresh-1", 15*time.Minute, time.Now())
	if err := s.Save(sess); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestUsageErrorsExitWith2(t *testing.T) {
	server := servertest.ClosedURL(t) // none of these may reach a server
	for _, c := range []struct {
		args  []string
		stdin string
	}{
		{args: []string{"frobnicate"}},
		{args: []string{"--no-such-flag", "whoami"}},
		{args: []string{"login"}},
		{args: []string{"login", "ada", "hunter22"}}, // a password is never an argument
		{args: []string{"login", "ada"}},             // no terminal to prompt on, no --password-stdin
		{args: []string{"login", "ada", "--password-stdin"}},
		{args: []string{"register", "ada", "--password-stdin"}, stdin: "\n"},
		{args: []string{"send", "bob"}},
		{args: []string{"send", "bob", " "}},
		{args: []string{"history"}},
		{args: []string{"history", "bob", "--limit", "0"}},
		{args: []string{"history", "bob", "--limit", "101"}},
		{args: []string{"history", "bob", "--limit", "ten"}},
		{args: []string{"history", "bob", "--before", "5", "--after", "1"}},
		{args: []string{"history", "bob", "--before", "abc"}},
		{args: []string{"read", "bob", "--up-to", "0"}},
		{args: []string{"search", "a", "--limit", "51"}},
		{args: []string{"profile", "set"}},
		{args: []string{"friends", "--status", "best"}},
		{args: []string{"friends", "befriend", "bob"}},
		{args: []string{"friends", "add"}},
		{args: []string{"avatar", "set", "/no/such/file.png"}},
		{args: []string{"listen", "now"}},
		{args: []string{"--server", "ftp://example.com", "whoami"}},
		{args: []string{"--server", "localhost:8080", "whoami"}},
	} {
		args := append([]string{"--server", server, "--config-dir", t.TempDir()}, c.args...)
		if c.args[0] == "--server" {
			args = append([]string{"--config-dir", t.TempDir()}, c.args...)
		}
		r := msgr(context.Background(), c.stdin, args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, "msgr help") || r.stdout != "" {
			t.Errorf("msgr %s: exit %d, stdout %q, stderr %q; want exit 2 and a pointer to msgr help", strings.Join(c.args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

func TestHelpDocumentsTheExitCodes(t *testing.T) {
	r := msgr(context.Background(), "", "help")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, w := range []string{"Exit codes:", "  2    usage error", "  3    not logged in", "  4    the server could not be reached", "listen", "friends", "--json", "--config-dir", "MSGR_SERVER"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("help lacks %q", w)
		}
	}
}

func TestWithoutASessionExitWith3(t *testing.T) {
	server := servertest.ClosedURL(t) // none of these may reach a server
	for _, args := range [][]string{{"whoami"}, {"chats"}, {"listen"}, {"logout"}, {"send", "bob", "hi"}} {
		r := msgr(context.Background(), "", append([]string{"--server", server, "--config-dir", t.TempDir()}, args...)...)
		if r.code != ExitNotLoggedIn || !strings.Contains(r.stderr, "not logged in") || !strings.Contains(r.stderr, "msgr login") {
			t.Errorf("msgr %v: exit %d, stderr %q", args, r.code, r.stderr)
		}
	}
}

func TestAnUnreachableServerExitsWith4(t *testing.T) {
	server := servertest.ClosedURL(t)
	r := msgr(context.Background(), "secret-password\n", "--server", server, "--config-dir", t.TempDir(), "login", "ada", "--password-stdin")
	if r.code != ExitUnreachable || !strings.Contains(r.stderr, "cannot reach the server at "+server) {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = msgr(context.Background(), "", "--json", "--server", server, "--config-dir", loggedIn(t, server), "chats")
	var doc struct{ Error struct{ Code string } }
	if r.code != ExitUnreachable || json.Unmarshal([]byte(r.stderr), &doc) != nil || doc.Error.Code != "unreachable" {
		t.Fatalf("--json: exit %d, stderr %q", r.code, r.stderr)
	}
}

// apiServer answers every request with status and the contract's error body.
func apiServer(t *testing.T, status int, code, message string) *httptest.Server {
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if status == http.StatusTooManyRequests {
			w.Header().Set("Retry-After", "7")
		}
		w.WriteHeader(status)
		fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, message)
	}))
	t.Cleanup(s.Close)
	return s
}

func TestServerErrorsShowTheContractCode(t *testing.T) {
	s := apiServer(t, 409, "nickname_taken", "this nickname is taken")
	r := msgr(context.Background(), "long enough password\n", "--server", s.URL, "--config-dir", t.TempDir(), "register", "ada", "--password-stdin")
	if r.code != ExitFailure || r.stderr != "msgr: nickname_taken: this nickname is taken (HTTP 409)\n" {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	r = msgr(context.Background(), "long enough password\n", "--json", "--server", s.URL, "--config-dir", t.TempDir(), "register", "ada", "--password-stdin")
	var doc struct {
		Error struct {
			Code, Message string
			Status        int
			ExitCode      int `json:"exit_code"`
		}
	}
	if err := json.Unmarshal([]byte(r.stderr), &doc); err != nil || r.stdout != "" {
		t.Fatalf("--json: stdout %q, stderr %q", r.stdout, r.stderr)
	}
	if doc.Error.Code != "nickname_taken" || doc.Error.Status != 409 || doc.Error.ExitCode != 1 || r.code != 1 {
		t.Fatalf("--json error: %+v, exit %d", doc, r.code)
	}

	s = apiServer(t, 429, "rate_limited", "too many requests")
	r = msgr(context.Background(), "", "--server", s.URL, "--config-dir", loggedIn(t, s.URL), "chats")
	if r.code != ExitFailure || !strings.Contains(r.stderr, "rate_limited: too many requests (HTTP 429); retry after 7 s") {
		t.Fatalf("429: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestARevokedSessionExitsWith3(t *testing.T) {
	// Every call is refused, the refresh as well: the session is over.
	s := apiServer(t, 401, "unauthorized", "missing or invalid access token")
	dir := loggedIn(t, s.URL)
	r := msgr(context.Background(), "", "--server", s.URL, "--config-dir", dir, "whoami")
	if r.code != ExitNotLoggedIn || !strings.Contains(r.stderr, "msgr login") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	if r := msgr(context.Background(), "", "--server", s.URL, "--config-dir", dir, "whoami"); !strings.Contains(r.stderr, "not logged in") {
		t.Fatalf("the dead session was kept: %q", r.stderr)
	}
}

// pushServer is a fake gateway: each WebSocket connection is served by the next of conns; refreshes of the
// token are counted.
type pushServer struct {
	*httptest.Server
	conns     []func(w http.ResponseWriter, r *http.Request)
	n         atomic.Int32
	refreshes atomic.Int32
}

func newPushServer(t *testing.T, conns ...func(w http.ResponseWriter, r *http.Request)) *pushServer {
	ps := &pushServer{conns: conns}
	ps.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/auth/refresh":
			n := ps.refreshes.Add(1)
			fmt.Fprintf(w, `{"access_token":"access-%d","token_type":"Bearer","expires_in":900,"refresh_token":"refresh-%d"}`, n+1, n+1)
		case "/api/v1/ws":
			i := int(ps.n.Add(1)) - 1
			if i >= len(ps.conns) {
				w.WriteHeader(503)
				return
			}
			ps.conns[i](w, r)
		default:
			w.WriteHeader(404)
		}
	}))
	t.Cleanup(ps.Close)
	return ps
}

// serve accepts the socket, writes frames, then ends it with end.
func serve(t *testing.T, end func(c *websocket.Conn), frames ...string) func(w http.ResponseWriter, r *http.Request) {
	return func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		for _, f := range frames {
			if err := c.Write(r.Context(), websocket.MessageText, []byte(f)); err != nil {
				t.Error(err)
				return
			}
		}
		end(c)
	}
}

const (
	unreadFrame  = `{"type":"messages.unread","data":{"items":[],"total":0}}`
	pendingFrame = `{"type":"friends.pending","data":{"items":[]}}`
	newFrame     = `{"type":"message.new","data":{"id":"9","sender_id":"u-bob","recipient_id":"u-ada","text":"hi","created_at":"2026-11-27T14:33:07Z"}}`
)

func drop(c *websocket.Conn) { time.Sleep(50 * time.Millisecond); c.CloseNow() }
func revoke(c *websocket.Conn) {
	_ = c.Close(websocket.StatusPolicyViolation, "session revoked")
}

func TestListenReconnectsWithBackoffUntilTheSessionIsRevoked(t *testing.T) {
	backoffBase, backoffMax = 10*time.Millisecond, 40*time.Millisecond
	ps := newPushServer(t,
		serve(t, drop, unreadFrame, pendingFrame), // cut without a closing handshake
		func(w http.ResponseWriter, r *http.Request) { // the gateway restarting
			w.WriteHeader(503)
			fmt.Fprint(w, `{"error":{"code":"unavailable","message":"try again"}}`)
		},
		serve(t, revoke, pendingFrame, unreadFrame, newFrame),
	)
	r := msgr(context.Background(), "", "--json", "--server", ps.URL, "--config-dir", loggedIn(t, ps.URL), "listen")
	if r.code != ExitNotLoggedIn || !strings.Contains(r.stderr, "revoked") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimRight(r.stdout, "\n"), "\n")
	want := []string{unreadFrame, pendingFrame, pendingFrame, unreadFrame, newFrame}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stdout:\n%s\nwant:\n%s", r.stdout, strings.Join(want, "\n"))
	}
	if c := strings.Count(r.stderr, "reconnecting in"); c != 2 || !strings.Contains(r.stderr, "unavailable: try again (HTTP 503)") {
		t.Fatalf("stderr: %q", r.stderr)
	}
}

func TestListenRefreshesARefusedToken(t *testing.T) {
	var auth []string
	var mu sync.Mutex
	ps := newPushServer(t,
		func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auth = append(auth, r.Header.Get("Authorization"))
			mu.Unlock()
			w.WriteHeader(401)
			fmt.Fprint(w, `{"error":{"code":"unauthorized","message":"expired"}}`)
		},
		func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auth = append(auth, r.Header.Get("Authorization"))
			mu.Unlock()
			serve(t, revoke, unreadFrame)(w, r)
		},
	)
	r := msgr(context.Background(), "", "--json", "--server", ps.URL, "--config-dir", loggedIn(t, ps.URL), "listen")
	if r.code != ExitNotLoggedIn || ps.refreshes.Load() != 1 || strings.Join(auth, ",") != "Bearer access-1,Bearer access-2" || r.stdout != unreadFrame+"\n" {
		t.Fatalf("exit %d, %d refreshes, tokens %v, stdout %q, stderr %q", r.code, ps.refreshes.Load(), auth, r.stdout, r.stderr)
	}
}

func TestListenEndsWith0OnCtrlC(t *testing.T) {
	closed := make(chan websocket.StatusCode, 1)
	ps := newPushServer(t, func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), websocket.MessageText, []byte(unreadFrame))
		_, _, err = c.Read(r.Context()) // the client sends nothing: this waits for its close
		closed <- websocket.CloseStatus(err)
	})
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb syncBuffer
	done := make(chan int)
	go func() {
		done <- Run(ctx, []string{"--server", ps.URL, "--config-dir", loggedIn(t, ps.URL), "listen"}, strings.NewReader(""), &out, &errb)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "messages.unread") {
		if time.Now().After(deadline) {
			t.Fatalf("no frame printed; stderr %q", errb.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d after Ctrl-C, stderr %q", code, errb.String())
	}
	if st := <-closed; st != websocket.StatusNormalClosure {
		t.Fatalf("socket closed with %v, want a normal closure", st)
	}
}

func TestBackoffDoublesWithJitterUpToTheCap(t *testing.T) {
	backoffBase, backoffMax = 500*time.Millisecond, 30*time.Second
	for n, hi := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second} {
		for range 50 {
			if d := backoff(n); d < hi/2 || d > hi {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v]", n, d, hi/2, hi)
			}
		}
	}
	for range 50 {
		if d := backoff(100); d < 15*time.Second || d > 30*time.Second {
			t.Fatalf("backoff(100) = %v", d)
		}
	}
	seen := map[time.Duration]bool{}
	for range 20 {
		seen[backoff(3)] = true
	}
	if len(seen) < 5 {
		t.Fatalf("no jitter: %v", seen)
	}
}

func TestListenShowsAMessageOnceToPeople(t *testing.T) {
	// The message came in the login frame and live as well (it was sent while the socket opened).
	unread := `{"type":"messages.unread","data":{"items":[{"id":"9","sender_id":"u-ada","recipient_id":"u-ada","text":"hi","created_at":"2026-11-27T14:33:07Z"}],"total":1}}`
	again := `{"type":"message.new","data":{"id":"9","sender_id":"u-ada","recipient_id":"u-ada","text":"hi","created_at":"2026-11-27T14:33:07Z"}}`
	next := `{"type":"message.new","data":{"id":"10","sender_id":"u-ada","recipient_id":"u-ada","text":"there","created_at":"2026-11-27T14:33:08Z"}}`
	ps := newPushServer(t, serve(t, revoke, unread, again, next))
	r := msgr(context.Background(), "", "--server", ps.URL, "--config-dir", loggedIn(t, ps.URL), "listen")
	if strings.Count(r.stdout, "#9") != 1 || !strings.Contains(r.stdout, "#10 ada → ada: there") {
		t.Fatalf("human output:\n%s", r.stdout)
	}
	ps = newPushServer(t, serve(t, revoke, unread, again, next))
	r = msgr(context.Background(), "", "--json", "--server", ps.URL, "--config-dir", loggedIn(t, ps.URL), "listen")
	if r.stdout != unread+"\n"+again+"\n"+next+"\n" {
		t.Fatalf("--json output (every frame as it came):\n%s", r.stdout)
	}
}
