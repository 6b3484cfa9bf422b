package service_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
)

// edited is a message with the optional times of an edit or a delete.
type edited struct {
	message
	EditedAt  *time.Time `json:"edited_at"`
	DeletedAt *time.Time `json:"deleted_at"`
}

// changed waits for the next push on ch, which must be frame, and returns its message. The message.new pushes
// of the test's earlier sends may still be on their way (the relay can publish them after the queue is bound)
// and are skipped.
func changed(t *testing.T, ch <-chan broker.Event, frame string) edited {
	t.Helper()
	ev := next(t, ch, 2*time.Second)
	for ev.Type == "message.new" && frame != "message.new" {
		ev = next(t, ch, 2*time.Second)
	}
	var m edited
	if err := ev.Decode(&m); err != nil || ev.Type != frame {
		t.Fatalf("push %s %s, want %s (%v)", ev.Type, ev.Data, frame, err)
	}
	return m
}

func TestTheSenderEditsAndDeletesForBothAndHistoryKeepsATombstone(t *testing.T) {
	h := start(t)
	alice, bob := h.member("alice"), h.member("bob")
	h.befriend(alice, bob)
	first, _ := h.send(alice, bob, "helo")
	second, _ := h.send(alice, bob, "second")
	third, _ := h.send(alice, bob, "third")
	toBob, toAlice := h.pushes(bob.ID), h.pushes(alice.ID)
	path := func(peer member, id string) string { return "/api/v1/chats/" + peer.ID + "/messages/" + id }

	// Edit: 200 with the message as it is now; both get message.edited with exactly that.
	r := h.call(alice, "PATCH", path(bob, first.ID), `{"text":"hello"}`)
	want(t, "edit", r, http.StatusOK, "")
	got := decode[edited](t, r)
	if got.ID != first.ID || got.Text != "hello" || got.EditedAt == nil || got.DeletedAt != nil || !got.CreatedAt.Equal(first.CreatedAt) {
		t.Fatalf("edited %s", r.Body)
	}
	for _, ch := range []<-chan broker.Event{toBob, toAlice} {
		if m := changed(t, ch, "message.edited"); m.ID != first.ID || m.Text != "hello" || m.EditedAt == nil || !m.EditedAt.Equal(*got.EditedAt) {
			t.Errorf("message.edited %+v", m)
		}
	}
	// The same text again changes nothing and tells nobody.
	want(t, "same text", h.call(alice, "PATCH", path(bob, first.ID), `{"text":"hello"}`), http.StatusOK, "")

	// Delete the newest, unread: a tombstone for both, out of bob's unread count, and out of his entry frame.
	want(t, "delete", h.call(alice, "DELETE", path(bob, third.ID), ""), http.StatusNoContent, "")
	for _, ch := range []<-chan broker.Event{toBob, toAlice} {
		if m := changed(t, ch, "message.deleted"); m.ID != third.ID || m.Text != "" || m.DeletedAt == nil {
			t.Errorf("message.deleted %+v", m)
		}
	}
	want(t, "delete again", h.call(alice, "DELETE", path(bob, third.ID), ""), http.StatusNoContent, "")
	quiet(t, toBob, 300*time.Millisecond)

	page := decode[struct{ Items []edited }](t, h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages", ""))
	if len(page.Items) != 3 || page.Items[0].ID != third.ID || page.Items[0].Text != "" || page.Items[0].DeletedAt == nil ||
		page.Items[1].ID != second.ID || page.Items[1].EditedAt != nil || page.Items[2].Text != "hello" || page.Items[2].EditedAt == nil {
		t.Fatalf("history %+v", page.Items)
	}
	list := decode[chatList](t, h.call(bob, "GET", "/api/v1/chats", ""))
	if len(list.Items) != 1 || list.Items[0].LastMessage.ID != third.ID || list.Items[0].LastMessage.Text != "" || list.Items[0].UnreadCount != 2 {
		t.Errorf("bob's chat list %+v: the tombstone stays the last message, two unread", list.Items)
	}
	brokertest.Enter(t, h.conn, bob.ID, "bob-1")
	entry := changedUnread(t, toBob)
	if entry.Total != 2 || len(entry.Items) != 2 || entry.Items[0].Text != "hello" || entry.Items[1].ID != second.ID {
		t.Errorf("entry frame %+v: the deleted message is not unread", entry)
	}
	// Reading counts what is left: reading up to the tombstone leaves nothing unread.
	want(t, "read", h.call(bob, "POST", "/api/v1/chats/"+alice.ID+"/read", `{"up_to_id":"`+third.ID+`"}`), http.StatusNoContent, "")
	next(t, toAlice, 2*time.Second) // message.read
	if l := decode[chatList](t, h.call(bob, "GET", "/api/v1/chats", "")); l.Items[0].UnreadCount != 0 {
		t.Errorf("after reading: %d unread", l.Items[0].UnreadCount)
	}
	// Deleting a message bob has read leaves his count as it is.
	want(t, "delete a read one", h.call(alice, "DELETE", path(bob, second.ID), ""), http.StatusNoContent, "")
	if l := decode[chatList](t, h.call(bob, "GET", "/api/v1/chats", "")); l.Items[0].UnreadCount != 0 {
		t.Errorf("after deleting a read message: %d unread", l.Items[0].UnreadCount)
	}
}

func TestNobodyEditsOrDeletesSomeoneElsesMessage(t *testing.T) {
	h := start(t)
	alice, bob, eve := h.member("alice"), h.member("bob"), h.member("eve")
	h.befriend(alice, bob)
	h.befriend(eve, bob)
	m, _ := h.send(alice, bob, "mine")
	gone, _ := h.send(alice, bob, "soon gone")
	want(t, "delete", h.call(alice, "DELETE", "/api/v1/chats/"+bob.ID+"/messages/"+gone.ID, ""), http.StatusNoContent, "")
	before := len(h.outboxTypes())

	for what, c := range map[string]struct {
		as             member
		peer, id, body string
		status         int
		code           string
	}{
		"the recipient edits":          {bob, alice.ID, m.ID, `{"text":"x"}`, 403, "not_your_message"},
		"the recipient deletes":        {bob, alice.ID, m.ID, "", 403, "not_your_message"},
		"a stranger, through her chat": {eve, bob.ID, m.ID, `{"text":"x"}`, 404, "message_not_found"},
		"a stranger deletes":           {eve, bob.ID, m.ID, "", 404, "message_not_found"},
		"a stranger, naming alice":     {eve, alice.ID, m.ID, "", 404, "message_not_found"},
		"an unknown id":                {alice, bob.ID, "999999999999", `{"text":"x"}`, 404, "message_not_found"},
		"not an id":                    {alice, bob.ID, "x1", `{"text":"x"}`, 404, "message_not_found"},
		"not a user":                   {alice, "bob", m.ID, `{"text":"x"}`, 404, "message_not_found"},
		"nobody":                       {alice, uuid.NewString(), m.ID, "", 404, "message_not_found"},
		"an empty text":                {alice, bob.ID, m.ID, `{"text":" "}`, 400, "invalid_text"},
		"a tombstone":                  {alice, bob.ID, gone.ID, `{"text":"back"}`, 409, "message_deleted"},
	} {
		method := "PATCH"
		if c.body == "" {
			method = "DELETE"
		}
		want(t, what, h.call(c.as, method, "/api/v1/chats/"+c.peer+"/messages/"+c.id, c.body), c.status, c.code)
	}
	if after := len(h.outboxTypes()); after != before {
		t.Errorf("refused changes wrote %d events", after-before)
	}
	if page := decode[struct{ Items []edited }](t, h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages", "")); page.Items[1].Text != "mine" || page.Items[1].EditedAt != nil {
		t.Errorf("the message changed: %+v", page.Items[1])
	}
	// Once they are no longer friends (unfriended, or blocked), an edit would say something new: refused; a
	// delete only takes words back: allowed.
	h.unfriend(alice, bob)
	want(t, "an edit after unfriending", h.call(alice, "PATCH", "/api/v1/chats/"+bob.ID+"/messages/"+m.ID, `{"text":"sneaky"}`), 403, "not_friends")
	want(t, "a delete after unfriending", h.call(alice, "DELETE", "/api/v1/chats/"+bob.ID+"/messages/"+m.ID, ""), 204, "")
}

// changedUnread waits for the messages.unread entry frame.
func changedUnread(t *testing.T, ch <-chan broker.Event) unread {
	t.Helper()
	for {
		ev := next(t, ch, 2*time.Second)
		if ev.Type != "messages.unread" {
			continue
		}
		var u unread
		if err := ev.Decode(&u); err != nil {
			t.Fatal(err)
		}
		return u
	}
}
