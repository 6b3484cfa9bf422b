package main

import (
	"context"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// recorder collects the latencies and errors of one measured interval from many goroutines.
type recorder struct {
	mu     sync.Mutex
	lat    []time.Duration
	errs   atomic.Int64
	first  atomic.Value // first error, for the report
	active atomic.Bool  // false during the warm-up: nothing is recorded
}

func (r *recorder) ok(d time.Duration) {
	if !r.active.Load() {
		return
	}
	r.mu.Lock()
	r.lat = append(r.lat, d)
	r.mu.Unlock()
}

func (r *recorder) fail(err error) {
	if !r.active.Load() {
		return
	}
	if r.errs.Add(1) == 1 && err != nil {
		r.first.Store(err.Error())
	}
}

func (r *recorder) firstError() string {
	s, _ := r.first.Load().(string)
	return s
}

// summary is what one interval produced.
type summary struct {
	Count     int     `json:"count"`
	Errors    int64   `json:"errors"`
	FirstErr  string  `json:"first_error,omitempty"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	P50ms     float64 `json:"p50_ms"`
	P99ms     float64 `json:"p99_ms"`
	Maxms     float64 `json:"max_ms"`
}

func (r *recorder) summary(elapsed time.Duration) summary {
	r.mu.Lock()
	lat := slices.Clone(r.lat)
	r.mu.Unlock()
	slices.Sort(lat)
	s := summary{Count: len(lat), Errors: r.errs.Load(), FirstErr: r.firstError(), Seconds: elapsed.Seconds()}
	if elapsed > 0 {
		s.PerSecond = float64(len(lat)) / elapsed.Seconds()
	}
	if len(lat) > 0 {
		s.P50ms = ms(percentile(lat, 0.50))
		s.P99ms = ms(percentile(lat, 0.99))
		s.Maxms = ms(lat[len(lat)-1])
	}
	return s
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return math.Round(float64(d.Microseconds())/10) / 100 }

// closedLoop runs workers goroutines, each calling op back to back, for warmup (not recorded) and then
// duration (recorded), and returns the recorded interval's summary. op returns an error for a failed call.
func closedLoop(ctx context.Context, workers int, warmup, duration time.Duration, op func(ctx context.Context, worker int) error) summary {
	return closedLoopTimed(ctx, workers, warmup, duration, func(ctx context.Context, w int) (time.Duration, error) {
		return 0, op(ctx, w)
	})
}

// closedLoopTimed is closedLoop where op may time its call itself (a non-zero duration), for calls whose
// measured part ends before they return.
func closedLoopTimed(ctx context.Context, workers int, warmup, duration time.Duration, op func(ctx context.Context, worker int) (time.Duration, error)) summary {
	return closedLoopMarked(ctx, workers, warmup, duration, nil, op)
}

// closedLoopMarked is closedLoopTimed that calls mark(true) as the measured window opens and mark(false) as it
// closes (a cost window's readings).
func closedLoopMarked(ctx context.Context, workers int, warmup, duration time.Duration, mark func(opening bool), op func(ctx context.Context, worker int) (time.Duration, error)) summary {
	if mark == nil {
		mark = func(bool) {}
	}
	var r recorder
	var stop atomic.Bool
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() && ctx.Err() == nil {
				start := time.Now()
				took, err := op(ctx, w)
				if took == 0 {
					took = time.Since(start)
				}
				if err != nil {
					r.fail(err)
				} else {
					r.ok(took)
				}
			}
		}()
	}
	sleep(ctx, warmup)
	mark(true)
	r.active.Store(true)
	start := time.Now()
	sleep(ctx, duration)
	r.active.Store(false) // calls still in flight finish unrecorded; none is cut
	elapsed := time.Since(start)
	mark(false)
	stop.Store(true)
	wg.Wait()
	return r.summary(elapsed)
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
