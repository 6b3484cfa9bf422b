package service_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
)

func TestARequestIsPushedAndAcceptedFriendshipIsPushedBack(t *testing.T) {
	h := start(t)
	ann, bob := h.user("ann"), h.user("bob")

	res := h.ask(ann, bob)
	var got map[string]any
	res.into(t, &got)
	if res.Status != http.StatusCreated || len(got) != 2 || got["user_id"] != bob.ID || got["status"] != "outgoing" {
		t.Fatalf("request: %d %s", res.Status, res.Body)
	}
	// Bob is told who asked: Ann's public profile as profiles serves it.
	req := h.push(bob, "friend.request", ann)
	if u := pushedUser(t, req); !mapsEqual(u, ann.Profile) {
		t.Errorf("friend.request carries %v, want %v", u, ann.Profile)
	}
	if got := summary(h.list(ann, "")); !slices.Equal(got, []string{"bob:outgoing"}) {
		t.Errorf("ann's list %v", got)
	}
	if got := summary(h.list(bob, "")); !slices.Equal(got, []string{"ann:incoming"}) {
		t.Errorf("bob's list %v", got)
	}

	res = h.call(bob, "POST", "/api/v1/friends/requests/"+ann.ID+"/accept", nil)
	res.into(t, &got)
	if res.Status != http.StatusOK || got["user_id"] != ann.ID || got["status"] != "accepted" {
		t.Fatalf("accept: %d %s", res.Status, res.Body)
	}
	// Ann, who asked, is told Bob accepted.
	if u := pushedUser(t, h.push(ann, "friend.accepted", bob)); !mapsEqual(u, bob.Profile) {
		t.Errorf("friend.accepted carries %v, want %v", u, bob.Profile)
	}
	for _, u := range []user{ann, bob} {
		if got := summary(h.list(u, "")); len(got) != 1 || !strings.HasSuffix(got[0], ":accepted") {
			t.Errorf("%s's list %v", u.Nickname, got)
		}
	}

	// The domain events and the pushes went through the outbox, in the order of the changes.
	ob := h.outbox()
	var kinds []string
	for _, o := range ob {
		kinds = append(kinds, o.Type+"→"+o.RoutingKey)
	}
	want := []string{
		"friends.request.created→", "friend.request→" + broker.PushKey(bob.ID),
		"friends.friendship.created→", "friend.accepted→" + broker.PushKey(ann.ID),
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("outbox:\n got %v\nwant %v", kinds, want)
	}
	var created struct {
		FromUserID string `json:"from_user_id"`
		ToUserID   string `json:"to_user_id"`
	}
	if err := json.Unmarshal(ob[0].Data, &created); err != nil || created.FromUserID != ann.ID || created.ToUserID != bob.ID {
		t.Errorf("request.created %s", ob[0].Data)
	}
	var friendship struct {
		UserIDs []string `json:"user_ids"`
	}
	if err := json.Unmarshal(ob[2].Data, &friendship); err != nil || !sameSet(friendship.UserIDs, ann.ID, bob.ID) {
		t.Errorf("friendship.created %s", ob[2].Data)
	}
}

func TestAskingSomeoneWhoAskedYouMakesFriendsAtOnce(t *testing.T) {
	h := start(t)
	ann, bob := h.user("ann"), h.user("bob")
	h.ask(ann, bob).is(t, http.StatusCreated, "")

	res := h.ask(bob, ann)
	var got map[string]any
	res.into(t, &got)
	if res.Status != http.StatusOK || got["user_id"] != ann.ID || got["status"] != "accepted" {
		t.Fatalf("mutual request: %d %s", res.Status, res.Body)
	}
	// Ann's request was the pending one: she is told that Bob accepted it.
	if u := pushedUser(t, h.push(ann, "friend.accepted", bob)); !mapsEqual(u, bob.Profile) {
		t.Errorf("friend.accepted carries %v", u)
	}
	if got := h.outboxTypes(); !slices.Equal(got, []string{"friends.request.created", "friend.request", "friends.friendship.created", "friend.accepted"}) {
		t.Errorf("outbox %v", got)
	}
	if got := summary(h.list(ann, "?status=accepted")); !slices.Equal(got, []string{"bob:accepted"}) {
		t.Errorf("ann's friends %v", got)
	}
}

func TestRequestRefusals(t *testing.T) {
	h := start(t)
	ann, bob, cat := h.user("ann"), h.user("bob"), h.user("cat")
	h.befriend(ann, bob)
	h.ask(ann, cat).is(t, http.StatusCreated, "")
	before := len(h.outbox())

	post := func(body any) answer { return h.call(ann, "POST", "/api/v1/friends/requests", body) }
	post(map[string]any{}).is(t, 400, "invalid_user_id")
	post(map[string]any{"user_id": ""}).is(t, 400, "invalid_user_id")
	post(map[string]any{"user_id": 42}).is(t, 400, "invalid_field")
	post(`{"user_id":`).is(t, 400, "invalid_json")
	post(map[string]any{"user_id": ann.ID}).is(t, 400, "cannot_befriend_self")
	post(map[string]any{"user_id": uuid.NewString()}).is(t, 404, "user_not_found")
	post(map[string]any{"user_id": "../../etc"}).is(t, 404, "user_not_found")
	h.ask(ann, bob).is(t, 409, "already_friends")
	h.ask(bob, ann).is(t, 409, "already_friends")
	h.ask(ann, cat).is(t, 409, "already_requested")

	h.profiles.SetDown(true)
	h.ask(cat, bob).is(t, 503, "unavailable")
	h.profiles.SetDown(false)

	if after := len(h.outbox()); after != before {
		t.Errorf("refused requests wrote %d outbox rows", after-before)
	}
}

func TestConcurrentRequestsOverHTTP(t *testing.T) {
	h := start(t)

	// Both ask each other at once: one request is created (201), the other turns it into a friendship (200).
	for range 10 {
		ann, bob := h.user("ann"), h.user("bob")
		statuses := race(2, func(i int) int {
			if i == 0 {
				return h.ask(ann, bob).Status
			}
			return h.ask(bob, ann).Status
		})
		if !slices.Equal(statuses, []int{200, 201}) {
			t.Fatalf("mutual race: %v", statuses)
		}
		if got := summary(h.list(ann, "")); !slices.Equal(got, []string{"bob:accepted"}) {
			t.Fatalf("after the race: %v", got)
		}
	}

	// The same request many times at once: made once, refused as a duplicate otherwise.
	cat, dan := h.user("cat"), h.user("dan")
	statuses := race(6, func(int) int { return h.ask(cat, dan).Status })
	if !slices.Equal(statuses, []int{201, 409, 409, 409, 409, 409}) {
		t.Errorf("duplicate race: %v", statuses)
	}
}

// race runs f(0..n-1) at once and returns the results sorted.
func race(n int, f func(i int) int) []int {
	out := make([]int, n)
	var start, done sync.WaitGroup
	start.Add(1)
	for i := range n {
		done.Go(func() {
			start.Wait()
			out[i] = f(i)
		})
	}
	start.Done()
	done.Wait()
	slices.Sort(out)
	return out
}

func TestAcceptAndDeclineNeedAPendingRequestFromThatUser(t *testing.T) {
	h := start(t)
	ann, bob, cat := h.user("ann"), h.user("bob"), h.user("cat")
	h.ask(ann, bob).is(t, http.StatusCreated, "")
	before := len(h.outbox())

	// These refusals are answered without profiles.
	h.profiles.SetDown(true)
	accept := func(as, from user) answer {
		return h.call(as, "POST", "/api/v1/friends/requests/"+from.ID+"/accept", nil)
	}
	decline := func(as, from user) answer {
		return h.call(as, "POST", "/api/v1/friends/requests/"+from.ID+"/decline", nil)
	}
	accept(ann, bob).is(t, 404, "request_not_found") // the asker cannot accept her own request
	accept(cat, ann).is(t, 404, "request_not_found") // not addressed to cat
	accept(bob, bob).is(t, 404, "request_not_found")
	decline(ann, bob).is(t, 404, "request_not_found")
	decline(bob, cat).is(t, 404, "request_not_found")
	h.call(bob, "POST", "/api/v1/friends/requests/"+uuid.NewString()+"/accept", nil).is(t, 404, "request_not_found")
	h.profiles.SetDown(false)

	// Declining deletes the request and tells nobody.
	decline(bob, ann).is(t, http.StatusNoContent, "")
	decline(bob, ann).is(t, 404, "request_not_found")
	accept(bob, ann).is(t, 404, "request_not_found")
	if got := summary(h.list(ann, "")); len(got) != 0 {
		t.Errorf("declined request still listed: %v", got)
	}
	if after := len(h.outbox()); after != before {
		t.Errorf("refusals and the decline wrote %d outbox rows", after-before)
	}
	// Ann may ask again.
	h.ask(ann, bob).is(t, http.StatusCreated, "")
	// Accepting twice: the second finds no pending request.
	accept(bob, ann).is(t, http.StatusOK, "")
	accept(bob, ann).is(t, 404, "request_not_found")
}

func TestDeleteEndsAFriendshipOrARequest(t *testing.T) {
	h := start(t)
	ann, bob, cat, dan := h.user("ann"), h.user("bob"), h.user("cat"), h.user("dan")
	h.befriend(ann, bob)
	h.ask(ann, cat).is(t, http.StatusCreated, "")
	h.ask(dan, ann).is(t, http.StatusCreated, "")
	before := len(h.outbox())
	del := func(as, other user) answer { return h.call(as, "DELETE", "/api/v1/friends/"+other.ID, nil) }

	// Cancelling an outgoing request and declining an incoming one need nobody's profile and push nothing.
	h.profiles.SetDown(true)
	del(ann, cat).is(t, http.StatusNoContent, "")
	del(ann, dan).is(t, http.StatusNoContent, "")
	del(ann, cat).is(t, 404, "friendship_not_found")
	del(ann, ann).is(t, 404, "friendship_not_found")
	del(ann, user{ID: uuid.NewString()}).is(t, 404, "friendship_not_found")
	// Removing a friend pushes the remover's profile, which profiles must give.
	del(bob, ann).is(t, 503, "unavailable")
	h.profiles.SetDown(false)
	// ... and tells messages first, which must hear it: otherwise the friendship stays.
	since := h.friendsSince(ann, bob)
	h.messages.down.Store(true)
	del(bob, ann).is(t, 503, "unavailable")
	h.messages.down.Store(false)
	if got := h.friendsSince(bob, ann); !got.Equal(since) {
		t.Fatalf("the friendship since %v is now %v after a refused removal", since, got)
	}
	if told := h.messages.told(); len(told) != 0 {
		t.Errorf("messages was told %v before any friendship ended", told)
	}
	if after := len(h.outbox()); after != before {
		t.Errorf("cancelling and declining wrote %d outbox rows", after-before)
	}
	if got := summary(h.list(cat, "")); len(got) != 0 {
		t.Errorf("cat still sees %v", got)
	}

	del(bob, ann).is(t, http.StatusNoContent, "")
	low, high := ann.ID, bob.ID
	if high < low {
		low, high = high, low
	}
	if told, want := h.messages.told(), low+"/"+high+" "+since.Format(time.RFC3339Nano); !slices.Equal(told, []string{want}) {
		t.Errorf("messages was told %v, want %v", told, want)
	}
	if u := pushedUser(t, h.push(ann, "friend.removed", bob)); !mapsEqual(u, bob.Profile) {
		t.Errorf("friend.removed carries %v, want bob", u)
	}
	ob := h.outbox()[before:]
	if len(ob) != 2 || ob[0].Type != "friends.friendship.removed" || ob[1].Type != "friend.removed" || ob[1].RoutingKey != broker.PushKey(ann.ID) {
		t.Fatalf("outbox after the removal: %+v", ob)
	}
	var removed struct {
		UserIDs []string `json:"user_ids"`
	}
	if err := json.Unmarshal(ob[0].Data, &removed); err != nil || !sameSet(removed.UserIDs, ann.ID, bob.ID) {
		t.Errorf("friendship.removed %s", ob[0].Data)
	}
	del(ann, bob).is(t, 404, "friendship_not_found")
	if got := summary(h.list(ann, "")); len(got) != 0 {
		t.Errorf("ann still sees %v", got)
	}
}

func TestListFiltersNewestFirst(t *testing.T) {
	h := start(t)
	me, bob, cat, dan, eve := h.user("me"), h.user("bob"), h.user("cat"), h.user("dan"), h.user("eve")
	h.befriend(bob, me)
	h.ask(me, cat).is(t, http.StatusCreated, "")
	h.ask(dan, me).is(t, http.StatusCreated, "")
	h.befriend(me, eve)

	cases := map[string][]string{
		"":                 {"eve:accepted", "dan:incoming", "cat:outgoing", "bob:accepted"},
		"?status=all":      {"eve:accepted", "dan:incoming", "cat:outgoing", "bob:accepted"},
		"?status=accepted": {"eve:accepted", "bob:accepted"},
		"?status=incoming": {"dan:incoming"},
		"?status=outgoing": {"cat:outgoing"},
	}
	for q, want := range cases {
		if got := summary(h.list(me, q)); !slices.Equal(got, want) {
			t.Errorf("%q: got %v, want %v", q, got, want)
		}
	}
	h.call(me, "GET", "/api/v1/friends?status=pending", nil).is(t, 400, "invalid_status")
	h.call(me, "GET", "/api/v1/friends?status=", nil).is(t, 200, "")

	// Each item: the other user's id, nickname, display name and whether they have an avatar only, the status
	// and since in UTC.
	items := h.list(me, "?status=incoming")
	it := items[0]
	if len(it.User) != 4 || it.User["id"] != dan.ID || it.User["nickname"] != "dan" || it.User["display_name"] != "Dan" ||
		it.User["has_avatar"] != false {
		t.Errorf("user %v", it.User)
	}
	h.profiles.SetAvatar(dan.ID, true)
	if u := h.list(me, "?status=incoming")[0].User; u["has_avatar"] != true {
		t.Errorf("dan has an avatar now: %v", u)
	}
	since, err := time.Parse(time.RFC3339Nano, it.Since)
	if err != nil || !strings.HasSuffix(it.Since, "Z") || time.Since(since) > time.Minute || time.Since(since) < 0 {
		t.Errorf("since %q: %v", it.Since, err)
	}

	// A user profiles no longer knows is left out; profiles down is 503.
	h.profiles.Forget(cat.ID)
	if got := summary(h.list(me, "")); !slices.Equal(got, []string{"eve:accepted", "dan:incoming", "bob:accepted"}) {
		t.Errorf("without cat: %v", got)
	}
	h.profiles.SetDown(true)
	h.call(me, "GET", "/api/v1/friends", nil).is(t, 503, "unavailable")
	h.profiles.SetDown(false)
	if got := h.list(h.user("nobody"), ""); len(got) != 0 {
		t.Errorf("a user without friends: %v", got)
	}
}

func TestInternalFriendshipCheck(t *testing.T) {
	h := start(t)
	ann, bob, cat := h.user("ann"), h.user("bob"), h.user("cat")
	h.befriend(ann, bob)
	h.ask(ann, cat).is(t, http.StatusCreated, "")

	friends := func(a, b string) bool {
		t.Helper()
		res := h.call(user{}, "GET", "/internal/v1/friendships/"+a+"/"+b, nil) // no token
		var got map[string]any
		res.into(t, &got)
		friends, ok := got["friends"].(bool)
		// since, when the friendship began, comes with a yes only.
		_, since := got["since"].(string)
		if res.Status != http.StatusOK || !ok || since != friends || len(got) != map[bool]int{true: 2, false: 1}[friends] {
			t.Fatalf("%d %s", res.Status, res.Body)
		}
		return friends
	}
	if !friends(ann.ID, bob.ID) || !friends(bob.ID, ann.ID) {
		t.Error("ann and bob are friends, both ways")
	}
	if friends(ann.ID, cat.ID) || friends(cat.ID, ann.ID) {
		t.Error("a pending request is no friendship")
	}
	if friends(bob.ID, cat.ID) || friends(ann.ID, ann.ID) || friends(ann.ID, "not-an-id") {
		t.Error("strangers, oneself and unknown ids are not friends")
	}
}

func TestPublicRoutesNeedAToken(t *testing.T) {
	h := start(t)
	bob := h.user("bob")
	forged := user{Token: "not.a.jwt"}
	routes := []struct{ method, path string }{
		{"GET", "/api/v1/friends"},
		{"POST", "/api/v1/friends/requests"},
		{"POST", "/api/v1/friends/requests/" + bob.ID + "/accept"},
		{"POST", "/api/v1/friends/requests/" + bob.ID + "/decline"},
		{"DELETE", "/api/v1/friends/" + bob.ID},
	}
	for _, r := range routes {
		h.call(user{}, r.method, r.path, nil).is(t, 401, "unauthorized")
		h.call(forged, r.method, r.path, nil).is(t, 401, "unauthorized")
	}
	h.call(bob, "PUT", "/api/v1/friends/requests", nil).is(t, 405, "method_not_allowed")
}

func mapsEqual(a, b map[string]any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func sameSet(got []string, want ...string) bool {
	got, want = slices.Clone(got), slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	return slices.Equal(got, want)
}
