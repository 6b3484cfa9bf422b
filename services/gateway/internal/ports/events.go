package ports

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
)

// EventKeys are the routing keys bound to the gateway's transient queue.
var EventKeys = []string{events.SessionRevoked, events.UserUpdated}

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

// Handle is the broker.Handler of the gateway's subscription.
func (e Events) Handle(_ context.Context, _ *sql.Tx, ev broker.Event) error {
	switch ev.Type {
	case events.SessionRevoked:
		var d events.SessionRevokedData
		if err := ev.Decode(&d); err != nil || d.SessionID == "" {
			return broker.Permanent(fmt.Errorf("malformed %s event %s: %v", ev.Type, ev.ID, err))
		}
		e.Revocations.Revoke(d.SessionID, d.ExpiresAt)
	case events.UserUpdated:
		var d events.UserData
		if err := ev.Decode(&d); err != nil || d.User.ID == "" {
			return broker.Permanent(fmt.Errorf("malformed %s event %s: %v", ev.Type, ev.ID, err))
		}
		if e.Profiles != nil {
			e.Profiles.Invalidate(d.User.ID)
		}
	}
	return nil
}
