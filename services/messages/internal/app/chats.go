package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"

	"simplemessenger/services/messages/internal/domain"
)

// History returns a page of the caller's chat with peerID and the cursor of the next page (see
// domain.Page.Cut). Only ever the caller's own chat: the chat is found by the pair (caller, peer), so no
// request can name somebody else's. History stays readable after the two stop being friends.
func (a *Application) History(ctx context.Context, userID, peerID string, q domain.PageQuery) ([]MessageView, *int64, error) {
	if !contract.ValidUserID(peerID) {
		return nil, nil, ErrUserNotFound
	}
	p, err := domain.NewPage(q)
	if err != nil {
		return nil, nil, err
	}
	msgs, chatExists, err := a.repo.History(ctx, userID, peerID, p)
	if err != nil {
		return nil, nil, err
	}
	if !chatExists {
		if err := a.peerExists(ctx, userID, peerID); err != nil {
			return nil, nil, err
		}
	}
	items, next := p.Cut(msgs)
	return NewMessageViews(items), next, nil
}

// peerExists tells, for two users without a chat, "nothing said yet" (nil) from "nobody there"
// (ErrUserNotFound). A chat exists only between users who exist, so only chat-less requests ask profiles.
func (a *Application) peerExists(ctx context.Context, userID, peerID string) error {
	if peerID == userID {
		return nil // the caller exists: the token says so
	}
	exists, err := a.profiles.Exists(ctx, peerID)
	if err != nil {
		return fmt.Errorf("%w: profiles: %v", ErrUnavailable, err)
	}
	if !exists {
		return ErrUserNotFound
	}
	return nil
}

// ChatItem is one line of the chat list.
type ChatItem struct {
	Peer        json.RawMessage `json:"peer"`
	LastMessage MessageView     `json:"last_message"`
	UnreadCount int             `json:"unread_count"`
	// PeerReadUpToID is the peer's read marker, as message.read pushes it: the caller's messages with an id up
	// to it have been read ("0": none), so a client shows them as read after a reload too.
	PeerReadUpToID int64 `json:"peer_read_up_to_id,string"`
}

// Chats returns the caller's chats, the most recent first, with the peers' public profiles (asked of profiles
// in one call per 100) and the cursor of the next page (see domain.NewChatListPage).
func (a *Application) Chats(ctx context.Context, userID string, q domain.PageQuery) ([]ChatItem, *int64, error) {
	p, err := domain.NewChatListPage(q)
	if err != nil {
		return nil, nil, err
	}
	summaries, err := a.repo.Chats(ctx, userID, p)
	if err != nil {
		return nil, nil, err
	}
	summaries, next := p.CutChats(summaries)
	items := make([]ChatItem, 0, len(summaries))
	if len(summaries) == 0 {
		return items, next, nil
	}
	ids := make([]string, 0, len(summaries))
	for _, s := range summaries {
		ids = append(ids, s.PeerID)
	}
	peers, err := a.profiles.PublicProfiles(ctx, ids)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: profiles: %v", ErrUnavailable, err)
	}
	for _, s := range summaries {
		peer, ok := peers[s.PeerID]
		if !ok {
			// Profiles no longer knows the user; a line without a peer would be of no use to a client.
			slog.WarnContext(ctx, "chat peer unknown to profiles", "peer_id", s.PeerID)
			continue
		}
		items = append(items, ChatItem{Peer: peer, LastMessage: NewMessageView(s.LastMessage), UnreadCount: s.UnreadCount,
			PeerReadUpToID: s.PeerReadUpTo})
	}
	return items, next, nil
}

// MarkRead marks the caller's chat with peerID read up to the message upTo (a decimal id), capped to the
// newest message addressed to the caller; markers only move forward. When the marker moved, the peer is told
// with message.read carrying the marker as stored; a request that moves nothing (an older id, or a chat with
// no message yet) tells nobody and is no error. ErrUserNotFound when there is nobody with that id.
func (a *Application) MarkRead(ctx context.Context, readerID, peerID, upTo string) error {
	if !contract.ValidUserID(peerID) {
		return ErrUserNotFound
	}
	n, err := domain.ParseReadMarker(upTo)
	if err != nil {
		return err
	}
	_, moved, err := a.repo.MarkRead(ctx, readerID, peerID, n, func(marker int64) (broker.Event, error) {
		return broker.NewPush(Source, peerID, FrameMessageRead, ReadData{ReaderID: readerID, UpToID: marker})
	})
	if errors.Is(err, ErrNoChat) {
		return a.peerExists(ctx, readerID, peerID) // nothing to mark: 204 if there is somebody, else 404
	}
	if err != nil {
		return err
	}
	if moved {
		a.relay.Notify()
	}
	return nil
}
