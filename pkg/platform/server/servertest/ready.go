package servertest

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// WaitReady polls adminURL's /readyz until it answers 200 (every dependency checked: database, broker) and
// fails the test when that takes longer than timeout. Tests that measure delays (pushes within a second) wait
// first, so that they measure the service and not its start.
func WaitReady(t testing.TB, adminURL string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := "no answer"
	for time.Now().Before(deadline) {
		res, err := http.Get(adminURL + "/readyz")
		if err != nil {
			last = err.Error()
		} else {
			body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return
			}
			last = res.Status + " " + string(body)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("not ready within %v: %s", timeout, last)
}
