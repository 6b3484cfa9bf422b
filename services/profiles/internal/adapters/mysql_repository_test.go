package adapters

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"image"
	"image/png"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/events"
	"simplemessenger/platform/mysqlx/mysqltest"

	"simplemessenger/services/profiles/internal/adapters/migrations"
	"simplemessenger/services/profiles/internal/app"
	"simplemessenger/services/profiles/internal/domain"
)

func newRepo(t *testing.T) (*MySQLRepository, *sql.DB) {
	return mysqltest.Repository(t, migrations.FS, NewMySQLRepository)
}

func newUser(t *testing.T, nickname string) domain.User {
	t.Helper()
	u, err := domain.NewUser(uuid.Must(uuid.NewV7()).String(), nickname, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func mustCreate(t *testing.T, r *MySQLRepository, nicknames ...string) []domain.User {
	t.Helper()
	var users []domain.User
	for _, n := range nicknames {
		u := newUser(t, n)
		if err := r.Create(context.Background(), u, "hash-of-"+n, event(events.UserRegistered)); err != nil {
			t.Fatalf("create %s: %v", n, err)
		}
		users = append(users, u)
	}
	return users
}

// event builds the same events the application does.
func event(typ string) app.EventFunc {
	return func(u domain.User) (broker.Event, error) {
		return broker.NewEvent(app.Source, typ, events.UserData{User: app.NewPublicProfile(u)})
	}
}

func failingEvent(domain.User) (broker.Event, error) { return broker.Event{}, errors.New("boom") }

type outboxRow struct {
	Type  string
	Event broker.Event
}

func outbox(t *testing.T, db *sql.DB) []outboxRow {
	t.Helper()
	var out []outboxRow
	for _, o := range brokertest.Outbox(t, db) {
		out = append(out, outboxRow{Type: o.Event.Type, Event: o.Event})
	}
	return out
}

func eventUser(t *testing.T, ev broker.Event) events.Profile {
	t.Helper()
	var d events.UserData
	if err := ev.Decode(&d); err != nil {
		t.Fatal(err)
	}
	return d.User
}

func TestCreateStoresTheUserAndItsRegisteredEventTogether(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	u := mustCreate(t, r, "Alice")[0]

	got, err := r.Get(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got != u {
		t.Errorf("stored %+v, read back %+v", u, got)
	}
	byNick, hash, err := r.Credentials(ctx, "alice")
	if err != nil || byNick.ID != u.ID || hash != "hash-of-Alice" {
		t.Errorf("credentials: %+v %q %v", byNick, hash, err)
	}
	ob := outbox(t, db)
	if len(ob) != 1 || ob[0].Type != events.UserRegistered || ob[0].Event.Source != "profiles" {
		t.Fatalf("outbox: %+v", ob)
	}
	if p := eventUser(t, ob[0].Event); p.ID != u.ID || p.Nickname != "Alice" || p.DisplayName != "Alice" {
		t.Errorf("event user %+v", p)
	}
	if _, err := r.Get(ctx, uuid.NewString()); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, _, err := r.Credentials(ctx, "bob"); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("unknown nickname: %v", err)
	}
}

func TestGetManyReturnsTheUsersThatExist(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	users := mustCreate(t, r, "ann", "ben", "cat")
	if got, err := r.GetMany(ctx, []string{uuid.NewString()}); err != nil || len(got) != 0 {
		t.Errorf("unknown id only: %+v, %v", got, err)
	}
	got, err := r.GetMany(ctx, []string{users[2].ID, uuid.NewString(), users[0].ID})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]domain.User{}
	for _, u := range got {
		byID[u.ID] = u
	}
	if len(got) != 2 || byID[users[0].ID] != users[0] || byID[users[2].ID] != users[2] {
		t.Errorf("want ann and cat as stored, got %+v", got)
	}
}

func TestNicknamesAreUniqueWhateverTheirCase(t *testing.T) {
	r, db := newRepo(t)
	mustCreate(t, r, "Alice")
	err := r.Create(context.Background(), newUser(t, "aLICE"), "h", event(events.UserRegistered))
	if !errors.Is(err, app.ErrNicknameTaken) {
		t.Fatalf("want ErrNicknameTaken, got %v", err)
	}
	if n := len(outbox(t, db)); n != 1 {
		t.Errorf("the refused registration must leave no event; outbox has %d rows", n)
	}
}

func TestAFailedTransactionWritesNeitherChangeNorEvent(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	// The event cannot be built: the user row must not stay behind without it.
	if err := r.Create(ctx, newUser(t, "ghost"), "h", failingEvent); err == nil {
		t.Fatal("want an error")
	}
	if _, _, err := r.Credentials(ctx, "ghost"); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("the user was stored without its event: %v", err)
	}
	u := mustCreate(t, r, "bob")[0]
	bio := "new"
	_, err := r.UpdateProfile(ctx, u.ID, func(u *domain.User) (bool, error) {
		return (domain.ProfileUpdate{Bio: &bio}).Apply(u), nil
	}, failingEvent)
	if err == nil {
		t.Fatal("want an error")
	}
	if got, _ := r.Get(ctx, u.ID); got.Bio != "" {
		t.Errorf("bio changed to %q without its event", got.Bio)
	}
	if _, err := r.SetAvatar(ctx, u.ID, avatar(t, 2), failingEvent); err == nil {
		t.Fatal("want an error")
	}
	if _, err := r.Avatar(ctx, u.ID); !errors.Is(err, app.ErrAvatarNotFound) {
		t.Errorf("avatar stored without its event: %v", err)
	}
	if ob := outbox(t, db); len(ob) != 1 {
		t.Errorf("only bob's registration should be in the outbox: %+v", ob)
	}
}

func TestUpdateProfileWritesAnEventOnlyForARealChange(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	u := mustCreate(t, r, "carol")[0]
	dn, bio := "Carol C.", "hi"
	upd := domain.ProfileUpdate{DisplayName: &dn, Bio: &bio}
	got, err := r.UpdateProfile(ctx, u.ID, func(u *domain.User) (bool, error) { return upd.Apply(u), nil }, event(events.UserUpdated))
	if err != nil || got.DisplayName != dn || got.Bio != bio {
		t.Fatalf("%+v %v", got, err)
	}
	if stored, _ := r.Get(ctx, u.ID); stored != got {
		t.Errorf("stored %+v, returned %+v", stored, got)
	}
	// The same values again: nothing changes, nothing is announced.
	if _, err := r.UpdateProfile(ctx, u.ID, func(u *domain.User) (bool, error) { return upd.Apply(u), nil }, event(events.UserUpdated)); err != nil {
		t.Fatal(err)
	}
	ob := outbox(t, db)
	if len(ob) != 2 || ob[1].Type != events.UserUpdated || eventUser(t, ob[1].Event).Bio != "hi" {
		t.Errorf("outbox %+v", ob)
	}
	if _, err := r.UpdateProfile(ctx, uuid.NewString(), func(*domain.User) (bool, error) { return true, nil }, event(events.UserUpdated)); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func TestChangePasswordIsACompareAndSwap(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	u := mustCreate(t, r, "dave")[0]
	ev, _ := broker.NewEvent(app.Source, events.PasswordChanged, events.PasswordChangedData{UserID: u.ID, SessionID: "s1"})
	if err := r.ChangePassword(ctx, u.ID, "stale-hash", "new-hash", ev); !errors.Is(err, app.ErrPasswordChanged) {
		t.Fatalf("want ErrPasswordChanged, got %v", err)
	}
	if err := r.ChangePassword(ctx, u.ID, "hash-of-dave", "new-hash", ev); err != nil {
		t.Fatal(err)
	}
	if h, _ := r.PasswordHash(ctx, u.ID); h != "new-hash" {
		t.Errorf("hash %q", h)
	}
	ob := outbox(t, db)
	if len(ob) != 2 || ob[1].Type != events.PasswordChanged {
		t.Fatalf("outbox %+v", ob)
	}
	var d events.PasswordChangedData
	if err := ob[1].Event.Decode(&d); err != nil || d != (events.PasswordChangedData{UserID: u.ID, SessionID: "s1"}) {
		t.Errorf("data %+v %v", d, err)
	}
	ev2, _ := broker.NewEvent(app.Source, events.PasswordChanged, events.PasswordChangedData{UserID: "x", SessionID: "s1"})
	if err := r.ChangePassword(ctx, uuid.NewString(), "a", "b", ev2); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func avatar(t *testing.T, size int) domain.Avatar {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, image.NewGray(image.Rect(0, 0, size, size))); err != nil {
		t.Fatal(err)
	}
	a, err := domain.NewAvatar("image/png", b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestAvatarSetReplaceGetDelete(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	u := mustCreate(t, r, "erin")[0]
	if _, err := r.AvatarInfo(ctx, u.ID); !errors.Is(err, app.ErrAvatarNotFound) {
		t.Fatalf("no avatar yet: %v", err)
	}

	a1, a2 := avatar(t, 2), avatar(t, 3)
	got, err := r.SetAvatar(ctx, u.ID, a1, event(events.UserUpdated))
	if err != nil || !got.HasAvatar() {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := r.SetAvatar(ctx, u.ID, a2, event(events.UserUpdated)); err != nil {
		t.Fatal(err)
	}
	stored, err := r.Avatar(ctx, u.ID)
	if err != nil || !bytes.Equal(stored.Data, a2.Data) || stored.ETag != a2.ETag || stored.ContentType != "image/png" {
		t.Fatalf("stored %v %q %q, err %v", len(stored.Data), stored.ETag, stored.ContentType, err)
	}
	info, err := r.AvatarInfo(ctx, u.ID)
	if err != nil || info.ETag != a2.ETag || info.Data != nil {
		t.Errorf("info %+v %v", info, err)
	}
	if p, _ := r.Get(ctx, u.ID); !p.HasAvatar() {
		t.Error("has_avatar false after upload")
	}

	if err := r.DeleteAvatar(ctx, u.ID, event(events.UserUpdated)); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Avatar(ctx, u.ID); !errors.Is(err, app.ErrAvatarNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if p, _ := r.Get(ctx, u.ID); p.HasAvatar() {
		t.Error("has_avatar true after delete")
	}
	// Deleting again is fine and announces nothing.
	if err := r.DeleteAvatar(ctx, u.ID, event(events.UserUpdated)); err != nil {
		t.Fatal(err)
	}
	ob := outbox(t, db)
	if len(ob) != 4 {
		t.Fatalf("want registered + 2 sets + 1 delete, got %+v", ob)
	}
	if !eventUser(t, ob[1].Event).HasAvatar || eventUser(t, ob[3].Event).HasAvatar {
		t.Errorf("events must carry has_avatar as committed: %+v", ob)
	}
	if _, err := r.SetAvatar(ctx, uuid.NewString(), a1, event(events.UserUpdated)); !errors.Is(err, app.ErrUserNotFound) {
		t.Errorf("unknown user: %v", err)
	}
}

func nicknames(users []domain.User) []string {
	out := make([]string, len(users))
	for i, u := range users {
		out[i] = u.Nickname
	}
	return out
}

func TestSearchExactMatchFirstThenPrefixInOrder(t *testing.T) {
	r, _ := newRepo(t)
	ctx := context.Background()
	mustCreate(t, r, "bobby", "Bob", "bob.z", "BOB_A", "bo.", "alice", "bob-1", "xbob")
	search := func(q string, limit int) []string {
		t.Helper()
		s, err := domain.NewSearch(q, limit, true)
		if err != nil {
			t.Fatal(err)
		}
		users, err := r.Search(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return nicknames(users)
	}
	// "bob" sorts before every longer nickname with its prefix anyway; the point lookup guarantees it.
	if got, want := fmt.Sprint(search("bOb", 50)), "[Bob bob-1 bob.z BOB_A bobby]"; got != want {
		t.Errorf("want %s, got %s", want, got)
	}
	if got, want := fmt.Sprint(search("bob", 2)), "[Bob bob-1]"; got != want {
		t.Errorf("limit: want %s, got %s", want, got)
	}
	if got, want := fmt.Sprint(search("bob", 1)), "[Bob]"; got != want {
		t.Errorf("limit 1: want %s, got %s", want, got)
	}
	if got, want := fmt.Sprint(search("bobb", 50)), "[bobby]"; got != want {
		t.Errorf("prefix without exact match: want %s, got %s", want, got)
	}
	if got := search("zed", 50); len(got) != 0 {
		t.Errorf("no match: %v", got)
	}
}

func TestSearchTreatsLikeWildcardsLiterally(t *testing.T) {
	r, _ := newRepo(t)
	mustCreate(t, r, "a_b", "axb", "a.b", "abc")
	ctx := context.Background()
	search := func(q string) string {
		t.Helper()
		s, err := domain.NewSearch(q, 0, false)
		if err != nil {
			t.Fatal(err)
		}
		users, err := r.Search(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(nicknames(users))
	}
	cases := map[string]string{
		"a_":  "[a_b]", // not "any character"
		"a%":  "[]",    // not "anything"
		"%":   "[]",
		"_":   "[]",
		`a\`:  "[]", // a backslash is a plain character too
		`a\_`: "[]",
		"a!":  "[]", // nor is the escape character special in the query
		"a":   "[a.b a_b abc axb]",
	}
	for q, want := range cases {
		if got := search(q); got != want {
			t.Errorf("%q: want %s, got %s", q, want, got)
		}
	}
}

// TestSearchQueriesUseTheNicknameIndex proves the plan on a table big enough for the optimizer to care: the exact
// match is a point lookup and the prefix a range scan of users_nickname_lower in index order (no filesort), so a
// million users with a common prefix cost no more than LIMIT rows.
func TestSearchQueriesUseTheNicknameIndex(t *testing.T) {
	r, db := newRepo(t)
	ctx := context.Background()
	const n = 3000
	var sb strings.Builder
	args := make([]any, 0, n*3)
	sb.WriteString("INSERT INTO users (id, nickname, display_name, password_hash, created_at, updated_at) VALUES ")
	now := time.Now().UTC()
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(",")
		}
		sb.WriteString("(?, ?, ?, 'h', ?, ?)")
		// Half the users share the prefix "user", as a popular prefix would.
		nick := fmt.Sprintf("user%05d", i)
		if i%2 == 1 {
			nick = fmt.Sprintf("n%05dx", i)
		}
		args = append(args, uuid.NewString(), nick, nick, now, now)
	}
	if _, err := db.ExecContext(ctx, sb.String(), args...); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, "ANALYZE TABLE users"); err != nil {
		t.Fatal(err)
	}

	explain := func(query string, args ...any) mysqltest.PlanRow {
		t.Helper()
		plans := mysqltest.Explain(t, db, query, args...)
		if len(plans) != 1 {
			t.Fatalf("want one table in the plan, got %+v", plans)
		}
		return plans[0]
	}

	if p := explain(searchExact, "user01234"); p.Type != "const" || p.Key != "users_nickname_lower" {
		t.Errorf("exact match must be a point lookup on the unique index: %+v", p)
	}
	p := explain(searchPrefix, domain.LikePrefix("user"), "user", 20)
	t.Logf("prefix plan: %+v", p)
	if p.Type != "range" || p.Key != "users_nickname_lower" {
		t.Errorf("prefix must be a range scan of users_nickname_lower: %+v", p)
	}
	if strings.Contains(strings.ToLower(p.Extra), "filesort") {
		t.Errorf("prefix search must read in index order, not sort: %+v", p)
	}

	s, _ := domain.NewSearch("USER0", 20, true)
	users, err := r.Search(ctx, s)
	if err != nil || len(users) != 20 || users[0].Nickname != "user00000" || users[19].Nickname != "user00038" {
		t.Errorf("got %d users (%v), %v", len(users), nicknames(users), err)
	}
}
