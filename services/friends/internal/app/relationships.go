package app

import (
	"context"
	"errors"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"
	"simplemessenger/platform/events"

	"simplemessenger/services/friends/internal/domain"
)

// errNeedProfile stops a change that turned out to need the acting user's profile for its push; change fetches
// it and runs the change again. Refusals therefore never wait for (or fail with) the profiles service.
var errNeedProfile = errors.New("the acting user's profile is needed")

// decideFunc is a ChangeFunc that also gets the acting user's profile, nil until it has been asked for.
type decideFunc func(current *domain.Relationship, actor *Profile) (*domain.Relationship, []broker.Event, error)

// change runs decide under the pair's lock as me, fetching me's profile when decide asks for it, and wakes
// the relay after a commit.
func (a *Application) change(ctx context.Context, me string, actor *Profile, pair domain.Pair, decide decideFunc) error {
	for {
		err := a.repo.Change(ctx, pair, func(current *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
			return decide(current, actor)
		})
		if errors.Is(err, errNeedProfile) && actor == nil {
			p, err := a.profiles.User(ctx, me)
			if err != nil {
				return err
			}
			actor = &p
			continue
		}
		if err == nil {
			a.relay.Notify()
		}
		return err
	}
}

// Request is me asking to befriend the user to. The result is the pending request, or the friendship when to
// had already asked me.
func (a *Application) Request(ctx context.Context, me, to string) (domain.Relationship, error) {
	pair, err := domain.NewPair(me, to)
	if err != nil {
		return domain.Relationship{}, err
	}
	if !contract.ValidUserID(to) {
		return domain.Relationship{}, ErrUserNotFound // names nobody: not worth asking profiles
	}
	// Blocks: mine is mine to lift first; theirs is answered as if they did not exist (docs/security.md).
	iBlock, theyBlock, err := a.repo.Blocking(ctx, me, to)
	switch {
	case err != nil:
		return domain.Relationship{}, err
	case iBlock:
		return domain.Relationship{}, domain.ErrYouBlocked
	case theyBlock:
		return domain.Relationship{}, ErrUserNotFound
	}
	// One call says whether to exists and gets my profile, which either outcome pushes.
	found, err := a.profiles.Users(ctx, []string{to, me})
	if err != nil {
		return domain.Relationship{}, err
	}
	if _, ok := found[to]; !ok {
		return domain.Relationship{}, ErrUserNotFound
	}
	var actor *Profile
	if p, ok := found[me]; ok {
		actor = &p
	}
	var result domain.Relationship
	err = a.change(ctx, me, actor, pair, func(current *domain.Relationship, actor *Profile) (*domain.Relationship, []broker.Event, error) {
		next, err := domain.Request(current, me, to, a.now())
		if err != nil {
			return nil, nil, err
		}
		if actor == nil {
			return nil, nil, errNeedProfile
		}
		var evs []broker.Event
		if next.Friends() {
			evs, err = befriendedEvents(next, *actor)
		} else {
			evs, err = requestedEvents(next, *actor)
		}
		result = next
		return &next, evs, err
	})
	return result, err
}

// Accept is me accepting the pending request from.
func (a *Application) Accept(ctx context.Context, me, from string) (domain.Relationship, error) {
	pair, err := domain.NewPair(me, from)
	if err != nil {
		return domain.Relationship{}, domain.ErrRequestNotFound
	}
	// A request that raced my block of its sender stays unaccepted while the block stands.
	if iBlock, _, err := a.repo.Blocking(ctx, me, from); err != nil {
		return domain.Relationship{}, err
	} else if iBlock {
		return domain.Relationship{}, domain.ErrYouBlocked
	}
	var result domain.Relationship
	err = a.change(ctx, me, nil, pair, func(current *domain.Relationship, actor *Profile) (*domain.Relationship, []broker.Event, error) {
		next, err := domain.Accept(current, me, from, a.now())
		if err != nil {
			return nil, nil, err
		}
		if actor == nil {
			return nil, nil, errNeedProfile
		}
		evs, err := befriendedEvents(next, *actor)
		result = next
		return &next, evs, err
	})
	return result, err
}

// Decline is me refusing the pending request from; the request is deleted and nobody is told.
func (a *Application) Decline(ctx context.Context, me, from string) error {
	pair, err := domain.NewPair(me, from)
	if err != nil {
		return domain.ErrRequestNotFound
	}
	return a.change(ctx, me, nil, pair, func(current *domain.Relationship, _ *Profile) (*domain.Relationship, []broker.Event, error) {
		return nil, nil, domain.Decline(current, me, from)
	})
}

// Remove is me ending whatever there is with other: a friendship (other is told), my outgoing request or an
// incoming one (nobody is told).
func (a *Application) Remove(ctx context.Context, me, other string) error {
	pair, err := domain.NewPair(me, other)
	if err != nil {
		return domain.ErrFriendshipNotFound
	}
	return a.change(ctx, me, nil, pair, func(current *domain.Relationship, actor *Profile) (*domain.Relationship, []broker.Event, error) {
		if err := domain.Remove(current); err != nil {
			return nil, nil, err
		}
		if !current.Friends() {
			return nil, nil, nil
		}
		if actor == nil {
			return nil, nil, errNeedProfile
		}
		if err := a.tellMessages(ctx, *current); err != nil {
			return nil, nil, err
		}
		evs, err := unfriendedEvents(*current, *actor)
		return nil, evs, err
	})
}

// AreFriends reports whether a and b are friends and, if so, since when (messages asks before a send between
// two users it does not know to be friends).
func (a *Application) AreFriends(ctx context.Context, userA, userB string) (since time.Time, friends bool, err error) {
	pair, err := domain.NewPair(userA, userB)
	if err != nil {
		return time.Time{}, false, nil
	}
	r, err := a.repo.Get(ctx, pair)
	if err != nil || r == nil || !r.Friends() {
		return time.Time{}, false, err
	}
	return r.Since, true, nil
}

// tellMessages tells messages that the friendship r ends, under the lock of the change that ends it and
// before that commits: if messages cannot be told, the friendship stays and the request answers 503.
func (a *Application) tellMessages(ctx context.Context, r domain.Relationship) error {
	if err := a.messages.EndFriendship(ctx, r.Pair.Low, r.Pair.High, r.Since); err != nil {
		return fmt.Errorf("%w: %v", ErrMessagesUnavailable, err)
	}
	return nil
}

// UserSummary is the other user of a list item.
type UserSummary struct {
	ID          string `json:"id"`
	Nickname    string `json:"nickname"`
	DisplayName string `json:"display_name"`
	// HasAvatar says whether GET /users/{id}/avatar has an image, so a list can show it (an addition to v1).
	HasAvatar bool `json:"has_avatar"`
}

// Item is one entry of a friends list (and of friends.pending), from the caller's point of view.
type Item struct {
	User   UserSummary `json:"user"`
	Status domain.View `json:"status"`
	Since  time.Time   `json:"since"`
	// Online and LastSeenAt are the friend's presence (additions to v1): on accepted friendships only, so that
	// nobody else learns when a user is around. LastSeenAt is absent while the friend is online, or if they
	// have never been seen.
	Online     *bool      `json:"online,omitempty"`
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	// PresenceVersion is the version of that presence (as in the presence pushes): a client keeps the newest.
	PresenceVersion *uint64 `json:"presence_version,omitempty"`
}

// List returns me's friends and requests that the filter selects, newest first. Users that profiles no
// longer knows are left out.
func (a *Application) List(ctx context.Context, me string, filter domain.Filter) ([]Item, error) {
	rels, err := a.repo.List(ctx, me, filter)
	if err != nil {
		return nil, err
	}
	items := make([]Item, 0, len(rels))
	if len(rels) == 0 {
		return items, nil
	}
	ids := make([]string, len(rels))
	for i, r := range rels {
		ids[i] = r.Pair.Other(me)
	}
	profiles, err := a.profiles.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	var presence map[string]domain.Presence
	if filter == domain.FilterAccepted || filter == domain.FilterAll {
		if presence, err = a.presence.Presence(ctx, ids); err != nil {
			return nil, err
		}
	}
	for _, r := range rels {
		p, ok := profiles[r.Pair.Other(me)]
		if !ok {
			continue
		}
		item := Item{User: summary(p), Status: r.ViewOf(me), Since: r.Since.UTC()}
		if r.Friends() && presence != nil {
			d := presenceData(presence[p.ID])
			item.Online, item.LastSeenAt, item.PresenceVersion = &d.Online, d.LastSeenAt, &d.Version
		}
		items = append(items, item)
	}
	return items, nil
}

// Entered answers a user's entering the messenger (a socket opened at the gateway): the incoming requests,
// pushed to that one socket. An empty list is sent too, so the client knows it is up to date.
func (a *Application) Entered(ctx context.Context, e events.UserEnteredData) error {
	items, err := a.List(ctx, e.UserID, domain.FilterIncoming)
	if err != nil {
		return err
	}
	p, err := events.ReplyToEntry(Source, e, PushPending, PendingPushData{Items: items})
	if err != nil {
		return err
	}
	// A push nobody is bound for any more (the socket closed again) is published to nobody, not an error.
	return a.publisher.Publish(ctx, p)
}

// ProfileChanged tells the user's friends that their public profile changed (display name, bio or avatar): a
// profile.updated push to each, carrying the profile as profiles announced it, so their clients show the new
// name and picture without a reload. Only friends are told. Published at once, not through the outbox: the
// consumer runs again on a redelivery, and a second push of the same profile changes nothing.
func (a *Application) ProfileChanged(ctx context.Context, user events.Profile) error {
	rels, err := a.repo.List(ctx, user.ID, domain.FilterAccepted)
	if err != nil {
		return err
	}
	for _, r := range rels {
		p, err := broker.NewPush(Source, r.Pair.Other(user.ID), PushProfileUpdated, ProfilePushData{User: user})
		if err != nil {
			return err
		}
		if err := a.publisher.Publish(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Block is me blocking other: from now on other cannot befriend me, and whatever we had ends (a friendship, a
// request either way) at once. other is told nothing: no push, and their requests are answered as if I did not
// exist (docs/security.md gives the reasons). Blocking someone blocked already changes nothing.
func (a *Application) Block(ctx context.Context, me, other string) error {
	pair, err := domain.NewPair(me, other)
	switch {
	case errors.Is(err, domain.ErrCannotBefriendSelf):
		return domain.ErrCannotBlockSelf
	case err != nil:
		return err
	case !contract.ValidUserID(other):
		return ErrUserNotFound
	}
	if _, err := a.profiles.User(ctx, other); err != nil {
		return err
	}
	err = a.repo.Block(ctx, domain.Block{BlockerID: me, BlockedID: other, Since: a.now().UTC().Truncate(time.Microsecond)},
		func(current *domain.Relationship) (*domain.Relationship, []broker.Event, error) {
			if current == nil || !current.Friends() {
				return nil, nil, nil // no friendship: a request either way just goes
			}
			if err := a.tellMessages(ctx, *current); err != nil {
				return nil, nil, err
			}
			// The friendship's end is announced to the services, not pushed to the blocked user.
			evs, err := collect(event(EventFriendshipRemoved, FriendshipData{UserIDs: [2]string{pair.Low, pair.High}}))
			return nil, evs, err
		})
	if err == nil {
		a.relay.Notify()
	}
	return err
}

// Unblock is me lifting my block of other; we are not friends again (either may ask).
func (a *Application) Unblock(ctx context.Context, me, other string) error {
	if !contract.ValidUserID(other) {
		return nil // no block of a user id that names nobody
	}
	return a.repo.Unblock(ctx, me, other)
}

// BlockItem is one user the caller blocks.
type BlockItem struct {
	User  UserSummary `json:"user"`
	Since time.Time   `json:"since"`
}

// Blocks lists the users me blocks, the most recent first (users profiles no longer knows are left out).
func (a *Application) Blocks(ctx context.Context, me string) ([]BlockItem, error) {
	blocks, err := a.repo.Blocks(ctx, me)
	if err != nil || len(blocks) == 0 {
		return []BlockItem{}, err
	}
	ids := make([]string, len(blocks))
	for i, b := range blocks {
		ids[i] = b.BlockedID
	}
	profiles, err := a.profiles.Users(ctx, ids)
	if err != nil {
		return nil, err
	}
	items := make([]BlockItem, 0, len(blocks))
	for _, b := range blocks {
		if p, ok := profiles[b.BlockedID]; ok {
			items = append(items, BlockItem{User: summary(p), Since: b.Since})
		}
	}
	return items, nil
}

func summary(p Profile) UserSummary {
	return UserSummary{ID: p.ID, Nickname: p.Nickname, DisplayName: p.DisplayName, HasAvatar: p.HasAvatar}
}
