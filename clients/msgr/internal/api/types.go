// Package api is a client of the SimpleMessenger public HTTP and WebSocket API (CONTRACT.md, api/openapi.yaml).
package api

import (
	"encoding/json"
	"time"
)

// User is a public profile; the caller's own profile has the same shape.
type User struct {
	ID          string    `json:"id"`
	Nickname    string    `json:"nickname"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	HasAvatar   bool      `json:"has_avatar"`
	CreatedAt   time.Time `json:"created_at"`
}

// TokenPair is what login and refresh answer.
type TokenPair struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// LoginResponse is a token pair and the user who logged in.
type LoginResponse struct {
	TokenPair
	User User `json:"user"`
}

// ProfileUpdate holds the fields to change; nil fields are left out of the request and stay as they are.
type ProfileUpdate struct {
	DisplayName *string `json:"display_name,omitempty"`
	Bio         *string `json:"bio,omitempty"`
}

// UserSummary is the short form of a user in friends lists.
type UserSummary struct {
	ID          string `json:"id"`
	Nickname    string `json:"nickname"`
	DisplayName string `json:"display_name"`
}

// Friend statuses.
const (
	StatusAccepted = "accepted"
	StatusIncoming = "incoming"
	StatusOutgoing = "outgoing"
)

// Friend is one relationship of the caller.
type Friend struct {
	User   UserSummary `json:"user"`
	Status string      `json:"status"`
	Since  time.Time   `json:"since"`
	// Online and LastSeenAt: a friend's presence (confirmed friends only; absent on requests).
	Online     *bool      `json:"online,omitempty"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
}

// FriendList is the answer of GET /friends (and the data of a friends.pending frame).
type FriendList struct {
	Items []Friend `json:"items"`
}

// Relationship is the answer of a friend request or an accept.
type Relationship struct {
	UserID string `json:"user_id,omitempty"`
	Status string `json:"status"`
}

// Message is a message as the send call, history, chats and pushes show it.
type Message struct {
	ID          string     `json:"id"`
	SenderID    string     `json:"sender_id"`
	RecipientID string     `json:"recipient_id"`
	Text        string     `json:"text"`
	CreatedAt   time.Time  `json:"created_at"`
	EditedAt    *time.Time `json:"edited_at,omitempty"`
	DeletedAt   *time.Time `json:"deleted_at,omitempty"`
}

// MessagePage is one page of a chat's history: newest first with NextBefore, or oldest first with NextAfter
// (when the query had After).
type MessagePage struct {
	Items      []Message `json:"items"`
	NextBefore *string   `json:"next_before,omitempty"`
	NextAfter  *string   `json:"next_after,omitempty"`
}

// HistoryQuery selects a page of history; Before and After are message ids (at most one of them).
type HistoryQuery struct {
	Before, After string
	Limit         int
}

// Chat is one entry of the chat list.
type Chat struct {
	Peer        User    `json:"peer"`
	LastMessage Message `json:"last_message"`
	UnreadCount int     `json:"unread_count"`
}

// ChatList is the answer of GET /chats.
type ChatList struct {
	Items      []Chat  `json:"items"`
	NextBefore *string `json:"next_before"`
}

// Frame is one push from the server: {"type": "...", "data": {...}}.
type Frame struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// BlockList is the answer of GET /blocks: the users the caller blocks, most recent first.
type BlockList struct {
	Items []struct {
		User  UserSummary `json:"user"`
		Since time.Time   `json:"since"`
	} `json:"items"`
}

// Push frame types of the contract (others may come and are shown as they are).
const (
	FrameMessageNew      = "message.new"
	FrameMessageRead     = "message.read"
	FrameFriendRequest   = "friend.request"
	FrameFriendAccepted  = "friend.accepted"
	FrameFriendRemoved   = "friend.removed"
	FrameProfileUpdated  = "profile.updated"
	FrameMessageEdited   = "message.edited"
	FrameMessageDeleted  = "message.deleted"
	FrameTyping          = "typing"
	FramePresence        = "presence"
	FrameFriendsPresence = "friends.presence"
	FrameMessagesUnread  = "messages.unread"
	FrameFriendsPending  = "friends.pending"
)

// TypingData is the data of a typing frame: who is typing to you, for how long to show it.
type TypingData struct {
	PeerID      string `json:"peer_id"`
	ExpiresInMS int    `json:"expires_in_ms"`
}

// PresenceData is the data of a presence frame: a friend came online or went offline.
type PresenceData struct {
	UserID     string     `json:"user_id"`
	Online     bool       `json:"online"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	Version    uint64     `json:"version"`
}

// FriendsPresenceData is the data of the friends.presence login frame: every friend's presence.
type FriendsPresenceData struct {
	Items []PresenceData `json:"items"`
}

// UnreadData is the data of a messages.unread frame.
type UnreadData struct {
	Items []Message `json:"items"`
	Total int       `json:"total"`
}

// ReadData is the data of a message.read frame.
type ReadData struct {
	PeerID string `json:"peer_id"`
	UpToID string `json:"up_to_id"`
}

// UserData is the data of the friend.* frames.
type UserData struct {
	User User `json:"user"`
}
