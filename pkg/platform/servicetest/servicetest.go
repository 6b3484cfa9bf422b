// Package servicetest starts a service for its component tests as it runs in production, on the real
// MariaDB and RabbitMQ, but with a database and an exchange of the test's own and a token issuer standing in
// for auth, so that tests run in parallel and each service's harness says only what is particular to it.
package servicetest

import (
	"context"
	"database/sql"
	"reflect"
	"testing"
	"time"

	"simplemessenger/platform/authn"
	"simplemessenger/platform/authn/authntest"
	"simplemessenger/platform/broker"
	"simplemessenger/platform/broker/brokertest"
	"simplemessenger/platform/config"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/mysqlx/mysqltest"
	"simplemessenger/platform/server"
	"simplemessenger/platform/server/servertest"
)

// Env is what a service under test runs on besides its own code.
type Env struct {
	Broker broker.Config     // the test's own exchange
	MySQL  mysqlx.Config     // the test's own database, once Configure has found a field for it
	Issuer *authntest.Issuer // signs the tokens the service accepts
}

// New makes the test's exchange, then its issuer. The exchange comes first: its cleanup, which deletes the
// topology, must run after the service and the test's own Conns have stopped, or they would declare it again.
func New(t testing.TB) *Env {
	t.Helper()
	return &Env{Broker: brokertest.Config(t), Issuer: authntest.New(t)}
}

// Configure points a service's configuration (a pointer to its Config) at the Env, field by field of the
// types every service shares, in embedded structs too (bootstrap.Settings): config.HTTP logs only errors and
// shuts down within 5 s, mysqlx.Config is a fresh database of the test's own (made on the first call),
// broker.Config is the test's exchange, and the JWKS URL (of an authn.Config, or a string read from
// AUTH_JWKS_URL) is the issuer's. What is particular to a service is set by its harness.
func (e *Env) Configure(t testing.TB, cfg any) {
	t.Helper()
	e.configure(t, reflect.ValueOf(cfg).Elem())
}

func (e *Env) configure(t testing.TB, v reflect.Value) {
	t.Helper()
	for i := range v.NumField() {
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f := v.Field(i).Addr().Interface().(type) {
		case *config.HTTP:
			f.LogLevel, f.ShutdownTimeout = "error", 5*time.Second
		case *mysqlx.Config:
			if e.MySQL.Database == "" {
				e.MySQL = mysqltest.NewDatabase(t)
			}
			*f = e.MySQL
		case *broker.Config:
			*f = e.Broker
		case *authn.Config:
			f.JWKSURL = e.Issuer.JWKSURL
		case *string:
			if v.Type().Field(i).Tag.Get("env") == "AUTH_JWKS_URL" {
				*f = e.Issuer.JWKSURL
			}
		default:
			if field := v.Type().Field(i); field.Anonymous && field.Type.Kind() == reflect.Struct {
				e.configure(t, v.Field(i))
			}
		}
	}
}

// Service is a service under test, served on ephemeral ports until the test ends.
type Service struct {
	*Env
	URL, Admin string  // base URLs of its public and admin servers
	DB         *sql.DB // the test's own handle on its database (nil for a service without one), to look at its outbox
}

// Start runs the test in parallel with the others, configures cfg with a new Env, builds the service with
// build and serves it. A service that cannot be built fails the test.
func Start[C any](t *testing.T, cfg C, build func(context.Context, C) (*server.App, error)) *Service {
	t.Helper()
	t.Parallel()
	s := &Service{Env: New(t)}
	s.Configure(t, &cfg)
	app, err := build(context.Background(), cfg)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	s.URL, s.Admin = servertest.Serve(t, app)
	if s.MySQL.Database != "" {
		if s.DB, err = mysqlx.Open(context.Background(), s.MySQL, nil); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.DB.Close() })
	}
	return s
}

// WaitConsuming waits (10 s at most) until each of the service's consumers named by queues is consuming, its queue
// declared and bound. A test that publishes events as another service would must wait for all of them: the
// first queue bound makes a publish routable, and an event published before another consumer's queue exists
// never reaches that one.
func (s *Service) WaitConsuming(t testing.TB, queues ...string) {
	t.Helper()
	WaitConsuming(t, s.Admin, queues...)
}

// WaitConsuming is Service.WaitConsuming for the service whose admin server is at adminURL (another replica).
func WaitConsuming(t testing.TB, adminURL string, queues ...string) {
	t.Helper()
	for _, q := range queues {
		servertest.Eventually(t, 10*time.Second, func() bool {
			return servertest.Metric(t, adminURL, "broker_consumers", "queue", q) >= 1
		}, "the consumer %s is not consuming", q)
	}
}
