package ports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"
	"simplemessenger/platform/events"

	"simplemessenger/services/friends/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (events.UserEntered); UserUpdatedQueue profiles'
// events.UserUpdated.
const (
	UserEnteredQueue = "friends.user-entered"
	UserUpdatedQueue = "friends.user-updated"
	// PresenceQueue takes the gateways' statements about their users' sockets (PresenceKeys).
	PresenceQueue = "friends.presence"
)

// PresenceKeys are the events presence is kept from.
var PresenceKeys = []string{events.UserEntered, events.UserLeft, events.PresenceHeartbeat}

// UserEntered replies to a user's entering the messenger with their pending requests, pushed to the socket
// that opened.
func UserEntered(a *app.Application) broker.Handler { return events.OnUserEntered(a.Entered) }

// UserUpdated tells a user's friends that their profile changed (profile.updated pushes).
func UserUpdated(a *app.Application) broker.Handler {
	return func(ctx context.Context, _ *sql.Tx, ev broker.Event) error {
		var d events.UserData
		if err := ev.Decode(&d); err != nil || d.User.ID == "" {
			return broker.Permanent(fmt.Errorf("malformed %s event %s: %v", ev.Type, ev.ID, err))
		}
		return a.ProfileChanged(ctx, d.User)
	}
}

// Presence keeps the gateways' statements about their users' sockets: a user's entry, their last socket on a
// gateway closing, and the heartbeats that renew them. A statement without a gateway (from a gateway that keeps
// no presence) is skipped; a malformed one is poison.
func Presence(a *app.Application) broker.Handler {
	return func(ctx context.Context, _ *sql.Tx, ev broker.Event) error {
		malformed := func(err error) error {
			if err == nil {
				err = errors.New("a field is missing or out of range")
			}
			return broker.Permanent(fmt.Errorf("malformed %s event %s: %w", ev.Type, ev.ID, err))
		}
		switch ev.Type {
		case events.UserEntered:
			var e events.UserEnteredData
			if err := ev.Decode(&e); err != nil || e.UserID == "" || e.ConnectionID == "" {
				return malformed(err)
			}
			if err := a.Connected(ctx, e, ev.Time); err != nil {
				return err
			}
			return a.PresenceSnapshot(ctx, e)
		case events.UserLeft:
			var e events.UserLeftData
			if err := ev.Decode(&e); err != nil || e.UserID == "" || !e.Valid() {
				return malformed(err)
			}
			return a.Disconnected(ctx, e, ev.Time)
		case events.PresenceHeartbeat:
			var e events.PresenceHeartbeatData
			if err := ev.Decode(&e); err != nil || !e.Valid() || len(e.UserIDs) > events.HeartbeatBatch {
				return malformed(err)
			}
			for _, id := range e.UserIDs {
				if !contract.ValidUserID(id) {
					return malformed(fmt.Errorf("user id %q", id))
				}
			}
			return a.Heartbeat(ctx, e, ev.Time)
		default:
			return broker.Permanent(fmt.Errorf("%s is not a presence event (event %s)", ev.Type, ev.ID))
		}
	}
}
