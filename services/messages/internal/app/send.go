package app

import (
	"context"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"

	"simplemessenger/services/messages/internal/domain"
)

// SendCommand is a message a user sends; ClientMessageID is the sender's idempotency key (nil: none).
type SendCommand struct {
	SenderID        string
	RecipientID     string
	Text            string
	ClientMessageID *string
}

// Send stores a message to a friend and announces it: message.new to the recipient and to the sender (their
// other sockets), and messages.message.created, all in the send transaction. created is false when the
// sender had already sent this client message id: the first message is returned and nothing is written.
func (a *Application) Send(ctx context.Context, cmd SendCommand) (msg Message, created bool, err error) {
	m, err := domain.NewMessage(cmd.SenderID, cmd.RecipientID, cmd.Text, cmd.ClientMessageID, a.now())
	if err != nil {
		return Message{}, false, err
	}
	// A retry of a stored message is answered from the store without asking friends again: the message was
	// allowed when it was sent, and every retry must get the same answer. This read only saves the call; the
	// unique key in Send is what makes a concurrent retry impossible to store twice.
	if m.ClientMessageID != "" {
		first, err := a.repo.MessageByClientID(ctx, m.SenderID, m.ClientMessageID)
		if err == nil {
			return NewMessage(first), false, nil
		}
		if !errors.Is(err, ErrMessageNotFound) {
			return Message{}, false, err
		}
	}
	if !domain.ValidUserID(m.RecipientID) {
		return Message{}, false, ErrUserNotFound
	}
	friends, err := a.friends.AreFriends(ctx, m.SenderID, m.RecipientID)
	if err != nil {
		return Message{}, false, fmt.Errorf("%w: friends: %v", ErrUnavailable, err)
	}
	if !friends {
		return Message{}, false, a.notFriends(ctx, m.RecipientID)
	}
	stored, created, err := a.repo.Send(ctx, m, messageEvents)
	if err != nil {
		return Message{}, false, err
	}
	if created {
		a.relay.Notify()
	}
	return NewMessage(stored), created, nil
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

// messageEvents are what a new message announces. The pushes carry the message exactly as the send call
// answers it, so a client can match the two.
func messageEvents(m domain.Message) ([]broker.Event, error) {
	data := NewMessage(m)
	toRecipient, err := broker.NewPush(Source, m.RecipientID, FrameMessageNew, data)
	if err != nil {
		return nil, err
	}
	toSender, err := broker.NewPush(Source, m.SenderID, FrameMessageNew, data)
	if err != nil {
		return nil, err
	}
	created, err := broker.NewEvent(Source, EventMessageCreated, data)
	if err != nil {
		return nil, err
	}
	return []broker.Event{toRecipient, toSender, created}, nil
}
