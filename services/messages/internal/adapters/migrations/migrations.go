// Package migrations embeds the messages database schema, golang-migrate files at the root of FS.
package migrations

import "embed"

// FS holds the NNNN_name.up.sql / .down.sql files.
//
//go:embed *.sql
var FS embed.FS
