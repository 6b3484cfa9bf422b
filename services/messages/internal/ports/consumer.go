package ports

import (
	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/messages/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (events.UserEntered).
const UserEnteredQueue = "messages.user-entered"

// UserEntered answers each entry with the user's unread messages, pushed to the socket that entered.
func UserEntered(a *app.Application) broker.Handler { return events.OnUserEntered(a.Entered) }
