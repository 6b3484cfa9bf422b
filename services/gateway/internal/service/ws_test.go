package service_test

import (
	"context"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
	"simplemessenger/platform/server/servertest"
)

// upgradeHeaders make a plain HTTP request look like a WebSocket handshake, so refusals can be read in full.
func upgradeHeaders(extra map[string]string) map[string]string {
	h := map[string]string{
		"Connection": "Upgrade", "Upgrade": "websocket",
		"Sec-WebSocket-Version": "13", "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
	}
	for k, v := range extra {
		h[k] = v
	}
	return h
}

func TestTheUpgradeIsRefusedWithoutAValidTokenBeforeUpgrading(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	pub := e.publisher()
	userID, sessionID, tok := e.newUser()
	e.publish(pub, "auth", "auth.session.revoked", map[string]any{
		"user_id": userID, "session_id": sessionID, "expires_at": time.Now().Add(15 * time.Minute).UTC(),
	})
	servertest.Eventually(t, 2*time.Second, func() bool {
		return e.do("GET", "/api/v1/auth/sessions", nil, bearer(tok)).StatusCode == http.StatusUnauthorized
	}, "the revocation to be known")
	_, _, forged := e.newUser()
	forged = forged[:len(forged)-4] + "AAAA" // a broken signature

	for name, h := range map[string]map[string]string{
		"no token":                  upgradeHeaders(nil),
		"malformed token":           upgradeHeaders(map[string]string{"Authorization": "Bearer not-a-jwt"}),
		"bad signature":             upgradeHeaders(map[string]string{"Authorization": "Bearer " + forged}),
		"revoked session":           upgradeHeaders(map[string]string{"Authorization": "Bearer " + tok}),
		"basic, not bearer":         upgradeHeaders(map[string]string{"Authorization": "Basic dTpw"}),
		"revoked, via query":        upgradeHeaders(nil),
		"forged, as a subprotocol":  upgradeHeaders(map[string]string{"Sec-WebSocket-Protocol": "simplemessenger.v1, bearer." + forged}),
		"revoked, as a subprotocol": upgradeHeaders(map[string]string{"Sec-WebSocket-Protocol": "simplemessenger.v1, bearer." + tok}),
	} {
		t.Run(name, func(t *testing.T) {
			path := "/api/v1/ws"
			if name == "revoked, via query" {
				path += "?access_token=" + tok
			}
			wantError(t, e.do("GET", path, nil, h), http.StatusUnauthorized, "unauthorized")
		})
	}
	// And with the library as a browser would use it: no upgrade happens.
	_, res, err := dialWS(t, e.url, "?access_token=garbage", nil, nil)
	if err == nil || res == nil || res.StatusCode != http.StatusUnauthorized {
		t.Fatalf("dial with a bad query token: %v %v", err, res)
	}
	// A valid token on a request that is not an upgrade is told what the route is for.
	_, _, good := e.newUser()
	wantError(t, e.do("GET", "/api/v1/ws", nil, bearer(good)), http.StatusUpgradeRequired, "upgrade_required")
}

func TestABrowserMayPassTheTokenInTheQueryString(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	userID, sessionID, tok := e.newUser()
	conn, res, err := dialWS(t, e.url, "?access_token="+tok, http.Header{"Origin": {e.url}}, nil)
	if err != nil {
		t.Fatalf("dial: %v %v", err, res)
	}
	c := startReading(t, conn)
	ev := w.next(userID)
	if ev.SessionID != sessionID || ev.ConnectionID == "" {
		t.Fatalf("entered %+v", ev)
	}
	push(t, w.pub, userID, "friend.request", map[string]string{"x": "1"}, "")
	if f := c.expect("friend.request", 2*time.Second); string(f.Data) != `{"x":"1"}` {
		t.Fatalf("data %s", f.Data)
	}
}

// A browser cannot set Authorization on a WebSocket: it offers the token as the subprotocol bearer.<token>, so the
// token is in a header, not in the URL that proxies log. The gateway selects its own subprotocol, never the token.
func TestABrowserMayOfferTheTokenAsASubprotocol(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	userID, sessionID, tok := e.newUser()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, res, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.url, "http")+"/api/v1/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Origin": {e.url}}, Subprotocols: []string{"simplemessenger.v1", "bearer." + tok},
	})
	if err != nil {
		t.Fatalf("dial: %v %v", err, res)
	}
	if got := res.Header.Get("Sec-WebSocket-Protocol"); got != "simplemessenger.v1" || conn.Subprotocol() != "simplemessenger.v1" {
		t.Fatalf("selected subprotocol %q (%q): want simplemessenger.v1, never the token", got, conn.Subprotocol())
	}
	c := startReading(t, conn)
	if ev := w.next(userID); ev.SessionID != sessionID {
		t.Fatalf("entered %+v", ev)
	}
	push(t, w.pub, userID, "friend.request", map[string]string{"x": "1"}, "")
	if f := c.expect("friend.request", 2*time.Second); string(f.Data) != `{"x":"1"}` {
		t.Fatalf("data %s", f.Data)
	}
}

func TestPagesOfOtherOriginsAreRefused(t *testing.T) {
	e := newEnv(t)
	e.cfg.AllowedOrigins = []string{"https://app.example.com"}
	e.start()
	e.waitReady()
	_, _, tok := e.newUser()
	wantError(t, e.do("GET", "/api/v1/ws", nil, upgradeHeaders(map[string]string{
		"Authorization": "Bearer " + tok, "Origin": "https://evil.example",
	})), http.StatusForbidden, "origin_not_allowed")

	for _, origin := range []string{"https://app.example.com", e.url, ""} {
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if origin != "" {
			h.Set("Origin", origin)
		}
		conn, res, err := dialWS(t, e.url, "", h, nil)
		if err != nil {
			t.Fatalf("origin %q refused: %v %v", origin, err, res)
		}
		_ = conn.CloseNow()
	}
}

// A push to user.<id> reaches every socket of that user and nobody else's.
func TestAPushReachesAllTheUsersSocketsAndOnlyThem(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	alice, _, aliceTok := e.newUser()
	bob, _, bobTok := e.newUser()
	phone, laptop := w.enter(e.url, alice, aliceTok), w.enter(e.url, alice, e.token(alice, "other-session"))
	bobs := w.enter(e.url, bob, bobTok)

	push(t, w.pub, alice, "message.new", map[string]string{"id": "1", "text": "hi"}, "")
	for _, c := range []*client{phone, laptop} {
		if f := c.expect("message.new", time.Second); string(f.Data) != `{"id":"1","text":"hi"}` {
			t.Fatalf("data %s", f.Data)
		}
	}
	push(t, w.pub, bob, "marker", nil, "")
	if f := bobs.next(time.Second); f.Type != "marker" {
		t.Fatalf("bob received %s %s before his own push", f.Type, f.Data)
	}
}

// An entry reply carries the connection id: only that socket gets it, and only once.
func TestAReplyToOneConnectionReachesOnlyThatSocketOnce(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	user, _, tok := e.newUser()
	first, second := w.enter(e.url, user, tok), w.enter(e.url, user, tok)
	if first.connID == second.connID {
		t.Fatal("two sockets with one connection id")
	}

	unread := map[string]any{"items": []any{}, "total": 0}
	push(t, w.pub, user, "messages.unread", unread, first.connID)
	// Redelivered, or answered twice: not shown twice.
	push(t, w.pub, user, "messages.unread", unread, first.connID)
	push(t, w.pub, user, "friends.pending", map[string]any{"items": []any{}}, first.connID)
	push(t, w.pub, user, "marker", nil, "")

	first.expect("messages.unread", time.Second)
	first.expect("friends.pending", time.Second)
	first.expect("marker", time.Second)
	second.expect("marker", time.Second)
	// A connection id of another user's socket delivers nothing.
	other, _, otherTok := e.newUser()
	theirs := w.enter(e.url, other, otherTok)
	push(t, w.pub, user, "message.new", nil, theirs.connID)
	push(t, w.pub, other, "marker", nil, "")
	theirs.expect("marker", time.Second)
	push(t, w.pub, user, "marker", nil, "")
	first.expect("marker", time.Second)
}

// The login flow of the design: the gateway binds the user's key before it announces the socket, so a reply
// published the moment gateway.user.entered arrives is never lost.
func TestTheEntryRepliesPublishedAtOnceReachTheNewSocket(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	e.watchEntries(func(ev events.UserEnteredData, pub *broker.Conn) {
		push(t, pub, ev.UserID, "messages.unread", map[string]any{"items": []any{}, "total": 0}, ev.ConnectionID)
		push(t, pub, ev.UserID, "friends.pending", map[string]any{"items": []any{}}, ev.ConnectionID)
	})
	for range 10 {
		_, _, tok := e.newUser() // a new user each time: each socket is the first, so each one binds
		c := open(t, e.url, tok)
		got := map[string]bool{}
		for range 2 {
			got[c.next(2*time.Second).Type] = true
		}
		if !got["messages.unread"] || !got["friends.pending"] {
			t.Fatalf("entry replies %v", got)
		}
		_ = c.conn.Close(websocket.StatusNormalClosure, "")
	}
}

// A client that does not read is dropped once its buffer is full; the user's other socket keeps receiving
// everything, in order.
func TestASlowClientIsDroppedWithoutHoldingUpTheOthers(t *testing.T) {
	e := newEnv(t)
	e.cfg.WSSendBuffer = 4
	e.cfg.WSWriteTimeout = 2 * time.Second
	var admin string
	e.url, admin, _ = e.startApp()
	e.waitReadyAt(admin)
	w := e.watchEntries(nil)
	user, _, tok := e.newUser()

	slowConn, res, err := dialWS(t, e.url, "", http.Header{"Authorization": {"Bearer " + tok}}, tinyReceiveBuffer())
	if err != nil {
		t.Fatalf("dial: %v %v", err, res)
	}
	defer slowConn.CloseNow() // never read
	w.next(user)
	fast := w.enter(e.url, user, tok)

	big := strings.Repeat("x", 64<<10)
	const n = 150
	start := time.Now()
	// One at a time, so that the reading socket is never behind: only the one that does not read fills up.
	for i := range n {
		push(t, w.pub, user, "message.new", map[string]any{"n": i, "text": big}, "")
		f := fast.expect("message.new", 5*time.Second)
		if !strings.HasPrefix(string(f.Data), `{"n":`+strconv.Itoa(i)+`,`) {
			t.Fatalf("frame %d out of order: %.20s", i, f.Data)
		}
	}
	t.Logf("%d frames of 64 KiB to the reading socket in %s", n, time.Since(start).Round(time.Millisecond))
	servertest.Eventually(t, 5*time.Second, func() bool {
		return servertest.Metric(t, admin, "gateway_websocket_dropped_total", "reason", "slow_client") == 1 &&
			servertest.Metric(t, admin, "gateway_websocket_connections") == 1
	}, "the slow socket dropped")
	if v := servertest.Metric(t, admin, "gateway_push_frames_total", "result", "sent", "type", "message.new"); v < n {
		t.Fatalf("frames sent %v, want at least %d", v, n)
	}
	if v := servertest.Metric(t, admin, "gateway_push_frames_total", "result", "dropped", "type", "message.new"); v < 1 {
		t.Fatalf("frames dropped %v", v)
	}
}

// A client that stops answering pings is dropped; one that answers stays.
func TestAClientThatStopsAnsweringPingsIsDropped(t *testing.T) {
	e := newEnv(t)
	e.cfg.WSPingInterval = 100 * time.Millisecond
	e.cfg.WSPongTimeout = 300 * time.Millisecond
	// Longer than the server's read timeout too: a socket must outlive the HTTP request's deadlines.
	e.cfg.HTTP.ReadTimeout = 300 * time.Millisecond
	var admin string
	e.url, admin, _ = e.startApp()
	e.waitReadyAt(admin)
	w := e.watchEntries(nil)
	user, _, tok := e.newUser()

	mute, res, err := dialWS(t, e.url, "", http.Header{"Authorization": {"Bearer " + tok}}, nil)
	if err != nil {
		t.Fatalf("dial: %v %v", err, res)
	}
	defer mute.CloseNow() // never reads, so never answers a ping
	w.next(user)
	alive := w.enter(e.url, user, tok)

	servertest.Eventually(t, 3*time.Second, func() bool {
		return servertest.Metric(t, admin, "gateway_websocket_dropped_total", "reason", "ping_timeout") == 1
	}, "the mute socket dropped")
	time.Sleep(time.Second) // many ping intervals, and past the read timeout
	push(t, w.pub, user, "marker", nil, "")
	alive.expect("marker", time.Second)
	if v := servertest.Metric(t, admin, "gateway_websocket_connections"); v != 1 {
		t.Fatalf("gateway_websocket_connections = %v, want 1", v)
	}
}

func TestARevokedSessionsSocketsAreClosed(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	w := e.watchEntries(nil)
	user, sessionID, tok := e.newUser()
	revoked := w.enter(e.url, user, tok)
	other := w.enter(e.url, user, e.token(user, "another-session"))

	e.publish(w.pub, "auth", "auth.session.revoked", map[string]any{
		"user_id": user, "session_id": sessionID, "expires_at": time.Now().Add(15 * time.Minute).UTC(),
	})
	if s := revoked.closeStatus(2 * time.Second); s != websocket.StatusPolicyViolation {
		t.Fatalf("closed with %d, want 1008", s)
	}
	push(t, w.pub, user, "marker", nil, "")
	other.expect("marker", time.Second)
}

// Two replicas on one broker: each binds only its own users, and a push published once reaches the socket
// wherever it is.
func TestAPushReachesTheUserOnWhicheverGatewayTheyAreConnected(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	urlB, adminB, _ := e.startApp()
	e.waitReadyAt(adminB)
	w := e.watchEntries(nil)
	user, _, tok := e.newUser()
	onB := w.enter(urlB, user, tok)

	push(t, w.pub, user, "message.new", map[string]string{"id": "7"}, "")
	onB.expect("message.new", time.Second)

	onA := w.enter(e.url, user, tok)
	push(t, w.pub, user, "message.new", map[string]string{"id": "8"}, "")
	for _, c := range []*client{onA, onB} {
		if f := c.expect("message.new", time.Second); string(f.Data) != `{"id":"8"}` {
			t.Fatalf("data %s", f.Data)
		}
	}
	// Once the user's last socket on A closes, A unbinds; B still delivers.
	_ = onA.conn.Close(websocket.StatusNormalClosure, "")
	push(t, w.pub, user, "message.new", map[string]string{"id": "9"}, "")
	onB.expect("message.new", time.Second)
}

// Stopping a gateway closes its sockets with 1001 (going away), so clients reconnect to another replica.
func TestStoppingTheGatewayClosesItsSocketsGoingAway(t *testing.T) {
	e := newEnv(t)
	url, admin, stop := e.startApp()
	e.waitReadyAt(admin)
	w := e.watchEntries(nil)
	user, _, tok := e.newUser()
	c := w.enter(url, user, tok)
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }()
	if s := c.closeStatus(5 * time.Second); s != websocket.StatusGoingAway {
		t.Fatalf("closed with %d, want 1001", s)
	}
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("the gateway did not stop")
	}
}

// waitReadyAt is waitReady for a gateway started with startApp.
func (e *env) waitReadyAt(adminURL string) {
	e.t.Helper()
	saved := e.adminURL
	e.adminURL = adminURL
	defer func() { e.adminURL = saved }()
	e.waitReady()
}

// An idle socket costs the gateway one goroutine, its reader: the upgrade's handler returns once the socket
// runs, a writer runs only while frames wait and a ping's goroutine only while it waits for its pong. (Three
// goroutines per socket, with the handler's deep stack, made an idle socket cost some 50 KiB; the figure is in
// docs/performance.md.)
func TestAnIdleSocketCostsTheGatewayOneGoroutine(t *testing.T) {
	e := newEnv(t).start()
	e.waitReady()
	const n = 40
	before := runtime.NumGoroutine()
	for range n {
		_, _, tok := e.newUser()
		conn, res, err := dialWS(t, e.url, "", http.Header{"Authorization": {"Bearer " + tok}}, nil)
		if err != nil {
			t.Fatalf("dial: %v %v", err, res)
		}
		t.Cleanup(func() { _ = conn.CloseNow() })
	}
	servertest.Eventually(t, 5*time.Second, func() bool {
		return servertest.Metric(t, e.adminURL, "gateway_websocket_connections") == n
	}, "every socket registered")
	// The test's own client sockets add no goroutine while nobody reads them, so the whole delta is the
	// gateway's. Some slack for the HTTP transport's idle connections of the test's requests.
	var perSocket float64
	servertest.Eventually(t, 5*time.Second, func() bool {
		perSocket = float64(runtime.NumGoroutine()-before) / n
		return perSocket <= 1.25
	}, "at most one goroutine per idle socket")
	t.Logf("goroutines per idle socket: %.2f", perSocket)
}
