package domain

import (
	"testing"
	"time"
)

func TestDecideRefresh(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	past := now.Add(-time.Minute)
	live := Session{ID: "s", ExpiresAt: now.Add(time.Hour)}
	revoked := live
	revoked.RevokedAt = &past
	expiredSession := live
	expiredSession.ExpiresAt = now
	fresh := RefreshToken{SessionID: "s", ExpiresAt: now.Add(time.Hour)}
	spent := fresh
	spent.SpentAt = &past
	expired := fresh
	expired.ExpiresAt = now
	spentAndExpired := expired
	spentAndExpired.SpentAt = &past

	for _, tc := range []struct {
		name string
		tok  RefreshToken
		sess Session
		want RefreshOutcome
	}{
		{"unspent token of a live session rotates", fresh, live, RefreshRotate},
		{"spent token presented again is reuse", spent, live, RefreshReuse},
		{"spent token is reuse even after its own expiry", spentAndExpired, live, RefreshReuse},
		{"expired token is refused (at the exact expiry too)", expired, live, RefreshReject},
		{"token of a revoked session is refused", fresh, revoked, RefreshReject},
		{"spent token of a revoked session changes nothing more", spent, revoked, RefreshReject},
		{"token of an expired session is refused", fresh, expiredSession, RefreshReject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := DecideRefresh(tc.tok, tc.sess, now); got != tc.want {
				t.Errorf("DecideRefresh = %v, want %v", got, tc.want)
			}
		})
	}
}
