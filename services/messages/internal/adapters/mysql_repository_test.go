package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/mysqlx/mysqltest"

	"simplemessenger/services/messages/internal/adapters/migrations"
	"simplemessenger/services/messages/internal/app"
	"simplemessenger/services/messages/internal/domain"
)

func newRepo(t *testing.T) (*MySQLRepository, *sql.DB) {
	return mysqltest.Repository(t, migrations.FS, NewMySQLRepository)
}

// sendModes are the ways the repository stores sends: each alone, and concurrent sends in groups, two groups'
// transactions at once.
var sendModes = map[string]func(t *testing.T) (*MySQLRepository, *sql.DB){
	"alone": newRepo,
	"grouped": func(t *testing.T) (*MySQLRepository, *sql.DB) {
		r, db := newRepo(t)
		if _, err := r.GroupSends(GroupCommit{Max: 64, Transactions: 2}, nil); err != nil {
			t.Fatal(err)
		}
		return r, db
	},
}

func newUser() string { return uuid.Must(uuid.NewV7()).String() }

// announce is what the application enqueues with a message, in miniature: one push to both participants.
func announce(m domain.Message) ([]broker.Event, error) {
	ev, err := broker.NewPairPush("test", m.RecipientID, m.SenderID, "message.new", map[string]any{"id": fmt.Sprint(m.ID), "text": m.Text})
	if err != nil {
		return nil, err
	}
	return []broker.Event{ev}, nil
}

func message(t testing.TB, from, to, text, clientID string) domain.Message {
	t.Helper()
	var cid *string
	if clientID != "" {
		cid = &clientID
	}
	m, err := domain.NewMessage(from, to, text, cid, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func send(t testing.TB, r *MySQLRepository, from, to, text string) domain.Message {
	t.Helper()
	m, created, err := r.Send(context.Background(), message(t, from, to, text, ""), announce)
	if err != nil || !created {
		t.Fatalf("send %q: created %v, %v", text, created, err)
	}
	return m
}

// pushed is one push in the outbox: to whom (its routing key) and the message id its data names.
type pushed struct {
	Frame, Key, MessageID string
}

// outbox lists the pushes the repository enqueued, in outbox order (the order the relay publishes them).
func outbox(t *testing.T, db *sql.DB) []pushed {
	t.Helper()
	var out []pushed
	for _, o := range brokertest.Outbox(t, db) {
		if o.Exchange != "push" {
			continue
		}
		var data struct {
			ID string `json:"id"`
		}
		if err := o.Event.Decode(&data); err != nil {
			t.Fatalf("push data %s: %v", o.Event.Data, err)
		}
		out = append(out, pushed{Frame: o.Event.Type, Key: o.RoutingKey, MessageID: data.ID})
	}
	return out
}

func count(t *testing.T, db *sql.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func idsOf(ms []domain.Message) []int64 {
	out := make([]int64, 0, len(ms))
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func TestSendStoresTheMessageWithItsEventsAndBothChatStates(t *testing.T) {
	for name, newRepo := range sendModes {
		t.Run(name, func(t *testing.T) {
			r, db := newRepo(t)
			a, b := newUser(), newUser()
			m := send(t, r, a, b, "hello 👋")
			if m.ID <= 0 || m.SenderID != a || m.RecipientID != b || m.Text != "hello 👋" {
				t.Fatalf("stored %+v", m)
			}
			got, err := r.MessageByClientID(context.Background(), a, "none")
			if err == nil {
				t.Errorf("no client id was given, yet found %+v", got)
			}

			ob := outbox(t, db)
			if len(ob) != 1 || ob[0].Key != "user."+b+"."+a || ob[0].Frame != "message.new" || ob[0].MessageID != fmt.Sprint(m.ID) {
				t.Errorf("outbox %+v", ob)
			}
			// The sender's side has nothing unread, the recipient's one message.
			for _, c := range []struct {
				user, peer string
				unread     int
			}{{a, b, 0}, {b, a, 1}} {
				var last, read int64
				var unread int
				if err := db.QueryRow("SELECT last_message_id, last_read_id, unread_count FROM chat_states WHERE user_id = ? AND peer_id = ?",
					c.user, c.peer).Scan(&last, &read, &unread); err != nil {
					t.Fatal(err)
				}
				if last != m.ID || read != 0 || unread != c.unread {
					t.Errorf("state of %s: last %d read %d unread %d", c.user, last, read, unread)
				}
			}
			if n := count(t, db, "SELECT COUNT(*) FROM chats"); n != 1 {
				t.Errorf("chats: %d", n)
			}
		})
	}
}

func TestFailingEventsRollTheMessageBack(t *testing.T) {
	for name, newRepo := range sendModes {
		t.Run(name, func(t *testing.T) {
			r, db := newRepo(t)
			a, b := newUser(), newUser()
			_, _, err := r.Send(context.Background(), message(t, a, b, "x", "k"), func(domain.Message) ([]broker.Event, error) {
				return nil, fmt.Errorf("boom")
			})
			if err == nil {
				t.Fatal("no error")
			}
			if n := count(t, db, "SELECT COUNT(*) FROM messages") + count(t, db, "SELECT COUNT(*) FROM chat_states") + len(outbox(t, db)); n != 0 {
				t.Errorf("%d rows left behind", n)
			}
		})
	}
}

func TestSendIsIdempotentPerSenderAndClientMessageID(t *testing.T) {
	for name, newRepo := range sendModes {
		t.Run(name, func(t *testing.T) {
			r, db := newRepo(t)
			ctx := context.Background()
			a, b, c := newUser(), newUser(), newUser()
			first, created, err := r.Send(ctx, message(t, a, b, "once", "key-1"), announce)
			if err != nil || !created {
				t.Fatal(created, err)
			}
			again, created, err := r.Send(ctx, message(t, a, b, "once", "key-1"), announce)
			if err != nil || created || again != first {
				t.Errorf("retry: created %v %v\n got %+v\nwant %+v", created, err, again, first)
			}
			// Keys are the sender's own: another sender may use the same one, and keys differing only by a trailing
			// space or letter case are different keys.
			if _, created, err := r.Send(ctx, message(t, b, a, "mine", "key-1"), announce); err != nil || !created {
				t.Errorf("another sender's key: %v %v", created, err)
			}
			for _, k := range []string{"key-1 ", "KEY-1"} {
				if _, created, err := r.Send(ctx, message(t, a, b, "other", k), announce); err != nil || !created {
					t.Errorf("%q: %v %v", k, created, err)
				}
			}

			// Concurrent retries (to one chat and to another) store one message between them.
			const n = 8
			var wg sync.WaitGroup
			results := make([]domain.Message, n)
			createdCount := make([]bool, n)
			for i := range n {
				wg.Go(func() {
					to := b
					if i%2 == 1 {
						to = c
					}
					m, created, err := r.Send(ctx, message(t, a, to, "race", "key-2"), announce)
					if err != nil {
						t.Errorf("send %d: %v", i, err)
					}
					results[i], createdCount[i] = m, created
				})
			}
			wg.Wait()
			winners := 0
			for i := range n {
				if createdCount[i] {
					winners++
				}
				if results[i] != results[0] {
					t.Errorf("answer %d %+v differs from %+v", i, results[i], results[0])
				}
			}
			if winners != 1 || count(t, db, "SELECT COUNT(*) FROM messages WHERE client_message_id = 'key-2'") != 1 {
				t.Errorf("%d created", winners)
			}
			if got, err := r.MessageByClientID(ctx, a, "key-2"); err != nil || got != results[0] {
				t.Errorf("lookup: %+v %v", got, err)
			}
			// 1 + 1 + 2 + 1 stored messages, one push each: a retry announces nothing.
			if ob := outbox(t, db); len(ob) != 5 {
				t.Errorf("outbox rows: %d", len(ob))
			}
		})
	}
}

func TestHistoryPagesBothWaysWithinTheChatOnly(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	a, b, c := newUser(), newUser(), newUser()
	var chat []int64
	for i := range 7 {
		from, to := a, b
		if i%3 == 2 {
			from, to = b, a
		}
		chat = append(chat, send(t, r, from, to, fmt.Sprint("m", i)).ID)
		send(t, r, c, a, "elsewhere") // interleaved messages of another chat never show
	}

	page := func(uid, peer string, p domain.Page) []int64 {
		t.Helper()
		msgs, exists, err := r.History(ctx, uid, peer, p)
		if err != nil || !exists {
			t.Fatalf("history: %v %v", exists, err)
		}
		return idsOf(msgs)
	}
	newest := domain.Page{Direction: domain.Older, Cursor: math.MaxInt64, Limit: 3}
	rev := slices.Clone(chat)
	slices.Reverse(rev)
	// Fetch is one more than the page: the repository returns up to limit+1 in the page's order.
	if got := page(a, b, newest); !slices.Equal(got, rev[:4]) {
		t.Errorf("newest: %v, want %v", got, rev[:4])
	}
	if got := page(b, a, newest); !slices.Equal(got, rev[:4]) {
		t.Errorf("the peer sees the same chat: %v", got)
	}
	if got := page(a, b, domain.Page{Direction: domain.Older, Cursor: chat[4], Limit: 3}); !slices.Equal(got, []int64{chat[3], chat[2], chat[1], chat[0]}) {
		t.Errorf("before %d: %v", chat[4], got)
	}
	if got := page(a, b, domain.Page{Direction: domain.Older, Cursor: chat[1], Limit: 3}); !slices.Equal(got, chat[:1]) {
		t.Errorf("before the second: %v", got)
	}
	if got := page(a, b, domain.Page{Direction: domain.Newer, Cursor: 0, Limit: 3}); !slices.Equal(got, chat[:4]) {
		t.Errorf("from the beginning: %v", got)
	}
	if got := page(b, a, domain.Page{Direction: domain.Newer, Cursor: chat[4], Limit: 3}); !slices.Equal(got, chat[5:]) {
		t.Errorf("after %d: %v", chat[4], got)
	}
	if got := page(a, b, domain.Page{Direction: domain.Newer, Cursor: chat[6], Limit: 3}); len(got) != 0 {
		t.Errorf("after the newest: %v", got)
	}
	if msgs, exists, err := r.History(ctx, b, c, newest); exists || len(msgs) != 0 || err != nil {
		t.Errorf("b and c never talked: %v %v %v", idsOf(msgs), exists, err)
	}
}

func readState(t *testing.T, db *sql.DB, user, peer string) (marker int64, unread int) {
	t.Helper()
	if err := db.QueryRow("SELECT last_read_id, unread_count FROM chat_states WHERE user_id = ? AND peer_id = ?", user, peer).
		Scan(&marker, &unread); err != nil {
		t.Fatal(err)
	}
	return marker, unread
}

func TestReadMarkersMoveForwardOnlyAndStopAtTheNewestMessageToTheReader(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	a, b, c := newUser(), newUser(), newUser()
	m1 := send(t, r, a, b, "1")
	m2 := send(t, r, a, b, "2")
	m3 := send(t, r, b, a, "3 (b's own)")
	m4 := send(t, r, a, b, "4")
	var announced []int64
	markRead := func(reader, peer string, upTo int64) (int64, bool) {
		t.Helper()
		marker, moved, err := r.MarkRead(ctx, reader, peer, upTo, func(marker int64) (broker.Event, error) {
			announced = append(announced, marker)
			return broker.NewPush("test", peer, "message.read", map[string]any{"up_to_id": fmt.Sprint(marker)})
		})
		if err != nil {
			t.Fatal(err)
		}
		return marker, moved
	}
	if _, unread := readState(t, db, b, a); unread != 3 {
		t.Fatalf("b has %d unread", unread)
	}

	steps := []struct {
		name         string
		reader, peer string
		upTo         int64
		marker       int64
		moved        bool
		unread       int
	}{
		{"read the first", b, a, m1.ID, m1.ID, true, 2},
		{"the same again", b, a, m1.ID, m1.ID, false, 2},
		{"up to one's own message: the newest addressed to the reader below it", b, a, m3.ID, m2.ID, true, 1},
		{"an older one: markers never go back", b, a, m1.ID, m2.ID, false, 1},
		{"beyond every id: capped to the newest", b, a, 1 << 50, m4.ID, true, 0},
		{"the other side reads its own chat state", a, b, m4.ID, m3.ID, true, 0},
	}
	for _, s := range steps {
		before := len(announced)
		marker, moved := markRead(s.reader, s.peer, s.upTo)
		stored, unread := readState(t, db, s.reader, s.peer)
		if marker != s.marker || moved != s.moved || stored != s.marker || unread != s.unread {
			t.Errorf("%s: marker %d (stored %d) moved %v unread %d; want %d %v %d", s.name, marker, stored, moved, unread, s.marker, s.moved, s.unread)
		}
		if want := map[bool]int{true: 1, false: 0}[s.moved]; len(announced)-before != want {
			t.Errorf("%s: %d events built", s.name, len(announced)-before)
		}
	}
	// One outbox row per move (4 sends × 1 push before them).
	if n := len(outbox(t, db)); n != 4+4 {
		t.Errorf("outbox rows: %d", n)
	}
	if _, _, err := r.MarkRead(ctx, c, a, m4.ID, nil); !errors.Is(err, app.ErrNoChat) {
		t.Errorf("no chat: %v", err)
	}
	// New messages after the marker count again.
	send(t, r, a, b, "5")
	if _, unread := readState(t, db, b, a); unread != 1 {
		t.Errorf("after a new message: %d", unread)
	}
}

func TestChatListIsMostRecentFirstWithUnreadCounts(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	me, b, c, d := newUser(), newUser(), newUser(), newUser()
	send(t, r, b, me, "b1")
	send(t, r, me, c, "c1")
	send(t, r, c, me, "c2")
	lastB := send(t, r, b, me, "b2")
	send(t, r, d, me, "d1")
	lastD := send(t, r, me, d, "d2")
	lastC := send(t, r, c, me, "c3")

	all, err := r.Chats(ctx, me, domain.Page{Direction: domain.Older, Cursor: math.MaxInt64, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	type line struct {
		peer   string
		last   int64
		unread int
	}
	var got []line
	for _, s := range all {
		got = append(got, line{s.PeerID, s.LastMessage.ID, s.UnreadCount})
	}
	want := []line{{c, lastC.ID, 2}, {d, lastD.ID, 1}, {b, lastB.ID, 2}}
	if !slices.Equal(got, want) {
		t.Errorf("chats\n got %v\nwant %v", got, want)
	}
	if all[0].LastMessage.Text != "c3" || all[0].LastMessage.SenderID != c || all[1].LastMessage.RecipientID != d {
		t.Errorf("last messages %+v", all)
	}
	page, err := r.Chats(ctx, me, domain.Page{Direction: domain.Older, Cursor: lastD.ID, Limit: 1})
	if err != nil || len(page) != 1 || page[0].PeerID != b {
		t.Errorf("page after %d: %+v %v", lastD.ID, page, err)
	}
	// The peer's list has the chat too, from its side.
	theirs, err := r.Chats(ctx, d, domain.Page{Direction: domain.Older, Cursor: math.MaxInt64, Limit: 10})
	if err != nil || len(theirs) != 1 || theirs[0].PeerID != me || theirs[0].UnreadCount != 1 {
		t.Errorf("d's list %+v %v", theirs, err)
	}
}

func TestUnreadAcrossChatsOldestFirstWithTheTotal(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	me, b, c := newUser(), newUser(), newUser()
	if msgs, total, err := r.Unread(ctx, me, 100); len(msgs) != 0 || total != 0 || err != nil {
		t.Fatalf("nothing yet: %v %d %v", msgs, total, err)
	}
	var toMe []int64
	for i := range 6 {
		from := b
		if i%2 == 1 {
			from = c
		}
		toMe = append(toMe, send(t, r, from, me, fmt.Sprint(i)).ID)
		send(t, r, me, from, "my reply") // never unread for me
	}
	msgs, total, err := r.Unread(ctx, me, 4)
	if err != nil || total != 6 || !slices.Equal(idsOf(msgs), toMe[:4]) {
		t.Errorf("unread %v total %d %v; want %v", idsOf(msgs), total, err, toMe[:4])
	}
	if msgs[0].SenderID != b || msgs[0].RecipientID != me || msgs[0].Text != "0" {
		t.Errorf("first %+v", msgs[0])
	}
	// Reading b's chat up to its second message leaves b's third and all of c's.
	if _, _, err := r.MarkRead(ctx, me, b, toMe[2], func(m int64) (broker.Event, error) {
		return broker.NewPush("test", b, "message.read", m)
	}); err != nil {
		t.Fatal(err)
	}
	msgs, total, err = r.Unread(ctx, me, 100)
	if want := []int64{toMe[1], toMe[3], toMe[4], toMe[5]}; err != nil || total != 4 || !slices.Equal(idsOf(msgs), want) {
		t.Errorf("after reading b's chat: %v total %d %v; want %v", idsOf(msgs), total, err, want)
	}
	// b's and c's own view: my replies are unread for them.
	if _, total, _ := r.Unread(ctx, b, 100); total != 3 {
		t.Errorf("b's unread: %d", total)
	}
}

// TestConcurrentSendsKeepOneOrder sends at once from both participants of a new chat, the sender from two
// devices, and a third user into one of the same users' other chats. Each device sends one message after
// the other (waiting for the answer), as a client does.
func TestConcurrentSendsKeepOneOrder(t *testing.T) {
	for name, newRepo := range sendModes {
		t.Run(name, func(t *testing.T) {
			r, db := newRepo(t)
			ctx := context.Background()
			a, b, c := newUser(), newUser(), newUser()
			const perDevice = 15
			devices := []struct{ name, from, to string }{
				{"a-phone", a, b}, {"a-laptop", a, b}, {"b-phone", b, a}, {"c-phone", c, a},
			}
			start := make(chan struct{})
			var wg sync.WaitGroup
			sent := make([][]int64, len(devices))
			for d, dev := range devices {
				wg.Go(func() {
					<-start
					for i := range perDevice {
						m, created, err := r.Send(ctx, message(t, dev.from, dev.to, fmt.Sprintf("%s %02d", dev.name, i), fmt.Sprintf("%s-%d", dev.name, i)), announce)
						if err != nil || !created {
							t.Errorf("%s %d: %v %v", dev.name, i, created, err)
							return
						}
						sent[d] = append(sent[d], m.ID)
					}
				})
			}
			close(start)
			wg.Wait()
			if r.group != nil {
				transactions, sends := groups(t, r)
				t.Logf("%d sends in %d transactions", sends, transactions)
			}
			if t.Failed() {
				return
			}
			for d, ids := range sent {
				if !slices.IsSorted(ids) {
					t.Errorf("%s got decreasing ids %v", devices[d].name, ids)
				}
			}

			all := domain.Page{Direction: domain.Newer, Cursor: 0, Limit: 100}
			history := func(uid, peer string) []domain.Message {
				msgs, _, err := r.History(ctx, uid, peer, all)
				if err != nil {
					t.Fatal(err)
				}
				return msgs
			}
			ofA, ofB := history(a, b), history(b, a)
			if !slices.Equal(idsOf(ofA), idsOf(ofB)) || len(ofA) != 3*perDevice {
				t.Fatalf("the two views differ or lost messages: %d vs %d", len(ofA), len(ofB))
			}
			ids := idsOf(ofA)
			if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
				t.Errorf("ids not strictly increasing: %v", ids)
			}
			// Each device's messages appear in the order the device sent them.
			for _, dev := range devices[:3] {
				var texts []string
				for _, m := range ofA {
					if strings.HasPrefix(m.Text, dev.name+" ") {
						texts = append(texts, m.Text)
					}
				}
				if len(texts) != perDevice || !slices.IsSorted(texts) {
					t.Errorf("%s: %v", dev.name, texts)
				}
			}
			// The pushes of the chat are in the outbox in the chat's order, which is the order the relay publishes
			// them: the ids a participant is pushed increase. That holds only because the chat's row is locked
			// until commit; without it, a later id could commit (and be enqueued) first.
			for _, u := range []string{a, b} {
				var seen []int64
				for _, p := range outbox(t, db) {
					var id int64
					fmt.Sscan(p.MessageID, &id)
					if slices.Contains(broker.PushUsers(p.Key), u) && slices.Contains(ids, id) {
						seen = append(seen, id)
					}
				}
				if !slices.Equal(seen, ids) {
					t.Errorf("pushes to %s out of the chat's order:\n%v\n%v", u, seen, ids)
				}
			}
			if n := count(t, db, "SELECT COUNT(*) FROM chats"); n != 2 {
				t.Errorf("chats: %d (the racing first messages must create one chat)", n)
			}
			if _, unread := readState(t, db, b, a); unread != 2*perDevice {
				t.Errorf("b's unread: %d", unread)
			}
			if _, unread := readState(t, db, a, b); unread != perDevice {
				t.Errorf("a's unread from b: %d", unread)
			}
		})
	}
}

// TestASendWaitsForItsChatSoIDsFollowCommitOrder holds a chat's row locked, as a send in progress does, and
// commits a message under it: a send started meanwhile must wait, and then get the greater id. Were the id
// taken before the lock, the later commit would carry the smaller id, and the chat's order would differ
// between history (ids) and pushes (commits).
func TestASendWaitsForItsChatSoIDsFollowCommitOrder(t *testing.T) {
	for name, newRepo := range sendModes {
		t.Run(name, func(t *testing.T) {
			r, db := newRepo(t)
			ctx := context.Background()
			a, b := newUser(), newUser()
			send(t, r, a, b, "the chat exists")
			k := domain.NewChatKey(a, b)

			tx, err := db.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer tx.Rollback()
			var chatID int64
			if err := tx.QueryRow("SELECT id FROM chats WHERE user_low = ? AND user_high = ? FOR UPDATE", k.Low, k.High).Scan(&chatID); err != nil {
				t.Fatal(err)
			}
			done := make(chan domain.Message, 1)
			go func() {
				m, _, err := r.Send(ctx, message(t, b, a, "started second", ""), announce)
				if err != nil {
					t.Error(err)
				}
				done <- m
			}()
			select {
			case m := <-done:
				t.Fatalf("the send did not wait for its chat: %+v", m)
			case <-time.After(300 * time.Millisecond):
			}
			res, err := tx.Exec("INSERT INTO messages (chat_id, sender_id, recipient_id, text, created_at) VALUES (?, ?, ?, 'committed first', NOW(6))", chatID, a, b)
			if err != nil {
				t.Fatal(err)
			}
			first, _ := res.LastInsertId()
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-done:
				if m.ID <= first {
					t.Errorf("committed second with id %d, below the first commit's %d", m.ID, first)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the send never finished")
			}
		})
	}
}

// What messages knows of a friendship follows the latest friendship by its since, whatever order friends' yes
// and its end of that friendship are written in: an end beats the yes of the same friendship (friends gave the
// yes just before it ended it, and the send that asked for it was slower than the unfriending), and a later
// friendship's yes beats an older end.
func TestKnownFriendshipsFollowTheLatestFriendship(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	k := domain.NewChatKey(newUser(), newUser())
	first := time.Date(2026, 12, 7, 10, 0, 0, 123456000, time.UTC)
	second := first.Add(time.Minute)
	known := func(want bool, step string) {
		t.Helper()
		if got, err := r.KnownFriends(ctx, k); err != nil || got != want {
			t.Fatalf("%s: known %v (%v), want %v", step, got, err, want)
		}
	}
	do := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	known(false, "nothing written")
	do(r.RememberFriends(ctx, k, first))
	known(true, "friends' yes")
	do(r.EndFriendship(ctx, k, first))
	known(false, "the friendship ended")
	do(r.RememberFriends(ctx, k, first))
	known(false, "a late yes about the ended friendship")
	do(r.RememberFriends(ctx, k, second))
	known(true, "a later friendship")
	do(r.EndFriendship(ctx, k, first))
	known(true, "a late end of the older friendship")
	do(r.EndFriendship(ctx, k, second))
	known(false, "the later one ended")

	// An end told before any yes was remembered holds against that yes too.
	other := domain.NewChatKey(newUser(), newUser())
	do(r.EndFriendship(ctx, other, first))
	do(r.RememberFriends(ctx, other, first))
	if got, _ := r.KnownFriends(ctx, other); got {
		t.Fatal("a yes written after the end of its friendship counts")
	}
}
