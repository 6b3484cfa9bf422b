package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"simplemessenger/e2e"
)

// messagesMigrations is the messages service's migrations folder.
const messagesMigrations = "services/messages/internal/adapters/migrations"

// floorTable is the messages service's own messages table, as its migrations make it (its CREATE TABLE
// messages, then every ALTER TABLE messages, in migration order), so the floor's rows have the same columns,
// keys, collations and clustering as the real ones.
func floorTable() ([]string, error) {
	root, err := e2e.RepoRoot()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(root, messagesMigrations, "*.up.sql"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var ddl []string
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		for _, stmt := range strings.Split(string(raw), ";") {
			for _, start := range []string{"CREATE TABLE messages (", "ALTER TABLE messages"} {
				if i := strings.Index(stmt, start); i >= 0 {
					ddl = append(ddl, stmt[i:])
				}
			}
		}
	}
	if len(ddl) == 0 || !strings.HasPrefix(ddl[0], "CREATE TABLE") {
		return nil, fmt.Errorf("%s: no CREATE TABLE messages", messagesMigrations)
	}
	return ddl, nil
}

// floor (5): what the disk and the database allow. Single-row INSERT autocommits of a message-sized row into a
// scratch database on the same MariaDB, at the send measurement's concurrencies and for the same time.
func (b *bench) floor(ctx context.Context) error {
	name := "bench_floor_" + randomHex(4)
	admin, err := openDB("", 1)
	if err != nil {
		return err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, "CREATE DATABASE `"+name+"` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"); err != nil {
		return err
	}
	defer func() { _, _ = admin.Exec("DROP DATABASE IF EXISTS `" + name + "`") }()
	maxC := 0
	for _, c := range b.s.Concurrency {
		maxC = max(maxC, c)
	}
	db, err := openDB(name, maxC)
	if err != nil {
		return err
	}
	defer db.Close()
	ddl, err := floorTable()
	if err != nil {
		return err
	}
	for _, stmt := range ddl {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	// The users of 1,000 chats, as UUID strings like the services'.
	ids := make([]string, 2000)
	for i := range ids {
		ids[i] = fakeUUID(uint64(i), 7)
	}
	results := map[string][]summary{}
	for _, c := range b.s.Concurrency {
		rate := &row{Measure: "5 floor", Metric: fmt.Sprintf("c=%d INSERT commits", c), Unit: "rows/s"}
		p99 := &row{Measure: "5 floor", Metric: fmt.Sprintf("c=%d p99", c), Unit: "ms"}
		for run := 1; run <= b.s.Runs; run++ {
			logf("floor: raw INSERT c=%d run %d", c, run)
			sum := b.measured(ctx, fmt.Sprintf("floor INSERT c=%d", c), run, c, func(ctx context.Context, w int) error {
				chat := rand.IntN(1000)
				from, to := ids[2*chat], ids[2*chat+1]
				_, err := db.ExecContext(ctx, "INSERT INTO messages (chat_id, sender_id, recipient_id, client_message_id, text, created_at) VALUES (?, ?, ?, ?, ?, ?)",
					chat+1, from, to, randomHex(12), messageText(rand.IntN(1e9)), time.Now().UTC())
				return err
			})
			logf("  %.0f rows/s, p50 %.1f ms, p99 %.1f ms, %d errors %s", sum.PerSecond, sum.P50ms, sum.P99ms, sum.Errors, sum.FirstErr)
			results[fmt.Sprint(c)] = append(results[fmt.Sprint(c)], sum)
			rate.Runs = append(rate.Runs, sum.PerSecond)
			p99.Runs = append(p99.Runs, sum.P99ms)
			if sum.FirstErr != "" {
				rate.Note = fmt.Sprintf("%d errors, first: %s", sum.Errors, sum.FirstErr)
			}
		}
		b.rep.add(rate)
		b.rep.add(p99)
	}
	b.rep.detail("floor", results)
	return nil
}

// fakeUUID is a UUID-shaped user id derived from n (for rows written straight into a table).
func fakeUUID(n, salt uint64) string {
	return fmt.Sprintf("%08x-%04x-4%03x-8%03x-%012x", uint32(n>>16)^uint32(salt), uint16(n), salt&0xfff, n&0xfff, (n*2654435761+salt)&0xffffffffffff)
}
