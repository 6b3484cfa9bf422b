// Package app holds the gateway's use cases over small interfaces: keeping the set of revoked sessions in
// step with the auth service.
package app

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"simplemessenger/services/gateway/internal/domain"
)

// RevokedSession is one entry of auth's list of recently revoked sessions.
type RevokedSession struct {
	SessionID string
	UserID    string
	// ExpiresAt is when the session's last access token expires.
	ExpiresAt time.Time
}

// RevocationSource lists the sessions revoked recently enough that one of their tokens may still be valid
// (the auth service).
type RevocationSource interface {
	RevokedSessions(ctx context.Context) ([]RevokedSession, error)
}

// ErrRevocationsNotLoaded is the readiness failure until the list has been loaded once.
var ErrRevocationsNotLoaded = errors.New("the revoked sessions have not been loaded yet")

// Revocations keeps the set of revoked sessions: events add to it as they come, and a full load from the
// source after every (re)connection to the broker covers what was published while the gateway was not
// listening (its queue is per process and transient).
type Revocations struct {
	set    *domain.RevokedSessions
	source RevocationSource
	now    func() time.Time
	log    *slog.Logger

	loaded atomic.Bool
	resync chan struct{}
	// Retry bounds of a failing load.
	MinBackoff, MaxBackoff time.Duration
	// OnRevoke, when set (before Run), is told of every revoked session, from events and from loads: the
	// hub closes the session's sockets. Loads repeat sessions already known, so it must be idempotent.
	OnRevoke func(sessionID string)
}

// NewRevocations keeps set in step with source.
func NewRevocations(set *domain.RevokedSessions, source RevocationSource, now func() time.Time, log *slog.Logger) *Revocations {
	return &Revocations{
		set: set, source: source, now: now, log: log,
		resync:     make(chan struct{}, 1),
		MinBackoff: 100 * time.Millisecond, MaxBackoff: 5 * time.Second,
	}
}

// Revoke records a revocation event.
func (r *Revocations) Revoke(sessionID string, expiresAt time.Time) {
	r.set.Revoke(sessionID, expiresAt, r.now())
	if r.OnRevoke != nil {
		r.OnRevoke(sessionID)
	}
}

// IsRevoked reports whether the session's tokens must be refused.
func (r *Revocations) IsRevoked(sessionID string) bool {
	return r.set.IsRevoked(sessionID, r.now())
}

// Ready fails until the list has been loaded at least once.
func (r *Revocations) Ready(context.Context) error {
	if !r.loaded.Load() {
		return ErrRevocationsNotLoaded
	}
	return nil
}

// RequestResync asks the Run loop for a full load. It never blocks, so it can be the broker's OnReady.
func (r *Revocations) RequestResync() {
	select {
	case r.resync <- struct{}{}:
	default: // a load is already pending; it will see everything this one would.
	}
}

// Load merges the source's list into the set. Nothing is removed: an event that arrived during the load
// stays valid, and entries leave only by expiring.
func (r *Revocations) Load(ctx context.Context) error {
	items, err := r.source.RevokedSessions(ctx)
	if err != nil {
		return err
	}
	now := r.now()
	for _, it := range items {
		r.set.Revoke(it.SessionID, it.ExpiresAt, now)
		if r.OnRevoke != nil {
			r.OnRevoke(it.SessionID)
		}
	}
	r.loaded.Store(true)
	r.log.InfoContext(ctx, "revoked sessions loaded", "count", len(items))
	return nil
}

// Run performs the requested loads until ctx ends, retrying a failed one with backoff (auth may still be
// starting).
func (r *Revocations) Run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-r.resync:
		}
		backoff := r.MinBackoff
		for {
			err := r.Load(ctx)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.WarnContext(ctx, "cannot load the revoked sessions; retrying", "error", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, r.MaxBackoff)
		}
	}
}
