// Package adapters holds the auth service's outbound side: the MySQL repository (and its migrations), the
// signing-key store, and the client of the profiles service.
package adapters

import (
	"embed"
	"io/fs"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations are the auth database's golang-migrate files, at the FS root as mysqlx.Migrate expects.
func Migrations() fs.FS {
	sub, err := fs.Sub(migrationFiles, "migrations")
	if err != nil {
		panic(err) // the directory is embedded at build time; this cannot happen
	}
	return sub
}
