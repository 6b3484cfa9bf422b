// Package mysqlx opens a service's MySQL/MariaDB database (pooled, traced, with pool metrics) and migrates it
// at start from embedded files with golang-migrate, whose MySQL driver takes a GET_LOCK advisory lock, so
// several replicas starting at once migrate exactly once.
package mysqlx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/XSAM/otelsql"
	"github.com/go-sql-driver/mysql"
	"github.com/golang-migrate/migrate/v4"
	migratemysql "github.com/golang-migrate/migrate/v4/database/mysql"
	"github.com/golang-migrate/migrate/v4/source/iofs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.37.0"
	"go.opentelemetry.io/otel/trace"
)

// Config is where the database is and how the pool behaves.
type Config struct {
	Addr     string `env:"MYSQL_ADDR"`
	User     string `env:"MYSQL_USER"`
	Password string `env:"MYSQL_PASSWORD"`
	Database string `env:"MYSQL_DATABASE"`
	// MaxOpenConns bounds the pool; keep replicas × this under the server's max_connections.
	MaxOpenConns int `env:"MYSQL_MAX_OPEN_CONNS" envDefault:"20"`
	// MaxIdleConns is as many as may be open by default: below that, every burst above it closes connections
	// as they come back and opens new ones a moment later (a TCP connect and a login each; at 16 concurrent
	// history reads, one read in ten paid for one). Idle ones still go after ConnMaxIdleTime.
	MaxIdleConns    int           `env:"MYSQL_MAX_IDLE_CONNS" envDefault:"20"`
	ConnMaxLifetime time.Duration `env:"MYSQL_CONN_MAX_LIFETIME" envDefault:"5m"`
	ConnMaxIdleTime time.Duration `env:"MYSQL_CONN_MAX_IDLE_TIME" envDefault:"1m"`
	// TLS is how the connection is encrypted: "false" (plain), "true" (TLS, the server's certificate verified
	// against the system's CAs, or TLSCA's, and its name against the host of Addr), "skip-verify" (TLS, any
	// certificate) or "preferred" (TLS when the server offers it, any certificate; plain otherwise).
	TLS string `env:"MYSQL_TLS" envDefault:"false"`
	// TLSCA is a PEM file of the CA certificate(s) that signed the server's certificate (e.g. mounted from a
	// Secret); it needs TLS "true".
	TLSCA string `env:"MYSQL_TLS_CA"`
}

// Privileges is what a service's MySQL user needs on its own database, and all it needs: its queries, and its
// migrations at start (tables, columns, indexes, foreign keys; golang-migrate's version table, which it empties
// with DELETE; down migrations drop). The migration lock, GET_LOCK, needs no privilege. charts/messenger's
// README grants exactly these (`GRANT <Privileges> ON messenger_<service>.* TO ...`).
const Privileges = "SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, REFERENCES"

// Defaults is the local development database of the named service (messenger_<service>).
func Defaults(service string) Config {
	return Config{Addr: "127.0.0.1:3306", User: "root", Database: "messenger_" + service,
		MaxOpenConns: 20, MaxIdleConns: 20, ConnMaxLifetime: 5 * time.Minute, ConnMaxIdleTime: time.Minute,
		TLS: "false"}
}

// tlsModes are the values of MYSQL_TLS, which are the driver's own names for them.
var tlsModes = []string{"false", "true", "skip-verify", "preferred"}

// tlsConfigName is the driver's tls parameter for c: one of tlsModes, or the name under which
// registerTLS registers the configuration with TLSCA's certificates.
func (c Config) tlsConfigName() string {
	if c.TLSCA != "" {
		return "mysqlx-ca:" + c.TLSCA
	}
	if c.TLS == "" {
		return "false"
	}
	return strings.ToLower(c.TLS)
}

// PrepareTLS checks MYSQL_TLS and MYSQL_TLS_CA and, with a CA file, reads it and registers the TLS
// configuration that trusts its certificates with the driver (read again on every call, so a renewed
// certificate is picked up by the next Open). Open and Migrate call it; call it before using DSN otherwise.
func (c Config) PrepareTLS() error {
	mode := strings.ToLower(c.TLS)
	if mode == "" {
		mode = "false"
	}
	valid := false
	for _, m := range tlsModes {
		valid = valid || m == mode
	}
	if !valid {
		return fmt.Errorf("MYSQL_TLS: %q is none of %s", c.TLS, strings.Join(tlsModes, ", "))
	}
	if c.TLSCA == "" {
		return nil
	}
	if mode != "true" {
		return fmt.Errorf("MYSQL_TLS_CA is set, so MYSQL_TLS must be true (got %q): the CA is only used to verify the server", c.TLS)
	}
	pem, err := os.ReadFile(c.TLSCA)
	if err != nil {
		return fmt.Errorf("MYSQL_TLS_CA: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return fmt.Errorf("MYSQL_TLS_CA: %s holds no PEM certificate", c.TLSCA)
	}
	// ServerName is left empty: the driver sets it to the host of MYSQL_ADDR, so the name is verified too.
	return mysql.RegisterTLSConfig(c.tlsConfigName(), &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12})
}

// DSN is the driver's connection string. With TLSCA set, PrepareTLS must have registered its configuration
// first (Open and Migrate do).
func (c Config) DSN(multiStatements bool) string {
	mc := mysql.NewConfig()
	mc.Net = "tcp"
	mc.Addr = c.Addr
	mc.User = c.User
	mc.Passwd = c.Password
	mc.DBName = c.Database
	mc.ParseTime = true
	mc.Loc = time.UTC
	mc.MultiStatements = multiStatements
	// Arguments are interpolated by the driver into one text statement (escaped for the connection's utf8mb4),
	// instead of a server-side PREPARE, EXECUTE and CLOSE per statement: a third of the round trips, and a
	// connection held that much shorter by each transaction (docs/performance.md).
	mc.InterpolateParams = true
	mc.Params = map[string]string{"time_zone": "'+00:00'"}
	if name := c.tlsConfigName(); name != "false" {
		mc.TLSConfig = name
	}
	mc.Timeout = 5 * time.Second
	mc.ReadTimeout = 30 * time.Second
	mc.WriteTimeout = 30 * time.Second
	return mc.FormatDSN()
}

// Open connects (with SQL spans and pool metrics) and pings.
func Open(ctx context.Context, cfg Config, reg prometheus.Registerer) (*sql.DB, error) {
	if err := cfg.PrepareTLS(); err != nil {
		return nil, err
	}
	db, err := otelsql.Open("mysql", cfg.DSN(false),
		// db.system is the attribute's name before semantic conventions 1.26 (db.system.name since); trace
		// backends and their service graphs still look for it.
		otelsql.WithAttributes(semconv.DBSystemNameMySQL, attribute.String("db.system", "mysql"), semconv.DBNamespace(cfg.Database)),
		otelsql.WithSpanOptions(otelsql.SpanOptions{
			OmitConnResetSession: true, OmitConnPrepare: true, OmitRows: true,
			// Should the driver ever answer ErrSkip ("prepare it instead"), that is no failure.
			DisableErrSkip: true,
			SpanFilter:     recordSpan,
		}))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(cfg.MaxOpenConns)
	db.SetMaxIdleConns(cfg.MaxIdleConns)
	db.SetConnMaxLifetime(cfg.ConnMaxLifetime)
	db.SetConnMaxIdleTime(cfg.ConnMaxIdleTime)
	if reg != nil {
		if err := reg.Register(collectors.NewDBStatsCollector(db, cfg.Database)); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				db.Close()
				return nil, err
			}
		}
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("mysql %s/%s: %w", cfg.Addr, cfg.Database, err)
	}
	return db, nil
}

// recordSpan keeps SQL spans to statements made on behalf of something traced (a request, a consumed event, a
// relayed outbox row). The rest is background polling (the outbox relay every few hundred milliseconds, purges,
// gauges) and readiness pings: as root spans they would each be a trace of their own, thousands an hour of
// noise that hides the traces that matter. With InterpolateParams each statement is one sql.conn.exec or
// sql.conn.query span.
func recordSpan(ctx context.Context, _ otelsql.Method, _ string, _ []driver.NamedValue) bool {
	return trace.SpanContextFromContext(ctx).IsValid()
}

//go:embed migrations/*.sql
var platformMigrations embed.FS

// Migrate brings the database up to date: first the platform's own tables (outbox, inbox; tracked in
// platform_schema_migrations), then the service's migrations (schema_migrations). migrations is a file system
// whose root holds golang-migrate files (NNNN_name.up.sql / .down.sql).
func Migrate(cfg Config, migrations fs.FS) error {
	sub, err := fs.Sub(platformMigrations, "migrations")
	if err != nil {
		return err
	}
	if err := migrateWith(cfg, sub, "platform_schema_migrations"); err != nil {
		return fmt.Errorf("platform migrations: %w", err)
	}
	if migrations == nil {
		return nil
	}
	if err := migrateWith(cfg, migrations, "schema_migrations"); err != nil {
		return fmt.Errorf("service migrations: %w", err)
	}
	return nil
}

func migrateWith(cfg Config, files fs.FS, table string) error {
	if err := cfg.PrepareTLS(); err != nil {
		return err
	}
	db, err := sql.Open("mysql", cfg.DSN(true))
	if err != nil {
		return err
	}
	defer db.Close()
	driver, err := migratemysql.WithInstance(db, &migratemysql.Config{MigrationsTable: table, DatabaseName: cfg.Database})
	if err != nil {
		return err
	}
	// The driver takes a connection of its own from db (a *sql.Conn) and gives it back only on Close;
	// db.Close does not close a connection still taken, so without this each migration run would keep a
	// MySQL connection open for the life of the process (two per service: platform and service tables).
	defer driver.Close()
	src, err := iofs.New(files, ".")
	if err != nil {
		return err
	}
	m, err := migrate.NewWithInstance("iofs", src, "mysql", driver)
	if err != nil {
		return err
	}
	if err := m.Up(); err != nil && !errors.Is(err, migrate.ErrNoChange) {
		return err
	}
	return nil
}

// InTx runs fn in a transaction, committing when it returns nil and rolling back otherwise.
func InTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	return InTxWith(ctx, db, nil, fn)
}

// InTxWith is InTx with transaction options, such as READ COMMITTED for a locking read-then-insert that must
// not take gap locks (they block other keys' inserts and turn two inserts of one new key into a deadlock).
func InTxWith(ctx context.Context, db *sql.DB, opts *sql.TxOptions, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	return tx.Commit()
}

// IsDuplicate reports whether err is a unique-key violation (MySQL error 1062).
func IsDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}

// IsDeadlock reports whether err is InnoDB's deadlock error (1213): the server rolled the whole transaction
// back, so running it again is safe and usually succeeds.
func IsDeadlock(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1213
}

// In is the placeholders and arguments of `IN (…)` over values, which must not be empty: "?, ?, ?" and the
// values as arguments.
func In[V any](values []V) (string, []any) {
	args := make([]any, len(values))
	for i, v := range values {
		args[i] = v
	}
	return "?" + strings.Repeat(", ?", len(values)-1), args
}

// ScanString is the Collect scanner of rows of one string column (ids).
func ScanString(rows *sql.Rows) (s string, err error) { return s, rows.Scan(&s) }

// Collect scans every row with scan and closes rows: the loop every repository needs, written once. It returns
// an empty (not nil) slice when there are no rows, so lists encode as [] in JSON.
func Collect[T any](rows *sql.Rows, scan func(*sql.Rows) (T, error)) ([]T, error) {
	return CollectN(rows, 0, scan)
}

// CollectN is Collect for a query that returns at most n rows (its LIMIT): the slice is allocated once.
func CollectN[T any](rows *sql.Rows, n int, scan func(*sql.Rows) (T, error)) ([]T, error) {
	defer rows.Close()
	out := make([]T, 0, n)
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}
