package adapters

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus"

	"simplemessenger/platform/metrics"

	"simplemessenger/services/profiles/internal/app"
)

// OWASPParams are the OWASP Password Storage Cheat Sheet's argon2id parameters (m=19 MiB, t=2, p=1).
var OWASPParams = argon2id.Params{Memory: 19 * 1024, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}

// HasherLimits bound the memory the hasher takes: each hash allocates Params.Memory KiB (19 MiB with the OWASP
// parameters) as one block that becomes garbage when the hash is done.
type HasherLimits struct {
	// Concurrency is how many hashes run at once; the others wait for a slot (≤ 0: as many as fit, see
	// fittingConcurrency).
	Concurrency int
	// ReleaseInterval: once no hash has run for a moment, the garbage of the finished hashes is collected and
	// the memory given back to the operating system; at most once per interval unless releaseBatch hashes ran
	// since the last release (0: never: the Go runtime then keeps the freed blocks mapped for later, up to
	// GOMEMLIMIT; 52 MiB 15 s after a burst of logins).
	ReleaseInterval time.Duration
}

// DefaultHasherLimits run as many hashes at once as fit and give the memory back at most every 10 s.
var DefaultHasherLimits = HasherLimits{ReleaseInterval: 10 * time.Second}

// releaseQuiet is how long hashing must have stopped before its memory is given back: long enough that the
// gaps between the hashes of a burst of logins seldom reach it, short enough that a burst's memory goes back
// at once.
const releaseQuiet = 100 * time.Millisecond

// releaseBatch is how many hashes since the last release allow the next one before ReleaseInterval: a release
// costs about 25 ms of CPU (about 10 ms for the collection and the return, the rest for the next hash faulting
// its 19 MiB in again), 16 hashes about 700 ms, so releasing at the end of every burst adds at most 4 %.
const releaseBatch = 16

// Argon2Hasher is app.PasswordHasher with argon2id. Each hash takes Params.Memory KiB, so at most a fixed number
// run at once (the rest wait their turn) and memory stays bounded under a login storm; after a storm the memory
// is given back (HasherLimits.ReleaseInterval).
type Argon2Hasher struct {
	params argon2id.Params
	sem    chan struct{}
	dummy  string
	idle   *idleRelease

	// createHash and compareHash are argon2id's (tests count how many run at once).
	createHash  func(password string, params *argon2id.Params) (string, error)
	compareHash func(password, hash string) (bool, error)

	duration *prometheus.HistogramVec
	hashes   *prometheus.GaugeVec
	releases prometheus.Counter
}

var _ app.PasswordHasher = (*Argon2Hasher)(nil)

// NewArgon2Hasher hashes with params within limits and registers its metrics on reg (may be nil).
func NewArgon2Hasher(params argon2id.Params, limits HasherLimits, reg prometheus.Registerer) (*Argon2Hasher, error) {
	concurrency := limits.Concurrency
	if concurrency <= 0 {
		concurrency = fittingConcurrency(debug.SetMemoryLimit(-1), params.Memory, runtime.GOMAXPROCS(0))
	}
	h := &Argon2Hasher{
		params:      params,
		sem:         make(chan struct{}, concurrency),
		createHash:  argon2id.CreateHash,
		compareHash: argon2id.ComparePasswordAndHash,
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "profiles_password_hash_duration_seconds",
			Help:    "Time to hash or check a password, waiting for a hashing slot included.",
			Buckets: []float64{.01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"op"}),
		hashes: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "profiles_password_hashes",
			Help: "Password hashes and checks running (state=running, at most the hashing concurrency) and waiting for a slot (state=waiting).",
		}, []string{"state"}),
		releases: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "profiles_password_memory_releases_total",
			Help: "Times the memory of finished password hashes was given back to the operating system after hashing went idle.",
		}),
	}
	h.idle = newIdleRelease(releaseQuiet, limits.ReleaseInterval, releaseBatch, func() {
		start := time.Now()
		debug.FreeOSMemory()
		h.releases.Inc()
		slog.Debug("password hashing memory given back", "took", time.Since(start))
	})
	// Both series exist from the start, so dashboards show zero rather than nothing.
	h.duration.WithLabelValues("hash")
	h.duration.WithLabelValues("compare")
	h.hashes.WithLabelValues("running")
	h.hashes.WithLabelValues("waiting")
	if err := metrics.Register(reg, h.duration, h.hashes, h.releases); err != nil {
		return nil, err
	}
	// The dummy hash has the same parameters as real ones, so checking a password against it costs the same.
	// It takes a slot like any hash, so its memory is given back too.
	var pw [16]byte
	_, _ = rand.Read(pw[:])
	done, err := h.acquire(context.Background())
	if err != nil {
		return nil, err
	}
	defer done()
	if h.dummy, err = h.createHash(hex.EncodeToString(pw[:]), &h.params); err != nil {
		return nil, err
	}
	return h, nil
}

// hashReserve is the memory the service needs besides its hashes (heap, stacks, runtime; 4–8 MiB measured).
const hashReserve = 16 << 20

// fittingConcurrency is how many hashes of hashKiB may run at once under the Go memory limit (GOMEMLIMIT, bytes;
// math.MaxInt64 when unset) on cpus: one per CPU (a hash is pure CPU: more at once would only add memory), but
// no more than fit in the limit after hashReserve, each with its block live and room for as much garbage again.
// Without that room the collector runs for nearly every hash to stay under the limit: measured at 57 MiB with 2
// at once, 35 % more CPU per login than 1 at once, and slower logins.
func fittingConcurrency(memLimit int64, hashKiB uint32, cpus int) int {
	n := cpus
	if memLimit < math.MaxInt64 {
		n = min(n, int((memLimit-hashReserve)/(2*int64(hashKiB)<<10)))
	}
	return max(n, 1)
}

// acquire takes a hashing slot (waiting for one until ctx ends); the caller runs one hash, then calls the
// returned function.
func (h *Argon2Hasher) acquire(ctx context.Context) (done func(), err error) {
	select {
	case h.sem <- struct{}{}:
	default:
		waiting := h.hashes.WithLabelValues("waiting")
		waiting.Inc()
		select {
		case h.sem <- struct{}{}:
			waiting.Dec()
		case <-ctx.Done():
			waiting.Dec()
			return nil, fmt.Errorf("waiting for a password hashing slot: %w", ctx.Err())
		}
	}
	running := h.hashes.WithLabelValues("running")
	running.Inc()
	h.idle.begin()
	return func() {
		h.idle.end()
		running.Dec()
		<-h.sem
	}, nil
}

// Hash returns the PHC-encoded argon2id hash of password.
func (h *Argon2Hasher) Hash(ctx context.Context, password string) (string, error) {
	defer h.observe("hash", time.Now())
	done, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer done()
	return h.createHash(password, &h.params)
}

// Compare checks password against hash in constant time; an empty hash is checked against the dummy and is false.
func (h *Argon2Hasher) Compare(ctx context.Context, password, hash string) (bool, error) {
	defer h.observe("compare", time.Now())
	done, err := h.acquire(ctx)
	if err != nil {
		return false, err
	}
	defer done()
	if hash == "" {
		_, _ = h.compareHash(password, h.dummy)
		return false, nil
	}
	return h.compareHash(password, hash)
}

func (h *Argon2Hasher) observe(op string, start time.Time) {
	h.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
