// Package app holds the messages service's use cases over small interfaces: the repository (MySQL, with the
// outbox in the same transaction), the friends and profiles services, and the broker for entry replies.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/cache"
	"simplemessenger/platform/jsonx"

	"simplemessenger/services/messages/internal/domain"
)

// Errors the use cases return besides the domain's rule violations (*rules.Violation).
var (
	ErrNotFriends   = errors.New("not friends")
	ErrUserNotFound = errors.New("user not found")
	// ErrUnavailable: a service this one asks (friends, profiles) did not answer; the client may retry.
	ErrUnavailable = errors.New("a service this one depends on is unavailable")
	// ErrMessageNotFound: the repository has no message with that sender and client message id.
	ErrMessageNotFound = errors.New("message not found")
	// ErrNoChat: the two users have never exchanged a message.
	ErrNoChat = errors.New("no chat")
	// ErrNoSince: the end of a friendship was told without the time it began.
	ErrNoSince = errors.New("a friendship's end needs the time it began")
)

// EventsFunc builds the events of a stored message (its id is known then), inside the send transaction.
type EventsFunc func(m domain.Message) ([]broker.Event, error)

// ChangeFunc decides what a stored message becomes (an edit, a delete), or refuses; changed false stores nothing.
type ChangeFunc func(m domain.Message) (next domain.Message, changed bool, err error)

// ReadEventFunc builds the event of a read marker that moved to upTo, inside the read transaction.
type ReadEventFunc func(upTo int64) (broker.Event, error)

// Repository stores chats, messages and read markers. Every method that changes something writes the given
// events to the outbox in the same transaction.
type Repository interface {
	// Send stores m in its chat, after every message already committed to that chat (the chat's row is locked
	// for the transaction), and updates both participants' chat states. When the sender already sent
	// m.ClientMessageID, nothing is written and the first message is returned with created false.
	Send(ctx context.Context, m domain.Message, events EventsFunc) (stored domain.Message, created bool, err error)
	// Change locks the message id of the chat of userID and peerID and stores what change makes of it, with its
	// events (taking a deleted message out of the recipient's unread count). ErrMessageNotFound when that chat
	// has no such message.
	Change(ctx context.Context, userID, peerID string, id int64, change ChangeFunc, events EventsFunc) (domain.Message, error)
	// MessageByClientID returns the sender's message with that client message id, or ErrMessageNotFound.
	MessageByClientID(ctx context.Context, senderID, clientMessageID string) (domain.Message, error)
	// History returns up to p.Fetch() messages of the chat of userID and peerID in p's order, and whether
	// the two have a chat at all (they had one message).
	History(ctx context.Context, userID, peerID string, p domain.Page) (msgs []domain.Message, chatExists bool, err error)
	// MarkRead moves the reader's marker in the chat with peerID to the newest message addressed to the
	// reader with an id up to upTo (domain.AdvanceReadMarker) and recounts the unread messages. It returns the
	// marker as it is afterwards and whether it moved; the event is written only then. ErrNoChat when the two
	// have no chat.
	MarkRead(ctx context.Context, readerID, peerID string, upTo int64, event ReadEventFunc) (marker int64, moved bool, err error)
	// Chats returns a page of the user's chats, the one with the most recent message first (cursor: a last
	// message id), up to p.Fetch().
	Chats(ctx context.Context, userID string, p domain.Page) ([]domain.ChatSummary, error)
	// Unread returns the oldest limit messages addressed to the user that they have not marked read, across
	// all chats, oldest first, and how many there are in all.
	Unread(ctx context.Context, userID string, limit int) ([]domain.Message, int, error)
	// KnownFriends reports whether what messages knows of friendships says the two of the chat k are friends;
	// false means "ask the friends service".
	KnownFriends(ctx context.Context, k domain.ChatKey) (bool, error)
	// RememberFriends records the friends service's answer that the two are friends since since, unless the
	// end of that friendship, or of a later one, is recorded already.
	RememberFriends(ctx context.Context, k domain.ChatKey, since time.Time) error
	// EndFriendship records that the friendship of the two that began at since has ended: KnownFriends is false
	// from then on, until the friends service answers for a later friendship.
	EndFriendship(ctx context.Context, k domain.ChatKey, since time.Time) error
}

// Friends answers whether two users are friends, and since when (the friendship's acceptance: a later
// friendship of the same two has a later one).
type Friends interface {
	AreFriends(ctx context.Context, a, b string) (Friendship, error)
}

// Friendship is the friends service's answer.
type Friendship struct {
	Friends bool
	Since   time.Time
}

// Profiles knows the users.
type Profiles interface {
	// Exists reports whether the user exists.
	Exists(ctx context.Context, id string) (bool, error)
	// PublicProfiles returns the public profiles (JSON, as profiles writes them) of the users that exist
	// among ids, by id.
	PublicProfiles(ctx context.Context, ids []string) (map[string]json.RawMessage, error)
}

// Publisher publishes an event straight away (entry replies: there is no change to commit them with).
type Publisher interface {
	Publish(ctx context.Context, ev broker.Event) error
}

// Notifier is told after a commit that wrote events (the outbox relay), so they leave at once.
type Notifier interface{ Notify() }

// Application is the service's use cases.
type Application struct {
	repo     Repository
	friends  Friends
	profiles Profiles
	pub      Publisher
	relay    Notifier
	now      func() time.Time
	// typing remembers, per sender and chat, that a typing push went out less than TypingInterval ago.
	typing *cache.Cache[[2]string, struct{}]
}

// New makes the application.
func New(repo Repository, friends Friends, profiles Profiles, pub Publisher, relay Notifier) *Application {
	typing, _ := cache.New[[2]string, struct{}](TypingInterval, 100_000) // cannot fail with these arguments
	return &Application{repo: repo, friends: friends, profiles: profiles, pub: pub, relay: relay, now: time.Now, typing: typing}
}

// Source is the events' source.
const Source = "messages"

// Push frame types.
const (
	FrameMessageNew  = "message.new"
	FrameMessageRead = "message.read"
	FrameUnread      = "messages.unread"
	// FrameMessageEdited and FrameMessageDeleted go to both participants when the sender changes a message.
	FrameMessageEdited  = "message.edited"
	FrameMessageDeleted = "message.deleted"
	// FrameTyping tells a user that a friend is typing in their chat.
	FrameTyping = "typing"
)

// MessageView is a message as clients see it: in the send answer, history, pushes and the chat list alike, so
// that a pushed message is byte for byte what the send call returned. Ids are decimal strings.
// EditedAt and DeletedAt appear only once the sender edited or deleted it (a deleted message's text is "").
type MessageView struct {
	ID          int64      `json:"id,string"`
	SenderID    string     `json:"sender_id"`
	RecipientID string     `json:"recipient_id"`
	Text        string     `json:"text"`
	CreatedAt   time.Time  `json:"created_at"`
	EditedAt    *time.Time `json:"edited_at,omitempty"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
}

// AppendJSON appends m as json.Marshal writes it (the app tests prove them equal): history writes pages of
// messages with it, without encoding/json's reflection.
func (m MessageView) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = jsonx.AppendInt64String(b, m.ID)
	b = append(b, `,"sender_id":`...)
	b = jsonx.AppendString(b, m.SenderID)
	b = append(b, `,"recipient_id":`...)
	b = jsonx.AppendString(b, m.RecipientID)
	b = append(b, `,"text":`...)
	b = jsonx.AppendString(b, m.Text)
	b = append(b, `,"created_at":`...)
	b = jsonx.AppendTime(b, m.CreatedAt)
	if m.EditedAt != nil {
		b = append(b, `,"edited_at":`...)
		b = jsonx.AppendTime(b, *m.EditedAt)
	}
	if m.DeletedAt != nil {
		b = append(b, `,"deleted_at":`...)
		b = jsonx.AppendTime(b, *m.DeletedAt)
	}
	return append(b, '}')
}

// NewMessageView is m as clients see it.
func NewMessageView(m domain.Message) MessageView {
	return MessageView{ID: m.ID, SenderID: m.SenderID, RecipientID: m.RecipientID, Text: m.Text, CreatedAt: m.CreatedAt.UTC(),
		EditedAt: utc(m.EditedAt), DeletedAt: utc(m.DeletedAt)}
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// NewMessageViews is NewMessageView of each, never nil (an empty list is [] in JSON).
func NewMessageViews(ms []domain.Message) []MessageView {
	out := make([]MessageView, 0, len(ms))
	for _, m := range ms {
		out = append(out, NewMessageView(m))
	}
	return out
}

// ReadData is the data of a message.read push: the reader and the marker. It goes to the reader's peer, so
// the contract calls the reader "peer_id".
type ReadData struct {
	ReaderID string `json:"peer_id"`
	UpToID   int64  `json:"up_to_id,string"`
}

// UnreadData is the data of the messages.unread push sent on entering the messenger.
type UnreadData struct {
	Items []MessageView `json:"items"`
	Total int           `json:"total"`
}
