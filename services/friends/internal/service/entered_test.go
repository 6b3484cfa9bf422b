package service_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"simplemessenger/platform/broker/brokertest"
)

func TestEnteringTheMessengerRepliesWithPendingRequestsToThatSocket(t *testing.T) {
	h := start(t)
	me, bob, cat, dan := h.user("me"), h.user("bob"), h.user("cat"), h.user("dan")
	h.ask(bob, me).is(t, http.StatusCreated, "")
	h.ask(me, cat).is(t, http.StatusCreated, "") // outgoing: not pending for me
	h.ask(dan, me).is(t, http.StatusCreated, "")

	sent := time.Now()
	brokertest.Enter(t, h.conn, me.ID, "conn-1")
	reply := h.reply(me, "conn-1")
	if took := time.Since(sent); took > 2*time.Second {
		t.Errorf("the reply took %v", took)
	}
	if reply.ConnectionID != "conn-1" {
		t.Errorf("the reply must address the socket that opened, got %q", reply.ConnectionID)
	}
	var data struct{ Items []item }
	if err := reply.Decode(&data); err != nil {
		t.Fatal(err)
	}
	if got := summary(data.Items); !slices.Equal(got, []string{"dan:incoming", "bob:incoming"}) {
		t.Errorf("pending %v", got)
	}
	if u := data.Items[0].User; len(u) != 4 || u["has_avatar"] != false || u["id"] != dan.ID || u["display_name"] != "Dan" || data.Items[0].Since == "" {
		t.Errorf("item %+v: the friends list's format", data.Items[0])
	}

	// Nothing pending is still answered, with an empty list.
	brokertest.Enter(t, h.conn, bob.ID, "conn-2")
	reply = h.reply(bob, "conn-2")
	var raw struct{ Items []item }
	if err := reply.Decode(&raw); err != nil || raw.Items == nil || len(raw.Items) != 0 || reply.ConnectionID != "conn-2" {
		t.Errorf("empty reply: %s %q %v", reply.Data, reply.ConnectionID, err)
	}
}
