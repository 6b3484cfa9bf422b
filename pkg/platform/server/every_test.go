package server_test

import (
	"context"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
)

func TestEveryRunsPeriodicallyUntilShutdown(t *testing.T) {
	app := server.New("test", testConfig(), slog.Default())
	var runs atomic.Int32
	var afterStop atomic.Bool
	stopped := make(chan struct{})
	app.Every(20*time.Millisecond, func(ctx context.Context) {
		runs.Add(1)
		select {
		case <-stopped:
			afterStop.Store(true)
		default:
		}
	})
	_, _, stop := servertest.Start(t, app)
	deadline := time.Now().Add(5 * time.Second)
	for runs.Load() < 3 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if runs.Load() < 3 {
		t.Fatalf("ran %d times in 5 s at a 20 ms interval", runs.Load())
	}
	stop()
	close(stopped)
	time.Sleep(60 * time.Millisecond)
	if afterStop.Load() {
		t.Error("still running after shutdown")
	}
}
