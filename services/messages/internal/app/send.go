package app

import (
	"context"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"

	"simplemessenger/services/messages/internal/domain"
)

// SendCommand is a message a user sends; ClientMessageID is the sender's idempotency key (nil: none).
type SendCommand struct {
	SenderID        string
	RecipientID     string
	Text            string
	ClientMessageID *string
}

// Send stores a message to a friend and announces it in the send transaction: message.new to the recipient
// and to the sender (their other sockets). created is false when the sender had already sent this client
// message id: the first message is returned and nothing is written.
func (a *Application) Send(ctx context.Context, cmd SendCommand) (msg MessageView, created bool, err error) {
	m, err := domain.NewMessage(cmd.SenderID, cmd.RecipientID, cmd.Text, cmd.ClientMessageID, a.now())
	if err != nil {
		return MessageView{}, false, err
	}
	if !contract.ValidUserID(m.RecipientID) {
		return MessageView{}, false, ErrUserNotFound
	}
	// A retry of a stored message gets that message, whatever friends says now: it was allowed when it was
	// sent, and every retry must get the same answer. A first send (the common case) pays no read for this:
	// the store is looked at only when friends refuses or cannot answer; when friends allows, the unique key
	// in repo.Send finds the retry, and no concurrent retry can be stored twice.
	friends, err := a.areFriends(ctx, m.SenderID, m.RecipientID)
	if err != nil || !friends {
		if first, ok, lookErr := a.storedRetry(ctx, m); lookErr != nil {
			return MessageView{}, false, lookErr
		} else if ok {
			return first, false, nil
		}
	}
	if err != nil {
		return MessageView{}, false, fmt.Errorf("%w: friends: %v", ErrUnavailable, err)
	}
	if !friends {
		return MessageView{}, false, a.notFriends(ctx, m.RecipientID)
	}
	stored, created, err := a.repo.Send(ctx, m, messageEvents)
	if err != nil {
		return MessageView{}, false, err
	}
	if created {
		a.relay.Notify()
	}
	return NewMessageView(stored), created, nil
}

// storedRetry returns the message the sender already stored under m's client message id, if any.
func (a *Application) storedRetry(ctx context.Context, m domain.Message) (MessageView, bool, error) {
	if m.ClientMessageID == "" {
		return MessageView{}, false, nil
	}
	first, err := a.repo.MessageByClientID(ctx, m.SenderID, m.ClientMessageID)
	if errors.Is(err, ErrMessageNotFound) {
		return MessageView{}, false, nil
	}
	if err != nil {
		return MessageView{}, false, err
	}
	return NewMessageView(first), true, nil
}

// notFriends tells why a message to a non-friend is refused: nobody is there (404), or somebody who is not a
// friend (403). Only refusals pay for the question to profiles; when profiles cannot tell, "not friends" is
// still true and is the answer.
func (a *Application) notFriends(ctx context.Context, recipientID string) error {
	exists, err := a.profiles.Exists(ctx, recipientID)
	if err == nil && !exists {
		return ErrUserNotFound
	}
	return ErrNotFriends
}

// messageEvents are what a new message announces: message.new to every socket of both participants (the
// sender's other devices too), as one pair push: one outbox row, one publish, one delivery to a gateway that has
// both. The push carries the message exactly as the send call answers it, so a client can match the two.
func messageEvents(m domain.Message) ([]broker.Event, error) {
	return changeEvents(FrameMessageNew, m)
}
