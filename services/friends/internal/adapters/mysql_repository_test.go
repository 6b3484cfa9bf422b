package adapters

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/mysqlx/mysqltest"

	"simplemessenger/services/friends/internal/adapters/migrations"
	"simplemessenger/services/friends/internal/domain"
)

// fixture is a repository on a fresh database of the test's own; db is there to look at the outbox.
type fixture struct {
	*MySQLRepository
	db *sql.DB
}

func newFixture(t *testing.T) fixture {
	repo, db := mysqltest.Repository(t, migrations.FS, NewMySQLRepository)
	return fixture{repo, db}
}

// someone is a new user id.
func someone() string { return uuid.Must(uuid.NewV7()).String() }

func pairOf(t *testing.T, a, b string) domain.Pair {
	t.Helper()
	p, err := domain.NewPair(a, b)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// marker is the event a test change writes, so the outbox shows which changes committed.
func marker(t *testing.T, typ string) []broker.Event {
	t.Helper()
	ev, err := broker.NewEvent("test", typ, nil)
	if err != nil {
		t.Fatal(err)
	}
	return []broker.Event{ev}
}

// outcome is what one change did, as seen by its caller.
type outcome struct {
	rel domain.Relationship
	err error
}

// request runs the friends rule "from asks to" at the given time, writing a marker event named after the result.
func (f fixture) request(t *testing.T, from, to string, at time.Time) outcome {
	t.Helper()
	var o outcome
	o.err = f.Change(context.Background(), pairOf(t, from, to), func(cur *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
		next, err := domain.Request(cur, from, to, at)
		if err != nil {
			return nil, nil, err
		}
		o.rel = next
		return &next, marker(t, "test."+string(next.Status)), nil
	})
	return o
}

// remove deletes whatever the pair has, like DELETE /friends/:id.
func (f fixture) remove(t *testing.T, me, other string) error {
	t.Helper()
	return f.Change(context.Background(), pairOf(t, me, other), func(cur *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
		return nil, marker(t, "test.removed"), domain.Remove(cur)
	})
}

func (f fixture) get(t *testing.T, a, b string) *domain.Relationship {
	t.Helper()
	rel, err := f.Get(context.Background(), pairOf(t, a, b))
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

// outboxTypes lists the types of the events written so far, in outbox order.
func (f fixture) outboxTypes(t *testing.T) []string {
	t.Helper()
	var types []string
	for _, o := range brokertest.Outbox(t, f.db) {
		types = append(types, o.Event.Type)
	}
	return types
}

func TestRequestThenAcceptStoresOneRowForThePair(t *testing.T) {
	f := newFixture(t)
	ann, bob := someone(), someone()
	t0 := time.Now().Add(-time.Hour)

	o := f.request(t, bob, ann, t0)
	if o.err != nil {
		t.Fatal(o.err)
	}
	stored := f.get(t, ann, bob)
	if stored == nil || *stored != o.rel || stored.Status != domain.StatusPending || stored.RequesterID != bob {
		t.Fatalf("stored %+v, returned %+v", stored, o.rel)
	}

	t1 := t0.Add(time.Minute)
	err := f.Change(context.Background(), pairOf(t, ann, bob), func(cur *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
		next, err := domain.Accept(cur, ann, bob, t1)
		return &next, marker(t, "test.accepted"), err
	})
	if err != nil {
		t.Fatal(err)
	}
	stored = f.get(t, bob, ann)
	if stored == nil || !stored.Friends() || stored.RequesterID != bob || !stored.Since.Equal(t1.UTC().Truncate(time.Microsecond)) || !stored.CreatedAt.Equal(o.rel.CreatedAt) {
		t.Errorf("accepted: %+v", stored)
	}
	if got := f.outboxTypes(t); !slices.Equal(got, []string{"test.pending", "test.accepted"}) {
		t.Errorf("outbox %v", got)
	}
}

func TestARefusedChangeWritesNothing(t *testing.T) {
	f := newFixture(t)
	ann, bob := someone(), someone()
	f.request(t, ann, bob, time.Now())

	if o := f.request(t, ann, bob, time.Now()); !errors.Is(o.err, domain.ErrAlreadyRequested) {
		t.Errorf("second request: %v", o.err)
	}
	err := f.Change(context.Background(), pairOf(t, ann, bob), func(cur *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
		// The asker cannot decline their own request: nothing may be deleted, no event written.
		return nil, marker(t, "test.declined"), domain.Decline(cur, ann, bob)
	})
	if !errors.Is(err, domain.ErrRequestNotFound) {
		t.Errorf("decline by the asker: %v", err)
	}
	if got := f.get(t, ann, bob); got == nil || got.Status != domain.StatusPending {
		t.Errorf("the request must be untouched: %+v", got)
	}
	if got := f.outboxTypes(t); !slices.Equal(got, []string{"test.pending"}) {
		t.Errorf("outbox %v", got)
	}
}

func TestDeclineAndRemoveDeleteTheRow(t *testing.T) {
	f := newFixture(t)
	ann, bob, cat := someone(), someone(), someone()
	f.request(t, bob, ann, time.Now())
	err := f.Change(context.Background(), pairOf(t, ann, bob), func(cur *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
		return nil, nil, domain.Decline(cur, ann, bob)
	})
	if err != nil || f.get(t, ann, bob) != nil {
		t.Errorf("declined request still there: %v", err)
	}

	f.request(t, ann, cat, time.Now())
	f.request(t, cat, ann, time.Now())
	if err := f.remove(t, cat, ann); err != nil || f.get(t, ann, cat) != nil {
		t.Errorf("removed friendship still there: %v", err)
	}
	if err := f.remove(t, cat, ann); !errors.Is(err, domain.ErrFriendshipNotFound) {
		t.Errorf("removing nothing: %v", err)
	}
	// The pair can start over.
	if o := f.request(t, cat, ann, time.Now()); o.err != nil || o.rel.Status != domain.StatusPending || o.rel.RequesterID != cat {
		t.Errorf("new request after removal: %+v", o)
	}
}

func TestListFiltersFromTheCallersSideNewestFirst(t *testing.T) {
	f := newFixture(t)
	me := someone()
	friendLow, friendHigh, asker, asked, stranger := someone(), someone(), someone(), someone(), someone()
	t0 := time.Now().Add(-time.Hour)
	at := func(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

	// Both sides of the pair ordering occur: me is user_low with some, user_high with others.
	f.request(t, me, friendLow, at(1))
	f.request(t, friendLow, me, at(5)) // accepted at 5
	f.request(t, friendHigh, me, at(2))
	f.request(t, me, friendHigh, at(3)) // accepted at 3
	f.request(t, asker, me, at(4))
	f.request(t, me, asked, at(6))
	f.request(t, asker, stranger, at(7)) // not mine

	list := func(filter domain.Filter) []string {
		t.Helper()
		rels, err := f.List(context.Background(), me, filter)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, rel := range rels {
			out = append(out, rel.Pair.Other(me)+":"+string(rel.ViewOf(me)))
		}
		return out
	}
	cases := map[domain.Filter][]string{
		domain.FilterAll:      {asked + ":outgoing", friendLow + ":accepted", asker + ":incoming", friendHigh + ":accepted"},
		domain.FilterAccepted: {friendLow + ":accepted", friendHigh + ":accepted"},
		domain.FilterIncoming: {asker + ":incoming"},
		domain.FilterOutgoing: {asked + ":outgoing"},
	}
	for filter, want := range cases {
		if got := list(filter); !slices.Equal(got, want) {
			t.Errorf("%s:\n got %v\nwant %v", filter, got, want)
		}
	}
	if rels, err := f.List(context.Background(), someone(), domain.FilterAll); err != nil || len(rels) != 0 {
		t.Errorf("a user without relations: %v %v", rels, err)
	}
}

// TestMutualRequestsRaceToExactlyOneFriendship: A asks B while B asks A, many times over. Whoever commits
// first creates the request, the other turns it into the friendship: one row, accepted, and one answer of each
// kind, never an error.
func TestMutualRequestsRaceToExactlyOneFriendship(t *testing.T) {
	f := newFixture(t)
	const rounds = 40
	for range rounds {
		a, b := someone(), someone()
		var start, done sync.WaitGroup
		start.Add(1)
		results := make([]outcome, 2)
		for i, pair := range [][2]string{{a, b}, {b, a}} {
			done.Go(func() {
				start.Wait()
				results[i] = f.request(t, pair[0], pair[1], time.Now())
			})
		}
		start.Done()
		done.Wait()

		if results[0].err != nil || results[1].err != nil {
			t.Fatalf("errors: %v / %v", results[0].err, results[1].err)
		}
		statuses := []domain.Status{results[0].rel.Status, results[1].rel.Status}
		slices.Sort(statuses)
		if !slices.Equal(statuses, []domain.Status{domain.StatusAccepted, domain.StatusPending}) {
			t.Fatalf("want one request and one acceptance, got %v", statuses)
		}
		stored := f.get(t, a, b)
		if stored == nil || !stored.Friends() {
			t.Fatalf("stored %+v", stored)
		}
		var rows int
		if err := f.db.QueryRow("SELECT COUNT(*) FROM relationships WHERE (user_low = ? AND user_high = ?) OR (user_low = ? AND user_high = ?)", a, b, b, a).Scan(&rows); err != nil || rows != 1 {
			t.Fatalf("rows for the pair: %d %v", rows, err)
		}
	}
	// Exactly the committed changes wrote events: one request and one acceptance per round.
	var pending, accepted int
	for _, typ := range f.outboxTypes(t) {
		switch typ {
		case "test.pending":
			pending++
		case "test.accepted":
			accepted++
		}
	}
	if pending != rounds || accepted != rounds {
		t.Errorf("outbox: %d requests and %d acceptances, want %d of each", pending, accepted, rounds)
	}
}

// TestDuplicateRequestsRaceToOneRequest: the same request sent many times at once is made once; every other
// attempt is told it was already made.
func TestDuplicateRequestsRaceToOneRequest(t *testing.T) {
	f := newFixture(t)
	ann, bob := someone(), someone()
	const senders = 8
	var start, done sync.WaitGroup
	start.Add(1)
	errs := make([]error, senders)
	for i := range senders {
		done.Go(func() {
			start.Wait()
			errs[i] = f.request(t, ann, bob, time.Now()).err
		})
	}
	start.Done()
	done.Wait()
	made, refused := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			made++
		case errors.Is(err, domain.ErrAlreadyRequested):
			refused++
		default:
			t.Errorf("unexpected error: %v", err)
		}
	}
	if made != 1 || refused != senders-1 {
		t.Errorf("made %d, refused %d", made, refused)
	}
	if got := f.outboxTypes(t); !slices.Equal(got, []string{"test.pending"}) {
		t.Errorf("outbox %v", got)
	}
}

// TestListReadsOnlyTheUsersRowsByIndex proves the plan on a table big enough for the optimizer to care: both
// halves of the list are index lookups of the one user, never a scan of everyone's relationships.
func TestListReadsOnlyTheUsersRowsByIndex(t *testing.T) {
	f := newFixture(t)
	users := make([]string, 200)
	for i := range users {
		users[i] = someone()
	}
	var values []string
	var args []any
	now := time.Now().UTC()
	for i, a := range users {
		for _, b := range users[i+1 : min(i+16, len(users))] {
			p := pairOf(t, a, b)
			values = append(values, "(?, ?, ?, 'accepted', ?, ?)")
			args = append(args, p.Low, p.High, a, now, now)
		}
	}
	if _, err := f.db.Exec("INSERT INTO relationships ("+columns+") VALUES "+strings.Join(values, ", "), args...); err != nil {
		t.Fatal(err)
	}
	if _, err := f.db.Exec("ANALYZE TABLE relationships"); err != nil {
		t.Fatal(err)
	}
	for _, filter := range []domain.Filter{domain.FilterAll, domain.FilterIncoming, domain.FilterAccepted} {
		q, qargs := listQuery(users[100], filter)
		halves := 0
		for _, row := range mysqltest.Explain(t, f.db, q, qargs...) {
			if row.Table != "relationships" {
				continue
			}
			halves++
			if row.Type != "ref" || (row.Key != "relationships_by_low" && row.Key != "relationships_by_high" && row.Key != "PRIMARY") {
				t.Errorf("%s: a half of the list reads %+v", filter, row)
			}
		}
		if halves != 2 {
			t.Errorf("%s: want two index lookups, got %d", filter, halves)
		}
	}
	if rels, err := f.List(context.Background(), users[100], domain.FilterAll); err != nil || len(rels) != 30 {
		t.Errorf("user 100 has 30 friends: %d, %v", len(rels), err)
	}
}
