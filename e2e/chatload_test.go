package e2e

// Pieces shared by the tests that drive a chat load and then account for every message: the chaos test (faults
// injected into the suite's own stack) and the cluster rollout test (rolling upgrades and pod kills of a
// messenger on Kubernetes). Requests and push sockets, the failure kinds, the check of a chat's two histories and
// the summary table.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// apiRequest sends one request to url and reads the whole answer. body is nil, []byte (sent as it is) or a
// value sent as JSON; headers are name/value pairs, set last (so they may override Content-Type). err is set
// only when no HTTP answer came.
func apiRequest(ctx context.Context, client *http.Client, method, url, token string, body any, headers ...string) (reply, error) {
	var rd io.Reader
	ctype := ""
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return reply{}, err
		}
		rd = bytes.NewReader(raw)
		ctype = "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return reply{}, err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return reply{res.StatusCode, res.Header, data}, nil
}

// failureKind names what went wrong with a request for the failure counts: the HTTP status, or the kind of
// transport error when no answer came (status 0).
func failureKind(status int, err error) string {
	if status != 0 {
		return strconv.Itoa(status)
	}
	if err == nil {
		return "no answer"
	}
	s := err.Error()
	switch {
	case strings.Contains(s, "connection refused"):
		return "conn refused"
	case strings.Contains(s, "Timeout") || strings.Contains(s, "deadline"):
		return "timeout"
	case strings.Contains(s, "EOF") || strings.Contains(s, "reset"):
		return "conn reset/EOF"
	}
	return "transport error"
}

// pushSocket opens the push socket of base (a gateway URL) with token and hands every frame to onFrame until the
// socket or ctx ends; opened (optional) is called once the upgrade succeeded. With ping > 0 the client pings
// every ping and drops a socket whose pong does not come within ping: a peer that vanished without closing is
// noticed. status is 101 once the socket was open, else the refusal's HTTP status (0: no HTTP answer).
func pushSocket(ctx context.Context, base, token string, ping time.Duration, opened func(), onFrame func(data []byte)) (int, error) {
	u, _ := url.Parse(base)
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.Path = "/api/v1/ws"
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	conn, res, err := websocket.Dial(dctx, u.String(), &websocket.DialOptions{HTTPHeader: http.Header{"Authorization": {"Bearer " + token}}})
	cancel()
	if err != nil {
		if res != nil {
			return res.StatusCode, err
		}
		return 0, err
	}
	conn.SetReadLimit(8 << 20)
	if opened != nil {
		opened()
	}
	rctx, stopPings := context.WithCancel(ctx)
	defer stopPings()
	if ping > 0 {
		go func() {
			for {
				select {
				case <-rctx.Done():
					return
				case <-time.After(ping):
				}
				pctx, cancel := context.WithTimeout(rctx, ping)
				err := conn.Ping(pctx)
				cancel()
				if err != nil && rctx.Err() == nil {
					conn.CloseNow() // the reader below ends
					return
				}
			}
		}()
	}
	for {
		_, data, err := conn.Read(rctx)
		if err != nil {
			break
		}
		onFrame(data)
	}
	conn.Close(websocket.StatusNormalClosure, "bye")
	return 101, nil
}

// pushedMessage is a message as a push frame carries it.
type pushedMessage struct {
	ID   string `json:"id"`
	Text string `json:"text"`
}

// frameMessages returns a frame's type and the messages it carries (message.new: one; messages.unread: its items).
func frameMessages(data []byte) (string, []pushedMessage) {
	var f struct {
		Type string `json:"type"`
		Data struct {
			pushedMessage
			Items []pushedMessage `json:"items"`
		} `json:"data"`
	}
	if json.Unmarshal(data, &f) != nil {
		return "", nil
	}
	switch f.Type {
	case "message.new":
		return f.Type, []pushedMessage{f.Data.pushedMessage}
	case "messages.unread":
		return f.Type, f.Data.Items
	}
	return f.Type, nil
}

// frameMessageIDs returns a frame's type and the ids of the messages it carries (message.new, messages.unread).
func frameMessageIDs(data []byte) (string, []string) {
	typ, msgs := frameMessages(data)
	if msgs == nil {
		return typ, nil
	}
	ids := make([]string, 0, len(msgs))
	for _, m := range msgs {
		ids = append(ids, m.ID)
	}
	return typ, ids
}

// chatCheck is what the two histories of one chat say about the messages its sender had accepted.
type chatCheck struct {
	ids, texts          []string // the sender's history, oldest first
	recipientIDs        []string // the recipient's
	lost, duplicated    int
	committedButUnacked int // texts in the history whose send was never acknowledged (failed, and the retry too)
}

// checkChat reads both participants' histories of the chat between from and to and checks them against
// accepted (client_message_id → message id; each load message's text is its client_message_id): both see the
// same messages in one order of increasing ids, every accepted message is there exactly once, and no text is
// there twice. Every finding is a test error prefixed with label.
func checkChat(t *testing.T, label string, from, to *account, accepted map[string]string) chatCheck {
	t.Helper()
	ha, ta := fullHistory(t, from, to)
	hb, _ := fullHistory(t, to, from)
	c := chatCheck{ids: ha, texts: ta, recipientIDs: hb}
	if fmt.Sprint(ha) != fmt.Sprint(hb) {
		t.Errorf("%s: %s and %s see different histories (%d vs %d messages)", label, from.nickname, to.nickname, len(ha), len(hb))
	}
	count := map[string]int{}
	textCount := map[string]int{}
	for i, id := range ha {
		count[id]++
		textCount[ta[i]]++
		if i > 0 {
			prev, _ := strconv.ParseInt(ha[i-1], 10, 64)
			cur, _ := strconv.ParseInt(id, 10, 64)
			if cur <= prev {
				t.Errorf("%s: history out of order at %d (%s after %s)", label, i, id, ha[i-1])
			}
		}
	}
	for cmid, id := range accepted {
		switch {
		case count[id] == 0:
			c.lost++
			t.Errorf("%s: accepted message %s (%s) is not in the history", label, id, cmid)
		case count[id] > 1 || textCount[cmid] > 1:
			c.duplicated++
			t.Errorf("%s: message %s (%s) is in the history %d times (text %d times)", label, id, cmid, count[id], textCount[cmid])
		}
	}
	for text, n := range textCount {
		if _, ok := accepted[text]; !ok {
			c.committedButUnacked += n
			if n > 1 {
				c.duplicated += n - 1
				t.Errorf("%s: unacknowledged %s is in the history %d times", label, text, n)
			}
		}
	}
	return c
}

// renderTable lays out rows in columns under header: the first column left-aligned, the others right-aligned.
func renderTable(header []string, rows [][]string) string {
	width := make([]int, len(header))
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	b.WriteString("\n")
	for _, r := range append([][]string{header}, rows...) {
		for i, cell := range r {
			if i == 0 {
				fmt.Fprintf(&b, "%-*s", width[i], cell)
			} else {
				fmt.Fprintf(&b, " %*s", width[i], cell)
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

// percentile is the p-th percentile (0 < p ≤ 1) of ds, nearest rank; 0 for none.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p+0.999999) - 1
	return s[min(max(i, 0), len(s)-1)]
}
