package servertest

import (
	"fmt"
	"testing"
	"time"
)

// Eventually polls cond until it holds and reports whether it did within timeout: what a test waits for
// happens asynchronously (an event consumed, a push relayed, a counter scraped), so it is asked again rather
// than once after a guessed sleep. cond runs on the test's goroutine and may fail the test itself.
//
// With a message (format and args), a timeout fails the test at once (t.Fatalf, naming the timeout). With
// format "", Eventually only reports: the caller then says what failed with the state cond last saw, goes on
// with t.Errorf, or measures a recovery without failing.
//
// The first polls follow each other closely (a goroutine about to arrive), later ones every 50 ms, so a
// condition that asks a server or a cluster does not flood it.
func Eventually(t testing.TB, timeout time.Duration, cond func() bool, format string, args ...any) bool {
	t.Helper()
	deadline := time.Now().Add(timeout)
	pause := time.Millisecond
	for !cond() {
		if time.Now().After(deadline) {
			if format != "" {
				t.Fatalf("not within %v: %s", timeout, fmt.Sprintf(format, args...))
			}
			return false
		}
		time.Sleep(pause)
		pause = min(2*pause, 50*time.Millisecond)
	}
	return true
}
