package adapters

import (
	"testing"
	"time"
)

// manual is a clock and scheduler the test moves by hand.
type manual struct {
	now       time.Time
	scheduled []time.Duration // delays asked for
	due       time.Time       // when the pending check is due
	check     func()          // the pending check
	releases  int
}

const testBatch = 4

func newManual(quiet, every time.Duration) (*idleRelease, *manual) {
	m := &manual{now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	r := newIdleRelease(quiet, every, testBatch, func() { m.releases++ })
	r.now = func() time.Time { return m.now }
	r.after = func(d time.Duration, f func()) { m.scheduled, m.due, m.check = append(m.scheduled, d), m.now.Add(d), f }
	return r, m
}

// fire moves the clock to the pending check's time and runs it.
func (m *manual) fire(t *testing.T) {
	t.Helper()
	if m.check == nil {
		t.Fatal("no check scheduled")
	}
	m.now = m.due
	f := m.check
	m.check = nil
	f()
}

func TestMemoryIsReleasedOnceWorkHasStoppedForTheQuietPeriod(t *testing.T) {
	r, m := newManual(250*time.Millisecond, 10*time.Second)
	r.begin()
	r.begin()
	r.end()
	if m.check != nil {
		t.Fatal("a check was scheduled while a hash still runs")
	}
	r.end()
	if len(m.scheduled) != 1 || m.scheduled[0] != 250*time.Millisecond {
		t.Fatalf("want one check after the quiet period, got %v", m.scheduled)
	}
	m.fire(t)
	if m.releases != 1 {
		t.Fatalf("releases %d, want 1", m.releases)
	}
	// Nothing ran since: nothing to give back, nothing scheduled.
	if m.check != nil {
		t.Fatal("a check was scheduled with no new work")
	}
}

func TestNoReleaseWhileWorkRuns(t *testing.T) {
	r, m := newManual(250*time.Millisecond, 10*time.Second)
	r.begin()
	r.end()
	r.begin() // work again before the check
	m.fire(t)
	if m.releases != 0 {
		t.Fatal("released while a hash runs")
	}
	r.end() // the end of that work schedules the next check
	m.fire(t)
	if m.releases != 1 {
		t.Fatalf("releases %d, want 1 once the work ended", m.releases)
	}
}

func TestWorkThatEndsAfterTheCheckWasScheduledPostponesIt(t *testing.T) {
	r, m := newManual(250*time.Millisecond, 10*time.Second)
	r.begin()
	r.end()
	m.now = m.now.Add(200 * time.Millisecond)
	r.begin()
	r.end() // ends 200 ms after the first: the check must wait for its quiet period too
	m.fire(t)
	if m.releases != 0 {
		t.Fatal("released before the quiet period after the last hash")
	}
	if got := m.scheduled[len(m.scheduled)-1]; got != 200*time.Millisecond {
		t.Fatalf("rescheduled after %v, want the rest of the quiet period (200ms)", got)
	}
	m.fire(t)
	if m.releases != 1 {
		t.Fatalf("releases %d, want 1", m.releases)
	}
}

func TestReleasesOfSmallWorkAreAtMostOnePerInterval(t *testing.T) {
	r, m := newManual(250*time.Millisecond, 10*time.Second)
	r.begin()
	r.end()
	m.fire(t) // released at 0.25 s
	for i := 0; i < testBatch-1; i++ {
		m.now = m.now.Add(time.Second)
		r.begin()
		r.end()
		if m.check != nil && !m.due.After(m.now.Add(time.Second)) {
			m.fire(t) // due before the next hash
		}
	}
	if m.releases != 1 {
		t.Fatalf("releases %d within the interval, want 1", m.releases)
	}
	// The work of those seconds is still given back, when the interval has passed.
	if m.check == nil {
		t.Fatal("no check pending for the work after the first release")
	}
	m.fire(t)
	if m.releases != 2 {
		t.Fatalf("releases %d, want 2", m.releases)
	}
	if elapsed := m.now.Sub(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)); elapsed < 10250*time.Millisecond {
		t.Errorf("second release at %v, before the interval", elapsed)
	}
}

func TestZeroIntervalNeverReleases(t *testing.T) {
	r, m := newManual(250*time.Millisecond, 0)
	r.begin()
	r.end()
	if m.check != nil || m.releases != 0 {
		t.Fatal("release scheduled although disabled")
	}
}

func TestABurstIsReleasedAtItsEndEvenSoonAfterAnotherRelease(t *testing.T) {
	r, m := newManual(250*time.Millisecond, 10*time.Second)
	r.begin()
	r.end()
	m.fire(t) // a pause inside the burst released at 0.25 s
	for range testBatch {
		m.now = m.now.Add(100 * time.Millisecond)
		r.begin()
		r.end()
	}
	m.fire(t)
	if m.releases != 2 {
		t.Fatalf("releases %d, want the burst's memory back at its end", m.releases)
	}
	if got := m.scheduled[len(m.scheduled)-1]; got > 250*time.Millisecond {
		t.Errorf("the burst's release waited %v, want the quiet period only", got)
	}
}
