package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table: a figure measured in each run, and the target it is held to, if any.
type row struct {
	Measure string    `json:"measure"`
	Metric  string    `json:"metric"`
	Unit    string    `json:"unit"`
	Runs    []float64 `json:"runs"`
	Target  string    `json:"target,omitempty"`
	Verdict string    `json:"verdict,omitempty"` // PASS, FAIL, or empty without a target
	Note    string    `json:"note,omitempty"`
	// Check is a cross-check of the figure (e.g. the service's own /metrics), kept in the JSON only.
	Check string `json:"check,omitempty"`
}

// check holds every run of r against "op limit" (op is "<", "<=", ">=", ">" or "=="); the row passes only
// when every run does.
func (r *row) check(op string, limit float64, target string) {
	r.Target = target
	if len(r.Runs) == 0 {
		r.Verdict = "FAIL"
		return
	}
	r.Verdict = "PASS"
	for _, v := range r.Runs {
		ok := false
		switch op {
		case "<":
			ok = v < limit
		case "<=":
			ok = v <= limit
		case ">":
			ok = v > limit
		case ">=":
			ok = v >= limit
		case "==":
			ok = v == limit
		}
		if !ok {
			r.Verdict = "FAIL"
		}
	}
}

// report is everything a run produced; it is written as JSON.
type report struct {
	Started  time.Time      `json:"started"`
	Finished time.Time      `json:"finished"`
	Host     map[string]any `json:"host"`
	Settings map[string]any `json:"settings"`
	Rows     []*row         `json:"rows"`
	// Costs are what one operation cost each process (issue 17), one entry a measured run.
	Costs    []costRow      `json:"costs,omitempty"`
	Details  map[string]any `json:"details"`
	Problems []string       `json:"problems,omitempty"`
}

func (rep *report) add(r *row) *row {
	rep.Rows = append(rep.Rows, r)
	return r
}

func (rep *report) detail(key string, v any) { rep.Details[key] = v }

func (rep *report) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	rep.Problems = append(rep.Problems, msg)
	logf("PROBLEM: %s", msg)
}

// table prints the rows: both runs side by side, the target and the verdict.
func (rep *report) table(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	runs := 0
	for _, r := range rep.Rows {
		runs = max(runs, len(r.Runs))
	}
	head := []string{"measure", "metric"}
	for i := range runs {
		head = append(head, fmt.Sprintf("run %d", i+1))
	}
	head = append(head, "unit", "target", "verdict")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	rows := slices.Clone(rep.Rows)
	slices.SortStableFunc(rows, func(a, b *row) int { return strings.Compare(a.Measure, b.Measure) })
	for _, r := range rows {
		cells := []string{r.Measure, r.Metric}
		for i := range runs {
			if i < len(r.Runs) {
				cells = append(cells, formatFigure(r.Runs[i]))
			} else {
				cells = append(cells, "")
			}
		}
		cells = append(cells, r.Unit, r.Target, r.Verdict)
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
	for _, r := range rows {
		if r.Note != "" {
			fmt.Fprintf(w, "  note [%s %s]: %s\n", r.Measure, r.Metric, r.Note)
		}
	}
	rep.costTable(w)
	for _, p := range rep.Problems {
		fmt.Fprintf(w, "  problem: %s\n", p)
	}
}

// costRow is one measured run's cost per operation.
type costRow struct {
	Operation string  `json:"operation"`
	Run       int     `json:"run"`
	Rate      float64 `json:"rate"`
	cost
}

// costTable prints the CPU per operation of every process (ms), the servers' total and the client's apart, then
// MariaDB statements (all, writes, commits) and broker publishes per operation.
func (rep *report) costTable(w io.Writer) {
	if len(rep.Costs) == 0 {
		return
	}
	fmt.Fprintln(w, "\ncost per operation (CPU ms of each process over the measured window / operations; statements and publishes per operation):")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	head := append([]string{"operation", "run", "rate/s"}, servers...)
	head = append(head, "server", "client", "stmts", "writes", "commits", "publishes")
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	for _, c := range rep.Costs {
		cells := []string{c.Operation, fmt.Sprint(c.Run), formatFigure(c.Rate)}
		for _, s := range servers {
			if v, ok := c.CPUms[s]; ok {
				cells = append(cells, fmt.Sprintf("%.3f", v))
			} else {
				cells = append(cells, "-")
			}
		}
		cells = append(cells, fmt.Sprintf("%.3f", c.ServerMs), fmt.Sprintf("%.3f", c.ClientMs),
			fmt.Sprintf("%.2f", c.Statements), fmt.Sprintf("%.2f", c.Writes), fmt.Sprintf("%.2f", c.Commits), fmt.Sprintf("%.2f", c.Publishes))
		fmt.Fprintln(tw, strings.Join(cells, "\t")+"\t")
	}
	tw.Flush()
}

func formatFigure(v float64) string {
	switch {
	case v == float64(int64(v)) && v < 1e12:
		return fmt.Sprintf("%d", int64(v))
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2f", v)
	}
}

// write stores the report as <dir>/bench-<timestamp>.json and <dir>/latest.json.
func (rep *report) write(dir string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	data, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return "", err
	}
	name := filepath.Join(dir, "bench-"+rep.Started.UTC().Format("20060102T150405Z")+".json")
	if err := os.WriteFile(name, data, 0o644); err != nil {
		return "", err
	}
	return name, os.WriteFile(filepath.Join(dir, "latest.json"), data, 0o644)
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s  %s\n", time.Now().Format("15:04:05"), fmt.Sprintf(format, args...))
}
