package ports

import (
	"simplemessenger/platform/broker"
	"simplemessenger/platform/entry"

	"simplemessenger/services/messages/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (entry.EventType).
const UserEnteredQueue = "messages.user-entered"

// UserEntered answers each entry with the user's unread messages, pushed to the socket that entered.
func UserEntered(a *app.Application) broker.Handler { return entry.Handler(a.Entered) }
