package service_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
)

func compact(t *testing.T, b []byte) string {
	t.Helper()
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return out.String()
}

func TestSendPushesTheMessageAsAnsweredToBothParticipants(t *testing.T) {
	h := start(t)
	alice, bob := h.member("alice"), h.member("bob")
	h.befriend(alice, bob)
	toBob, toAlice := h.pushes(bob.ID), h.pushes(alice.ID)

	sentAt := time.Now()
	msg, r := h.send(alice, bob, "hello, <b>Bob</b> & co 👋")
	var fields map[string]any
	_ = json.Unmarshal(r.Body, &fields)
	if len(fields) != 5 || msg.SenderID != alice.ID || msg.RecipientID != bob.ID || msg.Text != "hello, <b>Bob</b> & co 👋" {
		t.Errorf("answer %s", r.Body)
	}
	if id, err := strconv.ParseInt(msg.ID, 10, 64); err != nil || id <= 0 {
		t.Errorf("id %q must be a positive decimal string", msg.ID)
	}
	if ca, _ := fields["created_at"].(string); !strings.HasSuffix(ca, "Z") || time.Since(msg.CreatedAt) > time.Minute {
		t.Errorf("created_at %v must be RFC 3339 UTC", fields["created_at"])
	}

	// Both get message.new whose data is the answer itself, field for field and digit for digit; the
	// recipient's within the second the contract allows.
	pushed := map[string]broker.Event{"bob": next(t, toBob, time.Second)}
	if latency := time.Since(sentAt); latency > time.Second {
		t.Errorf("the push took %v", latency)
	}
	pushed["alice"] = next(t, toAlice, time.Second)
	for who, ev := range pushed {
		if ev.Type != "message.new" || ev.ConnectionID != "" || ev.Source != "messages" {
			t.Errorf("push to %s: %+v", who, ev)
		}
		if compact(t, ev.Data) != compact(t, r.Body) {
			t.Errorf("push to %s carries %s, the answer was %s", who, ev.Data, r.Body)
		}
	}
	if got := h.outboxTypes(); !slices.Equal(got, []string{"message.new"}) {
		t.Errorf("outbox %v", got)
	}
}

func TestSendRefusals(t *testing.T) {
	h := start(t)
	alice, bob, stranger := h.member("alice"), h.member("bob"), h.member("stranger")
	h.befriend(alice, bob)
	to := func(m member) string { return "/api/v1/chats/" + m.ID + "/messages" }
	cases := []struct {
		name, path, body string
		status           int
		code             string
	}{
		{"empty text", to(bob), `{"text":""}`, 400, "invalid_text"},
		{"no text", to(bob), `{}`, 400, "invalid_text"},
		{"only white space", to(bob), `{"text":" \n\t "}`, 400, "invalid_text"},
		{"4001 characters", to(bob), `{"text":"` + strings.Repeat("ж", 4001) + `"}`, 400, "invalid_text"},
		{"control character", to(bob), `{"text":"a\u0000b"}`, 400, "invalid_text"},
		{"client id of 65", to(bob), `{"text":"x","client_message_id":"` + strings.Repeat("k", 65) + `"}`, 400, "invalid_client_message_id"},
		{"empty client id", to(bob), `{"text":"x","client_message_id":""}`, 400, "invalid_client_message_id"},
		{"to oneself", to(alice), `{"text":"note to self"}`, 400, "cannot_message_self"},
		{"not a friend", to(stranger), `{"text":"hi"}`, 403, "not_friends"},
		{"nobody", "/api/v1/chats/" + uuid.NewString() + "/messages", `{"text":"hi"}`, 404, "user_not_found"},
		{"not an id", "/api/v1/chats/bob/messages", `{"text":"hi"}`, 404, "user_not_found"},
		{"malformed JSON", to(bob), `{"text":`, 400, "invalid_json"},
		{"not UTF-8", to(bob), "{\"text\":\"caf\xe9\"}", 400, "invalid_json"},
		{"text of the wrong type", to(bob), `{"text":5}`, 400, "invalid_field"},
		{"body over 64 KiB", to(bob), `{"text":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "body_too_large"},
	}
	for _, c := range cases {
		want(t, c.name, h.call(alice, "POST", c.path, c.body), c.status, c.code)
	}
	// 4000 characters of four bytes each are one valid message.
	want(t, "4000 emoji", h.call(alice, "POST", to(bob), `{"text":"`+strings.Repeat("😀", 4000)+`"}`), 201, "")

	// A friendship never asked before cannot be answered from the cache.
	carol := h.member("carol")
	h.befriend(alice, carol)
	h.n.friendsDown.Store(true)
	want(t, "friends down", h.call(alice, "POST", to(carol), `{"text":"hi"}`), 503, "unavailable")
	h.n.friendsDown.Store(false)
	// Not friends is known without profiles; only "nobody there" needs it.
	h.profiles.SetDown(true)
	want(t, "not a friend, profiles down", h.call(alice, "POST", to(stranger), `{"text":"hi"}`), 403, "not_friends")
	h.profiles.SetDown(false)

	// Nothing refused was stored or announced.
	if got := h.outboxTypes(); len(got) != 1 {
		t.Errorf("outbox %v", got)
	}
}

func TestSendIsIdempotentPerClientMessageID(t *testing.T) {
	h := start(t)
	alice, bob := h.member("alice"), h.member("bob")
	h.befriend(alice, bob)
	path := "/api/v1/chats/" + bob.ID + "/messages"
	first := h.call(alice, "POST", path, `{"text":"once","client_message_id":"c-1"}`)
	want(t, "first", first, 201, "")
	again := h.call(alice, "POST", path, `{"text":"once","client_message_id":"c-1"}`)
	if again.Status != 200 || compact(t, again.Body) != compact(t, first.Body) {
		t.Errorf("retry: %s, first %s", again, first)
	}
	// The retry is answered from the store, even after the two stopped being friends.
	h.unfriend(alice, bob)
	if r := h.call(alice, "POST", path, `{"text":"once","client_message_id":"c-1"}`); r.Status != 200 || compact(t, r.Body) != compact(t, first.Body) {
		t.Errorf("retry after unfriending: %s", r)
	}
	// ... and while friends cannot answer.
	h.n.friendsDown.Store(true)
	if r := h.call(alice, "POST", path, `{"text":"once","client_message_id":"c-1"}`); r.Status != 200 || compact(t, r.Body) != compact(t, first.Body) {
		t.Errorf("retry with friends down: %s", r)
	}
	h.n.friendsDown.Store(false)
	if got := h.outboxTypes(); len(got) != 1 {
		t.Errorf("a retry announced again: %v", got)
	}
	// Bob may use the same key for his own message.
	h.befriend(alice, bob)
	want(t, "bob's own c-1", h.call(bob, "POST", "/api/v1/chats/"+alice.ID+"/messages", `{"text":"mine","client_message_id":"c-1"}`), 201, "")
}

type olderPage struct {
	Items      []message `json:"items"`
	NextBefore *string   `json:"next_before"`
}

type newerPage struct {
	Items     []message `json:"items"`
	NextAfter *string   `json:"next_after"`
}

func ids(ms []message) []string {
	out := []string{}
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestHistoryPagesBothWays(t *testing.T) {
	h := start(t)
	alice, bob, carol := h.member("alice"), h.member("bob"), h.member("carol")
	h.befriend(alice, bob)
	h.befriend(alice, carol)
	var chat []message
	for i := range 5 {
		from, to := alice, bob
		if i%2 == 1 {
			from, to = bob, alice
		}
		m, _ := h.send(from, to, fmt.Sprint("m", i))
		chat = append(chat, m)
		h.send(alice, carol, "to carol") // another chat of alice's, never in this one
	}
	all := ids(chat)
	rev := slices.Clone(all)
	slices.Reverse(rev)
	path := "/api/v1/chats/" + bob.ID + "/messages"

	page := decode[olderPage](t, h.call(alice, "GET", path+"?limit=2", ""))
	if !slices.Equal(ids(page.Items), rev[:2]) || page.NextBefore == nil || *page.NextBefore != rev[1] {
		t.Errorf("newest 2: %v next %v", ids(page.Items), page.NextBefore)
	}
	if page.Items[0] != chat[4] {
		t.Errorf("history carries the messages as sent: %+v vs %+v", page.Items[0], chat[4])
	}
	page = decode[olderPage](t, h.call(alice, "GET", path+"?limit=2&before="+*page.NextBefore, ""))
	if !slices.Equal(ids(page.Items), rev[2:4]) || page.NextBefore == nil {
		t.Errorf("next 2: %v next %v", ids(page.Items), page.NextBefore)
	}
	page = decode[olderPage](t, h.call(alice, "GET", path+"?limit=2&before="+*page.NextBefore, ""))
	if !slices.Equal(ids(page.Items), rev[4:]) || page.NextBefore != nil {
		t.Errorf("the oldest: %v next %v (null: nothing older)", ids(page.Items), page.NextBefore)
	}
	// Bob sees the same chat in the same order; the default page holds it all.
	page = decode[olderPage](t, h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages", ""))
	if !slices.Equal(ids(page.Items), rev) || page.NextBefore != nil {
		t.Errorf("bob's view %v", ids(page.Items))
	}

	newer := decode[newerPage](t, h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages?after=0&limit=3", ""))
	if !slices.Equal(ids(newer.Items), all[:3]) || newer.NextAfter == nil || *newer.NextAfter != all[2] {
		t.Errorf("from the beginning: %v next %v", ids(newer.Items), newer.NextAfter)
	}
	newer = decode[newerPage](t, h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages?after="+*newer.NextAfter+"&limit=3", ""))
	if !slices.Equal(ids(newer.Items), all[3:]) || *newer.NextAfter != all[4] {
		t.Errorf("catching up: %v next %v", ids(newer.Items), newer.NextAfter)
	}
	newer = decode[newerPage](t, h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages?after="+all[4], ""))
	if len(newer.Items) != 0 || newer.NextAfter == nil || *newer.NextAfter != all[4] {
		t.Errorf("up to date: %v next %v (the cursor given, to poll with)", ids(newer.Items), newer.NextAfter)
	}
	var raw map[string]any
	_ = json.Unmarshal(h.call(bob, "GET", "/api/v1/chats/"+alice.ID+"/messages?after="+all[4], "").Body, &raw)
	if items, ok := raw["items"].([]any); !ok || len(items) != 0 {
		t.Errorf("an empty page is [], not null: %v", raw)
	}

	// History stays readable after unfriending.
	h.unfriend(alice, bob)
	if page := decode[olderPage](t, h.call(alice, "GET", path, "")); len(page.Items) != 5 {
		t.Errorf("after unfriending: %v", ids(page.Items))
	}
}

func TestHistoryRefusalsAndPrivacy(t *testing.T) {
	h := start(t)
	alice, bob, carol := h.member("alice"), h.member("bob"), h.member("carol")
	h.befriend(alice, bob)
	h.send(alice, bob, "for bob only")
	path := "/api/v1/chats/" + bob.ID + "/messages"
	for q, code := range map[string]string{
		"?limit=101": "invalid_limit", "?limit=0": "invalid_limit", "?limit=ten": "invalid_limit", "?limit=": "invalid_limit",
		"?before=abc": "invalid_cursor", "?after=-1": "invalid_cursor", "?before=5&after=1": "invalid_cursor", "?before=": "invalid_cursor",
	} {
		want(t, q, h.call(alice, "GET", path+q, ""), 400, code)
	}
	want(t, "limit 100", h.call(alice, "GET", path+"?limit=100", ""), 200, "")
	want(t, "unknown user", h.call(alice, "GET", "/api/v1/chats/"+uuid.NewString()+"/messages", ""), 404, "user_not_found")
	want(t, "not an id", h.call(alice, "GET", "/api/v1/chats/nobody/messages", ""), 404, "user_not_found")

	// Carol can only ever name her own chat with bob (or with alice): never theirs.
	for _, peer := range []member{bob, alice} {
		r := h.call(carol, "GET", "/api/v1/chats/"+peer.ID+"/messages", "")
		if page := decode[olderPage](t, r); r.Status != 200 || len(page.Items) != 0 || page.NextBefore != nil {
			t.Errorf("carol reading with %s: %s", peer.Nickname, r)
		}
	}
	if page := decode[newerPage](t, h.call(carol, "GET", "/api/v1/chats/"+bob.ID+"/messages?after=0", "")); len(page.Items) != 0 {
		t.Errorf("carol catching up with bob: %v", ids(page.Items))
	}

	// With no chat yet, telling "nobody there" from "nothing said" needs profiles.
	h.profiles.SetDown(true)
	want(t, "profiles down, no chat", h.call(carol, "GET", "/api/v1/chats/"+bob.ID+"/messages", ""), 503, "unavailable")
	want(t, "profiles down, a chat", h.call(alice, "GET", path, ""), 200, "")
}

func TestReadMarkersAreToldToThePeer(t *testing.T) {
	h := start(t)
	alice, bob := h.member("alice"), h.member("bob")
	h.befriend(alice, bob)
	toAlice := h.pushes(alice.ID)
	m1, _ := h.send(alice, bob, "one")
	m2, _ := h.send(alice, bob, "two")
	answer, _ := h.send(bob, alice, "bob's reply")
	// alice's own copies of her two messages and bob's reply come first; only then can read marks be told.
	for i := 0; i < 3; i++ {
		if ev := next(t, toAlice, time.Second); ev.Type != "message.new" {
			t.Fatalf("push %d: %s %s, want message.new", i, ev.Type, ev.Data)
		}
	}
	read := func(body string) reply { return h.call(bob, "POST", "/api/v1/chats/"+alice.ID+"/read", body) }

	want(t, "read one", read(`{"up_to_id":"`+m1.ID+`"}`), 204, "")
	ev := next(t, toAlice, time.Second)
	if ev.Type != "message.read" || compact(t, ev.Data) != `{"peer_id":"`+bob.ID+`","up_to_id":"`+m1.ID+`"}` {
		t.Errorf("push %s %s", ev.Type, ev.Data)
	}
	// Backwards or the same: 204, nothing moves, nobody is told.
	want(t, "the same again", read(`{"up_to_id":"`+m1.ID+`"}`), 204, "")
	// Past the newest message addressed to bob: the marker stops there, and alice is told where.
	want(t, "up to bob's own reply", read(`{"up_to_id":`+answer.ID+`}`), 204, "")
	ev = next(t, toAlice, time.Second)
	if compact(t, ev.Data) != `{"peer_id":"`+bob.ID+`","up_to_id":"`+m2.ID+`"}` {
		t.Errorf("capped marker %s", ev.Data)
	}
	quiet(t, toAlice, 300*time.Millisecond)

	for name, body := range map[string]string{
		"missing": `{}`, "zero": `{"up_to_id":"0"}`, "negative": `{"up_to_id":-3}`, "text": `{"up_to_id":"abc"}`,
		"fraction": `{"up_to_id":1.5}`, "boolean": `{"up_to_id":true}`,
	} {
		want(t, name, read(body), 400, "invalid_up_to_id")
	}
	want(t, "malformed", read(`{"up_to_id":`), 400, "invalid_json")
	want(t, "not an id", h.call(bob, "POST", "/api/v1/chats/alice/read", `{"up_to_id":"1"}`), 404, "user_not_found")
	want(t, "nobody", h.call(bob, "POST", "/api/v1/chats/"+uuid.NewString()+"/read", `{"up_to_id":"1"}`), 404, "user_not_found")
	// No chat with somebody who exists: nothing to mark, not an error.
	want(t, "no chat", h.call(bob, "POST", "/api/v1/chats/"+h.member("carol").ID+"/read", `{"up_to_id":"1"}`), 204, "")
}

type chatList struct {
	Items []struct {
		Peer        map[string]any `json:"peer"`
		LastMessage message        `json:"last_message"`
		UnreadCount int            `json:"unread_count"`
		PeerReadUp  string         `json:"peer_read_up_to_id"`
	} `json:"items"`
	NextBefore *string `json:"next_before"`
}

func TestChatListMostRecentFirstWithUnreadCounts(t *testing.T) {
	h := start(t)
	me, bob, carol, dave := h.member("me"), h.member("bob"), h.member("carol"), h.member("dave")
	for _, f := range []member{bob, carol, dave} {
		h.befriend(me, f)
	}
	empty := decode[chatList](t, h.call(me, "GET", "/api/v1/chats", ""))
	if len(empty.Items) != 0 || empty.NextBefore != nil {
		t.Errorf("no chats yet: %+v", empty)
	}
	h.send(bob, me, "b1")
	h.send(carol, me, "c1")
	lastB, _ := h.send(bob, me, "b2")
	lastD, _ := h.send(me, dave, "d1")
	lastC, _ := h.send(carol, me, "c2")

	calls := h.profiles.Batches.Load()
	list := decode[chatList](t, h.call(me, "GET", "/api/v1/chats", ""))
	if h.profiles.Batches.Load()-calls != 1 {
		t.Errorf("peers' profiles took %d calls, want one batch", h.profiles.Batches.Load()-calls)
	}
	type line struct {
		nick   string
		last   message
		unread int
	}
	var got []line
	for _, it := range list.Items {
		got = append(got, line{it.Peer["nickname"].(string), it.LastMessage, it.UnreadCount})
	}
	if want := []line{{"carol", lastC, 2}, {"dave", lastD, 0}, {"bob", lastB, 2}}; !slices.Equal(got, want) {
		t.Errorf("chats\n got %+v\nwant %+v", got, want)
	}
	if p := list.Items[0].Peer; p["id"] != carol.ID || p["display_name"] != "Carol" || len(p) != 6 {
		t.Errorf("peer is the public profile: %v", p)
	}

	// Reading a chat clears its count; a new message moves its chat to the top.
	want(t, "read bob", h.call(me, "POST", "/api/v1/chats/"+bob.ID+"/read", `{"up_to_id":"`+lastB.ID+`"}`), 204, "")
	h.send(dave, me, "d2")
	list = decode[chatList](t, h.call(me, "GET", "/api/v1/chats?limit=2", ""))
	if len(list.Items) != 2 || list.Items[0].Peer["id"] != dave.ID || list.Items[0].UnreadCount != 1 || list.NextBefore == nil {
		t.Fatalf("first page %+v", list)
	}
	rest := decode[chatList](t, h.call(me, "GET", "/api/v1/chats?limit=2&before="+*list.NextBefore, ""))
	if len(rest.Items) != 1 || rest.Items[0].Peer["id"] != bob.ID || rest.Items[0].UnreadCount != 0 || rest.NextBefore != nil {
		t.Errorf("second page %+v", rest)
	}
	// Each line carries the peer's read marker, so a client shows what was read after a reload too: dave has
	// read nothing of mine, bob reads my message once I write one.
	if rest.Items[0].PeerReadUp != "0" || list.Items[0].PeerReadUp != "0" {
		t.Errorf("nobody has read anything of mine: %+v %+v", list.Items[0], rest.Items[0])
	}
	mine, _ := h.send(me, bob, "to bob")
	want(t, "bob reads", h.call(bob, "POST", "/api/v1/chats/"+me.ID+"/read", `{"up_to_id":"`+mine.ID+`"}`), 204, "")
	if top := decode[chatList](t, h.call(me, "GET", "/api/v1/chats?limit=1", "")); top.Items[0].PeerReadUp != mine.ID {
		t.Errorf("bob's marker in my list: %+v, want %s", top.Items[0], mine.ID)
	}
	// My own marker is not the peer's: bob's list shows that I read his b2, nothing else.
	if top := decode[chatList](t, h.call(bob, "GET", "/api/v1/chats?limit=1", "")); top.Items[0].PeerReadUp != lastB.ID {
		t.Errorf("my marker in bob's list: %+v, want %s", top.Items[0], lastB.ID)
	}
	want(t, "limit too big", h.call(me, "GET", "/api/v1/chats?limit=101", ""), 400, "invalid_limit")
	want(t, "bad cursor", h.call(me, "GET", "/api/v1/chats?before=x", ""), 400, "invalid_cursor")
	h.profiles.SetDown(true)
	want(t, "profiles down", h.call(me, "GET", "/api/v1/chats", ""), 503, "unavailable")
}

type unread struct {
	Items []message `json:"items"`
	Total int       `json:"total"`
}

func TestEnteringPushesTheOldestUnreadToThatConnection(t *testing.T) {
	h := start(t)
	me, bob, carol := h.member("me"), h.member("bob"), h.member("carol")
	h.befriend(me, bob)
	h.befriend(me, carol)
	toMe, toBob := h.pushes(me.ID), h.pushes(bob.ID)

	// Nothing unread: an empty list and a total of 0 still come.
	brokertest.Enter(t, h.conn, bob.ID, "bob-socket")
	ev := next(t, toBob, 2*time.Second)
	if ev.Type != "messages.unread" || ev.ConnectionID != "bob-socket" || compact(t, ev.Data) != `{"items":[],"total":0}` {
		t.Errorf("empty entry reply %+v %s", ev, ev.Data)
	}

	var sent []string
	for i := range 105 {
		from := bob
		if i%3 == 0 {
			from = carol
		}
		m, _ := h.send(from, me, fmt.Sprint("n", i))
		sent = append(sent, m.ID)
		h.send(me, from, "my answer") // mine: never unread for me
	}
	// Drain the live pushes before entering, so the next one is the reply.
	for range 2 * 105 {
		next(t, toMe, 5*time.Second)
	}
	brokertest.Enter(t, h.conn, me.ID, "socket-7")
	ev = next(t, toMe, 2*time.Second)
	got := unread{}
	if err := ev.Decode(&got); err != nil || ev.Type != "messages.unread" || ev.ConnectionID != "socket-7" {
		t.Fatalf("entry reply %+v %v", ev, err)
	}
	if got.Total != 105 || !slices.Equal(ids(got.Items), sent[:100]) {
		t.Errorf("total %d, items %v…", got.Total, ids(got.Items)[:3])
	}
	if it := got.Items[0]; it.SenderID != carol.ID || it.RecipientID != me.ID || it.Text != "n0" {
		t.Errorf("first %+v", it)
	}

	// Pushed live or not, a message stays unread until read: reading carol's chat leaves bob's.
	want(t, "read carol", h.call(me, "POST", "/api/v1/chats/"+carol.ID+"/read", `{"up_to_id":"`+sent[len(sent)-1]+`"}`), 204, "")
	brokertest.Enter(t, h.conn, me.ID, "socket-8")
	ev = next(t, toMe, 2*time.Second)
	_ = ev.Decode(&got)
	if ev.ConnectionID != "socket-8" || got.Total != 70 || len(got.Items) != 70 || got.Items[0].ID != sent[1] {
		t.Errorf("after reading carol's chat: %s total %d items %d", ev.ConnectionID, got.Total, len(got.Items))
	}
}

func TestEveryRouteNeedsAToken(t *testing.T) {
	h := start(t)
	alice, bob := h.member("alice"), h.member("bob")
	foreign := member{Token: h.iss.Token(t, alice.ID, "s")}
	foreign.Token = foreign.Token[:len(foreign.Token)-4] + "AAAA" // a signature that does not verify
	routes := []struct{ method, path, body string }{
		{"GET", "/api/v1/chats", ""},
		{"POST", "/api/v1/chats/" + bob.ID + "/messages", `{"text":"hi"}`},
		{"GET", "/api/v1/chats/" + bob.ID + "/messages", ""},
		{"POST", "/api/v1/chats/" + bob.ID + "/read", `{"up_to_id":"1"}`},
	}
	for _, r := range routes {
		want(t, "no token "+r.method+" "+r.path, h.call(member{}, r.method, r.path, r.body), 401, "unauthorized")
		want(t, "bad token "+r.method+" "+r.path, h.call(foreign, r.method, r.path, r.body), 401, "unauthorized")
	}
	want(t, "unknown route", h.call(alice, "GET", "/api/v1/chats/"+bob.ID, ""), 404, "not_found")
	want(t, "wrong method", h.call(alice, "DELETE", "/api/v1/chats/"+bob.ID+"/messages", ""), 405, "method_not_allowed")
}

// A send between friends asks the friends service once; then messages knows. Friends tells messages of a
// friendship's end before it answers the unfriending, and the next send is refused at once.
func TestFriendsIsAskedOnceAndItsEndOfAFriendshipHoldsAtOnce(t *testing.T) {
	h := start(t)
	alice, bob := h.member("alice"), h.member("bob")
	h.befriend(alice, bob)
	toBob, toAlice := "/api/v1/chats/"+bob.ID+"/messages", "/api/v1/chats/"+alice.ID+"/messages"
	before := h.n.friendsCalls.Load()
	want(t, "first", h.call(alice, "POST", toBob, `{"text":"one"}`), 201, "")
	want(t, "reply", h.call(bob, "POST", toAlice, `{"text":"two"}`), 201, "")
	want(t, "typing", h.call(alice, "POST", "/api/v1/chats/"+bob.ID+"/typing", ""), 204, "")
	want(t, "third", h.call(alice, "POST", toBob, `{"text":"three"}`), 201, "")
	if n := h.n.friendsCalls.Load() - before; n != 1 {
		t.Errorf("friends asked %d times for three sends and a typing notice, want 1", n)
	}

	h.unfriend(alice, bob)
	want(t, "after the end", h.call(alice, "POST", toBob, `{"text":"still there?"}`), 403, "not_friends")
	want(t, "the other way", h.call(bob, "POST", toAlice, `{"text":"?"}`), 403, "not_friends")

	// Friends again: a later friendship, asked once more.
	h.befriend(alice, bob)
	before = h.n.friendsCalls.Load()
	want(t, "friends again", h.call(alice, "POST", toBob, `{"text":"hello again"}`), 201, "")
	want(t, "and again", h.call(alice, "POST", toBob, `{"text":"!"}`), 201, "")
	if n := h.n.friendsCalls.Load() - before; n != 1 {
		t.Errorf("friends asked %d times after befriending again, want 1", n)
	}

	end := func(a, b string, body any) reply {
		return h.do("POST", "/internal/v1/friendships/"+a+"/"+b+"/end", body)
	}
	want(t, "an end without since", end(alice.ID, bob.ID, map[string]any{}), 400, "since_required")
	want(t, "an end of nobody", end(alice.ID, "nobody", map[string]any{"since": time.Now()}), 404, "user_not_found")
	want(t, "an end with oneself", end(alice.ID, alice.ID, map[string]any{"since": time.Now()}), 404, "user_not_found")
	want(t, "an end that is not JSON", end(alice.ID, bob.ID, "since=now"), 400, "")
	// None of them touched the friendship.
	want(t, "still friends", h.call(bob, "POST", toAlice, `{"text":"yes"}`), 201, "")
}
