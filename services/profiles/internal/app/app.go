// Package app holds the profiles service's use cases over small interfaces: the repository (MySQL, with the
// outbox in the same transaction) and the password hasher.
package app

import (
	"context"
	"errors"
	"runtime"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"
	"simplemessenger/platform/metrics"
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
	// registrations counts registrations by outcome (nil: not counted).
	registrations *prometheus.CounterVec
}

// Option changes how New makes the application.
type Option func(*Application)

// WithRegistrationThrottle limits registration attempts per client address.
func WithRegistrationThrottle(r throttle.Rule) Option {
	return func(a *Application) { a.registerThrottle = r }
}

// Registration outcomes (the profiles_registrations_total label values).
const (
	RegistrationCreated   = "created"
	RegistrationInvalid   = "invalid"
	RegistrationTaken     = "nickname_taken"
	RegistrationThrottled = "throttled"
	RegistrationFailed    = "error"
)

// WithMetrics counts registrations by outcome on reg, as profiles_registrations_total{outcome}: a refused
// registration is an invalid form, a nickname taken (probing), or an address over its throttle (a bot).
func WithMetrics(reg prometheus.Registerer) (Option, error) {
	c, err := metrics.NewCounts(reg, "profiles_registrations_total", "Registration attempts by outcome.", "outcome",
		RegistrationCreated, RegistrationInvalid, RegistrationTaken, RegistrationThrottled, RegistrationFailed)
	if err != nil {
		return nil, err
	}
	return func(a *Application) { a.registrations = c }, nil
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

// userEvent announces u as events.UserRegistered or events.UserUpdated (typ).
func userEvent(typ string) EventFunc {
	return func(u domain.User) (broker.Event, error) {
		return broker.NewEvent(Source, typ, events.UserData{User: NewPublicProfile(u)})
	}
}

// PublicProfile is what anyone may see of a user: the contract's shape, in responses and in events alike.
type PublicProfile = events.Profile

// NewPublicProfile is u's public profile.
func NewPublicProfile(u domain.User) PublicProfile {
	return PublicProfile{ID: u.ID, Nickname: u.Nickname, DisplayName: u.DisplayName, Bio: u.Bio,
		HasAvatar: u.HasAvatar(), CreatedAt: u.CreatedAt.UTC()}
}
