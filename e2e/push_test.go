package e2e

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

func TestEnteringSendsUnreadMessagesAndPendingRequests(t *testing.T) {
	t.Parallel()
	a, b, c := register(t, "psa"), register(t, "psb"), register(t, "psc")
	befriend(t, a, b)
	for i := 0; i < 3; i++ {
		send(t, a, b, fmt.Sprintf("while away %d", i))
	}
	must(t, call(t, "POST", "/api/v1/friends/requests", c.access, map[string]any{"user_id": b.id}), 201, "c asks b")

	s, status := dialWS(t, stack.GatewayURL, b.access, false)
	if s == nil {
		t.Fatalf("refused: %d", status)
	}
	unread := s.waitFor(t, "messages.unread", 2*time.Second).object(t)
	pending := s.waitFor(t, "friends.pending", 2*time.Second).object(t)
	items, _ := unread["items"].([]any)
	if len(items) != 3 || fmt.Sprint(unread["total"]) != "3" {
		t.Fatalf("messages.unread: %v", unread)
	}
	for i, it := range items {
		m := it.(map[string]any)
		if m["text"] != fmt.Sprintf("while away %d", i) || m["sender_id"] != a.id {
			t.Errorf("unread[%d] = %v (oldest first)", i, m)
		}
	}
	reqs, _ := pending["items"].([]any)
	if len(reqs) != 1 || reqs[0].(map[string]any)["user"].(map[string]any)["id"] != c.id {
		t.Errorf("friends.pending: %v", pending)
	}
	time.Sleep(500 * time.Millisecond)
	if n := len(s.all("messages.unread")); n != 1 {
		t.Errorf("%d messages.unread frames on one connection, want exactly 1", n)
	}
	// A second socket of the same user gets its own entry frames; the first gets no second copy.
	s2 := connect(t, b)
	_ = s2
	time.Sleep(300 * time.Millisecond)
	if n := len(s.all("messages.unread")); n != 1 {
		t.Errorf("another socket's entry reached the first: %d frames", n)
	}
	// Unread until read, even though they were pushed.
	s.close()
	s3, _ := dialWS(t, stack.GatewayURL, b.access, true)
	if got := s3.waitFor(t, "messages.unread", 2*time.Second).object(t); fmt.Sprint(got["total"]) != "3" {
		t.Errorf("still unread at the next entry: %v", got)
	}
}

func TestEmptyEntryFramesForANewUser(t *testing.T) {
	t.Parallel()
	u := register(t, "psd")
	s, _ := dialWS(t, stack.GatewayURL, u.access, true) // the browser way: token in the query
	if s == nil {
		t.Fatal("refused")
	}
	for _, typ := range []string{"messages.unread", "friends.pending"} {
		f := s.waitFor(t, typ, 2*time.Second)
		var d struct {
			Items []any `json:"items"`
			Total *int  `json:"total"`
		}
		if err := json.Unmarshal(f.Data, &d); err != nil || d.Items == nil || len(d.Items) != 0 {
			t.Errorf("%s: want an empty list, got %s", typ, f.Data)
		}
		if typ == "messages.unread" && (d.Total == nil || *d.Total != 0) {
			t.Errorf("messages.unread total: %s", f.Data)
		}
	}
}

func TestLivePushes(t *testing.T) {
	t.Parallel()
	a, b, c := register(t, "pse"), register(t, "psf"), register(t, "psg")
	befriend(t, a, b)
	sa, sb, sc := connect(t, a), connect(t, b), connect(t, c)
	sa2 := connect(t, a) // the sender's other device

	start := time.Now()
	m := send(t, a, b, "live one")
	id := m["id"].(string)
	f, ok := sb.waitMessage(time.Second, id)
	if !ok {
		t.Fatal("message.new did not reach the recipient within 1 s")
	}
	t.Logf("send-to-push took %v", f.at.Sub(start).Round(time.Millisecond))
	var pushed map[string]any
	_ = json.Unmarshal(f.Data, &pushed)
	for _, k := range []string{"id", "sender_id", "recipient_id", "text", "created_at"} {
		if pushed[k] != m[k] {
			t.Errorf("message.new %s = %v, the send call said %v", k, pushed[k], m[k])
		}
	}
	for name, s := range map[string]*socket{"sender's socket": sa, "sender's other socket": sa2} {
		if _, ok := s.waitMessage(time.Second, id); !ok {
			t.Errorf("%s did not get message.new", name)
		}
	}

	must(t, call(t, "POST", "/api/v1/chats/"+a.id+"/read", b.access, map[string]any{"up_to_id": id}), 204, "read")
	// Each push is waited for by what it is about: the earlier befriend(a, b) also pushed a friend.request to
	// b and a friend.accepted to a, which may reach the sockets opened since at any time.
	sa.waitPush(t, "message.read", 2*time.Second, "peer_id", b.id, "up_to_id", id)

	must(t, call(t, "POST", "/api/v1/friends/requests", c.access, map[string]any{"user_id": b.id}), 201, "c asks b")
	sb.waitPush(t, "friend.request", 2*time.Second, "user.id", c.id, "user.nickname", c.nickname)
	must(t, call(t, "POST", "/api/v1/friends/requests/"+c.id+"/accept", b.access, nil), 200, "b accepts c")
	sc.waitPush(t, "friend.accepted", 2*time.Second, "user.id", b.id)
	must(t, call(t, "DELETE", "/api/v1/friends/"+b.id, a.access, nil), 204, "a removes b")
	sb.waitPush(t, "friend.removed", 2*time.Second, "user.id", a.id)
	// Nobody else heard any of it.
	if n := len(sc.all("message.new")); n != 0 {
		t.Errorf("a third user got %d message.new frames", n)
	}
}

func TestPushesOfOneChatArriveInOrder(t *testing.T) {
	t.Parallel()
	a, b := register(t, "pso"), register(t, "psp")
	befriend(t, a, b)
	sb := connect(t, b)
	const n = 30
	for i := 0; i < n; i++ {
		from, to := a, b
		if i%3 == 2 {
			from, to = b, a
		}
		send(t, from, to, fmt.Sprint(i))
	}
	if !sb.waitUntil(5*time.Second, func(fs []frame) bool { return len(framesOf(fs, "message.new")) >= n }) {
		t.Fatalf("only %d of %d pushes arrived", len(sb.all("message.new")), n)
	}
	prev := int64(0)
	for _, f := range sb.all("message.new") {
		var m map[string]any
		_ = json.Unmarshal(f.Data, &m)
		id, _ := strconv.ParseInt(m["id"].(string), 10, 64)
		if id <= prev {
			t.Fatalf("push of message %d after %d: out of the chat's order", id, prev)
		}
		prev = id
	}
}

func framesOf(fs []frame, typ string) []frame {
	var out []frame
	for _, f := range fs {
		if f.Type == typ {
			out = append(out, f)
		}
	}
	return out
}

func TestOfflineMessagesArriveAtTheNextEntry(t *testing.T) {
	t.Parallel()
	a, b := register(t, "psh"), register(t, "psi")
	befriend(t, a, b)
	connect(t, b).close()
	time.Sleep(200 * time.Millisecond)
	for i := 0; i < 5; i++ {
		send(t, a, b, fmt.Sprintf("offline %d", i))
	}
	s, _ := dialWS(t, stack.GatewayURL, b.access, false)
	got := s.waitFor(t, "messages.unread", 2*time.Second).object(t)
	items, _ := got["items"].([]any)
	if len(items) != 5 || items[0].(map[string]any)["text"] != "offline 0" || fmt.Sprint(got["total"]) != "5" {
		t.Fatalf("after reconnecting: %v", got)
	}
}

func TestUnreadFrameHoldsTheOldestHundredAndTheTotal(t *testing.T) {
	t.Parallel()
	a, b := register(t, "psq"), register(t, "psr")
	befriend(t, a, b)
	for i := 0; i < 105; i++ {
		send(t, a, b, fmt.Sprint(i))
	}
	s, _ := dialWS(t, stack.GatewayURL, b.access, false)
	got := s.waitFor(t, "messages.unread", 2*time.Second).object(t)
	items, _ := got["items"].([]any)
	if len(items) != 100 || fmt.Sprint(got["total"]) != "105" || items[0].(map[string]any)["text"] != "0" || items[99].(map[string]any)["text"] != "99" {
		t.Errorf("messages.unread: %d items, total %v", len(items), got["total"])
	}
}

func TestSocketRefusesBadTokensAndClosesOnLogout(t *testing.T) {
	t.Parallel()
	if s, status := dialWS(t, stack.GatewayURL, "", false); s != nil || status != 401 {
		t.Errorf("no token: %d", status)
	}
	if s, status := dialWS(t, stack.GatewayURL, "not.a.token", false); s != nil || status != 401 {
		t.Errorf("bad token: %d", status)
	}
	u := register(t, "psj")
	if s, status := dialWS(t, stack.GatewayURL, u.access, false, "Origin", "https://evil.example"); s != nil || status != 403 {
		t.Errorf("foreign browser origin: %d, want 403", status)
	}
	s := connect(t, u)
	must(t, call(t, "POST", "/api/v1/auth/logout", u.access, nil), 204, "logout")
	if !s.closedWithin(5 * time.Second) {
		t.Error("the socket of a logged-out session stays open")
	}
	// Every gateway replica learns of the revocation from its event (within about 2 s): behind a load balancer the
	// next dial may reach one that has not yet. Within 5 s every dial is refused.
	var status int
	refused := servertest.Eventually(t, 5*time.Second, func() bool {
		var s2 *socket
		s2, status = dialWS(t, stack.GatewayURL, u.access, false)
		if s2 != nil {
			s2.close()
			return false
		}
		return status == 401
	}, "")
	if !refused {
		t.Errorf("a revoked session's token still opens a socket after 5 s: %d", status)
	}
}

// TestUsersOnDifferentGatewaysReachEachOther: two users on two gateways (the stack's and a replica it starts;
// in external mode two gateway pods named by E2E_GATEWAY_REPLICAS) get each other's messages live.
func TestUsersOnDifferentGatewaysReachEachOther(t *testing.T) {
	t.Parallel()
	first, second := stack.GatewayURL, ""
	if external {
		reps := gatewayReplicas()
		if len(reps) < 2 {
			t.Skip("external mode: pushes across gateways need two gateway replicas' own addresses in E2E_GATEWAY_REPLICAS " +
				"(comma-separated base URLs, e.g. http://10.201.0.23:8080,http://10.201.0.24:8080)")
		}
		first, second = reps[0], reps[1]
	} else {
		var err error
		if second, err = stack.StartGateway("gateway-2"); err != nil {
			t.Fatal(err)
		}
		defer stack.StopProcess("gateway-2")
	}
	a, b := register(t, "gwa"), register(t, "gwb")
	befriend(t, a, b)
	sa := connectTo(t, first, a)
	sb := connectTo(t, second, b)
	m := must(t, call(t, "POST", second+"/api/v1/chats/"+a.id+"/messages", b.access, map[string]any{"text": "from gateway 2"}), 201, "send via gateway 2").object(t)
	if _, ok := sa.waitMessage(time.Second, m["id"].(string)); !ok {
		t.Errorf("a user on gateway 1 (%s) did not get a message sent via gateway 2 (%s)", first, second)
	}
	m = must(t, call(t, "POST", first+"/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": "from gateway 1"}), 201, "send via gateway 1").object(t)
	if _, ok := sb.waitMessage(time.Second, m["id"].(string)); !ok {
		t.Errorf("a user on gateway 2 (%s) did not get a message sent via gateway 1 (%s)", second, first)
	}
}
