package domain

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestSessionIsActiveUntilRevokedOrExpired(t *testing.T) {
	now := time.Now()
	s := Session{ExpiresAt: now.Add(time.Minute)}
	if !s.Active(now) {
		t.Error("a fresh session is not active")
	}
	if s.Active(now.Add(time.Minute)) {
		t.Error("a session is active at its expiry")
	}
	s.RevokedAt = &now
	if s.Active(now) || !s.Revoked() {
		t.Error("a revoked session is active")
	}
}

func TestCleanUserAgent(t *testing.T) {
	long := strings.Repeat("é", MaxUserAgentLength+10)
	if got := CleanUserAgent(long); utf8.RuneCountInString(got) != MaxUserAgentLength {
		t.Errorf("long user agent kept %d code points", utf8.RuneCountInString(got))
	}
	if got := CleanUserAgent("curl/8\xff"); !utf8.ValidString(got) {
		t.Errorf("invalid UTF-8 kept: %q", got)
	}
	if got := CleanUserAgent("Mozilla/5.0"); got != "Mozilla/5.0" {
		t.Errorf("short user agent changed: %q", got)
	}
}
