// Package migrations embeds the friends database schema (golang-migrate files at the FS root).
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS
