package ports

import (
	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/friends/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (events.UserEntered).
const UserEnteredQueue = "friends.user-entered"

// UserEntered replies to a user's entering the messenger with their pending requests, pushed to the socket
// that opened.
func UserEntered(a *app.Application) broker.Handler { return events.OnUserEntered(a.Entered) }
