package e2e

import (
	"testing"
	"time"
)

func befriend(t *testing.T, a, b *account) {
	t.Helper()
	must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 201, "friend request")
	must(t, call(t, "POST", "/api/v1/friends/requests/"+a.id+"/accept", b.access, nil), 200, "accept")
}

// relations returns the caller's friends list as user id → status.
func relations(t *testing.T, a *account, status string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, it := range must(t, call(t, "GET", "/api/v1/friends?status="+status, a.access, nil), 200, "friends list").items(t) {
		u, _ := it["user"].(map[string]any)
		id, _ := u["id"].(string)
		out[id], _ = it["status"].(string)
	}
	return out
}

func TestFriendRequestAcceptAndRemove(t *testing.T) {
	t.Parallel()
	a, b := register(t, "fra"), register(t, "frb")
	r := must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 201, "request").object(t)
	if r["status"] != "outgoing" || r["user_id"] != b.id {
		t.Errorf("request answer: %v", r)
	}
	mustError(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 409, "already_requested", "again")
	if s := call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": a.id}); s.status != 400 {
		t.Errorf("request to oneself: %d", s.status)
	}
	if s := call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": "nobody-" + suffix()}); s.status != 404 {
		t.Errorf("request to nobody: %d", s.status)
	}
	if s := call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{}); s.status != 400 {
		t.Errorf("request without user_id: %d", s.status)
	}

	list := must(t, call(t, "GET", "/api/v1/friends?status=incoming", b.access, nil), 200, "incoming").items(t)
	if len(list) != 1 {
		t.Fatalf("b's incoming: %v", list)
	}
	u, _ := list[0]["user"].(map[string]any)
	if u["id"] != a.id || u["nickname"] != a.nickname || u["display_name"] == nil || list[0]["status"] != "incoming" {
		t.Errorf("incoming item: %v", list[0])
	}
	if _, err := time.Parse(time.RFC3339, list[0]["since"].(string)); err != nil {
		t.Errorf("since: %v", list[0]["since"])
	}
	if got := relations(t, a, "outgoing"); got[b.id] != "outgoing" || len(got) != 1 {
		t.Errorf("a's outgoing: %v", got)
	}
	if got := relations(t, a, "incoming"); len(got) != 0 {
		t.Errorf("a has no incoming: %v", got)
	}
	if call(t, "POST", "/api/v1/friends/requests/"+b.id+"/accept", a.access, nil).status != 404 {
		t.Error("accepting one's own request must be 404")
	}
	r = must(t, call(t, "POST", "/api/v1/friends/requests/"+a.id+"/accept", b.access, nil), 200, "accept").object(t)
	if r["status"] != "accepted" || r["user_id"] != a.id {
		t.Errorf("accept answer: %v", r)
	}
	if call(t, "POST", "/api/v1/friends/requests/"+a.id+"/accept", b.access, nil).status != 404 {
		t.Error("accepting twice must be 404: nothing is pending")
	}
	for _, who := range []*account{a, b} {
		other := b.id
		if who == b {
			other = a.id
		}
		if got := relations(t, who, "accepted"); got[other] != "accepted" {
			t.Errorf("%s's friends: %v", who.nickname, got)
		}
		if got := relations(t, who, "all"); got[other] != "accepted" {
			t.Errorf("%s's all: %v", who.nickname, got)
		}
	}
	if got := relations(t, a, ""); got[b.id] != "accepted" {
		t.Errorf("default filter is all: %v", got)
	}
	if call(t, "POST", "/api/v1/friends/requests", b.access, map[string]any{"user_id": a.id}).status != 409 {
		t.Error("a request to a friend must be 409")
	}
	must(t, call(t, "DELETE", "/api/v1/friends/"+a.id, b.access, nil), 204, "remove")
	if got := relations(t, a, "all"); len(got) != 0 {
		t.Errorf("after removal a still has %v", got)
	}
	if call(t, "DELETE", "/api/v1/friends/"+a.id, b.access, nil).status != 404 {
		t.Error("removing again must be 404")
	}
	if call(t, "GET", "/api/v1/friends?status=bogus", a.access, nil).status != 400 {
		t.Error("an unknown status filter must be 400")
	}
	mustError(t, call(t, "GET", "/api/v1/friends", "", nil), 401, "unauthorized", "list without a token")
}

func TestDeclineCancelAndMutualRequests(t *testing.T) {
	t.Parallel()
	a, b := register(t, "frc"), register(t, "frd")
	must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 201, "request")
	must(t, call(t, "POST", "/api/v1/friends/requests/"+a.id+"/decline", b.access, nil), 204, "decline")
	if got := relations(t, a, "all"); len(got) != 0 {
		t.Errorf("declined request still listed for the asker: %v", got)
	}
	if call(t, "POST", "/api/v1/friends/requests/"+a.id+"/decline", b.access, nil).status != 404 {
		t.Error("declining again must be 404")
	}
	// Cancel an outgoing request, and decline an incoming one with DELETE.
	must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 201, "ask again")
	must(t, call(t, "DELETE", "/api/v1/friends/"+b.id, a.access, nil), 204, "cancel")
	if got := relations(t, b, "incoming"); len(got) != 0 {
		t.Errorf("cancelled request still incoming: %v", got)
	}
	must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 201, "and again")
	must(t, call(t, "DELETE", "/api/v1/friends/"+a.id, b.access, nil), 204, "decline by delete")
	if got := relations(t, a, "outgoing"); len(got) != 0 {
		t.Errorf("declined request still outgoing: %v", got)
	}
	// Mutual: b asks a, a asks b back → friends at once.
	must(t, call(t, "POST", "/api/v1/friends/requests", b.access, map[string]any{"user_id": a.id}), 201, "b asks a")
	r := must(t, call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id}), 200, "a asks b back").object(t)
	if r["status"] != "accepted" {
		t.Errorf("mutual request: %v", r)
	}
	if got := relations(t, b, "accepted"); got[a.id] != "accepted" {
		t.Errorf("b's friends after the mutual request: %v", got)
	}
}

func TestSimultaneousMutualRequestsMakeOneFriendship(t *testing.T) {
	t.Parallel()
	for round := 0; round < 5; round++ {
		a, b := register(t, "mua"), register(t, "mub")
		var ra, rb reply
		done := make(chan struct{}, 2)
		go func() {
			ra = call(t, "POST", "/api/v1/friends/requests", a.access, map[string]any{"user_id": b.id})
			done <- struct{}{}
		}()
		go func() {
			rb = call(t, "POST", "/api/v1/friends/requests", b.access, map[string]any{"user_id": a.id})
			done <- struct{}{}
		}()
		<-done
		<-done
		if ra.status >= 500 || rb.status >= 500 {
			t.Fatalf("server error: %d %s / %d %s", ra.status, ra.body, rb.status, rb.body)
		}
		if got := relations(t, a, "all"); len(got) != 1 || got[b.id] != "accepted" {
			t.Fatalf("after simultaneous requests (%d, %d) a sees %v; want one accepted friendship", ra.status, rb.status, got)
		}
	}
}
