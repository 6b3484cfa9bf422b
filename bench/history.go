package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// historyReads (3): GET /chats/{id}/messages?limit=50 at the history concurrency, each reader on its own
// pair's chat (filled by the send measurement, or here with 50 messages when it did not run).
func (b *bench) historyReads(ctx context.Context) error {
	n := min(b.s.HistoryConc, len(b.pairs))
	if _, ok := b.rep.Details["throughput"]; !ok {
		logf("history: filling %d chats with 50 messages each", n)
		if err := parallel(ctx, 8, 50*n, func(ctx context.Context, i int) error {
			p := b.pairs[i%n]
			_, err := b.c.send(ctx, p[0], p[1].id, messageText(i))
			return err
		}); err != nil {
			return err
		}
	}
	rate := &row{Measure: "3 history", Metric: fmt.Sprintf("c=%d limit=50 reads", b.s.HistoryConc), Unit: "reads/s"}
	p50 := &row{Measure: "3 history", Metric: fmt.Sprintf("c=%d p50", b.s.HistoryConc), Unit: "ms"}
	p99 := &row{Measure: "3 history", Metric: fmt.Sprintf("c=%d p99", b.s.HistoryConc), Unit: "ms"}
	errs := &row{Measure: "3 history", Metric: "errors", Unit: "count"}
	var sums []summary
	for run := 1; run <= b.s.Runs; run++ {
		logf("history reads c=%d run %d", b.s.HistoryConc, run)
		var profiles func()
		if b.s.Pprof && run == 1 {
			profiles = b.profile(ctx, fmt.Sprintf("history-c%d", b.s.HistoryConc))
		}
		sum := b.measured(ctx, fmt.Sprintf("history c=%d", b.s.HistoryConc), run, b.s.HistoryConc, func(ctx context.Context, w int) error {
			p := b.pairs[w%n]
			_, err := b.c.history(ctx, p[0], p[1].id, 50)
			return err
		})
		if profiles != nil {
			profiles()
		}
		logf("  %.0f reads/s, p50 %.1f ms, p99 %.1f ms, %d errors %s", sum.PerSecond, sum.P50ms, sum.P99ms, sum.Errors, sum.FirstErr)
		sums = append(sums, sum)
		rate.Runs = append(rate.Runs, sum.PerSecond)
		p50.Runs = append(p50.Runs, sum.P50ms)
		p99.Runs = append(p99.Runs, sum.P99ms)
		errs.Runs = append(errs.Runs, float64(sum.Errors))
		if sum.FirstErr != "" {
			errs.Note = sum.FirstErr
		}
	}
	rate.check(">=", 2000, ">= 2000")
	errs.check("==", 0, "0")
	for _, r := range []*row{rate, p50, p99, errs} {
		b.rep.add(r)
	}
	b.rep.detail("history", sums)
	return nil
}

// entry (4): a user with 100 unread messages enters the messenger: from dialling the WebSocket to having both
// login frames (messages.unread with its 100 items, friends.pending).
func (b *bench) entry(ctx context.Context) error {
	if len(b.entrants) == 0 {
		return errors.New("no entrants")
	}
	p50 := &row{Measure: "4 entry", Metric: "connect→2 frames p50", Unit: "ms"}
	p99 := &row{Measure: "4 entry", Metric: "connect→2 frames p99", Unit: "ms"}
	errs := &row{Measure: "4 entry", Metric: "errors", Unit: "count"}
	var sums []summary
	for run := 1; run <= b.s.Runs; run++ {
		logf("entering the messenger c=%d run %d", b.s.EntryConc, run)
		var turn atomic.Int64
		sum := closedLoopTimed(ctx, b.s.EntryConc, b.s.Warmup, b.s.Duration, func(ctx context.Context, w int) (time.Duration, error) {
			u := b.entrants[int(turn.Add(1))%len(b.entrants)] // the entrants in turn
			return b.enterOnce(ctx, u)
		})
		logf("  %d entries, p50 %.1f ms, p99 %.1f ms, %d errors %s", sum.Count, sum.P50ms, sum.P99ms, sum.Errors, sum.FirstErr)
		sums = append(sums, sum)
		p50.Runs = append(p50.Runs, sum.P50ms)
		p99.Runs = append(p99.Runs, sum.P99ms)
		errs.Runs = append(errs.Runs, float64(sum.Errors))
		if sum.FirstErr != "" {
			errs.Note = sum.FirstErr
		}
	}
	p99.check("<", 200, "< 200")
	errs.check("==", 0, "0")
	for _, r := range []*row{p50, p99, errs} {
		b.rep.add(r)
	}
	b.rep.detail("entry", map[string]any{"concurrency": b.s.EntryConc, "users": len(b.entrants), "runs": sums})
	return nil
}

// enterOnce connects u and waits for both login frames, and returns how long that took; the closing
// handshake comes after the clock stops.
func (b *bench) enterOnce(ctx context.Context, u *user) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	start := time.Now()
	conn, err := b.c.dial(ctx, u)
	if err != nil {
		return 0, err
	}
	defer conn.Close(websocket.StatusNormalClosure, "bye")
	var unread, pending bool
	for !unread || !pending {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return 0, err
		}
		var f struct {
			Type string `json:"type"`
			Data struct {
				Items []json.RawMessage `json:"items"`
				Total int               `json:"total"`
			} `json:"data"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return 0, err
		}
		switch f.Type {
		case "messages.unread":
			if len(f.Data.Items) != 100 {
				return 0, fmt.Errorf("messages.unread with %d items (total %d), want 100", len(f.Data.Items), f.Data.Total)
			}
			unread = true
		case "friends.pending":
			pending = true
		}
	}
	return time.Since(start), nil
}
