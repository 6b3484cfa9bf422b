package ports

import (
	"simplemessenger/platform/broker"
	"simplemessenger/platform/entry"

	"simplemessenger/services/friends/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (entry.EventType).
const UserEnteredQueue = "friends.user-entered"

// UserEntered replies to a user's entering the messenger with their pending requests, pushed to the socket
// that opened.
func UserEntered(a *app.Application) broker.Handler { return entry.Handler(a.Entered) }
