package servertest

import (
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var (
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)
	labelPair  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// Metric scrapes adminURL's /metrics and returns the sum of the samples of name whose labels include every
// name/value pair given in labels ("outcome", "invalid_credentials", ...); 0 when there is none. Tests of a
// service's counters call it before and after the traffic they cause.
func Metric(t testing.TB, adminURL, name string, labels ...string) float64 {
	t.Helper()
	sum, _ := samples(t, adminURL, name, labels)
	return sum
}

// Series is the number of samples of name whose labels include every pair given in labels: 0 when the metric
// is not exported at all (Metric cannot tell that from a sample at 0).
func Series(t testing.TB, adminURL, name string, labels ...string) int {
	t.Helper()
	_, n := samples(t, adminURL, name, labels)
	return n
}

// Scrape reads adminURL's /metrics page, as OpenMetrics when openMetrics is set (the format that carries
// exemplars, which tests follow to their traces). A scrape that fails or does not answer 200 fails the test.
func Scrape(t testing.TB, adminURL string, openMetrics bool) string {
	t.Helper()
	req, err := http.NewRequest("GET", adminURL+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	if openMetrics {
		req.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", adminURL, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", adminURL, err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %s", adminURL, res.Status, body)
	}
	return string(body)
}

func samples(t testing.TB, adminURL, name string, labels []string) (sum float64, n int) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("labels %q: want name/value pairs", labels)
	}
lines:
	for line := range strings.Lines(Scrape(t, adminURL, false)) {
		m := sampleLine.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		have := map[string]string{}
		for _, p := range labelPair.FindAllStringSubmatch(m[2], -1) {
			have[p[1]] = p[2]
		}
		for i := 0; i < len(labels); i += 2 {
			if have[labels[i]] != labels[i+1] {
				continue lines
			}
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			t.Fatalf("sample %q: %v", line, err)
		}
		sum += v
		n++
	}
	return sum, n
}
