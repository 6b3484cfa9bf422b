package adapters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"runtime"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/metrics"

	"simplemessenger/services/profiles/internal/app"
)

// OWASPParams are the OWASP Password Storage Cheat Sheet's argon2id parameters (m=19 MiB, t=2, p=1).
var OWASPParams = argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// Argon2Hasher is app.PasswordHasher with argon2id. Each hash takes Params.Memory KiB, so at most a fixed number
// run at once (the rest wait their turn) and memory stays bounded under a login storm.
type Argon2Hasher struct {
	params   argon2id.Params
	sem      chan struct{}
	dummy    string
	duration *prometheus.HistogramVec
}

var _ app.PasswordHasher = (*Argon2Hasher)(nil)

// NewArgon2Hasher hashes with params, at most concurrency at a time (≤ 0: GOMAXPROCS: a hash is pure CPU, so
// more at once only adds their memory, not speed), and registers its metrics on reg (may be nil).
func NewArgon2Hasher(params argon2id.Params, concurrency int, reg prometheus.Registerer) (*Argon2Hasher, error) {
	if concurrency <= 0 {
		concurrency = runtime.GOMAXPROCS(0)
	}
	h := &Argon2Hasher{
		params: params,
		sem:    make(chan struct{}, concurrency),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "profiles_password_hash_duration_seconds",
			Help:    "Time to hash or check a password, waiting for a hashing slot included.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
	}
	// Both series exist from the start, so dashboards show zero rather than nothing.
	h.duration.WithLabelValues("hash")
	h.duration.WithLabelValues("compare")
	if err := metrics.Register(reg, h.duration); err != nil {
		return nil, err
	}
	// The dummy hash has the same parameters as real ones, so checking a password against it costs the same.
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	dummy, err := argon2id.CreateHash(hex.EncodeToString(pw[:]), &params)
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

func (h *Argon2Hasher) acquire(ctx context.Context) error {
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for a password hashing slot: %w", ctx.Err())
	}
}

// Hash returns the PHC-encoded argon2id hash of password.
func (h *Argon2Hasher) Hash(ctx context.Context, password string) (string, error) {
	defer h.observe("hash", time.Now())
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer func() { <-h.sem }()
	return argon2id.CreateHash(password, &h.params)
}

// Compare checks password against hash in constant time; an empty hash is checked against the dummy and is false.
func (h *Argon2Hasher) Compare(ctx context.Context, password, hash string) (bool, error) {
	defer h.observe("compare", time.Now())
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer func() { <-h.sem }()
	if hash == "" {
		_, _ = argon2id.ComparePasswordAndHash(password, h.dummy)
		return false, nil
	}
	return argon2id.ComparePasswordAndHash(password, hash)
}

func (h *Argon2Hasher) observe(op string, start time.Time) {
	h.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
