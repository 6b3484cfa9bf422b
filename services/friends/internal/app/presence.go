package app

import (
	"context"
	"fmt"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/friends/internal/domain"
)

// PushPresence goes to a user's online friends when the user comes online or goes offline; PushFriendsPresence
// is the entry reply with the presence of every friend, once per socket.
const (
	PushPresence        = "presence"
	PushFriendsPresence = "friends.presence"
)

// PresencePushData is the data of a presence push, and an item of friends.presence.
type PresencePushData struct {
	UserID string `json:"user_id"`
	Online bool   `json:"online"`
	// LastSeenAt is when the user was last seen online (absent while online or when never seen).
	LastSeenAt *time.Time `json:"last_seen_at,omitempty"`
	// Version counts the user's changes of presence: a client keeps what it heard with the highest.
	Version uint64 `json:"version"`
}

// FriendsPresenceData is the data of friends.presence.
type FriendsPresenceData struct {
	Items []PresencePushData `json:"items"`
}

// AnnounceFunc makes the events that announce a user's new presence to audience (their friends who are online).
type AnnounceFunc func(p domain.Presence, audience []string) ([]broker.Event, error)

// PresenceRepository keeps the gateways' statements about users' sockets, and what they say of each user.
type PresenceRepository interface {
	// State applies one statement (unless the gateway's lease for the user holds a later one); when the user
	// comes online or goes offline, it stores that and the events of announce (outbox) in the same transaction.
	State(ctx context.Context, l domain.Lease, now time.Time, announce AnnounceFunc) error
	// Renew extends the connected leases the gateway holds for users; it returns the users it holds none for,
	// or who are not shown online.
	Renew(ctx context.Context, gatewayID string, users []string, at, expires time.Time) (missing []string, err error)
	// Expire ends up to limit users' leases that ran out by now, as State would; it returns how many users it
	// looked at.
	Expire(ctx context.Context, now time.Time, limit int, announce AnnounceFunc) (int, error)
	// Presence returns what is known of those users (the ones never seen are absent).
	Presence(ctx context.Context, ids []string) (map[string]domain.Presence, error)
}

// expireBatch bounds the users one sweep round ends (it loops while there are more).
const expireBatch = 500

// Connected keeps a gateway's statement that a user's socket opened there (their entry), made at.
func (a *Application) Connected(ctx context.Context, e events.UserEnteredData, at time.Time) error {
	if !e.Valid() {
		return nil // a gateway that keeps no presence
	}
	return a.state(ctx, domain.Lease{UserID: e.UserID, GatewayID: e.GatewayID, Seq: e.Seq, Connected: true, At: at, Expires: at.Add(e.Lease())})
}

// Disconnected keeps a gateway's statement that a user's last socket there closed, made at.
func (a *Application) Disconnected(ctx context.Context, e events.UserLeftData, at time.Time) error {
	return a.state(ctx, domain.Lease{UserID: e.UserID, GatewayID: e.GatewayID, Seq: e.Seq, Connected: false, At: at, Expires: at})
}

// Heartbeat renews a gateway's leases of the users it lists, made at; a user it holds no lease for (a statement
// lost or not yet arrived, or one the sweeper ended), or one not shown online (a lease stored after it had run
// out), is stated connected again, unless a later statement says otherwise.
func (a *Application) Heartbeat(ctx context.Context, e events.PresenceHeartbeatData, at time.Time) error {
	expires := at.Add(e.Lease())
	if !expires.After(a.now()) {
		return nil // it held only until a moment already past: nothing to renew
	}
	missing, err := a.presence.Renew(ctx, e.GatewayID, e.UserIDs, at, expires)
	if err != nil {
		return err
	}
	for _, u := range missing {
		if err := a.state(ctx, domain.Lease{UserID: u, GatewayID: e.GatewayID, Seq: e.Seq, Connected: true, At: at, Expires: expires}); err != nil {
			return err
		}
	}
	return nil
}

// SweepPresence ends the leases that ran out (their gateway died or lost the broker), taking their users
// offline; it returns how many users it looked at. Every replica sweeps; they take turns on each user's row.
func (a *Application) SweepPresence(ctx context.Context) (int, error) {
	total := 0
	for {
		n, err := a.presence.Expire(ctx, a.now(), expireBatch, a.announcePresence)
		total += n
		if err != nil || n < expireBatch {
			if n > 0 {
				a.relay.Notify()
			}
			return total, err
		}
		a.relay.Notify()
	}
}

func (a *Application) state(ctx context.Context, l domain.Lease) error {
	if err := a.presence.State(ctx, l, a.now(), a.announcePresence); err != nil {
		return err
	}
	a.relay.Notify()
	return nil
}

// PresenceSnapshot answers a socket's entry (after its own presence statement is kept) with the presence of
// every friend of its user, pushed to that socket: whatever changed before is in it, and whatever changes after
// is pushed to the user, now online (see the repository's onlineFriends).
func (a *Application) PresenceSnapshot(ctx context.Context, e events.UserEnteredData) error {
	rels, err := a.repo.List(ctx, e.UserID, domain.FilterAccepted)
	if err != nil {
		return err
	}
	ids := make([]string, len(rels))
	for i, r := range rels {
		ids[i] = r.Pair.Other(e.UserID)
	}
	known, err := a.presence.Presence(ctx, ids)
	if err != nil {
		return err
	}
	data := FriendsPresenceData{Items: make([]PresencePushData, 0, len(ids))}
	for _, id := range ids {
		p := known[id]
		p.UserID = id
		data.Items = append(data.Items, presenceData(p))
	}
	ev, err := events.ReplyToEntry(Source, e, PushFriendsPresence, data)
	if err != nil {
		return err
	}
	return a.publisher.Publish(ctx, ev)
}

// presenceData is p as pushes and lists show it.
func presenceData(p domain.Presence) PresencePushData {
	data := PresencePushData{UserID: p.UserID, Online: p.Online, Version: p.Version}
	if !p.Online && !p.LastSeen.IsZero() {
		seen := p.LastSeen.UTC()
		data.LastSeenAt = &seen
	}
	return data
}

// announcePresence pushes p to each of audience.
func (a *Application) announcePresence(p domain.Presence, audience []string) ([]broker.Event, error) {
	data := presenceData(p)
	out := make([]broker.Event, 0, len(audience))
	for _, to := range audience {
		ev, err := broker.NewPush(Source, to, PushPresence, data)
		if err != nil {
			return nil, fmt.Errorf("presence push: %w", err)
		}
		out = append(out, ev)
	}
	return out, nil
}
