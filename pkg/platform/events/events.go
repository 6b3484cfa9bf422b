// Package events is the contract between the services: every event that one service publishes and another
// consumes, with its type (also its routing key on the domain exchange) and its payload. Producer and
// consumer both use these, so neither spells an event's name or shape on its own. Events that no other service
// consumes stay with their producer.
package events

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
)

// The types of the events services exchange.
const (
	// UserEntered: the gateway announces a socket that opened (UserEnteredData); friends and messages greet it.
	UserEntered = "gateway.user.entered"
	// SessionRevoked: auth ended a session (SessionRevokedData); every gateway refuses its tokens and closes
	// its sockets.
	SessionRevoked = "auth.session.revoked"
	// UserRegistered and UserUpdated: profiles has a new user or changed one (UserData); gateways forget a
	// cached profile.
	UserRegistered = "profiles.user.registered"
	UserUpdated    = "profiles.user.updated"
	// PasswordChanged: a user changed their password (PasswordChangedData); auth ends their other sessions.
	PasswordChanged = "profiles.user.password_changed"
	// UserLeft: the last socket of a user on one gateway closed (UserLeftData); PresenceHeartbeat: a gateway
	// still holds sockets of these users (PresenceHeartbeatData). With UserEntered they are what friends keeps
	// presence from.
	UserLeft          = "gateway.user.left"
	PresenceHeartbeat = "gateway.presence.heartbeat"
)

// GatewayPresence is what a gateway's statement about a user's sockets carries besides the user: which gateway
// (one id per process), where the statement stands in that gateway's order (Seq: a later statement about a user
// wins over an earlier one, in whatever order they arrive), and how long it holds unless renewed (LeaseMillis:
// a gateway that dies stops renewing, so its users go offline when their leases run out).
type GatewayPresence struct {
	GatewayID   string `json:"gateway_id,omitempty"`
	Seq         uint64 `json:"seq,omitempty"`
	LeaseMillis int64  `json:"lease_ms,omitempty"`
}

// Valid reports whether the statement can be kept: a gateway that sends none (an older one) is not counted.
func (p GatewayPresence) Valid() bool {
	return p.GatewayID != "" && len(p.GatewayID) <= 64 && p.Seq > 0 && p.LeaseMillis > 0
}

// Lease is how long the statement holds.
func (p GatewayPresence) Lease() time.Duration {
	return time.Duration(p.LeaseMillis) * time.Millisecond
}

// UserLeftData: the user has no socket left on the gateway.
type UserLeftData struct {
	UserID string `json:"user_id"`
	GatewayPresence
}

// PresenceHeartbeatData: the gateway holds sockets of these users (one event for up to HeartbeatBatch users).
type PresenceHeartbeatData struct {
	UserIDs []string `json:"user_ids"`
	GatewayPresence
}

// HeartbeatBatch bounds the users of one heartbeat event.
const HeartbeatBatch = 1000

// SessionRevokedData is what gateways are told about a revoked session: refuse its tokens until ExpiresAt.
type SessionRevokedData struct {
	SessionID string    `json:"session_id"`
	UserID    string    `json:"user_id"`
	ExpiresAt time.Time `json:"expires_at"`
}

// UserData is the payload of UserRegistered and UserUpdated: the user's public profile.
type UserData struct {
	User Profile `json:"user"`
}

// Profile is what anyone may see of a user (the contract's PublicProfile).
type Profile struct {
	ID          string    `json:"id"`
	Nickname    string    `json:"nickname"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	HasAvatar   bool      `json:"has_avatar"`
	CreatedAt   time.Time `json:"created_at"`
}

// PasswordChangedData names the user and the session that changed the password (the one that stays).
type PasswordChangedData struct {
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
}

// UserEnteredData is the messenger's login event. The gateway publishes it when a user's socket opens, after
// binding the user's push key on its push queue; the services that greet the user (friends with the pending
// requests, messages with the unread messages) reply with a push to that one socket (broker.Event.ConnectionID),
// which therefore cannot be lost.
type UserEnteredData struct {
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
	// ConnectionID names the socket that opened; replies carry it so that only that socket gets them.
	ConnectionID string `json:"connection_id"`
	// The user is connected on this gateway (empty from a gateway that keeps no presence).
	GatewayPresence
}

// NewUserEntered is the event announcing e, from source (the gateway).
func NewUserEntered(source string, e UserEnteredData) (broker.Event, error) {
	if err := e.validate(); err != nil {
		return broker.Event{}, err
	}
	return broker.NewEvent(source, UserEntered, e)
}

func (e UserEnteredData) validate() error {
	if e.UserID == "" || e.ConnectionID == "" {
		// Without a connection a reply would reach every socket of the user, each of which had its own.
		return errors.New("events: a user entering needs user_id and connection_id")
	}
	return nil
}

// OnUserEntered is the consumer of UserEntered that calls reply for each entry. Events that cannot be decoded,
// or lack the user or the connection, are poison (broker.Permanent): no redelivery can fix them.
func OnUserEntered(reply func(ctx context.Context, e UserEnteredData) error) broker.Handler {
	return func(ctx context.Context, _ *sql.Tx, ev broker.Event) error {
		var e UserEnteredData
		if err := ev.Decode(&e); err != nil {
			return broker.Permanent(fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err))
		}
		if err := e.validate(); err != nil {
			return broker.Permanent(fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err))
		}
		return reply(ctx, e)
	}
}

// ReplyToEntry is the reply of source to the entry e: a push of one frame to the socket that entered only (its
// ConnectionID), for example friends' friends.pending or messages' messages.unread. Publish it directly
// (broker.Conn.Publish): a reply changes nothing, so there is no transaction to enqueue it in, and a reply to
// a socket that has closed again reaches nobody, which is no error.
func ReplyToEntry(source string, e UserEnteredData, frameType string, data any) (broker.Event, error) {
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
