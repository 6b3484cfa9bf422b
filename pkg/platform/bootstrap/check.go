package bootstrap

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// CheckTimeout bounds each URL of Check unless -timeout says otherwise.
const CheckTimeout = 5 * time.Second

// Check is the `check` subcommand of every service binary: args are [-timeout DURATION] URL..., each URL is
// fetched with GET (all at once, each within the timeout; redirects followed, no proxy), and one line per URL is
// written to w in the order given: "ok   URL: 200 OK" or "FAIL URL: <status or error>". It returns the exit
// status: 0 when every URL answered 2xx, 1 when one did not, 2 for bad arguments.
func Check(ctx context.Context, w io.Writer, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(w)
	timeout := fs.Duration("timeout", CheckTimeout, "how long each URL may take")
	fs.Usage = func() {
		fmt.Fprintln(w, "usage: check [-timeout 5s] URL...  (exit status 0 when every URL answers GET with 2xx)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	urls := fs.Args()
	if len(urls) == 0 || *timeout <= 0 {
		fs.Usage()
		return 2
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.Proxy = nil
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}

	lines := make([]string, len(urls))
	failed := make([]bool, len(urls))
	var wg sync.WaitGroup
	for i, u := range urls {
		wg.Go(func() {
			lines[i], failed[i] = checkOne(ctx, client, u, *timeout)
		})
	}
	wg.Wait()
	status := 0
	for i := range urls {
		fmt.Fprintln(w, lines[i])
		if failed[i] {
			status = 1
		}
	}
	return status
}

func checkOne(ctx context.Context, client *http.Client, url string, timeout time.Duration) (line string, failed bool) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Sprintf("FAIL %s: %v", url, err), true
	}
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Sprintf("FAIL %s: %v", url, err), true
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	took := time.Since(start).Round(time.Millisecond)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Sprintf("FAIL %s: %s (%s)", url, resp.Status, took), true
	}
	return fmt.Sprintf("ok   %s: %s (%s)", url, resp.Status, took), false
}
