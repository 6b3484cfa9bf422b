package adapters_test

import (
	"context"
	"database/sql"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/events"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/auth/internal/adapters"
	"simplemessenger/services/auth/internal/adapters/migrations"
	"simplemessenger/services/auth/internal/app"
	"simplemessenger/services/auth/internal/domain"
)

// now is a fixed instant at the database's precision (microseconds), so stored times compare equal.
var now = time.Now().UTC().Truncate(time.Microsecond)

func newRepo(t *testing.T) (*adapters.Repository, *sql.DB) {
	return mysqltest.Repository(t, migrations.FS, adapters.NewRepository)
}

// newSession stores a session of user created at created with a fresh refresh token, and returns both.
func newSession(t *testing.T, repo *adapters.Repository, user string, created time.Time) (domain.Session, domain.RefreshToken) {
	t.Helper()
	_, hash := domain.NewRefreshToken()
	s := domain.Session{
		ID: uuid.Must(uuid.NewV7()).String(), UserID: user, CreatedAt: created, LastUsedAt: created,
		ExpiresAt: created.Add(24 * time.Hour), AccessExpiresAt: created.Add(15 * time.Minute),
		UserAgent: "test-agent/1.0", ClientIP: "192.0.2.1",
	}
	tok := domain.RefreshToken{Hash: hash, SessionID: s.ID, CreatedAt: created, ExpiresAt: s.ExpiresAt}
	if err := repo.CreateSession(context.Background(), s, tok); err != nil {
		t.Fatal(err)
	}
	return s, tok
}

func inTx(t *testing.T, repo *adapters.Repository, fn func(app.Tx) error) {
	t.Helper()
	if err := repo.InTx(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// revokedEvents returns the auth.session.revoked events in the outbox.
func revokedEvents(t *testing.T, db *sql.DB) []domain.RevokedSession {
	t.Helper()
	var out []domain.RevokedSession
	for _, o := range brokertest.Outbox(t, db) {
		ev := o.Event
		if ev.Type != events.SessionRevoked {
			continue
		}
		if ev.Source != "auth" {
			t.Errorf("event source %q type %q", ev.Source, ev.Type)
		}
		var data domain.RevokedSession
		if err := ev.Decode(&data); err != nil {
			t.Fatal(err)
		}
		out = append(out, data)
	}
	return out
}

func TestSessionIsStoredWithItsRefreshToken(t *testing.T) {
	repo, _ := newRepo(t)
	ctx := context.Background()
	s, tok := newSession(t, repo, "user-1", now)

	inTx(t, repo, func(tx app.Tx) error {
		got, found, err := tx.LockSession(ctx, s.ID)
		if err != nil || !found {
			t.Fatalf("session: found %v, err %v", found, err)
		}
		got.LastUsedAt, got.CreatedAt = got.LastUsedAt.UTC(), got.CreatedAt.UTC()
		got.ExpiresAt, got.AccessExpiresAt = got.ExpiresAt.UTC(), got.AccessExpiresAt.UTC()
		if got.ID != s.ID || got.UserID != s.UserID || !got.CreatedAt.Equal(s.CreatedAt) || !got.ExpiresAt.Equal(s.ExpiresAt) ||
			!got.AccessExpiresAt.Equal(s.AccessExpiresAt) || got.UserAgent != s.UserAgent || got.ClientIP != s.ClientIP || got.Revoked() {
			t.Errorf("stored session %+v, want %+v", got, s)
		}
		gotTok, found, err := tx.LockRefreshToken(ctx, tok.Hash)
		if err != nil || !found {
			t.Fatalf("refresh token: found %v, err %v", found, err)
		}
		if gotTok.Hash != tok.Hash || gotTok.SessionID != s.ID || !gotTok.ExpiresAt.Equal(tok.ExpiresAt) || gotTok.SpentAt != nil {
			t.Errorf("stored token %+v, want %+v", gotTok, tok)
		}
		_, found, err = tx.LockRefreshToken(ctx, domain.RefreshTokenHash{1})
		if err != nil || found {
			t.Errorf("unknown token: found %v, err %v", found, err)
		}
		_, found, err = tx.LockSession(ctx, uuid.NewString())
		if err != nil || found {
			t.Errorf("unknown session: found %v, err %v", found, err)
		}
		return nil
	})
}

func TestRotationSpendsTheTokenAndMovesTheSessionOn(t *testing.T) {
	repo, _ := newRepo(t)
	ctx := context.Background()
	s, tok := newSession(t, repo, "user-1", now)
	later := now.Add(time.Hour)
	_, nextHash := domain.NewRefreshToken()
	next := domain.RefreshToken{Hash: nextHash, SessionID: s.ID, CreatedAt: later, ExpiresAt: later.Add(48 * time.Hour)}

	inTx(t, repo, func(tx app.Tx) error {
		if err := tx.SpendRefreshToken(ctx, tok.Hash, later); err != nil {
			return err
		}
		if err := tx.InsertRefreshToken(ctx, next); err != nil {
			return err
		}
		s.LastUsedAt, s.ExpiresAt, s.AccessExpiresAt = later, next.ExpiresAt, later.Add(15*time.Minute)
		return tx.SaveSessionUse(ctx, s)
	})

	inTx(t, repo, func(tx app.Tx) error {
		spent, _, _ := tx.LockRefreshToken(ctx, tok.Hash)
		if spent.SpentAt == nil || !spent.SpentAt.Equal(later) {
			t.Errorf("old token spent at %v, want %v", spent.SpentAt, later)
		}
		fresh, found, _ := tx.LockRefreshToken(ctx, next.Hash)
		if !found || fresh.SpentAt != nil {
			t.Errorf("new token: found %v spent %v", found, fresh.SpentAt)
		}
		got, _, _ := tx.LockSession(ctx, s.ID)
		if !got.LastUsedAt.Equal(later) || !got.ExpiresAt.Equal(next.ExpiresAt) || !got.AccessExpiresAt.Equal(s.AccessExpiresAt) {
			t.Errorf("session after use: last used %v expires %v access %v", got.LastUsedAt, got.ExpiresAt, got.AccessExpiresAt)
		}
		return nil
	})
}

func TestRevokingASessionEnqueuesOneEvent(t *testing.T) {
	repo, db := newRepo(t)
	ctx := context.Background()
	s, _ := newSession(t, repo, "user-1", now)
	other, _ := newSession(t, repo, "user-1", now.Add(time.Second))

	for range 2 { // the second revocation of the same session is a no-op: no second event
		inTx(t, repo, func(tx app.Tx) error { return tx.RevokeSession(ctx, s, now.Add(time.Minute)) })
	}

	events := revokedEvents(t, db)
	if len(events) != 1 {
		t.Fatalf("%d revoked events, want 1", len(events))
	}
	if events[0].SessionID != s.ID || events[0].UserID != "user-1" || !events[0].ExpiresAt.Equal(s.AccessExpiresAt) {
		t.Errorf("event %+v, want session %s user-1 expiring %v", events[0], s.ID, s.AccessExpiresAt)
	}
	if ok, err := repo.SessionInUse(ctx, "user-1", s.ID); ok || err != nil {
		t.Errorf("revoked session in use: %v %v", ok, err)
	}
	if ok, err := repo.SessionInUse(ctx, "user-1", other.ID); !ok || err != nil {
		t.Errorf("the user's other session not in use: %v %v", ok, err)
	}
	if ok, _ := repo.SessionInUse(ctx, "user-2", other.ID); ok {
		t.Error("a session is in use for another user")
	}
}

func TestActiveSessionsAreTheUsersLiveOnesNewestFirst(t *testing.T) {
	repo, _ := newRepo(t)
	ctx := context.Background()
	older, _ := newSession(t, repo, "user-1", now.Add(-time.Hour))
	newer, _ := newSession(t, repo, "user-1", now)
	revoked, _ := newSession(t, repo, "user-1", now)
	newSession(t, repo, "user-2", now)
	expired, _ := newSession(t, repo, "user-1", now.Add(-25*time.Hour)) // refresh expired an hour ago
	inTx(t, repo, func(tx app.Tx) error { return tx.RevokeSession(ctx, revoked, now) })

	list, err := repo.ActiveSessions(ctx, "user-1", now)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	if len(ids) != 2 || ids[0] != newer.ID || ids[1] != older.ID {
		t.Errorf("active sessions %v, want [%s %s] (not %s revoked, not %s expired)", ids, newer.ID, older.ID, revoked.ID, expired.ID)
	}
	locked := 0
	inTx(t, repo, func(tx app.Tx) error {
		l, err := tx.LockUserSessions(ctx, "user-1")
		locked = len(l)
		return err
	})
	if locked != 3 { // unrevoked, expired or not
		t.Errorf("LockUserSessions locked %d sessions, want 3", locked)
	}
}

func TestRevokedSessionsAreListedWhileTheirTokensMayLive(t *testing.T) {
	repo, _ := newRepo(t)
	ctx := context.Background()
	recent, _ := newSession(t, repo, "user-1", now.Add(-time.Minute)) // access until now+14m
	old, _ := newSession(t, repo, "user-1", now.Add(-2*time.Hour))    // access expired 1h45m ago
	live, _ := newSession(t, repo, "user-1", now)                     // not revoked
	inTx(t, repo, func(tx app.Tx) error {
		if err := tx.RevokeSession(ctx, recent, now); err != nil {
			return err
		}
		return tx.RevokeSession(ctx, old, now.Add(-time.Hour-50*time.Minute))
	})
	list, err := repo.RevokedSessions(ctx, now.Add(-16*time.Minute), now)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].SessionID != recent.ID || list[0].UserID != "user-1" || !list[0].ExpiresAt.Equal(recent.AccessExpiresAt) {
		t.Errorf("revoked sessions %+v, want only %s (not %s, long expired, nor %s, live)", list, recent.ID, old.ID, live.ID)
	}
}

func TestLoginFailuresAreCountedPerKeyNewestFirst(t *testing.T) {
	repo, _ := newRepo(t)
	ctx := context.Background()
	alice, bob, addr := domain.AccountKey("alice"), domain.AccountKey("bob"), throttle.AddressKey("192.0.2.1")
	for i := range 4 {
		if err := repo.RecordFailure(ctx, now.Add(time.Duration(i-3)*time.Minute), alice, addr); err != nil {
			t.Fatal(err)
		}
	}
	if err := repo.RecordFailure(ctx, now, bob, addr); err != nil {
		t.Fatal(err)
	}

	got, err := repo.RecentFailures(ctx, alice, now.Add(-150*time.Second), 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || !got[0].Equal(now) || !got[2].Equal(now.Add(-2*time.Minute)) {
		t.Errorf("alice's failures since 2.5 min ago: %v, want 3, newest (%v) first", got, now)
	}
	if got, _ := repo.RecentFailures(ctx, addr, now.Add(-time.Hour), 3); len(got) != 3 {
		t.Errorf("limit 3 returned %d", len(got))
	}

	if err := repo.ClearFailures(ctx, alice); err != nil {
		t.Fatal(err)
	}
	if got, _ := repo.RecentFailures(ctx, alice, now.Add(-time.Hour), 10); len(got) != 0 {
		t.Errorf("alice's failures after clearing: %d", len(got))
	}
	if got, _ := repo.RecentFailures(ctx, addr, now.Add(-time.Hour), 10); len(got) != 5 {
		t.Errorf("clearing the account cleared the address: %d left, want 5", len(got))
	}
	if got, _ := repo.RecentFailures(ctx, bob, now.Add(-time.Hour), 10); len(got) != 1 {
		t.Errorf("clearing alice cleared bob: %d left", len(got))
	}
}

func TestPurgeDeletesOnlyWhatNoRuleNeeds(t *testing.T) {
	repo, db := newRepo(t)
	ctx := context.Background()
	key := domain.AccountKey("alice")
	_ = repo.RecordFailure(ctx, now.Add(-time.Hour), key)
	_ = repo.RecordFailure(ctx, now, key)
	gone, goneTok := newSession(t, repo, "user-1", now.Add(-72*time.Hour)) // refresh expired 2 days ago
	kept, keptTok := newSession(t, repo, "user-1", now)

	n, err := repo.Purge(ctx, now.Add(-15*time.Minute), now, now.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("purged %d rows, want 3 (a failure, a token, a session)", n)
	}
	if got, _ := repo.RecentFailures(ctx, key, now.Add(-24*time.Hour), 10); len(got) != 1 {
		t.Errorf("%d failures left, want the recent one", len(got))
	}
	count := func(q string, args ...any) int {
		var c int
		if err := db.QueryRow(q, args...).Scan(&c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	if count(`SELECT COUNT(*) FROM sessions WHERE id = ?`, gone.ID) != 0 || count(`SELECT COUNT(*) FROM sessions WHERE id = ?`, kept.ID) != 1 {
		t.Error("purge deleted the wrong sessions")
	}
	if count(`SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?`, goneTok.Hash[:]) != 0 ||
		count(`SELECT COUNT(*) FROM refresh_tokens WHERE token_hash = ?`, keptTok.Hash[:]) != 1 {
		t.Error("purge deleted the wrong refresh tokens")
	}
}

func TestSigningKeyIsCreatedOnceWhenReplicasStartTogether(t *testing.T) {
	_, db := newRepo(t)
	const replicas = 8
	ids := make([]string, replicas)
	errs := make([]error, replicas)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			k, err := adapters.LoadOrCreateSigningKey(context.Background(), db)
			ids[i], errs[i] = k.ID, err
		}()
	}
	close(start)
	wg.Wait()
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if ids[i] != ids[0] {
			t.Errorf("replica %d signs with %s, replica 0 with %s", i, ids[i], ids[0])
		}
	}
	var rows int
	_ = db.QueryRow(`SELECT COUNT(*) FROM signing_keys`).Scan(&rows)
	if rows != 1 {
		t.Errorf("%d signing keys stored, want 1", rows)
	}
	again, err := adapters.LoadOrCreateSigningKey(context.Background(), db)
	if err != nil || again.ID != ids[0] {
		t.Errorf("a restart signs with %s (%v), want %s", again.ID, err, ids[0])
	}
}
