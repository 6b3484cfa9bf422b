// Package app holds the profiles service's use cases over small interfaces: the repository (MySQL, with the
// outbox in the same transaction) and the password hasher.
package app

import (
	"context"
	"errors"
	"runtime"
	"time"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/profiles/internal/domain"
)

// Errors the use cases return besides the domain's rule violations (*rules.Violation).
var (
	ErrUserNotFound       = errors.New("user not found")
	ErrAvatarNotFound     = errors.New("avatar not found")
	ErrNicknameTaken      = errors.New("nickname taken")
	ErrWrongPassword      = errors.New("wrong password")
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrPasswordChanged: the password hash changed between reading and writing it (a concurrent change).
	ErrPasswordChanged = errors.New("password changed concurrently")
)

// EventFunc builds the event announcing a change from the user as it is after the change, inside the change's
// transaction (so the event carries exactly what was committed).
type EventFunc func(u domain.User) (broker.Event, error)

// Repository stores users. Every method that changes something writes the given event to the outbox in the
// same transaction.
type Repository interface {
	// Create inserts u; ErrNicknameTaken when the nickname is taken in any letter case.
	Create(ctx context.Context, u domain.User, passwordHash string, ev EventFunc) error
	// Get returns the user or ErrUserNotFound.
	Get(ctx context.Context, id string) (domain.User, error)
	// GetMany returns those of the users that exist, in no particular order.
	GetMany(ctx context.Context, ids []string) ([]domain.User, error)
	// Credentials returns the user with the normalised nickname and its password hash, or ErrUserNotFound.
	Credentials(ctx context.Context, nicknameLower string) (domain.User, string, error)
	// PasswordHash returns the user's password hash, or ErrUserNotFound.
	PasswordHash(ctx context.Context, id string) (string, error)
	// ChangePassword replaces oldHash by newHash; ErrPasswordChanged when the stored hash is no longer oldHash.
	ChangePassword(ctx context.Context, id, oldHash, newHash string, ev broker.Event) error
	// UpdateProfile locks the user, lets update change it (returning whether it did) and stores it; the event
	// is written only when something changed.
	UpdateProfile(ctx context.Context, id string, update func(*domain.User) (bool, error), ev EventFunc) (domain.User, error)
	// SetAvatar stores the avatar and returns the updated user.
	SetAvatar(ctx context.Context, id string, a domain.Avatar, ev EventFunc) (domain.User, error)
	// DeleteAvatar removes the avatar if there is one (no event otherwise).
	DeleteAvatar(ctx context.Context, id string, ev EventFunc) error
	// AvatarInfo returns the avatar without its bytes (cheap: enough to answer 304), or ErrAvatarNotFound.
	AvatarInfo(ctx context.Context, userID string) (domain.Avatar, error)
	// Avatar returns the avatar with its bytes, or ErrAvatarNotFound.
	Avatar(ctx context.Context, userID string) (domain.Avatar, error)
	// Search finds users whose nickname starts with s.Prefix, the exact match first, then in nickname order.
	Search(ctx context.Context, s domain.Search) ([]domain.User, error)

	// AdmitRegistration decides on one registration attempt of key under rule at now, serialized with the
	// key's other attempts (every replica's): unless rule refuses the key's recent attempts, the attempt is
	// recorded and admitted. A refusal records nothing and says how long until the window frees.
	AdmitRegistration(ctx context.Context, key throttle.Key, rule throttle.Rule, now time.Time) (throttled bool, retryAfter time.Duration, err error)
	// PurgeRegistrationAttempts deletes the attempts (and idle keys) older than before; it returns how many rows.
	PurgeRegistrationAttempts(ctx context.Context, before time.Time) (int64, error)
}

// PasswordHasher hashes and checks passwords.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
	// Compare reports whether password matches hash. An empty hash (no such user) is compared with a dummy hash
	// of the same cost, so the answer is false and takes as long as for a real user.
	Compare(ctx context.Context, password, hash string) (bool, error)
}

// Notifier is told after a commit that wrote events (the outbox relay).
type Notifier interface{ Notify() }

// Application is the service's use cases.
type Application struct {
	repo   Repository
	hasher PasswordHasher
	relay  Notifier
	now    func() time.Time
	// decodes bounds concurrent full image decodes: each may allocate up to 4096×4096×8 bytes.
	decodes chan struct{}
	// registerThrottle limits registration attempts per client address (disabled when zero).
	registerThrottle throttle.Rule
}

// Option changes how New makes the application.
type Option func(*Application)

// WithRegistrationThrottle limits registration attempts per client address.
func WithRegistrationThrottle(r throttle.Rule) Option {
	return func(a *Application) { a.registerThrottle = r }
}

// WithClock replaces time.Now (tests move a fake clock through throttle windows).
func WithClock(now func() time.Time) Option { return func(a *Application) { a.now = now } }

// New makes the application.
func New(repo Repository, hasher PasswordHasher, relay Notifier, opts ...Option) *Application {
	n := runtime.GOMAXPROCS(0)
	a := &Application{repo: repo, hasher: hasher, relay: relay, now: time.Now, decodes: make(chan struct{}, n)}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Source is the events' source.
const Source = "profiles"

// Event types (routing keys).
const (
	EventRegistered      = "profiles.user.registered"
	EventUpdated         = "profiles.user.updated"
	EventPasswordChanged = "profiles.user.password_changed"
)

// UserEventData is the data of registered and updated events.
type UserEventData struct {
	User PublicProfile `json:"user"`
}

// PasswordChangedData is the data of password_changed events.
type PasswordChangedData struct {
	UserID    string `json:"user_id"`
	SessionID string `json:"session_id"`
}

func userEvent(typ string) EventFunc {
	return func(u domain.User) (broker.Event, error) {
		return broker.NewEvent(Source, typ, UserEventData{User: NewPublicProfile(u)})
	}
}

// PublicProfile is what anyone may see of a user (the contract's shape, in responses and events).
type PublicProfile struct {
	ID          string    `json:"id"`
	Nickname    string    `json:"nickname"`
	DisplayName string    `json:"display_name"`
	Bio         string    `json:"bio"`
	HasAvatar   bool      `json:"has_avatar"`
	CreatedAt   time.Time `json:"created_at"`
}

// NewPublicProfile is u's public profile.
func NewPublicProfile(u domain.User) PublicProfile {
	return PublicProfile{ID: u.ID, Nickname: u.Nickname, DisplayName: u.DisplayName, Bio: u.Bio,
		HasAvatar: u.HasAvatar(), CreatedAt: u.CreatedAt.UTC()}
}
