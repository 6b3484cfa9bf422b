package ports

import (
	"context"
	"database/sql"
	"fmt"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/friends/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (events.UserEntered); UserUpdatedQueue profiles'
// events.UserUpdated.
const (
	UserEnteredQueue = "friends.user-entered"
	UserUpdatedQueue = "friends.user-updated"
)

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
