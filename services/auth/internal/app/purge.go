package app

import (
	"context"
	"log/slog"
	"time"
)

// sessionRetention keeps finished sessions a while after their last access token expired (for operators
// looking into an incident); it is never shorter than what the revoked-sessions list needs.
const sessionRetention = 24 * time.Hour

// Purge deletes what no rule needs any more: login failures older than the throttle window, expired refresh
// tokens, and sessions finished long enough ago. Every replica may run it (server.App.Every): the deletes are
// idempotent and batched.
func (s *Application) Purge(ctx context.Context, failureWindow time.Duration) {
	now := s.now()
	n, err := s.repo.Purge(ctx, now.Add(-failureWindow), now, now.Add(-max(sessionRetention, s.cfg.AccessTokenTTL)))
	if err != nil {
		slog.WarnContext(ctx, "purge failed", "error", err)
		return
	}
	if n > 0 {
		slog.DebugContext(ctx, "purged", "rows", n)
	}
}
