package bootstrap_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/bootstrap"
	"simplemessenger/platform/server"
)

func TestCheckPassesOnlyWhenEveryURLAnswers2xx(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/created", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	mux.HandleFunc("/unready", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "mysql: down", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/readyz", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // a port nobody listens on

	for _, tc := range []struct {
		name   string
		args   []string
		status int
		lines  []string // regular expressions, one per output line
	}{
		{"all ready", []string{srv.URL + "/readyz", srv.URL + "/created", srv.URL + "/moved"}, 0,
			[]string{`^ok   \S+/readyz: 200 OK \(\d+m?s\)$`, `^ok   \S+/created: 204 No Content`, `^ok   \S+/moved: 200 OK`}},
		{"one unready", []string{srv.URL + "/readyz", srv.URL + "/unready"}, 1,
			[]string{`^ok   \S+/readyz: 200 OK`, `^FAIL \S+/unready: 503 Service Unavailable`}},
		{"not found", []string{srv.URL + "/nothing"}, 1, []string{`^FAIL \S+/nothing: 404 Not Found`}},
		{"nobody listening", []string{closed.URL + "/readyz"}, 1, []string{`^FAIL \S+/readyz: .*connection refused`}},
		{"too slow", []string{"-timeout", "200ms", srv.URL + "/slow", srv.URL + "/readyz"}, 1,
			[]string{`^FAIL \S+/slow: .*context deadline exceeded`, `^ok   \S+/readyz: 200 OK`}},
		{"not a URL", []string{"::"}, 1, []string{`^FAIL ::: `}},
		{"no URL", nil, 2, []string{`^usage: check \[-timeout 5s\] URL\.\.\.`}},
		{"bad flag", []string{"-nope", srv.URL}, 2, []string{`flag provided but not defined: -nope`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			start := time.Now()
			if got := bootstrap.Check(context.Background(), &out, tc.args); got != tc.status {
				t.Errorf("status %d, want %d; output:\n%s", got, tc.status, out.String())
			}
			if time.Since(start) > 4*time.Second {
				t.Errorf("took %s: the timeout did not stop it", time.Since(start))
			}
			lines := strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
			for i, re := range tc.lines {
				if i >= len(lines) || !regexp.MustCompile(re).MatchString(lines[i]) {
					t.Errorf("line %d: want %s; output:\n%s", i+1, re, out.String())
				}
			}
			if tc.status != 2 && len(lines) != len(tc.lines) {
				t.Errorf("%d lines, want one per URL:\n%s", len(lines), out.String())
			}
		})
	}
}

// `<binary> check URL` runs before the configuration is read: a malformed variable that would stop the service
// does not stop the check. The test binary re-runs itself as a service main.
func TestMainRunsCheckBeforeLoadingTheConfiguration(t *testing.T) {
	if os.Getenv("BOOTSTRAP_TEST_MAIN") == "1" {
		type cfg struct {
			N int `env:"BOOTSTRAP_TEST_NUMBER"`
		}
		// The arguments the binary would have been started with (the test binary's own are for the testing package).
		os.Args = append(os.Args[:1], strings.Fields(os.Getenv("BOOTSTRAP_TEST_ARGS"))...)
		bootstrap.Main("test", cfg{}, func(context.Context, cfg) (*server.App, error) {
			panic("build must not run for check")
		})
		return
	}
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {}))
	defer srv.Close()
	for _, tc := range []struct {
		args   []string
		status int
		want   string
	}{
		{[]string{"check", srv.URL + "/readyz"}, 0, "ok   " + srv.URL + "/readyz: 200 OK"},
		{[]string{"check", srv.URL + "/readyz", "http://127.0.0.1:1/readyz"}, 1, "FAIL http://127.0.0.1:1/readyz"},
		{nil, 2, "BOOTSTRAP_TEST_NUMBER: malformed value"}, // no check: the configuration is loaded and refused
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMainRunsCheckBeforeLoadingTheConfiguration$")
		cmd.Env = append(os.Environ(), "BOOTSTRAP_TEST_MAIN=1", "BOOTSTRAP_TEST_NUMBER=not-a-number",
			"BOOTSTRAP_TEST_ARGS="+strings.Join(tc.args, " "))
		out, err := cmd.CombinedOutput()
		status := 0
		if ee, ok := err.(*exec.ExitError); ok {
			status = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if status != tc.status || !strings.Contains(string(out), tc.want) {
			t.Errorf("%v: status %d, output %q; want %d and %q", tc.args, status, out, tc.status, tc.want)
		}
	}
}
