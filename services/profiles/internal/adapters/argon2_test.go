package adapters

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alexedwards/argon2id"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"simplemessenger/platform/server/servertest"
)

var cheap = argon2id.Params{Memory: 64, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

func TestArgon2HashesWithOWASPParameters(t *testing.T) {
	t.Parallel()
	h, err := NewArgon2Hasher(OWASPParams, HasherLimits{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, err := h.Hash(context.Background(), "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(hash, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %s", hash)
	}
	p, salt, key, err := argon2id.DecodeHash(hash)
	if err != nil || *p != OWASPParams || len(salt) != 16 || len(key) != 32 {
		t.Errorf("params %+v salt %d key %d %v", p, len(salt), len(key), err)
	}
}

func TestArgon2CompareAndTheDummyHash(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h, err := NewArgon2Hasher(cheap, HasherLimits{Concurrency: 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := h.Hash(ctx, "pässwörd1")
	if ok, err := h.Compare(ctx, "pässwörd1", hash); !ok || err != nil {
		t.Errorf("right password: %v %v", ok, err)
	}
	if ok, _ := h.Compare(ctx, "passwörd1", hash); ok {
		t.Error("wrong password accepted")
	}
	// No such user: the dummy is compared (same cost) and the answer is always no.
	if ok, err := h.Compare(ctx, "anything", ""); ok || err != nil {
		t.Errorf("empty hash: %v %v", ok, err)
	}
	if !strings.Contains(h.dummy, "m=64,t=1,p=1") {
		t.Errorf("the dummy must have the real hashes' cost: %s", h.dummy)
	}
}

func TestArgon2WaitsForAFreeSlot(t *testing.T) {
	t.Parallel()
	h, err := NewArgon2Hasher(cheap, HasherLimits{Concurrency: 1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.sem <- struct{}{} // the only slot is busy
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Hash(ctx, "password1"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want to wait until the deadline, got %v", err)
	}
	<-h.sem
	if _, err := h.Hash(context.Background(), "password1"); err != nil {
		t.Fatal(err)
	}
}

func TestArgon2RunsAtMostConcurrencyHashesAtOnce(t *testing.T) {
	t.Parallel()
	const concurrency, callers = 2, 8
	h, err := NewArgon2Hasher(cheap, HasherLimits{Concurrency: concurrency}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var inside, most atomic.Int32
	gate := make(chan struct{})
	hold := func() {
		n := inside.Add(1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		<-gate
		inside.Add(-1)
	}
	h.createHash = func(string, *argon2id.Params) (string, error) { hold(); return "hash", nil }
	h.compareHash = func(string, string) (bool, error) { hold(); return true, nil }

	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() {
			if i%2 == 0 {
				_, _ = h.Hash(context.Background(), "password1")
			} else {
				_, _ = h.Compare(context.Background(), "password1", "stored")
			}
		})
	}
	// Every caller is either hashing or waiting for a slot: 19 MiB each would be taken now if they all ran.
	running, waiting := h.hashes.WithLabelValues("running"), h.hashes.WithLabelValues("waiting")
	servertest.Eventually(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(running)+testutil.ToFloat64(waiting) == callers
	}, "all callers to arrive")
	if got := inside.Load(); got != concurrency || testutil.ToFloat64(running) != concurrency {
		t.Fatalf("%d hashes running at once (gauge %v), want %d", got, testutil.ToFloat64(running), concurrency)
	}
	close(gate)
	wg.Wait()
	if got := most.Load(); got != concurrency {
		t.Errorf("at most %d hashes at once, want %d", got, concurrency)
	}
	if testutil.ToFloat64(running) != 0 || testutil.ToFloat64(waiting) != 0 {
		t.Errorf("gauges after the burst: running %v waiting %v", testutil.ToFloat64(running), testutil.ToFloat64(waiting))
	}
}

func TestArgon2GivesMemoryBackWhenHashingGoesIdle(t *testing.T) {
	t.Parallel()
	h, err := NewArgon2Hasher(cheap, HasherLimits{Concurrency: 2, ReleaseInterval: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The dummy hash made at start is given back once the quiet period has passed.
	servertest.Eventually(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(h.releases) == 1
	}, "the release after the dummy hash")
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := h.Hash(ctx, "password1"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	servertest.Eventually(t, 10*time.Second, func() bool {
		return testutil.ToFloat64(h.releases) >= 2
	}, "the release after the burst")
}

func TestArgon2ConcurrencyFitsTheMemoryLimit(t *testing.T) {
	t.Parallel()
	const mib = 1 << 20
	for _, c := range []struct {
		limit int64
		cpus  int
		want  int
	}{
		{math.MaxInt64, 4, 4}, // no GOMEMLIMIT: one per CPU
		{57 * mib, 2, 1},      // the Helm charts' 90 % of 64 MiB: 2 × 19 MiB live leaves no room for garbage
		{115 * mib, 2, 2},     // 90 % of 128 MiB
		{115 * mib, 8, 2},     // more CPUs than fit
		{8 * mib, 2, 1},       // always at least one
		{1 << 40, 1, 1},       // never more than the CPUs
	} {
		if got := fittingConcurrency(c.limit, OWASPParams.Memory, c.cpus); got != c.want {
			t.Errorf("limit %d MiB, %d CPUs: %d at once, want %d", c.limit/mib, c.cpus, got, c.want)
		}
	}
}
