package service_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/events"
	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/gateway/internal/service"
)

// startApp builds and serves another gateway from e.cfg (a second replica on the same exchange) and returns
// its URLs and a stop function that shuts it down as SIGTERM would.
func (e *env) startApp() (url, adminURL string, stop func()) {
	e.t.Helper()
	app, err := service.Build(context.Background(), e.cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	return servertest.Start(e.t, app)
}

// frame is a push frame as a client receives it.
type frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// client is a test's WebSocket: it reads (as it must, for pings and the close to be handled) into frames
// until the connection ends, then reports the close status.
type client struct {
	t      *testing.T
	conn   *websocket.Conn
	frames chan frame
	closed chan websocket.StatusCode
	connID string // from the gateway.user.entered event, when the test waited for it
}

// dialWS opens a socket at base (the gateway's URL) with the given headers and path suffix (a query string).
func dialWS(t *testing.T, base, query string, header http.Header, httpClient *http.Client) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/api/v1/ws"+query,
		&websocket.DialOptions{HTTPHeader: header, HTTPClient: httpClient})
}

// open connects with the token in the Authorization header and starts reading.
func open(t *testing.T, base, token string) *client {
	t.Helper()
	conn, res, err := dialWS(t, base, "", http.Header{"Authorization": {"Bearer " + token}}, nil)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	return startReading(t, conn)
}

func startReading(t *testing.T, conn *websocket.Conn) *client {
	c := &client{t: t, conn: conn, frames: make(chan frame, 1000), closed: make(chan websocket.StatusCode, 1)}
	conn.SetReadLimit(1 << 20) // the library's default (32 KiB) is below some tests' frames
	t.Cleanup(func() { _ = conn.CloseNow() })
	go func() {
		for {
			typ, b, err := conn.Read(context.Background())
			if err != nil {
				c.closed <- websocket.CloseStatus(err)
				close(c.frames)
				return
			}
			var f frame
			if typ != websocket.MessageText || json.Unmarshal(b, &f) != nil {
				t.Errorf("not a JSON text frame: %v %q", typ, b)
				continue
			}
			c.frames <- f
		}
	}()
	return c
}

// next returns the next frame, failing after within.
func (c *client) next(within time.Duration) frame {
	c.t.Helper()
	select {
	case f, ok := <-c.frames:
		if !ok {
			c.t.Fatal("the socket closed while a frame was expected")
		}
		return f
	case <-time.After(within):
		c.t.Fatalf("no frame within %s", within)
	}
	return frame{}
}

// nextOfType skips nothing: the next frame must be of type typ.
func (c *client) expect(typ string, within time.Duration) frame {
	c.t.Helper()
	f := c.next(within)
	if f.Type != typ {
		c.t.Fatalf("frame %s %s, want type %s", f.Type, f.Data, typ)
	}
	return f
}

// closeStatus waits for the server to close the socket and returns the status it gave.
func (c *client) closeStatus(within time.Duration) websocket.StatusCode {
	c.t.Helper()
	select {
	case s := <-c.closed:
		return s
	case <-time.After(within):
		c.t.Fatalf("the socket is still open after %s", within)
	}
	return 0
}

// entries watches gateway.user.entered on the test's exchange, as friends and messages do, and lets a test
// answer each one (reply) and wait for a user's next one.
type entries struct {
	t     *testing.T
	pub   *broker.Conn
	mu    sync.Mutex
	seen  map[string]chan events.UserEnteredData
	reply func(events.UserEnteredData)
}

// watchEntries starts the watcher (before any socket opens) and waits until its queue is bound.
func (e *env) watchEntries(reply func(ev events.UserEnteredData, pub *broker.Conn)) *entries {
	e.t.Helper()
	w := &entries{t: e.t, pub: e.publisher(), seen: map[string]chan events.UserEnteredData{}}
	if reply != nil {
		w.reply = func(ev events.UserEnteredData) { reply(ev, w.pub) }
	}
	brokertest.Consume(e.t, w.pub, broker.Subscription{Queue: "test-entries", Keys: []string{events.UserEntered}, Transient: true,
		Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error {
			var d events.UserEnteredData
			if err := ev.Decode(&d); err != nil || ev.Source != "gateway" {
				e.t.Errorf("malformed entered event %+v: %v", ev, err)
				return nil
			}
			if w.reply != nil {
				w.reply(d)
			}
			w.channel(d.UserID) <- d
			return nil
		}})
	return w
}

func (w *entries) channel(userID string) chan events.UserEnteredData {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.seen[userID] == nil {
		w.seen[userID] = make(chan events.UserEnteredData, 100)
	}
	return w.seen[userID]
}

// next waits for the user's next entered event.
func (w *entries) next(userID string) events.UserEnteredData {
	w.t.Helper()
	select {
	case ev := <-w.channel(userID):
		return ev
	case <-time.After(5 * time.Second):
		w.t.Fatalf("no gateway.user.entered for %s", userID)
	}
	return events.UserEnteredData{}
}

// enter opens a socket and waits for its entered event, after which the user's pushes are bound.
func (w *entries) enter(base, userID, token string) *client {
	w.t.Helper()
	c := open(w.t, base, token)
	ev := w.next(userID)
	c.connID = ev.ConnectionID
	return c
}

// push publishes a push as friends and messages do.
func push(t *testing.T, pub *broker.Conn, userID, typ string, data any, connectionID string) broker.Event {
	t.Helper()
	ev, err := broker.NewPush("test", userID, typ, data)
	if err != nil {
		t.Fatal(err)
	}
	ev.ConnectionID = connectionID
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := pub.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	return ev
}

// tinyReceiveBuffer is an HTTP client whose connections have a small kernel receive buffer, so a client that
// does not read backs up the server's writes quickly.
func tinyReceiveBuffer() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}
