// Package migrations embeds the auth database's schema: golang-migrate's NNNN_name.up.sql and .down.sql files,
// at the root of FS as mysqlx.Migrate expects.
package migrations

import "embed"

// FS holds the schema's migrations.
//
//go:embed *.sql
var FS embed.FS
