package app

import (
	"context"
	"log/slog"
	"time"
)

// sessionRetention keeps finished sessions a while after their last access token expired (for operators
// looking into an incident); it is never shorter than what the revoked-sessions list needs.
const sessionRetention = 24 * time.Hour

// PurgeLoop deletes, every interval, what no rule needs any more: login failures older than the throttle
// window, expired refresh tokens, and sessions finished long enough ago. Every replica may run it: the
// deletes are idempotent and batched.
func (s *Service) PurgeLoop(ctx context.Context, interval, failureWindow time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		now := s.now()
		n, err := s.repo.Purge(ctx, now.Add(-failureWindow), now, now.Add(-max(sessionRetention, s.cfg.AccessTokenTTL)))
		if err != nil {
			slog.WarnContext(ctx, "purge failed", "error", err)
			continue
		}
		if n > 0 {
			slog.DebugContext(ctx, "purged", "rows", n)
		}
	}
}
