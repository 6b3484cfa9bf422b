package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
)

// throughput (1): closed-loop sends through the gateway (POST /chats/{id}/messages) at each concurrency, each
// worker on its own pair's chat.
func (b *bench) throughput(ctx context.Context) error {
	var seq atomic.Int64
	results := map[string][]summary{}
	for _, c := range b.s.Concurrency {
		rate := &row{Measure: "1 send", Metric: fmt.Sprintf("c=%d throughput", c), Unit: "msg/s"}
		p50 := &row{Measure: "1 send", Metric: fmt.Sprintf("c=%d p50", c), Unit: "ms"}
		p99 := &row{Measure: "1 send", Metric: fmt.Sprintf("c=%d p99", c), Unit: "ms"}
		errs := &row{Measure: "1 send", Metric: fmt.Sprintf("c=%d errors", c), Unit: "count"}
		for run := 1; run <= b.s.Runs; run++ {
			logf("send throughput c=%d run %d", c, run)
			var profiles func()
			if b.s.Pprof && run == 1 && c == b.s.Concurrency[len(b.s.Concurrency)-1] {
				profiles = b.profile(ctx, fmt.Sprintf("send-c%d", c))
			}
			sum := b.measured(ctx, fmt.Sprintf("send c=%d", c), run, c, func(ctx context.Context, w int) error {
				p := b.pairs[w%len(b.pairs)]
				_, err := b.c.send(ctx, p[0], p[1].id, messageText(int(seq.Add(1))))
				return err
			})
			if profiles != nil {
				profiles()
			}
			logf("  %.0f msg/s, p50 %.1f ms, p99 %.1f ms, %d errors %s", sum.PerSecond, sum.P50ms, sum.P99ms, sum.Errors, sum.FirstErr)
			results[fmt.Sprint(c)] = append(results[fmt.Sprint(c)], sum)
			rate.Runs = append(rate.Runs, sum.PerSecond)
			p50.Runs = append(p50.Runs, sum.P50ms)
			p99.Runs = append(p99.Runs, sum.P99ms)
			errs.Runs = append(errs.Runs, float64(sum.Errors))
			b.maxSendRate = max(b.maxSendRate, sum.PerSecond)
			if sum.FirstErr != "" {
				errs.Note = sum.FirstErr
			}
		}
		b.rep.add(rate)
		b.rep.add(p50)
		b.rep.add(p99)
		if c == b.s.Concurrency[len(b.s.Concurrency)-1] {
			errs.check("==", 0, "0")
		}
		b.rep.add(errs)
	}
	b.rep.detail("throughput", results)
	return nil
}

// floorRatio adds (1)/(5) at each concurrency; the highest concurrency is held to 40%.
func (b *bench) floorRatio() {
	tp, _ := b.rep.Details["throughput"].(map[string][]summary)
	fl, _ := b.rep.Details["floor"].(map[string][]summary)
	if tp == nil || fl == nil {
		return
	}
	for _, c := range b.s.Concurrency {
		k := fmt.Sprint(c)
		r := &row{Measure: "1/5 ratio", Metric: fmt.Sprintf("c=%d send/floor", c), Unit: "%"}
		for i := range min(len(tp[k]), len(fl[k])) {
			if fl[k][i].PerSecond > 0 {
				r.Runs = append(r.Runs, 100*tp[k][i].PerSecond/fl[k][i].PerSecond)
			}
		}
		if c == b.s.Concurrency[len(b.s.Concurrency)-1] {
			r.check(">=", 40, ">= 40")
		}
		b.rep.add(r)
	}
}

// profile starts taking a CPU profile of every service over the coming measured interval (after the warm-up)
// and returns a function that waits for them; they are written to <out>/pprof/<label>-<service>.cpu.pb.gz.
func (b *bench) profile(ctx context.Context, label string) func() {
	dir := filepath.Join(b.s.Out, "pprof")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.rep.problem("pprof: %v", err)
		return func() {}
	}
	secs := max(1, int(b.s.Duration.Seconds()))
	var wg sync.WaitGroup
	for _, svc := range serviceNames {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sleep(ctx, b.s.Warmup)
			data, err := adminGet(b.admins[svc], fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs))
			if err != nil {
				b.rep.problem("pprof %s: %v", svc, err)
				return
			}
			name := filepath.Join(dir, label+"-"+svc+".cpu.pb.gz")
			if err := os.WriteFile(name, data, 0o644); err != nil {
				b.rep.problem("pprof %s: %v", svc, err)
				return
			}
			logf("  CPU profile of %s: %s", svc, name)
		}()
	}
	return wg.Wait
}
