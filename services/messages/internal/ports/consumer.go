package ports

import (
	"context"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/entry"

	"simplemessenger/services/messages/internal/app"
)

// UserEnteredQueue consumes the gateway's login events (entry.EventType).
const UserEnteredQueue = "messages.user-entered"

// UserEntered answers each entry with the user's unread messages, pushed to the socket that entered.
func UserEntered(a *app.Application) broker.Handler {
	return entry.Handler(func(ctx context.Context, e entry.Entered) error {
		return a.UserEntered(ctx, e.UserID, e.ConnectionID)
	})
}
