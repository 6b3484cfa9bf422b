package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
)

// push (2): every pair's recipient is connected by WebSocket; sends go out at a steady rate (half the highest
// measured send rate: issue 17 asks push latency there, not at the 20 % of rounds 1 and 2), each from the next pair; the latency runs from the send call starting to its
// message.new frame arriving on the recipient's socket.
func (b *bench) push(ctx context.Context) error {
	rate := b.s.PushRate
	how := "-push-rate"
	if rate <= 0 && b.maxSendRate > 0 {
		rate, how = 0.5*b.maxSendRate, fmt.Sprintf("half the highest measured send rate (%.0f msg/s)", b.maxSendRate)
	}
	if rate <= 0 {
		rate, how = 50, "default (no send rate measured)"
	}
	var (
		inflight sync.Map // text → pending
		rec      *recorder
		recMu    sync.Mutex
	)
	current := func() *recorder { recMu.Lock(); defer recMu.Unlock(); return rec }

	// One socket per recipient, each read until the end.
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var readers sync.WaitGroup
	var conns []*websocket.Conn
	defer func() {
		for _, c := range conns {
			_ = c.CloseNow()
		}
		readers.Wait()
	}()
	for _, p := range b.pairs {
		conn, err := b.c.dial(ctx, p[1])
		if err != nil {
			return fmt.Errorf("recipient socket: %w", err)
		}
		conns = append(conns, conn)
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				_, data, err := conn.Read(sctx)
				if err != nil {
					return
				}
				arrived := time.Now()
				var f struct {
					Type string `json:"type"`
					Data struct {
						Text string `json:"text"`
					} `json:"data"`
				}
				if json.Unmarshal(data, &f) != nil || f.Type != "message.new" {
					continue
				}
				if v, ok := inflight.LoadAndDelete(f.Data.Text); ok {
					if pd := v.(pending); pd.measured {
						current().ok(arrived.Sub(pd.start))
					}
				}
			}
		}()
	}

	p50 := &row{Measure: "2 push", Metric: fmt.Sprintf("send→frame p50 @%.0f/s", rate), Unit: "ms"}
	p99 := &row{Measure: "2 push", Metric: fmt.Sprintf("send→frame p99 @%.0f/s", rate), Unit: "ms"}
	mx := &row{Measure: "2 push", Metric: "send→frame max", Unit: "ms"}
	lost := &row{Measure: "2 push", Metric: "errors + not pushed", Unit: "count"}
	var sums []summary
	var seq atomic.Int64
	for run := 1; run <= b.s.Runs; run++ {
		logf("push latency at %.0f msg/s run %d", rate, run)
		var profiles func()
		if b.s.Pprof && run == 1 {
			profiles = b.profile(ctx, "push")
		}
		r := &recorder{}
		recMu.Lock()
		rec = r
		recMu.Unlock()
		r.active.Store(true) // the frames of sends started in the measured window are recorded
		var sent, failed atomic.Int64
		var sends sync.WaitGroup
		interval := time.Duration(float64(time.Second) / rate)
		tick := time.NewTicker(interval)
		warmEnd := time.Now().Add(b.s.Warmup)
		end := warmEnd.Add(b.s.Duration)
		// What a send and its push cost: from the first measured send until its last frame arrived (or the
		// wait for them ended), every process's CPU, divided by the measured sends.
		var w *window
		if b.meter != nil {
			w = &window{m: b.meter, ctx: ctx}
		}
		i, opened := 0, false
		for now := range tick.C {
			if now.After(end) || ctx.Err() != nil {
				break
			}
			m := now.After(warmEnd)
			if m && !opened {
				w.mark(true)
				opened = true
			}
			p := b.pairs[i%len(b.pairs)]
			i++
			text := fmt.Sprintf("push %d %s", seq.Add(1), randomHex(4))
			sends.Add(1)
			go func() {
				defer sends.Done()
				inflight.Store(text, pending{start: time.Now(), measured: m})
				if m {
					sent.Add(1)
				}
				if _, err := b.c.send(ctx, p[0], p[1].id, text); err != nil {
					inflight.Delete(text)
					if m {
						failed.Add(1)
						r.fail(err)
					}
				}
			}()
		}
		tick.Stop()
		sends.Wait()
		// Frames still on their way get up to 3 s.
		deadline := time.Now().Add(3 * time.Second)
		for time.Now().Before(deadline) && countMeasured(&inflight) > 0 {
			time.Sleep(20 * time.Millisecond)
		}
		missing := countMeasured(&inflight)
		inflight.Clear()
		if profiles != nil {
			profiles()
		}
		if w != nil {
			w.mark(false)
			b.record(w, fmt.Sprintf("push @%.0f/s", rate), run, int(sent.Load()), float64(sent.Load())/b.s.Duration.Seconds())
		}
		sum := r.summary(b.s.Duration)
		sum.Errors = failed.Load() + int64(missing)
		logf("  %d sent, p50 %.1f ms, p99 %.1f ms, max %.1f ms, %d failed, %d not pushed within 3 s %s", sent.Load(), sum.P50ms, sum.P99ms, sum.Maxms, failed.Load(), missing, r.firstError())
		sums = append(sums, sum)
		p50.Runs = append(p50.Runs, sum.P50ms)
		p99.Runs = append(p99.Runs, sum.P99ms)
		mx.Runs = append(mx.Runs, sum.Maxms)
		lost.Runs = append(lost.Runs, float64(sum.Errors))
	}
	p99.check("<", 50, "< 50")
	lost.check("==", 0, "0")
	for _, r := range []*row{p50, p99, mx, lost} {
		b.rep.add(r)
	}
	b.rep.detail("push", map[string]any{"rate": rate, "rate_from": how, "runs": sums})
	return nil
}

func countMeasured(m *sync.Map) int {
	n := 0
	m.Range(func(_, v any) bool {
		if v.(pending).measured {
			n++
		}
		return true
	})
	return n
}

// pending is a push send on its way: when its call started, and whether it is in the measured window.
type pending struct {
	start    time.Time
	measured bool
}
