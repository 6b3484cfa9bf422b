package servertest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

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
