package domain

import (
	"time"
	"unicode/utf8"
)

// Session is one login of a user: its refresh tokens rotate inside it, and revoking it ends all of them and,
// through the auth.session.revoked event, its access tokens too.
type Session struct {
	ID         string
	UserID     string
	CreatedAt  time.Time
	LastUsedAt time.Time
	// ExpiresAt is when the session's current refresh token expires; the session cannot be refreshed after.
	ExpiresAt time.Time
	// AccessExpiresAt is the latest expiry of the access tokens issued in the session: a revocation must be
	// enforced by gateways until then.
	AccessExpiresAt time.Time
	UserAgent       string
	ClientIP        string
	RevokedAt       *time.Time
}

// Revoked reports whether the session was ended.
func (s Session) Revoked() bool { return s.RevokedAt != nil }

// Active reports whether the session can still be used: not revoked and its refresh token not expired.
func (s Session) Active(now time.Time) bool { return !s.Revoked() && now.Before(s.ExpiresAt) }

// MaxUserAgentLength bounds the stored User-Agent (in code points); longer ones are cut.
const MaxUserAgentLength = 512

// CleanUserAgent returns ua cut to MaxUserAgentLength code points, with invalid UTF-8 replaced.
func CleanUserAgent(ua string) string {
	if !utf8.ValidString(ua) {
		ua = string([]rune(ua)) // replaces invalid bytes with U+FFFD
	}
	if utf8.RuneCountInString(ua) <= MaxUserAgentLength {
		return ua
	}
	return string([]rune(ua)[:MaxUserAgentLength])
}

// RevokedSession is a revoked session whose access tokens gateways must refuse until ExpiresAt (the list
// they reload; each revocation is also announced as events.SessionRevoked).
type RevokedSession struct {
	SessionID string    `json:"session_id"`
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}
