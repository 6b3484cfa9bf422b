package ports

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
)

// Event types the gateway listens to (routing keys).
const (
	SessionRevoked = "auth.session.revoked"
	ProfileUpdated = "profiles.user.updated"
)

// EventKeys are the routing keys bound to the gateway's transient queue.
var EventKeys = []string{SessionRevoked, ProfileUpdated}

// Revoker records revoked sessions.
type Revoker interface {
	Revoke(sessionID string, expiresAt time.Time)
}

// ProfileInvalidator forgets cached profiles.
type ProfileInvalidator interface {
	Invalidate(userID string)
}

// Events handles the gateway's events. They only change memory, so no inbox is needed: a redelivery does
// the same thing again.
type Events struct {
	Revocations Revoker
	Profiles    ProfileInvalidator
}

type sessionRevoked struct {
	UserID    string    `json:"user_id"`
	SessionID string    `json:"session_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

type profileUpdated struct {
	User struct {
		ID string `json:"id"`
	} `json:"user"`
}

// Handle is the broker.Handler of the gateway's subscription.
func (e Events) Handle(_ context.Context, _ *sql.Tx, ev broker.Event) error {
	switch ev.Type {
	case SessionRevoked:
		var d sessionRevoked
		if err := ev.Decode(&d); err != nil || d.SessionID == "" {
			return broker.Permanent(fmt.Errorf("malformed %s event %s: %v", ev.Type, ev.ID, err))
		}
		e.Revocations.Revoke(d.SessionID, d.ExpiresAt)
	case ProfileUpdated:
		var d profileUpdated
		if err := ev.Decode(&d); err != nil || d.User.ID == "" {
			return broker.Permanent(fmt.Errorf("malformed %s event %s: %v", ev.Type, ev.ID, err))
		}
		if e.Profiles != nil {
			e.Profiles.Invalidate(d.User.ID)
		}
	}
	return nil
}
