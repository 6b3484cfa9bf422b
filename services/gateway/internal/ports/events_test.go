package ports

import (
	"context"
	"errors"
	"testing"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
)

type revoker map[string]time.Time

func (r revoker) Revoke(sessionID string, expiresAt time.Time) { r[sessionID] = expiresAt }

type invalidator []string

func (i *invalidator) Invalidate(userID string) { *i = append(*i, userID) }

func event(t *testing.T, typ string, data any) broker.Event {
	ev, err := broker.NewEvent("test", typ, data)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

func TestARevocationEventRevokesItsSessionUntilItsExpiry(t *testing.T) {
	r, inv := revoker{}, &invalidator{}
	exp := time.Date(2030, 1, 1, 0, 15, 0, 0, time.UTC)
	err := Events{Revocations: r, Profiles: inv}.Handle(context.Background(), nil,
		event(t, events.SessionRevoked, map[string]any{"user_id": "u1", "session_id": "s1", "expires_at": exp}))
	if err != nil || !r["s1"].Equal(exp) || len(*inv) != 0 {
		t.Fatalf("err %v, revoked %v, invalidated %v", err, r, *inv)
	}
}

func TestAProfileUpdateInvalidatesThatProfile(t *testing.T) {
	r, inv := revoker{}, &invalidator{}
	err := Events{Revocations: r, Profiles: inv}.Handle(context.Background(), nil,
		event(t, events.UserUpdated, map[string]any{"user": map[string]any{"id": "u1", "nickname": "alice"}}))
	if err != nil || len(*inv) != 1 || (*inv)[0] != "u1" || len(r) != 0 {
		t.Fatalf("err %v, invalidated %v, revoked %v", err, *inv, r)
	}
}

func TestMalformedEventsAreDeadLetteredNotRetried(t *testing.T) {
	h := Events{Revocations: revoker{}, Profiles: &invalidator{}}
	for _, ev := range []broker.Event{
		event(t, events.SessionRevoked, map[string]any{"user_id": "u1"}),
		event(t, events.SessionRevoked, "not an object"),
		event(t, events.UserUpdated, map[string]any{"user": map[string]any{}}),
	} {
		if err := h.Handle(context.Background(), nil, ev); !errors.Is(err, broker.ErrPermanent) {
			t.Errorf("%s %s: %v, want a permanent error", ev.Type, ev.Data, err)
		}
	}
}

func TestOtherEventsAreIgnored(t *testing.T) {
	if err := (Events{Revocations: revoker{}, Profiles: &invalidator{}}).Handle(context.Background(), nil,
		event(t, "profiles.user.registered", map[string]any{})); err != nil {
		t.Fatal(err)
	}
}
