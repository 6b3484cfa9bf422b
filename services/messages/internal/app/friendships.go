package app

import (
	"context"
	"log/slog"
	"time"

	"simplemessenger/platform/contract"

	"simplemessenger/services/messages/internal/domain"
)

// areFriends answers whether a and b are friends: from what messages knows when that says they are (no call
// to the friends service, which is what a send between friends usually finds), else from the friends service,
// whose yes is then remembered. Only a yes is taken from memory: friends tells messages of every friendship's
// end before it answers the unfriending or block (EndFriendship), so a remembered yes is still true, and a send
// after that answer is refused. Memory that cannot be read or written only costs the call to friends.
func (a *Application) areFriends(ctx context.Context, userA, userB string) (bool, error) {
	k := domain.NewChatKey(userA, userB)
	if known, err := a.repo.KnownFriends(ctx, k); err != nil {
		slog.WarnContext(ctx, "friendships: cannot read what is known; asking friends", "error", err)
	} else if known {
		return true, nil
	}
	f, err := a.friends.AreFriends(ctx, userA, userB)
	if err != nil || !f.Friends {
		return false, err
	}
	if !f.Since.IsZero() {
		if err := a.repo.RememberFriends(ctx, k, f.Since); err != nil {
			slog.WarnContext(ctx, "friendships: cannot remember a friendship", "error", err)
		}
	}
	return true, nil
}

// EndFriendship is the friends service telling that the friendship of a and b that began at since has ended
// (an unfriending or a block), before it answers the user: from now on a send between them asks friends.
// ErrUserNotFound for ids that cannot be users; since must be set.
func (a *Application) EndFriendship(ctx context.Context, userA, userB string, since time.Time) error {
	if !contract.ValidUserID(userA) || !contract.ValidUserID(userB) || userA == userB {
		return ErrUserNotFound
	}
	if since.IsZero() {
		return ErrNoSince
	}
	return a.repo.EndFriendship(ctx, domain.NewChatKey(userA, userB), since)
}
