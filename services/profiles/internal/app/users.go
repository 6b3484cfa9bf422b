package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"simplemessenger/platform/apierr"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/contract"
	"simplemessenger/platform/events"
	"simplemessenger/platform/rules"
	"simplemessenger/platform/throttle"

	"simplemessenger/services/profiles/internal/domain"
)

// RegisterCommand is a registration and the client address it comes from.
type RegisterCommand struct {
	Nickname    string
	Password    string
	DisplayName *string
	ClientIP    string
}

// Register creates a user. The nickname's uniqueness is the database's unique index (no check-then-insert race).
// A well-formed registration counts against its client address's throttle before the password is hashed,
// whether it then succeeds or finds the nickname taken (probing nicknames is an attempt too); malformed input
// costs nothing and counts nothing. Over the limit it is refused with 429 and nothing is created.
func (a *Application) Register(ctx context.Context, cmd RegisterCommand) (domain.User, error) {
	u, err := a.register(ctx, cmd)
	if a.registrations != nil {
		a.registrations.WithLabelValues(registrationOutcome(err)).Inc()
	}
	return u, err
}

// registrationOutcome names the outcome of a registration that ended with err.
func registrationOutcome(err error) string {
	var violation *rules.Violation
	var refusal *apierr.Error
	switch {
	case err == nil:
		return RegistrationCreated
	case errors.As(err, &violation):
		return RegistrationInvalid
	case errors.Is(err, ErrNicknameTaken):
		return RegistrationTaken
	case errors.As(err, &refusal) && refusal.Status == http.StatusTooManyRequests:
		return RegistrationThrottled
	}
	return RegistrationFailed
}

func (a *Application) register(ctx context.Context, cmd RegisterCommand) (domain.User, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return domain.User{}, err
	}
	u, err := domain.NewUser(id.String(), cmd.Nickname, cmd.DisplayName, a.now())
	if err != nil {
		return domain.User{}, err
	}
	if err := domain.ValidatePassword(cmd.Password); err != nil {
		return domain.User{}, err
	}
	if err := a.admitRegistration(ctx, cmd.ClientIP); err != nil {
		return domain.User{}, err
	}
	hash, err := a.hasher.Hash(ctx, cmd.Password)
	if err != nil {
		return domain.User{}, fmt.Errorf("hash password: %w", err)
	}
	if err := a.repo.Create(ctx, u, hash, userEvent(events.UserRegistered)); err != nil {
		return domain.User{}, err
	}
	a.relay.Notify()
	return u, nil
}

// admitRegistration applies the per-address registration throttle.
func (a *Application) admitRegistration(ctx context.Context, clientIP string) error {
	if !a.registerThrottle.Enabled() {
		return nil
	}
	throttled, wait, err := a.repo.AdmitRegistration(ctx, throttle.AddressKey(clientIP), a.registerThrottle, a.now())
	if err != nil {
		return fmt.Errorf("registration throttle: %w", err)
	}
	if throttled {
		e := apierr.TooManyRequests("too many registrations from this address; try again later", throttle.RetryAfterSeconds(wait))
		e.Code = "too_many_registrations"
		return e
	}
	return nil
}

// User returns a user's profile.
func (a *Application) User(ctx context.Context, id string) (domain.User, error) {
	if !contract.ValidUserID(id) {
		return domain.User{}, ErrUserNotFound
	}
	return a.repo.Get(ctx, id)
}

// Users returns the users of ids (a domain.ParseIDBatch list) that exist, in the order of ids; unknown and
// malformed ids are left out, so a caller holding a deleted user's id still gets the others.
func (a *Application) Users(ctx context.Context, ids []string) ([]domain.User, error) {
	valid := make([]string, 0, len(ids))
	for _, id := range ids {
		if contract.ValidUserID(id) {
			valid = append(valid, id)
		}
	}
	if len(valid) == 0 {
		return []domain.User{}, nil
	}
	found, err := a.repo.GetMany(ctx, valid)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]domain.User, len(found))
	for _, u := range found {
		byID[u.ID] = u
	}
	users := make([]domain.User, 0, len(found))
	for _, id := range valid {
		if u, ok := byID[id]; ok {
			users = append(users, u)
		}
	}
	return users, nil
}

// UpdateProfile applies a PATCH and returns the profile as it is afterwards.
func (a *Application) UpdateProfile(ctx context.Context, userID string, p domain.ProfileUpdate) (domain.User, error) {
	if err := p.Validate(); err != nil {
		return domain.User{}, err
	}
	changed := false
	u, err := a.repo.UpdateProfile(ctx, userID, func(u *domain.User) (bool, error) {
		changed = p.Apply(u)
		return changed, nil
	}, userEvent(events.UserUpdated))
	if err != nil {
		return domain.User{}, err
	}
	if changed {
		a.relay.Notify()
	}
	return u, nil
}

// ChangePasswordCommand is a password change from the session SessionID.
type ChangePasswordCommand struct {
	UserID          string
	SessionID       string
	CurrentPassword string
	NewPassword     string
}

// ChangePassword checks the current password and stores the new one, announcing it (auth then revokes the
// user's other sessions). The slow hashing happens outside the transaction; the write is a compare-and-swap on
// the old hash, so a concurrent change is not silently overwritten.
func (a *Application) ChangePassword(ctx context.Context, cmd ChangePasswordCommand) error {
	if err := domain.ValidatePassword(cmd.NewPassword); err != nil {
		return err
	}
	oldHash, err := a.repo.PasswordHash(ctx, cmd.UserID)
	if err != nil {
		return err
	}
	ok, err := a.hasher.Compare(ctx, cmd.CurrentPassword, oldHash)
	if err != nil {
		return fmt.Errorf("check password: %w", err)
	}
	if !ok {
		return ErrWrongPassword
	}
	newHash, err := a.hasher.Hash(ctx, cmd.NewPassword)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	ev, err := broker.NewEvent(Source, events.PasswordChanged, events.PasswordChangedData{UserID: cmd.UserID, SessionID: cmd.SessionID})
	if err != nil {
		return err
	}
	if err := a.repo.ChangePassword(ctx, cmd.UserID, oldHash, newHash, ev); err != nil {
		if errors.Is(err, ErrPasswordChanged) {
			// Someone changed it since we checked: the password given is no longer the current one.
			return ErrWrongPassword
		}
		return err
	}
	a.relay.Notify()
	return nil
}

// VerifyCredentials returns the user whose nickname and password these are, or ErrInvalidCredentials. Unknown
// and malformed nicknames cost a hash comparison too, so timing does not tell which nicknames exist.
func (a *Application) VerifyCredentials(ctx context.Context, nickname, password string) (domain.User, error) {
	var (
		u    domain.User
		hash string
		err  error
	)
	if domain.ValidateNickname(nickname) == nil {
		u, hash, err = a.repo.Credentials(ctx, domain.NormalizeNickname(nickname))
		if err != nil && !errors.Is(err, ErrUserNotFound) {
			return domain.User{}, err
		}
	}
	if len(password) > 4*domain.PasswordMaxLen {
		// No valid password is this long; do not hash megabytes, but spend the same time.
		password, hash = "", ""
	}
	ok, err := a.hasher.Compare(ctx, password, hash)
	if err != nil {
		return domain.User{}, fmt.Errorf("check password: %w", err)
	}
	if !ok || hash == "" {
		return domain.User{}, ErrInvalidCredentials
	}
	return u, nil
}

// Search finds users by nickname prefix.
func (a *Application) Search(ctx context.Context, s domain.Search) ([]domain.User, error) {
	return a.repo.Search(ctx, s)
}
