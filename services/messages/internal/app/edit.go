package app

import (
	"context"
	"fmt"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"

	"simplemessenger/services/messages/internal/domain"
)

// EditMessage changes the text of one of the editor's own messages in their chat with peerID (the id as
// clients write it), and tells both participants (message.edited). The message keeps its id and place; history
// shows edited_at. ErrNotFriends when the two are no longer friends; ErrMessageNotFound for an id that names no
// message of that chat; domain.ErrNotYourMessage for the peer's message; domain.ErrMessageDeleted for a deleted one.
func (a *Application) EditMessage(ctx context.Context, editorID, peerID, rawID, text string) (MessageView, error) {
	// An edit says something new to the peer, so it needs what sending needs: a friendship (a block or an
	// unfriending ends it). A delete only takes words back, and stays allowed.
	if contract.ValidUserID(peerID) {
		friends, err := a.areFriends(ctx, editorID, peerID)
		if err != nil {
			return MessageView{}, fmt.Errorf("%w: friends: %v", ErrUnavailable, err)
		}
		if !friends {
			return MessageView{}, ErrNotFriends
		}
	}
	return a.change(ctx, editorID, peerID, rawID, FrameMessageEdited, func(m domain.Message) (domain.Message, bool, error) {
		return m.Edit(editorID, text, a.now())
	})
}

// DeleteMessage deletes one of the user's own messages in their chat with peerID, for both participants: the
// text is gone and a tombstone stays (deleted_at), so cursors and order hold; message.deleted tells both. If the
// peer had not read it, it leaves their unread count. Deleting it again changes nothing and tells nobody.
func (a *Application) DeleteMessage(ctx context.Context, userID, peerID, rawID string) (MessageView, error) {
	return a.change(ctx, userID, peerID, rawID, FrameMessageDeleted, func(m domain.Message) (domain.Message, bool, error) {
		return m.Delete(userID, a.now())
	})
}

func (a *Application) change(ctx context.Context, userID, peerID, rawID, frame string, change ChangeFunc) (MessageView, error) {
	id, ok := domain.ParseMessageID(rawID)
	if !ok || !contract.ValidUserID(peerID) {
		return MessageView{}, ErrMessageNotFound // names no message of the caller's
	}
	announced := false
	m, err := a.repo.Change(ctx, userID, peerID, id, change, func(m domain.Message) ([]broker.Event, error) {
		announced = true
		return changeEvents(frame, m)
	})
	if err != nil {
		return MessageView{}, err
	}
	if announced {
		a.relay.Notify()
	}
	return NewMessageView(m), nil
}

// changeEvents tell both participants how the message is now (all their sockets), in one pair push.
func changeEvents(frame string, m domain.Message) ([]broker.Event, error) {
	push, err := broker.NewPairPush(Source, m.RecipientID, m.SenderID, frame, NewMessageView(m))
	if err != nil {
		return nil, err
	}
	return []broker.Event{push}, nil
}
