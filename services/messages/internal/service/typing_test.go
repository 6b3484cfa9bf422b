package service_test

import (
	"net/http"
	"testing"
	"time"
)

// Typing: pushed to the friend at once, never stored, coalesced per chat, refused to a non-friend.
func TestTypingIsPushedToTheFriendOnlyAndCoalesced(t *testing.T) {
	h := start(t)
	alice, bob, eve := h.member("alice"), h.member("bob"), h.member("eve")
	h.befriend(alice, bob)
	toBob, toEve := h.pushes(bob.ID), h.pushes(eve.ID)
	before := len(h.outboxTypes())

	want(t, "typing", h.call(alice, "POST", "/api/v1/chats/"+bob.ID+"/typing", ""), http.StatusNoContent, "")
	ev := next(t, toBob, time.Second)
	var d struct {
		PeerID      string `json:"peer_id"`
		ExpiresInMS int    `json:"expires_in_ms"`
	}
	if err := ev.Decode(&d); err != nil || ev.Type != "typing" || d.PeerID != alice.ID || d.ExpiresInMS != 6000 {
		t.Fatalf("push %s %s (%v)", ev.Type, ev.Data, err)
	}
	// Again at once: answered, coalesced.
	want(t, "typing again", h.call(alice, "POST", "/api/v1/chats/"+bob.ID+"/typing", ""), http.StatusNoContent, "")
	quiet(t, toBob, 500*time.Millisecond)

	want(t, "to a stranger", h.call(alice, "POST", "/api/v1/chats/"+eve.ID+"/typing", ""), http.StatusForbidden, "not_friends")
	want(t, "to nobody", h.call(alice, "POST", "/api/v1/chats/not-an-id/typing", ""), http.StatusNotFound, "user_not_found")
	want(t, "to myself", h.call(alice, "POST", "/api/v1/chats/"+alice.ID+"/typing", ""), http.StatusNotFound, "user_not_found")
	quiet(t, toEve, 300*time.Millisecond)
	if after := len(h.outboxTypes()); after != before {
		t.Errorf("typing wrote %d rows: it is never stored", after-before)
	}
}
