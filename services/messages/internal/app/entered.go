package app

import (
	"context"
	"fmt"

	"simplemessenger/platform/events"

	"simplemessenger/services/messages/internal/domain"
)

// Entered answers a user's entering the messenger on one socket: a messages.unread push to that socket only
// with the oldest unread messages addressed to the user and how many are unread in all. It is sent even when
// nothing is unread, so the client knows it is up to date.
//
// The push is published directly: nothing changes, so there is no transaction to put it in. Messages sent
// while this runs may come both live (message.new) and in the list; clients merge by id.
func (a *Application) Entered(ctx context.Context, e events.UserEnteredData) error {
	items, total, err := a.repo.Unread(ctx, e.UserID, domain.UnreadOnEntry)
	if err != nil {
		return fmt.Errorf("unread of %s: %w", e.UserID, err)
	}
	push, err := events.ReplyToEntry(Source, e, FrameUnread, UnreadData{Items: NewMessageViews(items), Total: total})
	if err != nil {
		return err
	}
	// A push nobody is bound for any more (the socket closed again) is published to nobody, not an error.
	if err := a.pub.Publish(ctx, push); err != nil {
		return fmt.Errorf("publish %s: %w", FrameUnread, err)
	}
	return nil
}
