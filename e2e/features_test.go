package e2e

import (
	"encoding/json"
	"syscall"
	"testing"
	"time"
)

// The additions to v1, through the gateway as a client sees them: edit and delete with their pushes and
// refusals, typing, live profiles, blocks, and the extra fields of the lists.
func TestEditAndDeleteThroughTheGateway(t *testing.T) {
	t.Parallel()
	a, b, c := register(t, "eda"), register(t, "edb"), register(t, "edc")
	befriend(t, a, b)
	sa, sb := connect(t, a), connect(t, b)
	m := must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": "helo"}), 201, "send").object(t)
	id, _ := m["id"].(string)
	path := "/api/v1/chats/" + b.id + "/messages/" + id

	e := must(t, call(t, "PATCH", path, a.access, map[string]any{"text": "hello"}), 200, "edit").object(t)
	if e["text"] != "hello" || e["edited_at"] == nil {
		t.Fatalf("edit answer %v", e)
	}
	for _, s := range []*socket{sa, sb} {
		s.waitPush(t, "message.edited", 2*time.Second, "id", id, "text", "hello")
	}
	mustError(t, call(t, "PATCH", "/api/v1/chats/"+a.id+"/messages/"+id, b.access, map[string]any{"text": "mine now"}), 403, "not_your_message", "the recipient edits")
	mustError(t, call(t, "DELETE", "/api/v1/chats/"+a.id+"/messages/"+id, c.access, nil), 404, "message_not_found", "a stranger deletes")

	must(t, call(t, "DELETE", path, a.access, nil), 204, "delete")
	for _, s := range []*socket{sa, sb} {
		s.waitPush(t, "message.deleted", 2*time.Second, "id", id, "text", "")
	}
	mustError(t, call(t, "PATCH", path, a.access, map[string]any{"text": "back"}), 409, "message_deleted", "editing a tombstone")
	page := must(t, call(t, "GET", "/api/v1/chats/"+a.id+"/messages", b.access, nil), 200, "history").items(t)
	if len(page) != 1 || page[0]["deleted_at"] == nil || page[0]["text"] != "" {
		t.Errorf("history keeps a tombstone: %v", page)
	}
	list := must(t, call(t, "GET", "/api/v1/chats", b.access, nil), 200, "chats").items(t)
	if len(list) != 1 || list[0]["unread_count"] != float64(0) {
		t.Errorf("a deleted unread message leaves the count: %v", list)
	}
}

func TestTypingAndLiveProfilesThroughTheGateway(t *testing.T) {
	t.Parallel()
	a, b, c := register(t, "tya"), register(t, "tyb"), register(t, "tyc")
	befriend(t, a, b)
	sb, sc := connect(t, b), connect(t, c)

	must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/typing", a.access, nil), 204, "typing")
	sb.waitPush(t, "typing", 2*time.Second, "peer_id", a.id)
	// Rate limited: notices within 3 s of the last one pushed are answered but coalesced, not pushed again.
	for range 3 {
		must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/typing", a.access, nil), 204, "typing again at once")
	}
	mustError(t, call(t, "POST", "/api/v1/chats/"+c.id+"/typing", a.access, nil), 403, "not_friends", "typing to a stranger")

	must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": "A. Renamed"}), 200, "rename")
	sb.waitPush(t, "profile.updated", 3*time.Second, "user.id", a.id, "user.display_name", "A. Renamed")
	// Only friends are told: c gets neither the typing nor the profile.
	time.Sleep(500 * time.Millisecond)
	if n := len(sc.all("profile.updated")) + len(sc.all("typing")); n != 0 {
		t.Errorf("a stranger got %d of a's pushes", n)
	}
	if n := len(sb.all("typing")); n != 1 {
		t.Errorf("b got %d typing pushes for four notices within 3 s, want 1", n)
	}
	items := must(t, call(t, "GET", "/api/v1/friends", b.access, nil), 200, "friends").items(t)
	if u, _ := items[0]["user"].(map[string]any); u["has_avatar"] != false || u["display_name"] != "A. Renamed" {
		t.Errorf("friends list item %v", items[0])
	}
}

func TestBlocksThroughTheGateway(t *testing.T) {
	t.Parallel()
	a, b := register(t, "bla"), register(t, "blb")
	befriend(t, a, b)
	sb := connect(t, b)
	must(t, call(t, "PUT", "/api/v1/blocks/"+b.id, a.access, nil), 204, "block")
	if got := relations(t, b, "all"); len(got) != 0 {
		t.Errorf("b's relations after a blocked b: %v", got)
	}
	mustError(t, call(t, "POST", "/api/v1/chats/"+a.id+"/messages", b.access, map[string]any{"text": "hi"}), 403, "not_friends", "a message from the blocked")
	mustError(t, call(t, "POST", "/api/v1/friends/requests", b.access, map[string]any{"user_id": a.id}), 404, "user_not_found", "a request from the blocked")
	mustError(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 409, "user_blocked", "the blocker's own request")
	time.Sleep(500 * time.Millisecond)
	if n := len(sb.all("friend.removed")); n != 0 {
		t.Errorf("the blocked user was told (%d friend.removed)", n)
	}
	blocks := must(t, call(t, "GET", "/api/v1/blocks", a.access, nil), 200, "blocks").items(t)
	if u, _ := blocks[0]["user"].(map[string]any); len(blocks) != 1 || u["id"] != b.id {
		t.Errorf("blocks %v", blocks)
	}
	must(t, call(t, "DELETE", "/api/v1/blocks/"+b.id, a.access, nil), 204, "unblock")
	must(t, call(t, "POST", "/api/v1/friends/requests", b.access, map[string]any{"user_id": a.id}), 201, "a request after the unblock")
}

// presenceOf waits for s's nth presence push (from 1) about user, which must say online, and returns its data.
func presenceOf(t *testing.T, s *socket, user string, nth int, online bool, d time.Duration) map[string]any {
	t.Helper()
	var got []map[string]any
	if !s.waitUntil(d, func(fs []frame) bool {
		got = got[:0]
		for _, f := range fs {
			var p map[string]any
			if f.Type == "presence" && json.Unmarshal(f.Data, &p) == nil && p["user_id"] == user {
				got = append(got, p)
			}
		}
		return len(got) >= nth
	}) {
		t.Fatalf("no presence push %d about %s within %v (got %v)", nth, user, d, got)
	}
	if got[nth-1]["online"] != online {
		t.Fatalf("presence push %d about %s: %v, want online %v", nth, user, got[nth-1], online)
	}
	return got[nth-1]
}

// friendPresence is how user appears in the friends list of as: online, and last_seen_at ("" if absent).
func friendPresence(t *testing.T, as *account, user string) (bool, string) {
	t.Helper()
	for _, it := range must(t, call(t, "GET", "/api/v1/friends?status=accepted", as.access, nil), 200, "friends").items(t) {
		if u, _ := it["user"].(map[string]any); u["id"] == user {
			online, ok := it["online"].(bool)
			if !ok {
				t.Fatalf("a friend's item has no online: %v", it)
			}
			seen, _ := it["last_seen_at"].(string)
			return online, seen
		}
	}
	t.Fatalf("%s is not among the friends", user)
	return false, ""
}

// Presence: friends see each other come and go, whichever gateway replica holds the socket; strangers see
// nothing; and a gateway that dies (SIGKILL: no socket closes, no event) leaves its users online only until their
// lease (3 heartbeats) runs out and friends' sweep (PRESENCE_SWEEP_INTERVAL, 5 s) notices.
func TestPresenceThroughTheGatewayAndAGatewayThatDies(t *testing.T) {
	if external {
		t.Skip("starts and kills a gateway process of its own")
	}
	t.Parallel()
	a, b, c := register(t, "pra"), register(t, "prb"), register(t, "prc")
	befriend(t, a, b)
	sb, sc := connect(t, b), connect(t, c)

	// A socket on the stack's gateway, closed: online, then offline with a last seen.
	sa := connect(t, a)
	presenceOf(t, sb, a.id, 1, true, 3*time.Second)
	if online, _ := friendPresence(t, b, a.id); !online {
		t.Error("b's list shows a offline while a's socket is open")
	}
	// Each new socket gets its friends' presence at once (friends.presence), with the version to compare.
	sb2 := connect(t, b)
	snap := sb2.waitFor(t, "friends.presence", 3*time.Second).object(t)
	items, _ := snap["items"].([]any)
	if len(items) != 1 {
		t.Fatalf("friends.presence of b: %v", snap)
	}
	if p, _ := items[0].(map[string]any); p["user_id"] != a.id || p["online"] != true || p["version"] != float64(1) {
		t.Errorf("friends.presence of b: %v", p)
	}
	sb2.close()
	sa.close()
	off := presenceOf(t, sb, a.id, 2, false, 3*time.Second)
	if online, seen := friendPresence(t, b, a.id); online || seen == "" || seen != off["last_seen_at"] {
		t.Errorf("b's list after a left: online %v, last seen %q (pushed %v)", online, seen, off["last_seen_at"])
	}

	// A second gateway with a 1 s heartbeat (a 3 s lease): a stays online over several leases, then the gateway
	// is killed.
	const heartbeat, lease, sweep = time.Second, 3 * time.Second, 5 * time.Second
	gw, err := stack.StartGateway("presence-gateway", "PRESENCE_HEARTBEAT="+heartbeat.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stack.StopProcess("presence-gateway") })
	connectTo(t, gw, a)
	presenceOf(t, sb, a.id, 3, true, 3*time.Second)
	time.Sleep(2 * lease)
	if online, _ := friendPresence(t, b, a.id); !online {
		t.Fatalf("a went offline while the gateway kept renewing: %d presence frames", len(sb.all("presence")))
	}
	killed := time.Now()
	if err := stack.Kill("presence-gateway", syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	bound := lease + sweep + 2*time.Second
	presenceOf(t, sb, a.id, 4, false, bound+5*time.Second)
	took := time.Since(killed)
	if took > bound {
		t.Errorf("a shown online %v after their gateway died, over the bound %v (lease %v + sweep %v + 2 s)", took, bound, lease, sweep)
	}
	t.Logf("presence: offline %v after the gateway's SIGKILL (lease %v, sweep %v)", took.Round(100*time.Millisecond), lease, sweep)
	if n := len(sc.all("presence")); n != 0 {
		t.Errorf("a stranger got %d presence pushes", n)
	}
	for _, it := range must(t, call(t, "GET", "/api/v1/friends", c.access, nil), 200, "friends").items(t) {
		if _, ok := it["online"]; ok {
			t.Errorf("a stranger's list carries presence: %v", it)
		}
	}
}
