// Package entry is the messenger's login event, gateway.user.entered. The gateway publishes it when a user's
// socket opens, after binding the user's push key on its push queue; the services that greet the user (friends
// with the pending requests, messages with the unread messages) reply with a push to that one socket
// (broker.Event.ConnectionID), which therefore cannot be lost.
package entry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"
)

// EventType is the event's type and routing key on the domain exchange.
const EventType = "gateway.user.entered"

// Entered is the event's data.
type Entered struct {
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	// ConnectionID names the socket that opened; replies carry it so that only that socket gets them.
	ConnectionID string `json:"connection_id"`
}

// NewEvent is the event announcing e, from source (the gateway).
func NewEvent(source string, e Entered) (broker.Event, error) {
	if err := e.validate(); err != nil {
		return broker.Event{}, err
	}
	return broker.NewEvent(source, EventType, e)
}

func (e Entered) validate() error {
	if e.UserID == "" || e.ConnectionID == "" {
		// Without a connection a reply would reach every socket of the user, each of which had its own.
		return errors.New("entry: user_id and connection_id are required")
	}
	return nil
}

// Handler is the consumer of the event that calls reply for each entry. Events that cannot be decoded, or
// lack the user or the connection, are poison (broker.Permanent): no redelivery can fix them.
func Handler(reply func(ctx context.Context, e Entered) error) broker.Handler {
	return func(ctx context.Context, _ *sql.Tx, ev broker.Event) error {
		var e Entered
		if err := ev.Decode(&e); err != nil {
			return broker.Permanent(fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err))
		}
		if err := e.validate(); err != nil {
			return broker.Permanent(fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err))
		}
		return reply(ctx, e)
	}
}

// NewReply is the reply of source to the entry e: a push of one frame to the socket that entered only (its
// ConnectionID), for example friends' friends.pending or messages' messages.unread. Publish it directly
// (broker.Conn.Publish): a reply changes nothing, so there is no transaction to enqueue it in, and a reply to
// a socket that has closed again reaches nobody, which is no error.
func NewReply(source string, e Entered, frameType string, data any) (broker.Event, error) {
	if err := e.validate(); err != nil {
		return broker.Event{}, err
	}
	push, err := broker.NewPush(source, e.UserID, frameType, data)
	if err != nil {
		return broker.Event{}, err
	}
	push.ConnectionID = e.ConnectionID
	return push, nil
}
