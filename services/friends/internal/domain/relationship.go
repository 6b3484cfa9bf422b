// Package domain holds the friends service's rules as plain Go: one relationship per unordered pair of users,
// how it moves from a request to a friendship, and how each side sees it. Nothing here knows about HTTP or SQL.
package domain

import (
	"errors"
	"time"

	"simplemessenger/platform/rules"
)

// Errors of the rules. The first two are requests that cannot be made at all (rule violations, answered 400
// with their code); the ports map the others, which depend on the relationship, to the contract's codes.
var (
	ErrInvalidUserID      error = rules.New("invalid_user_id", "user_id must name the user to befriend")
	ErrCannotBefriendSelf error = rules.New("cannot_befriend_self", "you cannot befriend yourself")
	ErrAlreadyFriends           = errors.New("already friends")
	ErrAlreadyRequested         = errors.New("already requested")
	ErrRequestNotFound          = errors.New("no pending request from that user")
	ErrFriendshipNotFound       = errors.New("no friendship or request with that user")
)

// Status is a relationship's stored state.
type Status string

const (
	StatusPending  Status = "pending"
	StatusAccepted Status = "accepted"
)

// View is a relationship as one of its two users sees it (the contract's status field).
type View string

const (
	ViewAccepted View = "accepted"
	ViewIncoming View = "incoming" // the other user asked
	ViewOutgoing View = "outgoing" // I asked
)

// Pair is an unordered pair of two different users, kept ordered (Low < High) so that it has exactly one
// spelling: the storage's primary key, which is what makes "one relationship per pair" hold under races.
type Pair struct {
	Low, High string
}

// NewPair orders a and b; a user cannot be paired with themself.
func NewPair(a, b string) (Pair, error) {
	switch {
	case a == "" || b == "":
		return Pair{}, ErrInvalidUserID
	case a == b:
		return Pair{}, ErrCannotBefriendSelf
	case a < b:
		return Pair{Low: a, High: b}, nil
	default:
		return Pair{Low: b, High: a}, nil
	}
}

// Other is the user of the pair who is not me (me must be one of them).
func (p Pair) Other(me string) string {
	if me == p.Low {
		return p.High
	}
	return p.Low
}

// Relationship is a pending request or an accepted friendship between the users of Pair.
type Relationship struct {
	Pair Pair
	// RequesterID asked first; it stays the asker once accepted (friend.accepted is pushed to them).
	RequesterID string
	Status      Status
	CreatedAt   time.Time
	// Since is when the request was made or, once accepted, when the users became friends.
	Since time.Time
}

// Addressee is the user the request was addressed to.
func (r Relationship) Addressee() string { return r.Pair.Other(r.RequesterID) }

// Friends reports whether the request has been accepted.
func (r Relationship) Friends() bool { return r.Status == StatusAccepted }

// ViewOf is how me sees the relationship.
func (r Relationship) ViewOf(me string) View {
	switch {
	case r.Status == StatusAccepted:
		return ViewAccepted
	case r.RequesterID == me:
		return ViewOutgoing
	default:
		return ViewIncoming
	}
}

// The transitions below take the pair's current relationship (nil when there is none), read under a lock, and
// return the next one or the reason there is none. They are pure, so a storage retry may run them again.

// Request is from asking to befriend to. Without a relationship it is a new pending request; when to had
// already asked from, the two are friends at once (the request stays to's, who gets friend.accepted).
func Request(current *Relationship, from, to string, now time.Time) (Relationship, error) {
	pair, err := NewPair(from, to)
	if err != nil {
		return Relationship{}, err
	}
	now = stamp(now)
	switch {
	case current == nil:
		return Relationship{Pair: pair, RequesterID: from, Status: StatusPending, CreatedAt: now, Since: now}, nil
	case current.Friends():
		return Relationship{}, ErrAlreadyFriends
	case current.RequesterID == from:
		return Relationship{}, ErrAlreadyRequested
	default:
		return current.accepted(now), nil
	}
}

// Accept is by accepting the pending request that from sent them.
func Accept(current *Relationship, by, from string, now time.Time) (Relationship, error) {
	if !current.pendingFrom(from, by) {
		return Relationship{}, ErrRequestNotFound
	}
	return current.accepted(stamp(now)), nil
}

// Decline is by refusing the pending request from sent them; the request is deleted.
func Decline(current *Relationship, by, from string) error {
	if !current.pendingFrom(from, by) {
		return ErrRequestNotFound
	}
	return nil
}

// Remove is by ending whatever there is with the other user: a friendship, their own outgoing request or an
// incoming one. The relationship is deleted.
func Remove(current *Relationship) error {
	if current == nil {
		return ErrFriendshipNotFound
	}
	return nil
}

func (r *Relationship) pendingFrom(from, to string) bool {
	return r != nil && r.Status == StatusPending && r.RequesterID == from && r.Addressee() == to
}

func (r Relationship) accepted(now time.Time) Relationship {
	r.Status = StatusAccepted
	r.Since = now
	return r
}

// stamp is a time as storage keeps it (UTC, microseconds), so what a use case returns equals what is read back.
func stamp(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }
