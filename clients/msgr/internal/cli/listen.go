package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"

	"simplemessenger/clients/msgr/internal/api"
	"simplemessenger/clients/msgr/internal/config"
	"simplemessenger/clients/msgr/internal/output"
)

// Reconnection back-off of listen: doubling from backoffBase up to backoffMax, each wait drawn at random from
// its upper half so that clients cut off together do not come back together. Variables for the tests.
var (
	backoffBase = 500 * time.Millisecond
	backoffMax  = 30 * time.Second
)

// backoff is the wait before reconnection attempt n (0 for the first).
func backoff(n int) time.Duration {
	d := backoffBase << min(n, 20)
	if d > backoffMax || d <= 0 {
		d = backoffMax
	}
	return d/2 + rand.N(d/2+1)
}

func (a *app) listenCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "listen",
		Short: "Print live pushes (messages, reads, friend requests) as they arrive, until Ctrl-C",
		Long: `Connect to the push WebSocket and print every frame as it arrives: on entering, the unread messages
(messages.unread) and pending friend requests (friends.pending); then message.new, message.read,
friend.request, friend.accepted, friend.removed, profile.updated, message.edited, message.deleted, typing (and
any newer type, as it came).

With --json every frame is printed as it came, one JSON object per line. Connection news go to standard
error. When the connection drops, msgr reconnects with exponential back-off (0.5 s doubling up to 30 s, with
jitter) and gets the login frames again. Ctrl-C ends it with exit code 0; a revoked session (close code 1008)
or a refused login ends it with exit code 3.`,
		Args: cobra.NoArgs,
		RunE: a.run(func(cmd *cobra.Command, args []string) error { return a.listen() }),
	}
}

func (a *app) statusf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "msgr: "+format+"\n", args...)
}

func (a *app) listen() error {
	c, sess, err := a.client()
	if err != nil {
		return err
	}
	wsURL, _ := api.WebSocketURL(a.server)
	p := a.printer()
	names := newNameCache(a.ctx, c, sess)
	attempt, refused := 0, 0
	for {
		retry, err := func() (bool, error) {
			token, err := c.Tokens.Token(a.ctx)
			if err != nil {
				return isTransient(err), err
			}
			conn, err := c.DialPush(a.ctx, token)
			if err != nil {
				var ae *api.Error
				if errors.As(err, &ae) && ae.Status == 401 {
					// An expired or rotated token: refresh once; a fresh token refused as well means the
					// session is gone.
					if refused++; refused > 1 {
						return false, err
					}
					if _, err := c.Tokens.Refresh(a.ctx, token); err != nil {
						return isTransient(err), err
					}
					return true, nil
				}
				return isTransient(err), err
			}
			refused = 0
			a.statusf("connected to %s", wsURL)
			got, err := a.readFrames(conn, p, names)
			if got {
				attempt = 0 // the connection worked: start the back-off over
			}
			if a.ctx.Err() != nil {
				return false, nil
			}
			if websocket.CloseStatus(err) == websocket.StatusPolicyViolation {
				return false, fmt.Errorf("%w: the server closed the connection because the session was revoked", api.ErrNotLoggedIn)
			}
			return true, fmt.Errorf("connection lost: %w", err)
		}()
		if a.ctx.Err() != nil {
			return nil // Ctrl-C
		}
		if !retry {
			return err
		}
		if err == nil { // a refreshed token: try again at once
			continue
		}
		wait := backoff(attempt)
		var ae *api.Error
		if errors.As(err, &ae) && ae.RetryAfter != "" {
			if s, perr := strconv.Atoi(ae.RetryAfter); perr == nil && time.Duration(s)*time.Second > wait {
				wait = time.Duration(s) * time.Second
			}
		}
		attempt++
		a.statusf("%v; reconnecting in %s", err, wait.Round(10*time.Millisecond))
		select {
		case <-a.ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// isTransient tells errors worth retrying: no answer, the server overloaded or restarting.
func isTransient(err error) bool {
	var ne *api.UnreachableError
	if errors.As(err, &ne) {
		return true
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		return ae.Status == 429 || ae.Status >= 500
	}
	return false // e.g. a damaged credentials file: waiting does not mend it
}

// readFrames prints frames until the connection ends or Ctrl-C (then it closes the socket properly); got
// reports whether any frame came.
func (a *app) readFrames(conn *websocket.Conn, p *output.Printer, names output.Namer) (got bool, err error) {
	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-a.ctx.Done():
			_ = conn.Close(websocket.StatusNormalClosure, "bye")
		case <-done:
		}
	}()
	defer conn.CloseNow()
	seen := seenMessages{}
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return got, err
		}
		got = true
		var f api.Frame
		if err := json.Unmarshal(data, &f); err != nil {
			a.statusf("ignoring a frame that is not JSON: %.80q", data)
			continue
		}
		if !p.JSON && seen.repeated(f) {
			continue
		}
		if err := p.Frame(f, names); err != nil {
			return got, err
		}
	}
}

// nameCache names user ids for human output, asking the server once per user.
type nameCache struct {
	ctx   context.Context
	c     *api.Client
	mu    sync.Mutex
	names map[string]string
}

func newNameCache(ctx context.Context, c *api.Client, sess config.Session) *nameCache {
	return &nameCache{ctx: ctx, c: c, names: map[string]string{sess.UserID: sess.Nickname}}
}

func (n *nameCache) Name(id string) string {
	n.mu.Lock()
	defer n.mu.Unlock()
	if name, ok := n.names[id]; ok {
		return name
	}
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Second)
	defer cancel()
	u, err := n.c.User(ctx, id)
	if err != nil {
		return id // not cached: the next frame tries again
	}
	n.names[id] = u.Nickname
	return u.Nickname
}

// seenMessages remembers the message ids shown on one connection: a message sent while the socket opens can
// come both in messages.unread and as message.new (the contract says to merge by id), and people should not
// read it twice. Machines (--json) get every frame as it came.
type seenMessages map[string]bool

// repeated reports whether f is a message.new already shown, and remembers the messages f shows.
func (s seenMessages) repeated(f api.Frame) bool {
	switch f.Type {
	case api.FrameMessageNew:
		var m api.Message
		if json.Unmarshal(f.Data, &m) != nil || m.ID == "" {
			return false
		}
		if s[m.ID] {
			return true
		}
		s[m.ID] = true
	case api.FrameMessagesUnread:
		var d api.UnreadData
		if json.Unmarshal(f.Data, &d) == nil {
			for _, m := range d.Items {
				s[m.ID] = true
			}
		}
	}
	return false
}
