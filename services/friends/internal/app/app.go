// Package app holds the friends service's use cases over small interfaces: the repository (MySQL, with the
// outbox in the same transaction), the profiles service, and the broker for replies to a user's entry.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"simplemessenger/platform/broker"

	"simplemessenger/services/friends/internal/domain"
)

// Errors of the profiles service the use cases pass on.
var (
	ErrUserNotFound = errors.New("user not found")
	// ErrProfilesUnavailable: profiles could not answer; the request may be retried.
	ErrProfilesUnavailable = errors.New("the profiles service is unavailable")
	// ErrMessagesUnavailable: messages could not be told of a friendship's end, so the friendship stays; the
	// request may be retried.
	ErrMessagesUnavailable = errors.New("the messages service is unavailable")
)

// ChangeFunc decides, from the pair's current relationship (nil when there is none, read under a lock), what
// it becomes (nil: deleted) and the events announcing that, or refuses with an error. It must be pure: the
// repository runs it again when a concurrent change forces a retry.
type ChangeFunc func(current *domain.Relationship) (next *domain.Relationship, events []broker.Event, err error)

// Repository stores relationships.
type Repository interface {
	// Change locks the pair's relationship, lets change decide, and stores the result and its events (outbox)
	// in one transaction. Concurrent changes of one pair are serialised; change's error is returned as it is.
	Change(ctx context.Context, pair domain.Pair, change ChangeFunc) error
	// List returns me's relationships that the filter selects, newest "since" first.
	List(ctx context.Context, me string, filter domain.Filter) ([]domain.Relationship, error)
	// Get returns the pair's relationship, or nil when there is none.
	Get(ctx context.Context, pair domain.Pair) (*domain.Relationship, error)

	// Block records b (again: no change) and lets change end the pair's relationship, in one transaction.
	Block(ctx context.Context, b domain.Block, change ChangeFunc) error
	// Unblock forgets that blocker blocks blocked.
	Unblock(ctx context.Context, blockerID, blockedID string) error
	// Blocks lists the users blocker blocks, newest first.
	Blocks(ctx context.Context, blockerID string) ([]domain.Block, error)
	// Blocking tells whether a blocks b, and whether b blocks a.
	Blocking(ctx context.Context, a, b string) (aBlocksB, bBlocksA bool, err error)
}

// Profile is a user's public profile: what the lists show, and the whole of it as the profiles service gave
// it (Raw), which pushes carry unchanged.
type Profile struct {
	ID          string
	Nickname    string
	DisplayName string
	HasAvatar   bool
	Raw         json.RawMessage
}

// Profiles is the profiles service. Both methods return ErrProfilesUnavailable (wrapped) when it cannot
// answer.
type Profiles interface {
	// User returns the user's public profile, or ErrUserNotFound.
	User(ctx context.Context, id string) (Profile, error)
	// Users returns the profiles of those ids that exist, by id.
	Users(ctx context.Context, ids []string) (map[string]Profile, error)
}

// Messages is the messages service, which remembers friendships so that a send between friends does not ask
// this service. EndFriendship tells it that the friendship of a and b that began at since (its Since) ends; it
// is called before the end commits, and the end is refused when it fails, so that once an unfriending or a
// block has been answered, no send between the two is let through.
type Messages interface {
	EndFriendship(ctx context.Context, a, b string, since time.Time) error
}

// Publisher publishes an event at once (the entry reply: nothing to roll back, so no outbox).
type Publisher interface {
	Publish(ctx context.Context, ev broker.Event) error
}

// Notifier is told after a commit that wrote events (the outbox relay).
type Notifier interface{ Notify() }

// Application is the service's use cases.
type Application struct {
	repo      Repository
	presence  PresenceRepository
	profiles  Profiles
	messages  Messages
	publisher Publisher
	relay     Notifier
	now       func() time.Time
}

// New makes the application.
func New(repo Repository, presence PresenceRepository, profiles Profiles, messages Messages, publisher Publisher, relay Notifier) *Application {
	return &Application{repo: repo, presence: presence, profiles: profiles, messages: messages, publisher: publisher, relay: relay, now: time.Now}
}
