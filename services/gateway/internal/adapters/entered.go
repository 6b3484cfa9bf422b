package adapters

import (
	"context"
	"errors"
	"log/slog"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
)

// EntryPublisher publishes the gateway's announcements about its sockets directly (with the broker's confirm):
// gateway.user.entered, and the presence statements gateway.user.left and gateway.presence.heartbeat. There is
// no database change to keep them atomic with, and the socket waits for its entry.
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
	return p.publish(ctx, ev, "user_id", e.UserID)
}

// PublishLeft announces that a user's last socket here closed.
func (p EntryPublisher) PublishLeft(ctx context.Context, e events.UserLeftData) error {
	ev, err := broker.NewEvent("gateway", events.UserLeft, e)
	if err != nil {
		return err
	}
	return p.publish(ctx, ev, "user_id", e.UserID)
}

// PublishHeartbeat lists users still connected here.
func (p EntryPublisher) PublishHeartbeat(ctx context.Context, e events.PresenceHeartbeatData) error {
	ev, err := broker.NewEvent("gateway", events.PresenceHeartbeat, e)
	if err != nil {
		return err
	}
	return p.publish(ctx, ev, "users", len(e.UserIDs))
}

func (p EntryPublisher) publish(ctx context.Context, ev broker.Event, attrs ...any) error {
	err := p.Conn.Publish(ctx, ev)
	if errors.Is(err, broker.ErrUnroutable) {
		if p.Log != nil {
			p.Log.WarnContext(ctx, "nobody consumes "+ev.Type, attrs...)
		}
		return nil
	}
	return err
}
