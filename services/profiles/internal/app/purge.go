package app

import (
	"context"
	"log/slog"
)

// PurgeRegistrationAttempts deletes registration attempts that left the throttle window (they decide nothing any
// more). Every replica may run it (server.App.Every): the deletes are idempotent.
func (a *Application) PurgeRegistrationAttempts(ctx context.Context) {
	n, err := a.repo.PurgeRegistrationAttempts(ctx, a.registerThrottle.Since(a.now()))
	if err != nil {
		slog.WarnContext(ctx, "purging registration attempts failed", "error", err)
		return
	}
	if n > 0 {
		slog.DebugContext(ctx, "purged registration attempts", "rows", n)
	}
}
