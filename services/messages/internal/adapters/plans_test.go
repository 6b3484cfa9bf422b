package adapters

import (
	"database/sql"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/mysqlx/mysqltest"

	"simplemessenger/services/messages/internal/domain"
)

// seed fills the tables the fast way (multi-row INSERTs, no transactions per message): users chats with
// chats × perChat messages alternating between the two sides, and the chat states as the send transaction
// would have left them, with the last message of every chat unread on both sides. It returns a user with
// chats and the first of them: its peer, its id, a message id in its middle and the read marker of its users.
func seed(t *testing.T, db *sql.DB, chats, perChat int) (me, peer string, chatID, middle, marker int64) {
	t.Helper()
	users := make([]string, chats+1)
	for i := range users {
		users[i] = newUser()
	}
	me = users[0]
	insert := func(prefix string, rows []string) {
		t.Helper()
		for len(rows) > 0 {
			n := min(len(rows), 1000)
			if _, err := db.Exec(prefix + strings.Join(rows[:n], ",")); err != nil {
				t.Fatal(err)
			}
			rows = rows[n:]
		}
	}
	type pair struct{ x, y string }
	pairs := make([]pair, chats+1)
	var chatRows, msgRows, stateRows []string
	for c := 1; c <= chats; c++ {
		// Half the chats are me's, the rest between other users, so me's rows are a part of each table.
		x, y := me, users[c]
		if c%2 == 0 {
			x, y = users[c], users[c-1]
		}
		pairs[c] = pair{x, y}
		lo, hi := x, y
		if hi < lo {
			lo, hi = hi, lo
		}
		chatRows = append(chatRows, fmt.Sprintf("(%d, '%s', '%s')", c, lo, hi))
	}
	// Messages of all chats interleave in id order, as they do when many people talk at once.
	created := time.Now().UTC().Format("2006-01-02 15:04:05.000000")
	id := int64(0)
	last := make([]int64, chats+1)
	for i := range perChat {
		for c := 1; c <= chats; c++ {
			id++
			from, to := pairs[c].x, pairs[c].y
			if i%2 == 1 {
				from, to = to, from
			}
			msgRows = append(msgRows, fmt.Sprintf("(%d, %d, '%s', '%s', 'k%d', 'text %d', '%s')", id, c, from, to, id, id, created))
			last[c] = id
		}
	}
	// Every user read all but the last round of each chat: one message unread on each side.
	for c := 1; c <= chats; c++ {
		marker := last[c] - int64(2*chats)
		stateRows = append(stateRows,
			fmt.Sprintf("('%s', '%s', %d, %d, %d, 1)", pairs[c].x, pairs[c].y, c, last[c], marker),
			fmt.Sprintf("('%s', '%s', %d, %d, %d, 1)", pairs[c].y, pairs[c].x, c, last[c], marker))
	}
	insert("INSERT INTO chats (id, user_low, user_high) VALUES ", chatRows)
	insert("INSERT INTO messages (id, chat_id, sender_id, recipient_id, client_message_id, text, created_at) VALUES ", msgRows)
	insert("INSERT INTO chat_states (user_id, peer_id, chat_id, last_message_id, last_read_id, unread_count) VALUES ", stateRows)
	if _, err := db.Exec("ANALYZE TABLE chats, messages, chat_states"); err != nil {
		t.Fatal(err)
	}
	return me, users[1], 1, int64(perChat/2*chats + 1), last[1] - int64(2*chats)
}

// TestQueryPlansUseTheirIndexes proves, on a few thousand rows, the plans that keep reads fast at ten million
// messages: every read is a range of an index in the order the query wants (no filesort, no scan of a whole
// table), so its cost is its page, not the table.
func TestQueryPlansUseTheirIndexes(t *testing.T) {
	_, db := newRepo(t)
	me, peer, chatID, middle, marker := seed(t, db, 40, 100)
	var from int64
	var total int
	if err := db.QueryRow(unreadStart, me).Scan(&from, &total); err != nil || total != 20 {
		t.Fatalf("unread start: %d %d %v", from, total, err)
	}

	// History finds the chat by its pair: the two users, in their order as the chats table keeps them.
	k := domain.NewChatKey(me, peer)
	// The pair is one row of chats_pair, looked up once (const) before messages are read.
	pair := mysqltest.PlanRow{Key: "chats_pair", Type: "const"}
	page := mysqltest.PlanRow{Key: "PRIMARY", Type: "range"}

	cases := []struct {
		name  string
		query string
		args  []any
		want  map[string]mysqltest.PlanRow // by table; Type "" means any that is not a scan
	}{
		{"history, newest first", historyOlder, []any{k.Low, k.High, int64(math.MaxInt64), 51},
			map[string]mysqltest.PlanRow{"c": pair, "m": page}},
		{"history, before a cursor", historyOlder, []any{k.Low, k.High, middle, 51},
			map[string]mysqltest.PlanRow{"c": pair, "m": page}},
		{"history, catching up", historyNewer, []any{k.Low, k.High, middle, 51},
			map[string]mysqltest.PlanRow{"c": pair, "m": page}},
		{"history, is there a chat (empty pages only)", chatExists, []any{k.Low, k.High},
			map[string]mysqltest.PlanRow{"chats": pair}},
		{"chat list", chatList, []any{me, int64(math.MaxInt64), 51},
			map[string]mysqltest.PlanRow{"s": {Key: "chat_states_recent", Type: "range"}, "m": {Key: "PRIMARY", Type: "eq_ref"}}},
		{"unread: where to start and the total", unreadStart, []any{me},
			map[string]mysqltest.PlanRow{"chat_states": {Key: "PRIMARY"}}},
		{"unread: the oldest messages", unreadList, []any{me, from, 100},
			map[string]mysqltest.PlanRow{"m": {Key: "messages_recipient", Type: "range"}, "s": {Key: "PRIMARY", Type: "eq_ref"}}},
		{"read marker target", newestAddressed, []any{chatID, middle, peer},
			map[string]mysqltest.PlanRow{"m": {Key: "PRIMARY", Type: "range"}}},
		{"unread recount", unreadAfter, []any{chatID, marker, me},
			map[string]mysqltest.PlanRow{"m": {Key: "PRIMARY", Type: "range"}}},
		{"idempotency lookup", "SELECT " + messageColumns + " FROM messages m WHERE m.sender_id = ? AND m.client_message_id = ?", []any{me, "k7"},
			map[string]mysqltest.PlanRow{"m": {Key: "messages_client_id"}}},
	}
	for _, c := range cases {
		plan := mysqltest.Explain(t, db, c.query, c.args...)
		for table, want := range c.want {
			got, ok := mysqltest.Table(plan, table)
			if !ok {
				t.Errorf("%s: no %s in the plan %+v", c.name, table, plan)
				continue
			}
			t.Logf("%s: %s type=%s key=%s rows=%.0f extra=%q", c.name, table, got.Type, got.Key, got.Rows, got.Extra)
			if got.Key != want.Key || (want.Type != "" && got.Type != want.Type) || got.Type == "ALL" || got.Type == "index" {
				t.Errorf("%s: %s uses %s (%s), want %s (%s)", c.name, table, got.Key, got.Type, want.Key, want.Type)
			}
			if strings.Contains(got.Extra, "filesort") || strings.Contains(got.Extra, "temporary") {
				t.Errorf("%s: %s sorts: %q", c.name, table, got.Extra)
			}
		}
	}

	// Executed, a page reads its rows and stops: LIMIT ends the index walk (a sort would read every match).
	for _, c := range []struct {
		name, table string
		query       string
		args        []any
		most        float64
	}{
		{"history page of 10 in a chat of 100", "m", historyOlder, []any{k.Low, k.High, int64(math.MaxInt64), 11}, 11},
		{"history page of 10 after a cursor", "m", historyNewer, []any{k.Low, k.High, middle, 11}, 11},
		{"chat list page of 5 out of 20 chats", "s", chatList, []any{me, int64(math.MaxInt64), 6}, 6},
		{"3 oldest unread", "m", unreadList, []any{me, from, 3}, 3 + 2*40},
	} {
		got, _ := mysqltest.Table(mysqltest.Analyze(t, db, c.query, c.args...), c.table)
		t.Logf("%s: read %.0f rows of %s", c.name, got.ReadRows, c.table)
		if got.ReadRows > c.most {
			t.Errorf("%s: read %.0f rows, want at most %.0f", c.name, got.ReadRows, c.most)
		}
	}
}
