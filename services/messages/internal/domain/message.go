// Package domain holds the messages service's rules as plain Go: what a message may say, how a chat is keyed,
// how history is paged and how read markers move. Nothing here knows about HTTP or SQL.
package domain

import (
	"errors"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"simplemessenger/platform/rules"
)

// Limits of the contract, counted in Unicode code points.
const (
	TextMaxLen            = 4000
	ClientMessageIDMaxLen = 64
)

// Message is one message of a chat. ID is 0 until it is stored; ClientMessageID is "" when the sender gave none.
// EditedAt is set once the sender changed the text; DeletedAt once the sender deleted it: its text is gone, and
// it stays in the chat as a tombstone, so that ids, cursors and order stay as they were.
type Message struct {
	ID              int64
	SenderID        string
	RecipientID     string
	Text            string
	ClientMessageID string
	CreatedAt       time.Time
	EditedAt        *time.Time
	DeletedAt       *time.Time
}

// Refusals of an edit or a delete.
var (
	// ErrNotYourMessage: only the sender may change or delete a message, though both participants see it.
	ErrNotYourMessage = errors.New("not your message")
	// ErrMessageDeleted: a deleted message has no text left to edit.
	ErrMessageDeleted = errors.New("message deleted")
)

// Edit is m with the text the sender (by) changed it to at now. An edit that changes nothing is no change.
func (m Message) Edit(by, text string, now time.Time) (next Message, changed bool, err error) {
	switch {
	case by != m.SenderID:
		return m, false, ErrNotYourMessage
	case m.DeletedAt != nil:
		return m, false, ErrMessageDeleted
	}
	if err := ValidateText(text); err != nil {
		return m, false, err
	}
	if text == m.Text {
		return m, false, nil
	}
	at := now.UTC().Truncate(time.Microsecond)
	m.Text, m.EditedAt = text, &at
	return m, true, nil
}

// Delete is m deleted by its sender (by) at now: a tombstone without text. Deleting it again is no change.
func (m Message) Delete(by string, now time.Time) (next Message, changed bool, err error) {
	switch {
	case by != m.SenderID:
		return m, false, ErrNotYourMessage
	case m.DeletedAt != nil:
		return m, false, nil
	}
	at := now.UTC().Truncate(time.Microsecond)
	m.Text, m.DeletedAt = "", &at
	return m, true, nil
}

// NewMessage makes a message about to be sent. clientMessageID nil means the sender gave no idempotency key.
// The time is cut to microseconds, the database's precision, so that what the sender is answered, what is
// pushed and what history returns later are the same instant to the digit.
func NewMessage(senderID, recipientID, text string, clientMessageID *string, now time.Time) (Message, error) {
	if senderID == recipientID {
		return Message{}, rules.New("cannot_message_self", "you cannot send a message to yourself")
	}
	if err := ValidateText(text); err != nil {
		return Message{}, err
	}
	m := Message{SenderID: senderID, RecipientID: recipientID, Text: text, CreatedAt: now.UTC().Truncate(time.Microsecond)}
	if clientMessageID != nil {
		if err := ValidateClientMessageID(*clientMessageID); err != nil {
			return Message{}, err
		}
		m.ClientMessageID = *clientMessageID
	}
	return m, nil
}

// ValidateText checks a message's text: 1 to 4000 code points, not only white space, and no control
// characters other than tab and line breaks. The text is stored as typed (not trimmed): leading spaces can be
// indentation that matters, but a text of nothing but white space would show as an empty bubble.
func ValidateText(s string) error {
	if !utf8.ValidString(s) {
		return rules.New("invalid_text", "text must be UTF-8")
	}
	n := utf8.RuneCountInString(s)
	switch {
	case n == 0:
		return rules.New("invalid_text", "text must not be empty")
	case n > TextMaxLen:
		return rules.New("invalid_text", "text must be at most 4000 characters")
	case strings.TrimFunc(s, unicode.IsSpace) == "":
		return rules.New("invalid_text", "text must not be only white space")
	case strings.IndexFunc(s, forbiddenInText) >= 0:
		return rules.New("invalid_text", "text must not contain control characters")
	}
	return nil
}

func forbiddenInText(r rune) bool {
	return unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t'
}

// ValidateClientMessageID checks an idempotency key: 1 to 64 code points without control characters.
func ValidateClientMessageID(s string) error {
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n == 0 || n > ClientMessageIDMaxLen || strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return rules.New("invalid_client_message_id", "client_message_id must be 1 to 64 characters without control characters")
	}
	return nil
}

// ChatKey names the chat of two users whatever the direction: the smaller id first. Both participants'
// requests find the same key, hence the same row, which is what serializes the writes to one chat.
type ChatKey struct {
	Low, High string
}

// NewChatKey is the key of a's chat with b.
func NewChatKey(a, b string) ChatKey {
	if b < a {
		a, b = b, a
	}
	return ChatKey{Low: a, High: b}
}

// ChatSummary is one line of a user's chat list.
type ChatSummary struct {
	PeerID      string
	LastMessage Message
	UnreadCount int
	// PeerReadUpTo is the peer's read marker: they have read every message of the chat addressed to them with
	// an id up to it (0: none).
	PeerReadUpTo int64
}
