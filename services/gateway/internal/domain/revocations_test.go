package domain

import (
	"testing"
	"time"
)

var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func TestARevokedSessionIsRefusedUntilItsTokensExpire(t *testing.T) {
	s := NewRevokedSessions()
	s.Revoke("s1", t0.Add(5*time.Minute), t0)

	if !s.IsRevoked("s1", t0) {
		t.Fatal("s1 not revoked right after Revoke")
	}
	if s.IsRevoked("s2", t0) {
		t.Fatal("another session is revoked")
	}
	// Tokens are accepted with some clock skew, so the entry outlives the expiry by the grace.
	if !s.IsRevoked("s1", t0.Add(5*time.Minute+RevocationGrace-time.Second)) {
		t.Fatal("s1 forgotten within the grace after its expiry")
	}
	if s.IsRevoked("s1", t0.Add(5*time.Minute+RevocationGrace)) {
		t.Fatal("s1 still revoked after its tokens expired")
	}
}

func TestRevokingAgainKeepsTheLaterExpiry(t *testing.T) {
	s := NewRevokedSessions()
	s.Revoke("s1", t0.Add(10*time.Minute), t0)
	s.Revoke("s1", t0.Add(time.Minute), t0)
	if !s.IsRevoked("s1", t0.Add(5*time.Minute)) {
		t.Fatal("an earlier expiry shortened the revocation")
	}
}

func TestAlreadyExpiredRevocationsAreNotKept(t *testing.T) {
	s := NewRevokedSessions()
	s.Revoke("old", t0.Add(-time.Hour), t0)
	if s.Len() != 0 {
		t.Fatalf("kept %d entries", s.Len())
	}
}

func TestARevocationWithoutExpiryIsKeptLongerThanAnyToken(t *testing.T) {
	s := NewRevokedSessions()
	s.Revoke("s1", time.Time{}, t0)
	if !s.IsRevoked("s1", t0.Add(DefaultRevocationTTL-time.Second)) {
		t.Fatal("forgotten early")
	}
	if s.IsRevoked("s1", t0.Add(DefaultRevocationTTL)) {
		t.Fatal("kept forever")
	}
}

func TestExpiredEntriesAreSweptSoTheSetStaysSmall(t *testing.T) {
	s := NewRevokedSessions()
	s.Revoke("a", t0.Add(time.Minute), t0)
	s.Revoke("b", t0.Add(time.Hour), t0)
	// A later write sweeps what expired meanwhile.
	s.Revoke("c", t0.Add(2*time.Hour), t0.Add(30*time.Minute))
	if s.Len() != 2 || s.IsRevoked("a", t0.Add(30*time.Minute)) {
		t.Fatalf("after sweep: %d entries", s.Len())
	}
	s.Sweep(t0.Add(3 * time.Hour))
	if s.Len() != 0 {
		t.Fatalf("after a sweep past every expiry: %d entries", s.Len())
	}
}
