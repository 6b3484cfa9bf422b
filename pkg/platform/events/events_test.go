package events_test

import (
	"context"
	"errors"
	"testing"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
)

func TestHandlerRepliesToWellFormedEntries(t *testing.T) {
	var got []events.UserEnteredData
	h := events.OnUserEntered(func(_ context.Context, e events.UserEnteredData) error {
		got = append(got, e)
		return errors.New("transient")
	})
	ev, err := events.NewUserEntered("gateway", events.UserEnteredData{UserID: "u1", SessionID: "s1", ConnectionID: "c1"})
	if err != nil || ev.Type != events.UserEntered || ev.Source != "gateway" {
		t.Fatalf("%+v %v", ev, err)
	}
	// The reply's own failure is returned as it is, to be retried.
	if err := h(context.Background(), nil, ev); err == nil || errors.Is(err, broker.ErrPermanent) {
		t.Errorf("reply error: %v", err)
	}
	if len(got) != 1 || got[0] != (events.UserEnteredData{UserID: "u1", SessionID: "s1", ConnectionID: "c1"}) {
		t.Errorf("replied to %+v", got)
	}
}

func TestMalformedEntriesArePoison(t *testing.T) {
	h := events.OnUserEntered(func(context.Context, events.UserEnteredData) error {
		t.Error("no reply to a malformed entry")
		return nil
	})
	if _, err := events.NewUserEntered("gateway", events.UserEnteredData{UserID: "u1"}); err == nil {
		t.Error("an entry without a connection cannot be announced")
	}
	bad := []any{
		map[string]string{"user_id": "u1", "session_id": "s1"},
		map[string]string{"connection_id": "c1"},
		[]int{1},
	}
	for _, data := range bad {
		ev, err := broker.NewEvent("gateway", events.UserEntered, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := h(context.Background(), nil, ev); !errors.Is(err, broker.ErrPermanent) {
			t.Errorf("%s: want a permanent error, got %v", ev.Data, err)
		}
	}
}

func TestAReplyGoesToTheSocketThatEnteredOnly(t *testing.T) {
	e := events.UserEnteredData{UserID: "u1", SessionID: "s1", ConnectionID: "c1"}
	push, err := events.ReplyToEntry("friends", e, "friends.pending", map[string]any{"items": []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if !push.IsPush() || push.RoutingKey() != broker.PushKey("u1") || push.ConnectionID != "c1" ||
		push.Type != "friends.pending" || push.Source != "friends" || string(push.Data) != `{"items":[]}` {
		t.Errorf("reply %+v", push)
	}
	// Without the connection the reply would reach every socket of the user.
	if _, err := events.ReplyToEntry("friends", events.UserEnteredData{UserID: "u1"}, "friends.pending", nil); err == nil {
		t.Error("a reply to an entry without a connection")
	}
}
