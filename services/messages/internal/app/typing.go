package app

import (
	"context"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"
)

// Typing notices are ephemeral: never stored, pushed at once, and shown by the peer's client for TypingTTL
// unless another comes. A sender's notices to one chat are coalesced to one push per TypingInterval (a client
// sends one every few seconds while the user types; the extra calls change nothing). The interval is counted
// per replica: behind N replicas a chat may get up to N pushes an interval, still a handful.
const (
	TypingInterval = 3 * time.Second
	TypingTTL      = 6 * time.Second
)

// TypingData is the data of a typing push: who is typing to the receiver, and for how long to show it.
type TypingData struct {
	PeerID      string `json:"peer_id"`
	ExpiresInMS int64  `json:"expires_in_ms"`
}

// Typing tells peerID that userID is typing in their chat, if they are friends (ErrNotFriends otherwise, or
// ErrUserNotFound for an id that names nobody). pushed is false when the notice was coalesced.
func (a *Application) Typing(ctx context.Context, userID, peerID string) (pushed bool, err error) {
	if !contract.ValidUserID(peerID) || peerID == userID {
		return false, ErrUserNotFound
	}
	key, now := [2]string{userID, peerID}, a.now()
	if _, recent := a.typing.Get(key, now); recent {
		return false, nil
	}
	friends, err := a.areFriends(ctx, userID, peerID)
	if err != nil {
		return false, fmt.Errorf("%w: friends: %v", ErrUnavailable, err)
	}
	if !friends {
		return false, a.notFriends(ctx, peerID)
	}
	push, err := broker.NewPush(Source, peerID, FrameTyping, TypingData{PeerID: userID, ExpiresInMS: TypingTTL.Milliseconds()})
	if err != nil {
		return false, err
	}
	if err := a.pub.Publish(ctx, push); err != nil {
		return false, fmt.Errorf("%w: broker: %v", ErrUnavailable, err)
	}
	a.typing.Put(key, struct{}{}, a.typing.Begin(), now)
	return true, nil
}
