package e2e

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
)

func send(t *testing.T, from, to *account, text string) map[string]any {
	t.Helper()
	return must(t, call(t, "POST", "/api/v1/chats/"+to.id+"/messages", from.access, map[string]any{"text": text}), 201, "send").object(t)
}

func history(t *testing.T, viewer, peer *account, query string) ([]map[string]any, map[string]any) {
	t.Helper()
	r := must(t, call(t, "GET", "/api/v1/chats/"+peer.id+"/messages"+query, viewer.access, nil), 200, "history")
	return r.items(t), r.object(t)
}

func texts(items []map[string]any) []string {
	out := make([]string, len(items))
	for i, m := range items {
		out[i], _ = m["text"].(string)
	}
	return out
}

func TestMessagesOnlyBetweenFriends(t *testing.T) {
	t.Parallel()
	a, b := register(t, "msa"), register(t, "msb")
	mustError(t, call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": "hi"}), 403, "not_friends", "stranger")
	befriend(t, a, b)
	m := send(t, a, b, "hello, Боб 👋")
	if m["sender_id"] != a.id || m["recipient_id"] != b.id || m["text"] != "hello, Боб 👋" {
		t.Errorf("message: %v", m)
	}
	id, _ := m["id"].(string)
	if n, err := strconv.ParseInt(id, 10, 64); err != nil || n <= 0 {
		t.Errorf("id %q is not a positive decimal string", id)
	}
	for name, body := range map[string]map[string]any{
		"empty text":       {"text": ""},
		"no text":          {},
		"4001 code points": {"text": strings.Repeat("я", 4001)},
	} {
		if r := call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, body); r.status != 400 || r.errorCode() == "" {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": strings.Repeat("я", 4000)}), 201, "4000 code points")
	must(t, call(t, "DELETE", "/api/v1/friends/"+a.id, b.access, nil), 204, "unfriend")
	mustError(t, call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, map[string]any{"text": "still there?"}), 403, "not_friends", "after unfriending")
	if items, _ := history(t, b, a, ""); len(items) != 2 {
		t.Errorf("history stays readable after unfriending: %d items", len(items))
	}
	if call(t, "GET", "/api/v1/chats/nobody-"+suffix()+"/messages", a.access, nil).status != 404 {
		t.Error("history with an unknown user must be 404")
	}
}

func TestHistoryOrderAndCursors(t *testing.T) {
	t.Parallel()
	a, b := register(t, "msc"), register(t, "msd")
	befriend(t, a, b)
	var ids []string
	for i := 0; i < 7; i++ {
		from, to := a, b
		if i%2 == 1 {
			from, to = b, a
		}
		ids = append(ids, send(t, from, to, fmt.Sprintf("m%d", i))["id"].(string))
	}
	for _, v := range [][2]*account{{a, b}, {b, a}} {
		items, _ := history(t, v[0], v[1], "?limit=100")
		if got := strings.Join(texts(items), ","); got != "m6,m5,m4,m3,m2,m1,m0" {
			t.Errorf("%s sees %s, want newest first, the same for both", v[0].nickname, got)
		}
	}
	page, body := history(t, a, b, "?limit=3")
	if strings.Join(texts(page), ",") != "m6,m5,m4" || body["next_before"] == nil {
		t.Fatalf("first page: %v %v", texts(page), body["next_before"])
	}
	older, _ := history(t, a, b, "?limit=3&before="+fmt.Sprint(body["next_before"]))
	if strings.Join(texts(older), ",") != "m3,m2,m1" {
		t.Errorf("page before %v: %v", body["next_before"], texts(older))
	}
	newer, nb := history(t, a, b, "?after="+ids[4])
	if strings.Join(texts(newer), ",") != "m5,m6" || nb["next_after"] == nil {
		t.Errorf("after m4: %v (next_after %v)", texts(newer), nb["next_after"])
	}
	if two, _ := history(t, a, b, "?limit=2&after="+ids[0]); strings.Join(texts(two), ",") != "m1,m2" {
		t.Errorf("two after m0: %v", texts(two))
	}
	if call(t, "GET", "/api/v1/chats/"+b.id+"/messages?limit=101", a.access, nil).status != 400 {
		t.Error("limit 101 must be 400")
	}
	if call(t, "GET", "/api/v1/chats/"+b.id+"/messages?before=abc", a.access, nil).status != 400 {
		t.Error("a cursor that is not a number must be 400")
	}
}

func TestIdempotentSendAndConcurrentOrder(t *testing.T) {
	t.Parallel()
	a, b := register(t, "mse"), register(t, "msf")
	befriend(t, a, b)
	body := map[string]any{"text": "once", "client_message_id": "cm-" + suffix()}
	first := must(t, call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, body), 201, "first").object(t)
	again := call(t, "POST", "/api/v1/chats/"+b.id+"/messages", a.access, body)
	if again.status != 200 && again.status != 201 || again.object(t)["id"] != first["id"] {
		t.Errorf("a retry must return the first message: %d %s", again.status, again.body)
	}

	// Both participants send concurrently, each retrying every message once with its client id.
	var wg sync.WaitGroup
	for _, pair := range [][2]*account{{a, b}, {b, a}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 15; i++ {
				body := map[string]any{"text": fmt.Sprintf("%s-%02d", pair[0].nickname, i), "client_message_id": fmt.Sprintf("c-%d", i)}
				for try := 0; try < 2; try++ {
					if r := call(t, "POST", "/api/v1/chats/"+pair[1].id+"/messages", pair[0].access, body); r.status >= 300 {
						t.Errorf("send: %d %s", r.status, r.body)
					}
				}
			}
		}()
	}
	wg.Wait()
	ha, _ := history(t, a, b, "?limit=100")
	hb, _ := history(t, b, a, "?limit=100")
	if len(ha) != 31 || strings.Join(texts(ha), ",") != strings.Join(texts(hb), ",") {
		t.Fatalf("%d messages; both must see the same 31 in one order", len(ha))
	}
	last := map[string]int{}
	prevID := int64(1 << 62)
	for _, m := range ha { // newest first
		id, _ := strconv.ParseInt(m["id"].(string), 10, 64)
		if id >= prevID {
			t.Errorf("ids not decreasing newest-first: %d after %d", id, prevID)
		}
		prevID = id
		text := m["text"].(string)
		if text == "once" {
			continue
		}
		who, n := text[:strings.LastIndex(text, "-")], text[strings.LastIndex(text, "-")+1:]
		i, _ := strconv.Atoi(n)
		if p, seen := last[who]; seen && i >= p {
			t.Errorf("%s's messages out of their order: %d after %d", who, i, p)
		}
		last[who] = i
	}
}

func TestChatsAreIsolated(t *testing.T) {
	t.Parallel()
	a, b, c := register(t, "msg"), register(t, "msh"), register(t, "msi")
	befriend(t, a, b)
	send(t, a, b, "secret for b")
	for _, peer := range []*account{a, b} {
		r := call(t, "GET", "/api/v1/chats/"+peer.id+"/messages", c.access, nil)
		if strings.Contains(string(r.body), "secret") {
			t.Errorf("a third user read someone else's chat via %s", peer.nickname)
		}
	}
	if items := must(t, call(t, "GET", "/api/v1/chats", c.access, nil), 200, "chats").items(t); len(items) != 0 {
		t.Errorf("c has no chats: %v", items)
	}
	if r := call(t, "POST", "/api/v1/chats/"+a.id+"/read", c.access, map[string]any{"up_to_id": "1"}); r.status == 204 {
		if items := must(t, call(t, "GET", "/api/v1/chats", b.access, nil), 200, "chats").items(t); len(items) != 1 || fmt.Sprint(items[0]["unread_count"]) != "1" {
			t.Errorf("a stranger's read mark changed b's unread count: %v", items)
		}
	}
}

func TestChatListUnreadAndRead(t *testing.T) {
	t.Parallel()
	a, b, c := register(t, "msj"), register(t, "msk"), register(t, "msl")
	befriend(t, a, b)
	befriend(t, c, b)
	send(t, a, b, "one")
	last := send(t, a, b, "two")
	send(t, c, b, "from c")
	list := must(t, call(t, "GET", "/api/v1/chats", b.access, nil), 200, "chats").items(t)
	if len(list) != 2 {
		t.Fatalf("chat list: %v", list)
	}
	peer0, _ := list[0]["peer"].(map[string]any)
	peer1, _ := list[1]["peer"].(map[string]any)
	lm1, _ := list[1]["last_message"].(map[string]any)
	if peer0["id"] != c.id || peer1["id"] != a.id || lm1["text"] != "two" || fmt.Sprint(list[1]["unread_count"]) != "2" || fmt.Sprint(list[0]["unread_count"]) != "1" {
		t.Errorf("most recent first with unread counts: %v", list)
	}
	if peer1["nickname"] != a.nickname {
		t.Errorf("peer is a public profile: %v", peer1)
	}
	must(t, call(t, "POST", "/api/v1/chats/"+a.id+"/read", b.access, map[string]any{"up_to_id": last["id"]}), 204, "read")
	list = must(t, call(t, "GET", "/api/v1/chats", b.access, nil), 200, "chats").items(t)
	for _, it := range list {
		p, _ := it["peer"].(map[string]any)
		want := "0"
		if p["id"] == c.id {
			want = "1"
		}
		if fmt.Sprint(it["unread_count"]) != want {
			t.Errorf("after reading a's chat: %v", it)
		}
	}
	// The sender's own messages are never unread for the sender.
	if items := must(t, call(t, "GET", "/api/v1/chats", a.access, nil), 200, "chats").items(t); len(items) != 1 || fmt.Sprint(items[0]["unread_count"]) != "0" {
		t.Errorf("a's chat list: %v", items)
	}
}
