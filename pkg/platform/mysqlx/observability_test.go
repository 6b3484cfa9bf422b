package mysqlx_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"simplemessenger/platform/metrics"
	"simplemessenger/platform/mysqlx"
	"simplemessenger/platform/mysqlx/mysqltest"
)

// Statements made for something traced become spans of its trace (one each), with the database attributes; the rest
// (the relay's polling, purges, readiness pings) makes no spans at all, so it never floods the backend with
// one-span traces.
func TestSQLSpansOnlyInsideATrace(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	otel.SetTracerProvider(tp)
	cfg := mysqltest.NewDatabase(t)
	if err := mysqlx.Migrate(cfg, nil); err != nil {
		t.Fatal(err)
	}
	db, err := mysqlx.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	if _, err := db.ExecContext(context.Background(), "SELECT 1 /* background */"); err != nil {
		t.Fatal(err)
	}
	if err := db.PingContext(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, request := tp.Tracer("test").Start(context.Background(), "request")
	if _, err := db.ExecContext(ctx, "DO ? /* traced, with an argument */", 2); err != nil {
		t.Fatal(err)
	}
	request.End()

	var traced []string
	for _, s := range spans.Ended() {
		if s.Name() == "request" {
			continue
		}
		if s.SpanContext().TraceID() != request.SpanContext().TraceID() {
			t.Errorf("span %q outside any trace (parent %v)", s.Name(), s.Parent())
			continue
		}
		if s.Name() != "sql.connector.connect" { // a new connection may be opened for it, or not
			traced = append(traced, s.Name())
		}
		if s.Status().Code == codes.Error {
			t.Errorf("span %q failed: %s", s.Name(), s.Status().Description)
		}
		attrs := map[string]string{}
		for _, a := range s.Attributes() {
			attrs[string(a.Key)] = a.Value.String()
		}
		if attrs["db.system"] != "mysql" || attrs["db.system.name"] != "mysql" || attrs["db.namespace"] != cfg.Database {
			t.Errorf("span %q attributes %v", s.Name(), attrs)
		}
	}
	// One statement, one span: the arguments are interpolated by the driver, no PREPARE/EXECUTE/CLOSE.
	if len(traced) != 1 || traced[0] != "sql.conn.exec" {
		t.Fatalf("spans of the traced statement %v, want [sql.conn.exec]", traced)
	}
}

// The pool's statistics are exported as client_golang's go_sql_* metrics, labelled with the database name.
func TestPoolMetricsAreExported(t *testing.T) {
	cfg := mysqltest.NewDatabase(t)
	m := metrics.New("test")
	db, err := mysqlx.Open(context.Background(), cfg, m.Registerer)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for _, mf := range mfs {
		if !strings.HasPrefix(mf.GetName(), "go_sql_") {
			continue
		}
		for _, mt := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range mt.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["db_name"] == cfg.Database && labels["service"] == "test" {
				found[mf.GetName()] = true
			}
		}
	}
	for _, name := range []string{
		"go_sql_max_open_connections", "go_sql_open_connections", "go_sql_in_use_connections", "go_sql_idle_connections",
		"go_sql_wait_count_total", "go_sql_wait_duration_seconds_total",
		"go_sql_max_idle_closed_total", "go_sql_max_idle_time_closed_total", "go_sql_max_lifetime_closed_total",
	} {
		if !found[name] {
			t.Errorf("%s{db_name=%q} is not exported", name, cfg.Database)
		}
	}
}
