package e2e

import (
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
	mustError(t, call(t, "POST", "/api/v1/chats/"+c.id+"/typing", a.access, nil), 403, "not_friends", "typing to a stranger")

	must(t, call(t, "PATCH", "/api/v1/users/me", a.access, map[string]any{"display_name": "A. Renamed"}), 200, "rename")
	sb.waitPush(t, "profile.updated", 3*time.Second, "user.id", a.id, "user.display_name", "A. Renamed")
	// Only friends are told: c gets neither the typing nor the profile.
	time.Sleep(500 * time.Millisecond)
	if n := len(sc.all("profile.updated")) + len(sc.all("typing")); n != 0 {
		t.Errorf("a stranger got %d of a's pushes", n)
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
