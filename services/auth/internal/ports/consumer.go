package ports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"

	"simplemessenger/services/auth/internal/app"
)

// PasswordChangedQueue is the consumer of profiles' password changes; PasswordChangedEvent its routing key.
const (
	PasswordChangedQueue = "auth.password-changed"
	PasswordChangedEvent = "profiles.user.password_changed"
)

// PasswordChanged revokes the user's other sessions when the password changes, in the inbox transaction.
func PasswordChanged(svc *app.Service) broker.Handler {
	return func(ctx context.Context, tx *sql.Tx, ev broker.Event) error {
		var data struct {
			UserID    string `json:"user_id"`
			SessionID string `json:"session_id"`
		}
		if err := ev.Decode(&data); err != nil {
			return broker.Permanent(fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err))
		}
		if data.UserID == "" {
			return broker.Permanent(errors.New(ev.Type + " " + ev.ID + ": no user_id"))
		}
		return svc.PasswordChanged(ctx, tx, data.UserID, data.SessionID)
	}
}
