package jsonx_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"simplemessenger/platform/jsonx"
)

// tricky are the strings where a JSON writer can differ from encoding/json.
var tricky = []string{
	"",
	"plain text",
	`"quoted" and \back\slashed\`,
	"\b\f\n\r\t",
	"\x00\x01\x1f\x7f",
	"<script>alert('x') & </script>",
	"line\u2028separator\u2029paragraph",
	"emoji 😀👍🏽 and 日本語, é",
	"\xff\xfe broken \xc3 UTF-8 \xe2\x82 \xf0\x9f\x98",
	"\xed\xa0\x80 surrogate half",
	"\xef\xbf\xbd a real U+FFFD",
	strings.Repeat("é<", 500),
}

func marshal(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendStringWritesWhatJSONMarshalWrites(t *testing.T) {
	for _, s := range tricky {
		if got, want := string(jsonx.AppendString(nil, s)), marshal(t, s); got != want {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
	// Appends, keeping what was there.
	if got := string(jsonx.AppendString([]byte(`[1,`), "a")); got != `[1,"a"` {
		t.Errorf("append: %s", got)
	}
}

func TestAppendInt64StringIsTheStringOption(t *testing.T) {
	type id struct {
		ID int64 `json:"id,string"`
	}
	for _, n := range []int64{0, 1, 42, -7, math.MaxInt64, math.MinInt64} {
		want := marshal(t, id{n})
		want = want[len(`{"id":`) : len(want)-1]
		if got := string(jsonx.AppendInt64String(nil, n)); got != want {
			t.Errorf("%d: got %s, want %s", n, got, want)
		}
	}
}

func TestAppendTimeIsMarshalJSON(t *testing.T) {
	for _, tm := range []time.Time{
		time.Date(2026, 11, 27, 20, 30, 0, 0, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 123456000, time.UTC),
		time.Date(2026, 1, 2, 3, 4, 5, 100, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 1, 12, 0, 0, 5000, time.FixedZone("", 2*3600+30*60)),
	} {
		if got, want := string(jsonx.AppendTime(nil, tm)), marshal(t, tm); got != want {
			t.Errorf("%v: got %s, want %s", tm, got, want)
		}
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range tricky {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := string(jsonx.AppendString(nil, s)), marshal(t, s); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}
