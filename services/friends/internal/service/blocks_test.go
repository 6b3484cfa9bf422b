package service_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
)

func TestBlockingEndsTheFriendshipSilentlyAndRefusesRequests(t *testing.T) {
	h := start(t)
	me, bob, cat := h.user("me"), h.user("bob"), h.user("cat")
	h.befriend(me, bob)
	h.ask(cat, me).is(t, http.StatusCreated, "")
	// The befriending's own push to bob may still be on its way: counted only once it is there.
	h.push(bob, "friend.request", me)
	pushesBefore := h.pushCount(bob)

	// Blocking a friend ends the friendship: messages is told first, and when it cannot be, nothing changes.
	h.friendsSince(me, bob)
	h.messages.down.Store(true)
	h.call(me, "PUT", "/api/v1/blocks/"+bob.ID, nil).is(t, http.StatusServiceUnavailable, "unavailable")
	h.messages.down.Store(false)
	h.friendsSince(me, bob)
	if got := h.call(me, "GET", "/api/v1/blocks", nil); !strings.Contains(string(got.Body), `"items":[]`) {
		t.Fatalf("a refused block is listed: %s", got.Body)
	}
	// Then at once, for both, without telling him.
	h.call(me, "PUT", "/api/v1/blocks/"+bob.ID, nil).is(t, http.StatusNoContent, "")
	if told := h.messages.told(); len(told) != 1 || !strings.HasPrefix(told[0], min(me.ID, bob.ID)+"/"+max(me.ID, bob.ID)+" ") {
		t.Errorf("messages was told %v", told)
	}
	h.call(me, "PUT", "/api/v1/blocks/"+bob.ID, nil).is(t, http.StatusNoContent, "") // again: no change
	if got := summary(h.list(me, "")); !slices.Equal(got, []string{"cat:incoming"}) {
		t.Errorf("my list after blocking bob: %v", got)
	}
	if got := summary(h.list(bob, "")); len(got) != 0 {
		t.Errorf("bob's list: %v", got)
	}
	var friends struct{ Friends bool }
	h.call(me, "GET", "/internal/v1/friendships/"+me.ID+"/"+bob.ID, nil).into(t, &friends)
	if friends.Friends {
		t.Error("still friends for messages")
	}
	time.Sleep(300 * time.Millisecond)
	if n := h.pushCount(bob); n != pushesBefore {
		t.Errorf("bob got %d pushes: a block tells him nothing", n-pushesBefore)
	}

	// He cannot ask me again: to him I am nobody. I cannot ask him while I block him.
	h.ask(bob, me).is(t, http.StatusNotFound, "user_not_found")
	h.ask(me, bob).is(t, http.StatusConflict, "user_blocked")

	// Blocking someone who asked me deletes the request too.
	h.call(me, "PUT", "/api/v1/blocks/"+cat.ID, nil).is(t, http.StatusNoContent, "")
	if got := summary(h.list(me, "")); len(got) != 0 {
		t.Errorf("my list after blocking cat: %v", got)
	}

	// The list of blocks, newest first, with the users' summaries.
	var blocks struct {
		Items []struct {
			User  map[string]any
			Since string
		}
	}
	h.call(me, "GET", "/api/v1/blocks", nil).into(t, &blocks)
	if len(blocks.Items) != 2 || blocks.Items[0].User["id"] != cat.ID || blocks.Items[1].User["nickname"] != "bob" || blocks.Items[0].Since == "" {
		t.Fatalf("blocks %+v", blocks.Items)
	}

	// Refusals: myself, nobody, not an id.
	h.call(me, "PUT", "/api/v1/blocks/"+me.ID, nil).is(t, http.StatusBadRequest, "cannot_block_self")
	h.call(me, "PUT", "/api/v1/blocks/"+uuid.NewString(), nil).is(t, http.StatusNotFound, "user_not_found")
	h.call(me, "PUT", "/api/v1/blocks/not-an-id", nil).is(t, http.StatusNotFound, "user_not_found")

	// Unblocking: we may ask each other again (we are not friends by it).
	h.call(me, "DELETE", "/api/v1/blocks/"+bob.ID, nil).is(t, http.StatusNoContent, "")
	h.call(me, "DELETE", "/api/v1/blocks/"+bob.ID, nil).is(t, http.StatusNoContent, "")
	h.ask(bob, me).is(t, http.StatusCreated, "")
	h.call(me, "GET", "/api/v1/blocks", nil).into(t, &blocks)
	if len(blocks.Items) != 1 || blocks.Items[0].User["id"] != cat.ID {
		t.Errorf("blocks after unblocking bob: %+v", blocks.Items)
	}
	// Someone I do not block may still be blocked by me the other way round: cat blocking me too is her own.
	h.call(cat, "PUT", "/api/v1/blocks/"+me.ID, nil).is(t, http.StatusNoContent, "")
	h.call(me, "DELETE", "/api/v1/blocks/"+cat.ID, nil).is(t, http.StatusNoContent, "")
	h.ask(me, cat).is(t, http.StatusNotFound, "user_not_found")
}

// pushCount is how many pushes reached the user so far.
func (h *harness) pushCount(to user) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, ev := range h.pushes {
		if ev.RoutingKey() == broker.PushKey(to.ID) {
			n++
		}
	}
	return n
}
