package servertest

import (
	"bufio"
	"net/http"
	"regexp"
	"strconv"
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

func samples(t testing.TB, adminURL, name string, labels []string) (sum float64, n int) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("labels %q: want name/value pairs", labels)
	}
	res, err := http.Get(adminURL + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", adminURL, err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
lines:
	for sc.Scan() {
		m := sampleLine.FindStringSubmatch(sc.Text())
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
			t.Fatalf("sample %q: %v", sc.Text(), err)
		}
		sum += v
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape %s: %v", adminURL, err)
	}
	return sum, n
}
