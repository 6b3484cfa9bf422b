package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// frame is one server push.
type frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
	at   time.Time
}

func (f frame) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(f.Data, &m); err != nil {
		t.Fatalf("%s: data is not an object: %s", f.Type, f.Data)
	}
	return m
}

// socket is an open push connection that records every frame it receives.
type socket struct {
	conn   *websocket.Conn
	cancel context.CancelFunc

	mu       sync.Mutex
	frames   []frame
	closed   bool
	closedAt time.Time            // when the read loop ended
	code     websocket.StatusCode // the close frame's code (-1 without one)
	wake     chan struct{}
}

// dialWS opens the push socket of base (a gateway URL) with the token in the header, or in the query when
// inQuery; it returns the HTTP status when refused.
func dialWS(t *testing.T, base, token string, inQuery bool, headers ...string) (*socket, int) {
	t.Helper()
	u, _ := url.Parse(base)
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/api/v1/ws"
	h := http.Header{}
	if token != "" {
		if inQuery {
			u.RawQuery = "access_token=" + url.QueryEscape(token)
		} else {
			h.Set("Authorization", "Bearer "+token)
		}
	}
	for i := 0; i+1 < len(headers); i += 2 {
		h.Set(headers[i], headers[i+1])
	}
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	conn, res, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		cancel()
		if res != nil {
			return nil, res.StatusCode
		}
		t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(8 << 20)
	s := &socket{conn: conn, cancel: cancel, wake: make(chan struct{}, 1)}
	go func() {
		for {
			_, data, err := conn.Read(ctx)
			s.mu.Lock()
			if err != nil {
				s.closed, s.closedAt, s.code = true, time.Now(), websocket.CloseStatus(err)
				s.mu.Unlock()
				s.notify()
				return
			}
			var f frame
			if json.Unmarshal(data, &f) == nil {
				f.at = time.Now()
				s.frames = append(s.frames, f)
			}
			s.mu.Unlock()
			s.notify()
		}
	}()
	t.Cleanup(s.close)
	return s, 101
}

func (s *socket) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *socket) close() {
	s.conn.Close(websocket.StatusNormalClosure, "bye")
	s.cancel()
}

// connect opens a socket for a on the main gateway and waits for both entry frames.
func connect(t *testing.T, a *account) *socket {
	t.Helper()
	return connectTo(t, stack.GatewayURL, a)
}

func connectTo(t *testing.T, base string, a *account) *socket {
	t.Helper()
	s, status := dialWS(t, base, a.access, false)
	if s == nil {
		t.Fatalf("websocket refused: %d", status)
	}
	s.waitFor(t, "messages.unread", 2*time.Second)
	s.waitFor(t, "friends.pending", 2*time.Second)
	return s
}

// all returns the frames of the given type received so far.
func (s *socket) all(typ string) []frame {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []frame
	for _, f := range s.frames {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

// waitUntil waits until cond holds over the frames received, or fails.
func (s *socket) waitUntil(d time.Duration, cond func([]frame) bool) bool {
	deadline := time.After(d)
	for {
		s.mu.Lock()
		ok := cond(s.frames)
		closed := s.closed
		s.mu.Unlock()
		if ok {
			return true
		}
		if closed {
			return false
		}
		select {
		case <-s.wake:
		case <-deadline:
			return false
		}
	}
}

// waitFor returns the first frame of the type, waiting up to d.
func (s *socket) waitFor(t *testing.T, typ string, d time.Duration) frame {
	t.Helper()
	var got frame
	if !s.waitUntil(d, func(fs []frame) bool {
		for _, f := range fs {
			if f.Type == typ {
				got = f
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %s frame within %v", typ, d)
	}
	return got
}

// waitPush returns the first frame of the type whose data has every field of want, given as pairs of a path
// (dotted into nested objects: "user.id") and a value, waiting up to d. The relay may deliver the push of an
// earlier call after a later call has answered (befriend's friend.request reaching a socket opened since), so
// a test waits for the push it means, by id or user, and skips the others.
func (s *socket) waitPush(t *testing.T, typ string, d time.Duration, want ...string) frame {
	t.Helper()
	var got frame
	if !s.waitUntil(d, func(fs []frame) bool {
		for _, f := range fs {
			if f.Type == typ && hasFields(f.Data, want) {
				got = f
				return true
			}
		}
		return false
	}) {
		var seen []string
		for _, f := range s.all(typ) {
			seen = append(seen, string(f.Data))
		}
		t.Fatalf("no %s frame with %q within %v; %s frames: %v", typ, want, d, typ, seen)
	}
	return got
}

// hasFields reports whether the JSON object data has the value at each path of the pairs in want.
func hasFields(data json.RawMessage, want []string) bool {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return false
	}
	for i := 0; i+1 < len(want); i += 2 {
		at := v
		for key := range strings.SplitSeq(want[i], ".") {
			m, _ := at.(map[string]any)
			at = m[key]
		}
		if s, ok := at.(string); !ok || s != want[i+1] {
			return false
		}
	}
	return true
}

// waitMessage returns the message.new frame of the message id, waiting up to d.
func (s *socket) waitMessage(d time.Duration, id string) (frame, bool) {
	var got frame
	ok := s.waitUntil(d, func(fs []frame) bool {
		for _, f := range fs {
			if f.Type == "message.new" && strings.Contains(string(f.Data), `"id":"`+id+`"`) {
				got = f
				return true
			}
		}
		return false
	})
	return got, ok
}

// closedWithin reports whether the server closes the socket within d.
func (s *socket) closedWithin(d time.Duration) bool {
	s.waitUntil(d, func([]frame) bool { return false })
	return s.closedNow()
}

func (s *socket) closedNow() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}
