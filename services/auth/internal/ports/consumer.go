package ports

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"simplemessenger/platform/broker"
	"simplemessenger/platform/events"

	"simplemessenger/services/auth/internal/app"
)

// PasswordChangedQueue consumes profiles' events.PasswordChanged.
const PasswordChangedQueue = "auth.password-changed"

// PasswordChanged revokes the user's other sessions when the password changes, in the inbox transaction,
// which bind turns into the use cases' Tx.
func PasswordChanged(a *app.Application, bind func(*sql.Tx) app.Tx) broker.Handler {
	return func(ctx context.Context, tx *sql.Tx, ev broker.Event) error {
		var data events.PasswordChangedData
		if err := ev.Decode(&data); err != nil {
			return broker.Permanent(fmt.Errorf("%s %s: %w", ev.Type, ev.ID, err))
		}
		if data.UserID == "" {
			return broker.Permanent(errors.New(ev.Type + " " + ev.ID + ": no user_id"))
		}
		return a.PasswordChanged(ctx, bind(tx), data.UserID, data.SessionID)
	}
}
