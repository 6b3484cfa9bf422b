package bootstrap_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/config"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
)

func httpConfig() config.HTTP {
	cfg := config.HTTPDefaults("127.0.0.1:0", "127.0.0.1:0")
	cfg.LogLevel = "error"
	cfg.ShutdownTimeout = 5 * time.Second
	return cfg
}

// build makes an App with a database, a broker connection and an outbox relay (BuildWithDatabase) on the
// test's own database and exchange; more wires the rest (or fails).
func build(t *testing.T, more func(d bootstrap.Deps) error) (*server.App, bootstrap.Deps, error) {
	t.Helper()
	brokerCfg := brokertest.Config(t) // first: its cleanup runs after the connection is closed
	settings := bootstrap.Settings{HTTP: httpConfig(), MySQL: mysqltest.NewDatabase(t), Broker: brokerCfg}
	var deps bootstrap.Deps
	a, err := bootstrap.BuildWithDatabase(context.Background(), "test", settings, func() error { return nil }, nil,
		func(d bootstrap.Deps) error {
			deps = d
			return more(d)
		})
	if deps.DB == nil || deps.Broker == nil || deps.Relay == nil {
		t.Fatalf("Build did not get to the wiring: %v", err)
	}
	return a, deps, err
}

func TestBuildWithDatabaseRefusesABadConfigurationBeforeOpeningAnything(t *testing.T) {
	t.Parallel()
	wired := false
	a, err := bootstrap.BuildWithDatabase(context.Background(), "test", bootstrap.Defaults("test", "127.0.0.1:0", "127.0.0.1:0"),
		func() error { return errors.New("SOME_SETTING must be positive") }, nil,
		func(bootstrap.Deps) error { wired = true; return nil })
	if a != nil || err == nil || err.Error() != "configuration: SOME_SETTING must be positive" || wired {
		t.Fatalf("Build = %v, %v (wired %v); want the variable named and nothing built", a, err, wired)
	}
}

func TestBuildClosesWhatTheWiringOpenedWhenItFails(t *testing.T) {
	t.Parallel()
	failure := errors.New("wiring failed")
	a, d, err := build(t, func(bootstrap.Deps) error { return failure })
	db, conn := d.DB, d.Broker
	if a != nil || !errors.Is(err, failure) {
		t.Fatalf("Build = %v, %v; want no App and the wiring's error", a, err)
	}
	if err := db.Ping(); err == nil {
		t.Error("the database is still open after a failed Build")
	}
	if err := conn.Ready(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("the broker connection is not closed after a failed Build: %v", err)
	}
}

func TestAppWithDatabaseBrokerAndOutboxIsReadyThenClosesThemAtShutdown(t *testing.T) {
	t.Parallel()
	a, d, err := build(t, func(bootstrap.Deps) error { return nil })
	db, conn, relay := d.DB, d.Broker, d.Relay
	if err != nil {
		t.Fatal(err)
	}
	_, admin, stop := servertest.Start(t, a)

	// Migrated: the platform's outbox is there, and the relay publishes what is enqueued into it.
	ev, err := broker.NewEvent("test", "test.bootstrap.happened", map[string]string{"k": "v"})
	if err != nil {
		t.Fatal(err)
	}
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if err := broker.Enqueue(context.Background(), tx, ev); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	relay.Notify()

	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := get(t, admin+"/readyz")
		var pending int
		if err := db.QueryRow("SELECT COUNT(*) FROM outbox WHERE published_at IS NULL").Scan(&pending); err != nil {
			t.Fatal(err)
		}
		if status == http.StatusOK && pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready with MySQL and the broker, or the outbox not relayed: /readyz %d %s, %d pending", status, body, pending)
		}
		time.Sleep(50 * time.Millisecond)
	}

	stop()
	if err := db.Ping(); err == nil {
		t.Error("the database is still open after shutdown")
	}
	if err := conn.Ready(context.Background()); !errors.Is(err, broker.ErrClosed) {
		t.Errorf("the broker connection is not closed after shutdown: %v", err)
	}
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}
