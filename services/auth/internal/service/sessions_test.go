package service_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/server/servertest"
)

func TestRefreshRotatesAndReuseRevokesTheWholeSession(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	first := s.login("alice", "right password")

	second := s.sessionOf(s.expect(s.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.Refresh}), 200, "refresh"))
	if second.Refresh == first.Refresh || second.Access == first.Access || second.ID != first.ID {
		t.Fatalf("refresh must rotate both tokens within the session: %+v -> %+v", first, second)
	}
	s.expect(s.call("GET", "/api/v1/auth/sessions", second.Access, nil), 200, "sessions with the new access token")

	// The spent token comes back: whoever holds it, the session is over, the newest tokens included.
	r := s.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": first.Refresh})
	if r.Status != 401 || r.errorCode(t) != "invalid_refresh_token" {
		t.Fatalf("reused refresh token: %d %s, want 401 invalid_refresh_token", r.Status, r.Body)
	}
	s.expect(s.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": second.Refresh}), 401, "newest refresh token after reuse")
	s.expect(s.call("GET", "/api/v1/auth/sessions", second.Access, nil), 401, "newest access token after reuse")
	if !contains(s.revokedEvents(), first.ID) {
		t.Errorf("no auth.session.revoked event for %s in the outbox", first.ID)
	}
	if !contains(s.revokedList(), first.ID) {
		t.Errorf("revoked-sessions does not list %s", first.ID)
	}
}

func TestRefreshRefusesWhatIsNotALiveToken(t *testing.T) {
	s := start(t, nil)
	for _, tok := range []string{"not-a-token", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		r := s.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": tok})
		if r.Status != 401 || r.errorCode(t) != "invalid_refresh_token" {
			t.Errorf("refresh with %q: %d %s", tok, r.Status, r.Body)
		}
	}
	s.expect(s.call("POST", "/api/v1/auth/refresh", "", map[string]string{}), 400, "refresh without a token")
}

func TestConcurrentUsesOfOneRefreshTokenRotateOnce(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	sess := s.login("alice", "right password")
	const n = 4
	statuses := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = s.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": sess.Refresh}).Status
		}()
	}
	wg.Wait()
	ok := 0
	for _, st := range statuses {
		switch st {
		case 200:
			ok++
		case 401:
		default:
			t.Errorf("concurrent refresh answered %d", st)
		}
	}
	if ok != 1 {
		t.Errorf("%d of %d concurrent refreshes of one token succeeded (%v), want exactly 1", ok, n, statuses)
	}
	if !contains(s.revokedEvents(), sess.ID) {
		t.Error("the losers' reuse did not revoke the session")
	}
}

func TestLogoutEndsOnlyTheCurrentSessionAndTellsGateways(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	revoked := s.listenRevocations()
	one := s.login("alice", "right password")
	two := s.login("alice", "right password")

	s.expect(s.call("POST", "/api/v1/auth/logout", "", nil), 401, "logout without a token")
	s.expect(s.call("POST", "/api/v1/auth/logout", one.Access, nil), 204, "logout")
	s.expect(s.call("POST", "/api/v1/auth/logout", one.Access, nil), 401, "logout again")
	s.expect(s.call("GET", "/api/v1/auth/sessions", one.Access, nil), 401, "sessions after logout")
	s.expect(s.call("POST", "/api/v1/auth/refresh", "", map[string]string{"refresh_token": one.Refresh}), 401, "refresh after logout")
	s.expect(s.call("GET", "/api/v1/auth/sessions", two.Access, nil), 200, "the other session")

	select {
	case id := <-revoked:
		if id != one.ID {
			t.Errorf("revoked event for %s, want %s", id, one.ID)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no auth.session.revoked event published within 2 s of logout")
	}
	if got := s.revokedList(); len(got) != 1 || got[0] != one.ID {
		t.Errorf("revoked-sessions %v, want [%s]", got, one.ID)
	}
}

func TestSessionsListMarksExactlyTheCurrentOne(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	s.Profiles.Add("user-bob", "bob", "bob's password")
	phone := s.login("alice", "right password", "User-Agent", "Phone/1.0")
	laptop := s.login("alice", "right password", "User-Agent", "Laptop/2.0")
	s.login("bob", "bob's password")

	r := s.expect(s.call("GET", "/api/v1/auth/sessions", phone.Access, nil), 200, "sessions")
	items, _ := r.json(t)["items"].([]any)
	if len(items) != 2 {
		t.Fatalf("%d sessions listed, want alice's 2: %s", len(items), r.Body)
	}
	agents := map[string]string{}
	current := 0
	for _, it := range items {
		m := it.(map[string]any)
		agents[m["id"].(string)], _ = m["user_agent"].(string)
		if m["current"] == true {
			current++
			if m["id"] != phone.ID {
				t.Errorf("current session %v, want %s", m["id"], phone.ID)
			}
		}
		for _, f := range []string{"created_at", "last_used_at"} {
			if _, err := time.Parse(time.RFC3339, m[f].(string)); err != nil {
				t.Errorf("%s %v is not RFC 3339", f, m[f])
			}
		}
	}
	if current != 1 || agents[phone.ID] != "Phone/1.0" || agents[laptop.ID] != "Laptop/2.0" {
		t.Errorf("current %d, agents %v", current, agents)
	}
}

func TestDeletingSessionsOfOthersIsNotFound(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	s.Profiles.Add("user-mallory", "mallory", "mallory's password")
	alice := s.login("alice", "right password")
	aliceLaptop := s.login("alice", "right password")
	mallory := s.login("mallory", "mallory's password")

	for _, id := range []string{aliceLaptop.ID, uuid.NewString(), "not-a-uuid"} {
		r := s.call("DELETE", "/api/v1/auth/sessions/"+id, mallory.Access, nil)
		if r.Status != 404 || r.errorCode(t) != "session_not_found" {
			t.Errorf("delete %s as another user: %d %s, want 404 session_not_found", id, r.Status, r.Body)
		}
	}
	s.expect(s.call("GET", "/api/v1/auth/sessions", aliceLaptop.Access, nil), 200, "the session survived")
	s.expect(s.call("DELETE", "/api/v1/auth/sessions/"+aliceLaptop.ID, alice.Access, nil), 204, "delete own session")
	s.expect(s.call("GET", "/api/v1/auth/sessions", aliceLaptop.Access, nil), 401, "deleted session's token")
	s.expect(s.call("DELETE", "/api/v1/auth/sessions/"+aliceLaptop.ID, alice.Access, nil), 404, "delete it again")
	if !contains(s.revokedEvents(), aliceLaptop.ID) {
		t.Error("no revoked event for the deleted session")
	}
}

func TestPasswordChangeRevokesOtherSessionsOnce(t *testing.T) {
	s := start(t, nil)
	s.Profiles.Add("user-alice", "alice", "right password")
	s.Profiles.Add("user-bob", "bob", "bob's password")
	keep := s.login("alice", "right password")
	other1 := s.login("alice", "right password")
	other2 := s.login("alice", "right password")
	bob1 := s.login("bob", "bob's password")
	bob2 := s.login("bob", "bob's password")

	pub := broker.Dial(s.Broker, nil, nil)
	t.Cleanup(func() { pub.Close() })
	changed, err := broker.NewEvent("profiles", "profiles.user.password_changed", map[string]string{"user_id": "user-alice", "session_id": keep.ID})
	if err != nil {
		t.Fatal(err)
	}
	s.publish(pub, changed)
	if !servertest.Eventually(t, 5*time.Second, func() bool {
		return s.call("GET", "/api/v1/auth/sessions", other1.Access, nil).Status == 401 &&
			s.call("GET", "/api/v1/auth/sessions", other2.Access, nil).Status == 401
	}, "") {
		t.Fatal("the other sessions survived the password change")
	}
	s.expect(s.call("GET", "/api/v1/auth/sessions", keep.Access, nil), 200, "the session that changed the password")

	// The same event again (a redelivery), then a marker event: handled in order, so once the marker's
	// effect shows, the duplicate has been dealt with, and it must not have touched the new session.
	later := s.login("alice", "right password")
	s.publish(pub, changed)
	marker, _ := broker.NewEvent("profiles", "profiles.user.password_changed", map[string]string{"user_id": "user-bob", "session_id": bob1.ID})
	s.publish(pub, marker)
	if !servertest.Eventually(t, 5*time.Second, func() bool {
		return s.call("GET", "/api/v1/auth/sessions", bob2.Access, nil).Status == 401
	}, "") {
		t.Fatal("the marker event was not handled")
	}
	s.expect(s.call("GET", "/api/v1/auth/sessions", later.Access, nil), 200, "a session opened after the change, after the duplicate")

	events := s.revokedEvents()
	if len(events) != 3 || !contains(events, other1.ID) || !contains(events, other2.ID) || !contains(events, bob2.ID) {
		t.Errorf("revoked events %v, want one each for %s, %s, %s", events, other1.ID, other2.ID, bob2.ID)
	}
}

// publish sends ev, retrying while the service's queue is not bound yet (the publish is mandatory).
func (s *stack) publish(c *broker.Conn, ev broker.Event) {
	s.t.Helper()
	var err error
	if !servertest.Eventually(s.t, 10*time.Second, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		err = c.Publish(ctx, ev)
		return err == nil
	}, "") {
		s.t.Fatalf("publish %s: %v", ev.Type, err)
	}
}

// listenRevocations subscribes, as a gateway does, to auth.session.revoked and returns the session ids
// published from now on.
func (s *stack) listenRevocations() <-chan string {
	s.t.Helper()
	conn := broker.Dial(s.Broker, nil, nil)
	s.t.Cleanup(func() { conn.Close() })
	ids := make(chan string, 16)
	brokertest.Consume(s.t, conn, broker.Subscription{
		Queue: "test-gateway", Keys: []string{"auth.session.revoked"}, Transient: true,
		Handle: func(_ context.Context, _ *sql.Tx, ev broker.Event) error {
			var data struct {
				SessionID string `json:"session_id"`
			}
			if err := ev.Decode(&data); err != nil {
				return broker.Permanent(err)
			}
			ids <- data.SessionID
			return nil
		},
	})
	return ids
}
