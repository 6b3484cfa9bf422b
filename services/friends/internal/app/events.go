package app

import (
	"encoding/json"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/friends/internal/domain"
)

// Source is the events' source.
const Source = "friends"

// Domain events (routing keys on the event exchange).
const (
	EventRequestCreated    = "friends.request.created"
	EventFriendshipCreated = "friends.friendship.created"
	EventFriendshipRemoved = "friends.friendship.removed"
)

// Push frame types (to one user, on the push exchange).
const (
	PushRequest  = "friend.request"
	PushAccepted = "friend.accepted"
	PushRemoved  = "friend.removed"
	PushPending  = "friends.pending"
	// PushProfileUpdated goes to a user's friends when the user's public profile changes.
	PushProfileUpdated = "profile.updated"
)

// RequestCreatedData is the data of friends.request.created.
type RequestCreatedData struct {
	FromUserID string `json:"from_user_id"`
	ToUserID   string `json:"to_user_id"`
}

// FriendshipData is the data of friends.friendship.created and .removed: the pair, ordered.
type FriendshipData struct {
	UserIDs [2]string `json:"user_ids"`
}

// UserPushData is the data of friend.request, friend.accepted and friend.removed: the public profile of the
// user who acted, as profiles wrote it.
type UserPushData struct {
	User json.RawMessage `json:"user"`
}

// ProfilePushData is the data of profile.updated: the friend's public profile as it is now.
type ProfilePushData struct {
	User events.Profile `json:"user"`
}

// PendingPushData is the data of friends.pending: the incoming requests as the friends list shows them.
type PendingPushData struct {
	Items []Item `json:"items"`
}

// requestedEvents announce r, a new request: to everyone, and to its addressee with the asker's profile.
func requestedEvents(r domain.Relationship, asker Profile) ([]broker.Event, error) {
	return collect(
		event(EventRequestCreated, RequestCreatedData{FromUserID: r.RequesterID, ToUserID: r.Addressee()}),
		push(r.Addressee(), PushRequest, asker),
	)
}

// befriendedEvents announce r, just accepted by acceptor: to everyone, and to the asker.
func befriendedEvents(r domain.Relationship, acceptor Profile) ([]broker.Event, error) {
	return collect(
		event(EventFriendshipCreated, FriendshipData{UserIDs: [2]string{r.Pair.Low, r.Pair.High}}),
		push(r.RequesterID, PushAccepted, acceptor),
	)
}

// unfriendedEvents announce that remover ended the friendship r: to everyone, and to the other friend.
func unfriendedEvents(r domain.Relationship, remover Profile) ([]broker.Event, error) {
	return collect(
		event(EventFriendshipRemoved, FriendshipData{UserIDs: [2]string{r.Pair.Low, r.Pair.High}}),
		push(r.Pair.Other(remover.ID), PushRemoved, remover),
	)
}

type built struct {
	ev  broker.Event
	err error
}

func event(typ string, data any) built {
	ev, err := broker.NewEvent(Source, typ, data)
	return built{ev, err}
}

func push(to, frame string, actor Profile) built {
	ev, err := broker.NewPush(Source, to, frame, UserPushData{User: actor.Raw})
	return built{ev, err}
}

func collect(bs ...built) ([]broker.Event, error) {
	out := make([]broker.Event, 0, len(bs))
	for _, b := range bs {
		if b.err != nil {
			return nil, b.err
		}
		out = append(out, b.ev)
	}
	return out, nil
}
