package adapters

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/server/servertest"

	"simplemessenger/services/messages/internal/domain"
)

// busy is how many runs of q are going.
func (q *queue[T]) busy() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running
}

// queued is how many requests wait for a run of q.
func (q *queue[T]) queued() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.waiting)
}

// groupedRepo is a repository that stores concurrent sends together, in one transaction at a time (so that
// every send that comes while one runs joins the next group), and the histogram of its group sizes.
func groupedRepo(t *testing.T) (*MySQLRepository, *sql.DB) {
	t.Helper()
	r, db := newRepo(t)
	if _, err := r.GroupSends(GroupCommit{Max: 64, Transactions: 1}, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	return r, db
}

// groups is how many transactions stored sends, and how many sends they stored.
func groups(t *testing.T, r *MySQLRepository) (transactions, sends uint64) {
	t.Helper()
	var m dto.Metric
	if err := r.group.sizes.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetHistogram().GetSampleCount(), uint64(m.GetHistogram().GetSampleSum())
}

// holdChat locks the chat of a and b, as a send in progress does, until the returned function commits.
func holdChat(t *testing.T, db *sql.DB, a, b string) (release func()) {
	t.Helper()
	k := domain.NewChatKey(a, b)
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tx.Rollback() })
	var id int64
	if err := tx.QueryRow("SELECT id FROM chats WHERE user_low = ? AND user_high = ? FOR UPDATE", k.Low, k.High).Scan(&id); err != nil {
		t.Fatal(err)
	}
	return func() {
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

type sendCall struct {
	m       domain.Message
	ctx     context.Context
	events  func(domain.Message) ([]broker.Event, error)
	stored  domain.Message
	created bool
	err     error
}

// sendAsOneGroup makes the calls' sends wait behind a send that holds the only transaction (its chat is
// locked), then lets them go: they are stored by the next transaction, as one group.
// Each of meanwhile runs once they all wait.
func sendAsOneGroup(t *testing.T, r *MySQLRepository, db *sql.DB, calls []*sendCall, meanwhile ...func()) {
	t.Helper()
	x, y := newUser(), newUser()
	send(t, r, x, y, "the blocker's chat exists")
	release := holdChat(t, db, x, y)
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, _, err := r.Send(context.Background(), message(t, x, y, "blocker", ""), announce); err != nil {
			t.Error(err)
		}
	})
	servertest.Eventually(t, 10*time.Second, func() bool { return r.group.queue.busy() == 1 && r.group.queue.queued() == 0 },
		"the blocker's transaction runs")
	// One at a time, so that they queue in the order of calls.
	for i, c := range calls {
		if c.ctx == nil {
			c.ctx = context.Background()
		}
		if c.events == nil {
			c.events = announce
		}
		wg.Go(func() { c.stored, c.created, c.err = r.Send(c.ctx, c.m, c.events) })
		servertest.Eventually(t, 10*time.Second, func() bool { return r.group.queue.queued() == i+1 }, "%d sends queued", i+1)
	}
	for _, f := range meanwhile {
		f()
	}
	release()
	wg.Wait()
}

// TestAGroupStoresEachSendAsASendAloneWould sends, as one group: two chats' first messages, two more to one of
// them, and a message with a client id. Each is stored with its own id (read back from the table, so the ids
// handed out are the rows'), the chats keep the order the sends came in, the chat states and unread counts are
// those of the sends one by one, and the outbox has each message's push in id order.
func TestAGroupStoresEachSendAsASendAloneWould(t *testing.T) {
	r, db := groupedRepo(t)
	ctx := context.Background()
	a, b, c := newUser(), newUser(), newUser()
	calls := []*sendCall{
		{m: message(t, a, b, "ab 1", "")},
		{m: message(t, c, a, "ca 1", "")},
		{m: message(t, b, a, "ab 2", "")},
		{m: message(t, a, b, "ab 3", "key")},
	}
	beforeTx, beforeSends := groups(t, r)
	sendAsOneGroup(t, r, db, calls)
	afterTx, afterSends := groups(t, r)
	// The blocker's chat's first message and the blocker were each alone in a transaction; the four shared
	// the next one.
	if afterTx-beforeTx != 3 || afterSends-beforeSends != 6 {
		t.Errorf("%d transactions stored %d sends, want 3 storing 1 + 1 + 4", afterTx-beforeTx, afterSends-beforeSends)
	}
	for i, call := range calls {
		if call.err != nil || !call.created {
			t.Fatalf("send %d: created %v, %v", i, call.created, call.err)
		}
		want := call.m
		want.ID = call.stored.ID
		if call.stored != want {
			t.Errorf("send %d answered %+v, want %+v", i, call.stored, want)
		}
		var text string
		if err := db.QueryRow("SELECT text FROM messages WHERE id = ?", call.stored.ID).Scan(&text); err != nil || text != call.m.Text {
			t.Errorf("row of id %d: %q %v, want %q", call.stored.ID, text, err, call.m.Text)
		}
	}
	ab, _, err := r.History(ctx, a, b, domain.Page{Direction: domain.Newer, Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	for _, m := range ab {
		texts = append(texts, m.Text)
	}
	if !slices.Equal(texts, []string{"ab 1", "ab 2", "ab 3"}) || !slices.IsSorted(idsOf(ab)) {
		t.Errorf("chat of a and b: %v (ids %v)", texts, idsOf(ab))
	}
	if first, err := r.MessageByClientID(ctx, a, "key"); err != nil || first != calls[3].stored {
		t.Errorf("by client id: %+v %v", first, err)
	}
	// a's side of the chat with b: one unread (from b); b's: two (from a); c's chat: one for a.
	for _, s := range []struct {
		user, peer   string
		last         int64
		unread, want int
	}{{a, b, calls[3].stored.ID, 0, 1}, {b, a, calls[3].stored.ID, 0, 2}, {a, c, calls[1].stored.ID, 0, 1}, {c, a, calls[1].stored.ID, 0, 0}} {
		var last int64
		if err := db.QueryRow("SELECT last_message_id, unread_count FROM chat_states WHERE user_id = ? AND peer_id = ?", s.user, s.peer).
			Scan(&last, &s.unread); err != nil {
			t.Fatal(err)
		}
		if last != s.last || s.unread != s.want {
			t.Errorf("state of %s with %s: last %d unread %d, want %d and %d", s.user, s.peer, last, s.unread, s.last, s.want)
		}
	}
	var pushedIDs []string
	for _, p := range outbox(t, db)[2:] { // after the blocker's chat's two
		pushedIDs = append(pushedIDs, p.MessageID)
	}
	var sorted []int64
	for _, call := range calls {
		sorted = append(sorted, call.stored.ID)
	}
	slices.Sort(sorted)
	if fmt.Sprint(pushedIDs) != fmt.Sprint(sorted) {
		t.Errorf("pushes %v, want one per message in id order %v", pushedIDs, sorted)
	}
}

// A send's fault is its own: in a group with a retry of a stored message (its client id is taken), a second
// try of the same client message id and a send whose events cannot be built, every other send is stored, the
// retries get the first message, and the broken one alone fails, leaving nothing.
func TestOneSendsFaultInAGroupIsItsOwn(t *testing.T) {
	r, db := groupedRepo(t)
	ctx := context.Background()
	a, b, c := newUser(), newUser(), newUser()
	first, _, err := r.Send(ctx, message(t, a, b, "first", "k1"), announce)
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("no events")
	calls := []*sendCall{
		{m: message(t, a, c, "fine 1", "")},
		{m: message(t, a, b, "first", "k1")}, // a retry of a stored message
		{m: message(t, c, b, "twice", "k2")}, // a new message and its retry, in one group
		{m: message(t, c, b, "twice", "k2")},
		{m: message(t, b, c, "broken", ""), events: func(domain.Message) ([]broker.Event, error) { return nil, broken }},
		{m: message(t, b, a, "fine 2", "")},
	}
	sendAsOneGroup(t, r, db, calls)
	for _, i := range []int{0, 5} {
		if calls[i].err != nil || !calls[i].created {
			t.Errorf("send %d (%s): %v %v", i, calls[i].m.Text, calls[i].created, calls[i].err)
		}
	}
	if calls[1].err != nil || calls[1].created || calls[1].stored != first {
		t.Errorf("retry of a stored message: %+v %v %v, want %+v", calls[1].stored, calls[1].created, calls[1].err, first)
	}
	if calls[2].err != nil || calls[3].err != nil || calls[2].created == calls[3].created || calls[2].stored != calls[3].stored {
		t.Errorf("a message and its retry in one group: %+v %v %v / %+v %v %v", calls[2].stored, calls[2].created, calls[2].err,
			calls[3].stored, calls[3].created, calls[3].err)
	}
	if !errors.Is(calls[4].err, broken) {
		t.Errorf("the broken send: %v, want %v", calls[4].err, broken)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM messages WHERE text = 'broken'"); n != 0 {
		t.Errorf("the broken send left %d messages", n)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM messages WHERE text IN ('fine 1', 'fine 2', 'twice')"); n != 3 {
		t.Errorf("%d of the 3 good messages stored", n)
	}
	// The histogram counts what was stored, and how: the group's rolled-back transaction stored nothing; the
	// first message, the blocker's two and the three good ones were each stored alone.
	if transactions, sends := groups(t, r); transactions != 6 || sends != 6 {
		t.Errorf("%d transactions stored %d sends, want 6 storing one each", transactions, sends)
	}
}

// A send whose caller gave up while it waited for its group is not stored; the others are.
func TestASendGivenUpBeforeItsGroupIsNotStored(t *testing.T) {
	r, db := groupedRepo(t)
	a, b := newUser(), newUser()
	gone, cancel := context.WithCancel(context.Background())
	calls := []*sendCall{{m: message(t, a, b, "given up", ""), ctx: gone}, {m: message(t, b, a, "kept", "")}}
	defer cancel()
	sendAsOneGroup(t, r, db, calls, cancel)
	if !errors.Is(calls[0].err, context.Canceled) || calls[1].err != nil {
		t.Errorf("given up: %v; kept: %v", calls[0].err, calls[1].err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM messages WHERE text = 'given up'"); n != 0 {
		t.Errorf("the given-up send was stored")
	}
}

// Without load there is nothing to wait for: sends one after another are each alone in a transaction.
func TestSendsOneAfterAnotherAreAlone(t *testing.T) {
	r, _ := groupedRepo(t)
	a, b := newUser(), newUser()
	for i := range 3 {
		send(t, r, a, b, fmt.Sprint("alone ", i))
	}
	if transactions, sends := groups(t, r); transactions != 3 || sends != 3 {
		t.Errorf("%d transactions for %d sends, want 3 for 3", transactions, sends)
	}
}

func TestGroupCommitSettingsAreChecked(t *testing.T) {
	for _, g := range []GroupCommit{{Max: 0, Transactions: 1}, {Max: 1001, Transactions: 1}, {Max: 8, Transactions: 0}} {
		if err := g.Validate(); err == nil {
			t.Errorf("%+v accepted", g)
		}
	}
	if err := DefaultGroupCommit().Validate(); err != nil {
		t.Error(err)
	}
}

// Friendship reads asked at once share one statement, and each gets its own pair's answer: a remembered yes, an
// ended friendship, a pair never seen, the same pair twice; a read whose caller gave up gets its context's
// error. Through KnownFriends, many concurrent reads get the same answers.
func TestFriendshipReadsInAGroupGetTheirOwnAnswers(t *testing.T) {
	r, _ := groupedRepo(t)
	ctx := context.Background()
	since := time.Now().Add(-time.Hour)
	friends, ended, unknown := domain.NewChatKey(newUser(), newUser()), domain.NewChatKey(newUser(), newUser()),
		domain.NewChatKey(newUser(), newUser())
	for _, err := range []error{r.RememberFriends(ctx, friends, since), r.RememberFriends(ctx, ended, since), r.EndFriendship(ctx, ended, since)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	want := map[domain.ChatKey]bool{friends: true, ended: false, unknown: false}
	var group []*pendingFriends
	for _, k := range []domain.ChatKey{friends, ended, unknown, friends} {
		group = append(group, &pendingFriends{ctx: ctx, k: k, done: make(chan friendsResult, 1)})
	}
	group = append(group, &pendingFriends{ctx: gone, k: friends, done: make(chan friendsResult, 1)})
	r.readFriends(group)
	for i, p := range group[:4] {
		if res := <-p.done; res.err != nil || res.friends != want[p.k] {
			t.Errorf("read %d: %v %v, want %v", i, res.friends, res.err, want[p.k])
		}
	}
	if res := <-group[4].done; !errors.Is(res.err, context.Canceled) || res.friends {
		t.Errorf("a read given up: %v %v", res.friends, res.err)
	}

	keys := []domain.ChatKey{friends, ended, unknown}
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			k := keys[i%len(keys)]
			if got, err := r.KnownFriends(ctx, k); err != nil || got != want[k] {
				t.Errorf("concurrent read %d: %v %v, want %v", i, got, err, want[k])
			}
		})
	}
	wg.Wait()
}

// The AUTO_INCREMENT settings are read again after a failed read (a database that was down at the first group
// must not turn group commit off for good), and once known they are not read again.
func TestTheIDSettingsAreReadAgainAfterAFailure(t *testing.T) {
	r, db := groupedRepo(t)
	ctx := context.Background()
	closed, err := sql.Open("mysql", "nobody@tcp(127.0.0.1:1)/none")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	if ok, _ := r.group.consecutiveIDs(ctx, closed); ok {
		t.Fatal("ids taken for consecutive without reading the settings")
	}
	var mode int
	if err := db.QueryRow("SELECT @@innodb_autoinc_lock_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	ok, step := r.group.consecutiveIDs(ctx, db)
	if ok != (mode < 2) || (ok && step < 1) {
		t.Fatalf("lock mode %d: consecutive %v, step %d", mode, ok, step)
	}
	if again, _ := r.group.consecutiveIDs(ctx, closed); again != ok {
		t.Error("the settings were read again once known")
	}
}
