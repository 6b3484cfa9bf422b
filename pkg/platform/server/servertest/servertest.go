// Package servertest serves a server.App on ephemeral loopback ports for the length of a test, the way
// component tests start a service's real HTTP server.
package servertest

import (
	"context"
	"net"
	"sync"
	"testing"

	"simplemessenger/platform/server"
)

// Serve serves app until the test ends and returns the base URLs of its public and admin servers
// ("http://127.0.0.1:port"). The cleanup shuts the App down (workers, then closers) and waits for it; an error
// from Serve fails the test.
func Serve(t testing.TB, app *server.App) (publicURL, adminURL string) {
	t.Helper()
	publicURL, adminURL, _ = Start(t, app)
	return publicURL, adminURL
}

// Start is Serve that also returns stop, which shuts the App down as SIGTERM would and returns once Serve has
// returned (tests of the shutdown itself call it). It is safe to call more than once; the test's cleanup
// calls it too.
func Start(t testing.TB, app *server.App) (publicURL, adminURL string, stop func()) {
	t.Helper()
	public, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		public.Close()
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- app.Serve(ctx, public, admin) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return "http://" + public.Addr().String(), "http://" + admin.Addr().String(), stop
}

// ClosedURL is the base URL ("http://127.0.0.1:port") of a loopback port nothing listens on: a neighbour that
// is down, or a server that a client must not reach.
func ClosedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return "http://" + l.Addr().String()
}
