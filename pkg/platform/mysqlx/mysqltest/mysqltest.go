// Package mysqltest gives each test its own freshly migrated database on the real MariaDB/MySQL server
// (MYSQL_ADDR, MYSQL_USER, MYSQL_PASSWORD; defaults 127.0.0.1:3306, root, empty), dropped when the test ends,
// so tests run in parallel and twice in a row without seeing each other's rows.
package mysqltest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"testing"

	"simplemessenger/platform/mysqlx"
)

// Config returns the server's coordinates from the environment with the given database name.
func Config(database string) mysqlx.Config {
	cfg := mysqlx.Defaults("test")
	if v := os.Getenv("MYSQL_ADDR"); v != "" {
		cfg.Addr = v
	}
	if v := os.Getenv("MYSQL_USER"); v != "" {
		cfg.User = v
	}
	cfg.Password = os.Getenv("MYSQL_PASSWORD")
	cfg.Database = database
	return cfg
}

var unsafe = regexp.MustCompile(`[^a-z0-9_]`)

// NewDatabase creates an empty database named after the test and drops it at cleanup.
func NewDatabase(t testing.TB) mysqlx.Config {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := unsafe.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(name) > 40 {
		name = name[:40]
	}
	name = "t_" + name + "_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("mysql", Config("").DSN(false))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE DATABASE `" + name + "` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		admin.Close()
		t.Fatalf("create test database (is MariaDB running on %s?): %v", Config("").Addr, err)
	}
	t.Cleanup(func() {
		_, _ = admin.Exec("DROP DATABASE IF EXISTS `" + name + "`")
		admin.Close()
	})
	return Config(name)
}

// New creates a database for the test, applies the platform's and the given migrations, and opens it.
func New(t testing.TB, migrations fs.FS) (*sql.DB, mysqlx.Config) {
	t.Helper()
	cfg := NewDatabase(t)
	if err := mysqlx.Migrate(cfg, migrations); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	db, err := mysqlx.Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, cfg
}

// Repository runs the test in parallel with the others (each has a database of its own) and builds the
// repository under test with newRepo on a fresh database migrated with migrations. The database comes too, for
// what the repository does not show (its outbox, rows made by hand).
func Repository[R any](t *testing.T, migrations fs.FS, newRepo func(*sql.DB) R) (R, *sql.DB) {
	t.Helper()
	t.Parallel()
	db, _ := New(t, migrations)
	return newRepo(db), db
}
