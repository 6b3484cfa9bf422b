package domain

import (
	"sync"
	"time"
)

// RevocationGrace keeps a revoked session listed a little past the expiry of its last access token, because
// token verification allows that much clock skew.
const RevocationGrace = 10 * time.Second

// DefaultRevocationTTL is how long a revocation without a known token expiry is kept: longer than any access
// token lives.
const DefaultRevocationTTL = time.Hour

// RevokedSessions is the set of sessions whose access tokens must be refused although they still verify.
// An entry is needed only until the session's last access token expires, so the set stays small: it holds the
// sessions revoked within one access-token lifetime.
type RevokedSessions struct {
	mu        sync.RWMutex
	until     map[string]time.Time
	lastSweep time.Time
}

// NewRevokedSessions makes an empty set.
func NewRevokedSessions() *RevokedSessions {
	return &RevokedSessions{until: map[string]time.Time{}}
}

// Revoke lists sessionID until its access tokens expire at expiresAt (zero: unknown). Revoking again keeps
// the later expiry.
func (s *RevokedSessions) Revoke(sessionID string, expiresAt, now time.Time) {
	if sessionID == "" {
		return
	}
	keep := expiresAt.Add(RevocationGrace)
	if expiresAt.IsZero() {
		keep = now.Add(DefaultRevocationTTL)
	}
	if !keep.After(now) {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.until[sessionID]; !ok || keep.After(cur) {
		s.until[sessionID] = keep
	}
	// Sweeping on writes (at most once a minute) bounds the set without a timer goroutine.
	if now.Sub(s.lastSweep) >= time.Minute {
		s.sweepLocked(now)
	}
}

// IsRevoked reports whether tokens of sessionID must be refused at now.
func (s *RevokedSessions) IsRevoked(sessionID string, now time.Time) bool {
	s.mu.RLock()
	until, ok := s.until[sessionID]
	s.mu.RUnlock()
	return ok && now.Before(until)
}

// Len is the number of listed sessions, expired ones not yet swept included.
func (s *RevokedSessions) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.until)
}

// Sweep forgets the sessions whose tokens have all expired.
func (s *RevokedSessions) Sweep(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sweepLocked(now)
}

func (s *RevokedSessions) sweepLocked(now time.Time) {
	for id, until := range s.until {
		if !now.Before(until) {
			delete(s.until, id)
		}
	}
	s.lastSweep = now
}
