package authn

import (
	"crypto/ed25519"
	"time"
)

// SetClock makes v read the time from now (the expiry of remembered tokens).
func SetClock(v *Verifier, now func() time.Time) { v.now = now }

// ForgetKeys drops every key v holds, as if none had been fetched.
func ForgetKeys(v *Verifier) {
	v.mu.Lock()
	v.keys = map[string]ed25519.PublicKey{}
	v.mu.Unlock()
}
