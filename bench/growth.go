package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-sql-driver/mysql"
)

// The growth measurement (7) fills the stack's messages table straight through SQL, as fast as multi-row
// INSERTs go, with every index in place, and reads the newest page of one chat that sits among the others.
const (
	fillerChatID0 = 1 << 40 // the loaded chats' ids, far above the real chats'
	measuredEvery = 1000    // one loaded row in this many belongs to the measured chat
	measuredSeed  = 1000    // rows the measured chat gets before the first size
	progressEvery = 5 * time.Second
)

type growthPoint struct {
	Rows      int64     `json:"rows"`
	ChatRows  int64     `json:"measured_chat_rows"`
	LoadSecs  float64   `json:"load_seconds"`
	Summaries []summary `json:"runs"`
}

type growthState struct {
	db       *sql.DB
	chatID   uint64
	reader   *user
	peer     *user
	chats    int          // chats the loaded rows are spread over
	next     atomic.Int64 // index of the next loaded row (decides its chat)
	chatRows atomic.Int64
	points   []growthPoint
}

var growth growthState

// growthPrepare opens the messages database and finds (creates, with one real send) the measured chat.
func (b *bench) growthPrepare(ctx context.Context) error {
	db, err := openDB(b.msgDB, b.s.LoaderConns+1)
	if err != nil {
		return fmt.Errorf("messages database %s: %w", b.msgDB, err)
	}
	growth.db = db
	growth.chats = max(1, b.s.GrowthChats)
	a, p := b.growthPair[0], b.growthPair[1]
	growth.reader, growth.peer = a, p
	if _, err := b.c.send(ctx, a, p.id, messageText(0)); err != nil {
		return err
	}
	if err := db.QueryRowContext(ctx, "SELECT id FROM chats WHERE (user_low = ? AND user_high = ?) OR (user_low = ? AND user_high = ?)",
		a.id, p.id, p.id, a.id).Scan(&growth.chatID); err != nil {
		return fmt.Errorf("the measured chat: %w", err)
	}
	growth.chatRows.Store(1)
	logf("growth: measured chat %d; seeding it with %d messages (loader: %s)", growth.chatID, measuredSeed, b.s.Loader)
	err = b.load(ctx, measuredSeed, true)
	if err != nil && b.s.Loader == "infile" && ctx.Err() == nil {
		// LOAD DATA LOCAL may be refused (local_infile=0): multi-row INSERTs instead.
		logf("growth: LOAD DATA LOCAL INFILE failed (%v); using multi-row INSERTs", err)
		b.rep.detail("growth_loader_fallback", err.Error())
		b.s.Loader = "insert"
		growth.chatRows.Store(1)
		err = b.load(ctx, measuredSeed, true)
	}
	b.rep.detail("growth_loader", b.s.Loader)
	return err
}

// growthStep fills the table up to n rows (if it holds fewer) and measures history reads of the measured chat.
func (b *bench) growthStep(ctx context.Context, n int) error {
	if growth.db == nil {
		return errors.New("growth not prepared")
	}
	var count int64
	if err := growth.db.QueryRowContext(ctx, "SELECT COUNT(*) FROM messages").Scan(&count); err != nil {
		return err
	}
	start := time.Now()
	if count < int64(n) {
		logf("growth: loading %d rows (table at %d, target %d)", int64(n)-count, count, n)
		if err := b.load(ctx, int(int64(n)-count), false); err != nil {
			return err
		}
		count = int64(n)
	} else {
		logf("growth: table already at %d rows (target %d)", count, n)
	}
	pt := growthPoint{Rows: count, ChatRows: growth.chatRows.Load(), LoadSecs: time.Since(start).Seconds()}
	p50 := &row{Measure: "7 growth", Metric: "history p50 @ " + humanCount(count), Unit: "ms"}
	p99 := &row{Measure: "7 growth", Metric: "history p99 @ " + humanCount(count), Unit: "ms"}
	for run := 1; run <= b.s.Runs; run++ {
		logf("growth: history reads at %d rows (chat %d rows) c=%d run %d", count, pt.ChatRows, b.s.GrowthConc, run)
		sum := closedLoop(ctx, b.s.GrowthConc, b.s.Warmup, b.s.Duration, func(ctx context.Context, w int) error {
			_, err := b.c.history(ctx, growth.reader, growth.peer.id, 50)
			return err
		})
		logf("  %.0f reads/s, p50 %.2f ms, p99 %.2f ms, %d errors %s", sum.PerSecond, sum.P50ms, sum.P99ms, sum.Errors, sum.FirstErr)
		pt.Summaries = append(pt.Summaries, sum)
		p50.Runs = append(p50.Runs, sum.P50ms)
		p99.Runs = append(p99.Runs, sum.P99ms)
		if sum.Errors > 0 {
			p99.Note = fmt.Sprintf("%d errors, first: %s", sum.Errors, sum.FirstErr)
		}
	}
	b.rep.add(p50)
	b.rep.add(p99)
	growth.points = append(growth.points, pt)
	b.rep.detail("growth", growth.points)
	return nil
}

// growthVerdict holds the largest size's p99 to 1.5× the smallest's, run by run.
func (b *bench) growthVerdict() {
	if len(growth.points) < 2 {
		return
	}
	first, last := growth.points[0], growth.points[len(growth.points)-1]
	r := &row{Measure: "7 growth", Metric: fmt.Sprintf("p99 %s / p99 %s", humanCount(last.Rows), humanCount(first.Rows)), Unit: "×"}
	for i := range min(len(first.Summaries), len(last.Summaries)) {
		if first.Summaries[i].P99ms > 0 {
			r.Runs = append(r.Runs, last.Summaries[i].P99ms/first.Summaries[i].P99ms)
		}
	}
	r.check("<=", 1.5, "<= 1.5")
	b.rep.add(r)
	if growth.db != nil {
		growth.db.Close()
	}
}

// load inserts rows message-sized rows with multi-row INSERTs on the loader connections. seed: all of them go
// to the measured chat; otherwise one in measuredEvery does and the rest are spread over fillerChats chats.
func (b *bench) load(ctx context.Context, rows int, seed bool) error {
	batch := b.s.LoaderBatch
	var done atomic.Int64
	start := time.Now()
	stop := make(chan struct{})
	var progress sync.WaitGroup
	progress.Add(1)
	go func() {
		defer progress.Done()
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var prev int64
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				d := done.Load()
				rate := float64(d-prev) / progressEvery.Seconds() // the recent rate: it falls as the table grows
				prev = d
				eta := time.Duration(float64(int64(rows)-d)/max(rate, 1)) * time.Second
				logf("  loaded %d/%d rows (now %.0f rows/s, about %s left)", d, rows, rate, eta.Round(time.Second))
			}
		}
	}()
	batches := (rows + batch - 1) / batch
	err := parallel(ctx, b.s.LoaderConns, batches, func(ctx context.Context, i int) error {
		n := min(batch, rows-i*batch)
		if b.s.Loader == "infile" {
			if err := b.infileBatch(ctx, n, seed); err != nil {
				return err
			}
		} else if _, err := growth.db.ExecContext(ctx, b.insertBatch(n, seed)); err != nil {
			return err
		}
		done.Add(int64(n))
		return nil
	})
	close(stop)
	progress.Wait()
	if err == nil {
		logf("  loaded %d rows in %s (%.0f rows/s)", rows, time.Since(start).Round(time.Millisecond), float64(rows)/time.Since(start).Seconds())
	}
	return err
}

// nextRow decides the chat and the users of the next loaded row.
func nextRow(seed bool) (k int64, chat uint64, from, to string) {
	k = growth.next.Add(1)
	if seed || k%measuredEvery == 0 {
		chat, from, to = growth.chatID, growth.reader.id, growth.peer.id
		if k%2 == 1 {
			from, to = to, from
		}
		growth.chatRows.Add(1)
		return
	}
	c := uint64(k*7919) % uint64(growth.chats)
	chat, from, to = fillerChatID0+c, fakeUUID(c, 1), fakeUUID(c, 2)
	if k%2 == 1 {
		from, to = to, from
	}
	return
}

// infileBatch loads n rows with LOAD DATA LOCAL INFILE from a generated tab-separated stream.
func (b *bench) infileBatch(ctx context.Context, n int, seed bool) error {
	var buf bytes.Buffer
	buf.Grow(n * 200)
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000000")
	for j := 0; j < n; j++ {
		k, chat, from, to := nextRow(seed)
		fmt.Fprintf(&buf, "%d\t%s\t%s\t%s\t%s\n", chat, from, to, messageText(int(k)), now)
	}
	name := "bench-" + randomHex(6)
	mysql.RegisterReaderHandler(name, func() io.Reader { return &buf })
	defer mysql.DeregisterReaderHandler(name)
	_, err := growth.db.ExecContext(ctx, "LOAD DATA LOCAL INFILE 'Reader::"+name+"' INTO TABLE messages FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' (chat_id, sender_id, recipient_id, text, created_at)")
	return err
}

// insertBatch builds one multi-row INSERT of n rows (the values are generated here, so they are written out).
func (b *bench) insertBatch(n int, seed bool) string {
	var sb strings.Builder
	sb.Grow(n * 220)
	sb.WriteString("INSERT INTO messages (chat_id, sender_id, recipient_id, text, created_at) VALUES ")
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000000")
	for j := 0; j < n; j++ {
		k, chat, from, to := nextRow(seed)
		if j > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, "(%d,'%s','%s','%s','%s')", chat, from, to, messageText(int(k)), now)
	}
	return sb.String()
}

func humanCount(n int64) string {
	switch {
	case n >= 1_000_000 && n%1_000_000 == 0:
		return fmt.Sprintf("%dM", n/1_000_000)
	case n >= 1_000_000 && n%100_000 == 0:
		return fmt.Sprintf("%.1fM", float64(n)/1e6)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}
