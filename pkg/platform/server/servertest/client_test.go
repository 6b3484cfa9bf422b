package servertest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"simplemessenger/platform/server/servertest"
)

func TestDoSendsJSONWithTheTokenAndReadsTheWholeAnswer(t *testing.T) {
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = append(seen, r.Method+" "+r.Header.Get("Content-Type")+" "+r.Header.Get("Authorization")+" "+string(body))
		w.Header().Set("X-Test", "yes")
		w.WriteHeader(http.StatusConflict)
		_, _ = io.WriteString(w, `{"error":{"code":"already_friends","message":"m"}}`)
	}))
	defer srv.Close()

	res := servertest.Do(t, "POST", srv.URL, "tok", map[string]string{"user_id": "u"})
	if res.Status != http.StatusConflict || res.ErrorCode() != "already_friends" || res.Header.Get("X-Test") != "yes" {
		t.Errorf("%+v", res)
	}
	var body map[string]map[string]string
	res.JSON(t, &body)
	if body["error"]["message"] != "m" {
		t.Errorf("decoded %v", body)
	}
	servertest.Do(t, "PATCH", srv.URL, "", `{"raw":`)
	servertest.Do(t, "GET", srv.URL, "", nil)
	servertest.Do(t, "PUT", srv.URL, "tok", []byte("GIF89a"), "Content-Type", "image/gif")
	want := []string{
		`POST application/json Bearer tok {"user_id":"u"}`,
		`PATCH application/json  {"raw":`,
		`GET   `,
		`PUT image/gif Bearer tok GIF89a`,
	}
	for i := range want {
		if i >= len(seen) || seen[i] != want[i] {
			t.Errorf("request %d: got %q, want %q", i, seen, want[i])
		}
	}
	if (servertest.Response{Body: []byte(`{"items":[]}`)}).ErrorCode() != "" {
		t.Error("a body that is no error has no code")
	}
}

func TestMetricSumsTheSamplesWithTheGivenLabels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `# HELP logins_total Logins.
# TYPE logins_total counter
logins_total{outcome="ok",service="auth"} 3
logins_total{outcome="throttled",service="auth"} 2
logins_total{outcome="throttled",service="other"} 1
logins_other 7
logins_failed_total{reason="x"} 0
`)
	}))
	defer srv.Close()
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{nil, 6},
		{[]string{"outcome", "throttled"}, 3},
		{[]string{"outcome", "throttled", "service", "auth"}, 2},
		{[]string{"outcome", "none"}, 0},
	} {
		if got := servertest.Metric(t, srv.URL, "logins_total", c.labels...); got != c.want {
			t.Errorf("Metric(%q) = %v, want %v", c.labels, got, c.want)
		}
	}
	if n := servertest.Series(t, srv.URL, "logins_failed_total", "reason", "x"); n != 1 {
		t.Errorf("a sample at 0: %d series, want 1", n)
	}
	if n := servertest.Series(t, srv.URL, "logins_failed_total", "reason", "y"); n != 0 {
		t.Errorf("no such labels: %d series, want 0", n)
	}
	if n := servertest.Series(t, srv.URL, "logins_total"); n != 3 {
		t.Errorf("logins_total: %d series, want 3", n)
	}
}

func TestScrapeAsksForOpenMetricsWhenTold(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, r.URL.Path+" "+r.Header.Get("Accept"))
	}))
	defer srv.Close()
	if got := servertest.Scrape(t, srv.URL, false); got != "/metrics " {
		t.Errorf("plain scrape sent %q", got)
	}
	if got := servertest.Scrape(t, srv.URL, true); got != "/metrics application/openmetrics-text; version=1.0.0" {
		t.Errorf("OpenMetrics scrape sent %q", got)
	}
}

func TestEventuallyPollsUntilTheConditionHolds(t *testing.T) {
	calls := 0
	if !servertest.Eventually(t, 5*time.Second, func() bool {
		calls++
		return calls == 3
	}, "the third call") || calls != 3 {
		t.Errorf("held after %d calls", calls)
	}
	start := time.Now()
	if servertest.Eventually(t, 100*time.Millisecond, func() bool { return false }, "") {
		t.Error("a condition that never holds was reported as held")
	}
	if took := time.Since(start); took < 100*time.Millisecond || took > 2*time.Second {
		t.Errorf("gave up after %v, want just after the timeout", took)
	}
	r := &fatalRecorder{TB: t}
	servertest.Eventually(r, 10*time.Millisecond, func() bool { return false }, "the %s", "marker")
	if r.fatal != "not within 10ms: the marker" {
		t.Errorf("a timeout with a message failed the test with %q", r.fatal)
	}
}

// fatalRecorder keeps the message of Fatalf instead of ending the test.
type fatalRecorder struct {
	testing.TB
	fatal string
}

func (r *fatalRecorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }

func TestClosedURLRefusesConnections(t *testing.T) {
	if res, err := http.Get(servertest.ClosedURL(t)); err == nil {
		res.Body.Close()
		t.Fatalf("a closed port answered %s", res.Status)
	}
}
