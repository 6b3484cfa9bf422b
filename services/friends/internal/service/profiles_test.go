package service_test

import (
	"net/http"
	"testing"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/events"
)

// A profile that changes is pushed to the user's friends (profile.updated), and to nobody else: not to someone
// who only asked, nor to a stranger.
func TestAChangedProfileIsPushedToFriendsOnly(t *testing.T) {
	h := start(t)
	me, bob, eve, cat, dan := h.user("me"), h.user("bob"), h.user("eve"), h.user("cat"), h.user("dan")
	h.befriend(me, bob)
	h.befriend(eve, me)
	h.ask(cat, me).is(t, http.StatusCreated, "")

	profile := events.Profile{ID: me.ID, Nickname: me.Nickname, DisplayName: "Me, renamed", Bio: "new bio", HasAvatar: true,
		CreatedAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	ev, err := broker.NewEvent("profiles", events.UserUpdated, events.UserData{User: profile})
	if err != nil {
		t.Fatal(err)
	}
	brokertest.PublishUntilRouted(t, h.conn, ev)

	for _, friend := range []user{bob, eve} {
		p := h.push(friend, "profile.updated", me)
		var d struct{ User events.Profile }
		if err := p.Decode(&d); err != nil || d.User != profile {
			t.Errorf("%s got %+v (%v), want the profile as announced %+v", friend.Nickname, d.User, err, profile)
		}
	}
	// Give a wrong push the time the right ones took, then look: none to cat (she only asked) or dan.
	time.Sleep(300 * time.Millisecond)
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.pushes {
		if ev.Type == "profile.updated" && (ev.RoutingKey() == broker.PushKey(cat.ID) || ev.RoutingKey() == broker.PushKey(dan.ID)) {
			t.Errorf("profile.updated pushed to someone who is not a friend: %s", ev.RoutingKey())
		}
	}
}
