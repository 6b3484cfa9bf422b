package adapters

import (
	"sync"
	"time"
)

// idleRelease runs release (giving freed memory back to the operating system) once work has stopped: when
// nothing has been running for quiet. A release costs CPU (a collection, and the next work faulting its memory
// in again), so one follows another only after every, or sooner after at least batch pieces of work, whose
// own cost dwarfs it: a burst's memory goes back as soon as it ends, even if a pause inside it released
// already, and a trickle of single pieces releases at most once per every. An idle process with nothing new
// to give back never releases.
type idleRelease struct {
	quiet, every time.Duration
	batch        int
	release      func()
	now          func() time.Time
	after        func(d time.Duration, f func()) // time.AfterFunc; tests fire by hand

	mu      sync.Mutex
	running int
	work    int  // pieces of work begun since the last release
	pending bool // a check is scheduled, due then
	due     time.Time
	gen     int       // the scheduled check's number: an earlier check replaced by a sooner one does nothing
	lastEnd time.Time // when the last work ended
	last    time.Time // the last release
}

// newIdleRelease makes the releaser; every ≤ 0 disables it.
func newIdleRelease(quiet, every time.Duration, batch int, release func()) *idleRelease {
	return &idleRelease{quiet: quiet, every: every, batch: batch, release: release, now: time.Now,
		after: func(d time.Duration, f func()) { time.AfterFunc(d, f) }}
}

func (r *idleRelease) begin() {
	r.mu.Lock()
	r.running++
	r.work++
	r.mu.Unlock()
}

func (r *idleRelease) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.running--
	r.lastEnd = r.now()
	if r.running > 0 || r.every <= 0 {
		return
	}
	// The check may come sooner than one already scheduled: this work completed a batch.
	if d := r.wait(r.lastEnd); !r.pending || r.lastEnd.Add(d).Before(r.due) {
		r.schedule(r.lastEnd, d)
	}
}

// schedule makes the check due d after now, replacing any scheduled one (mu held).
func (r *idleRelease) schedule(now time.Time, d time.Duration) {
	r.pending, r.due = true, now.Add(d)
	r.gen++
	gen := r.gen
	r.after(d, func() { r.check(gen) })
}

// wait is how long from now until a release may happen (mu held).
func (r *idleRelease) wait(now time.Time) time.Duration {
	d := r.lastEnd.Add(r.quiet).Sub(now)
	if !r.last.IsZero() && r.work < r.batch {
		d = max(d, r.last.Add(r.every).Sub(now))
	}
	return max(d, 0)
}

// check releases if the work has stayed stopped; when work is running again, its end schedules the next check.
func (r *idleRelease) check(gen int) {
	r.mu.Lock()
	if gen != r.gen {
		r.mu.Unlock()
		return
	}
	r.pending = false
	if r.running > 0 || r.work == 0 {
		r.mu.Unlock()
		return
	}
	now := r.now()
	if d := r.wait(now); d > 0 {
		// Work ran and ended since this check was scheduled, or the last release is too recent.
		r.schedule(now, d)
		r.mu.Unlock()
		return
	}
	// Work beginning during the release counts towards the next one, so its memory is released later too.
	r.work, r.last = 0, now
	r.mu.Unlock()
	r.release()
}
