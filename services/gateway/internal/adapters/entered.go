package adapters

import (
	"context"
	"errors"
	"log/slog"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
)

// EntryPublisher publishes gateway.user.entered directly (with the broker's confirm): there is no database
// change to keep it atomic with, and the socket waits for it.
type EntryPublisher struct {
	Conn *broker.Conn
	Log  *slog.Logger
}

// PublishEntered publishes the event and returns once the broker has confirmed it. An event nobody is bound
// to (friends and messages have never run against this broker) is not a failure: refusing the socket would
// only make the client reconnect in a loop, and no entry reply can come anyway.
func (p EntryPublisher) PublishEntered(ctx context.Context, e events.UserEnteredData) error {
	ev, err := events.NewUserEntered("gateway", e)
	if err != nil {
		return err
	}
	err = p.Conn.Publish(ctx, ev)
	if errors.Is(err, broker.ErrUnroutable) {
		if p.Log != nil {
			p.Log.WarnContext(ctx, "nobody consumes "+events.UserEntered+"; no entry replies will come", "user_id", e.UserID)
		}
		return nil
	}
	return err
}
