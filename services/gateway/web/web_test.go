package web

import (
	"io/fs"
	"regexp"
	"strings"
	"testing"
)

// The client never turns text into markup: user content goes in with textContent / text nodes only.
func TestTheClientNeverParsesStringsAsHTML(t *testing.T) {
	unsafe := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\('on`)
	n := 0
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".js") {
			return err
		}
		n++
		b, err := files.ReadFile(p)
		if err != nil {
			return err
		}
		if m := unsafe.Find(b); m != nil {
			t.Errorf("%s uses %s", p, m)
		}
		return nil
	})
	if err != nil || n == 0 {
		t.Fatalf("walking the scripts: %v (%d files)", err, n)
	}
}

func TestTheAccessTokenIsNeverStored(t *testing.T) {
	b, err := files.ReadFile("static/js/api.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "Storage.setItem") && !strings.Contains(line, "REFRESH_KEY, tokens.refresh_token") {
			t.Errorf("api.js stores something other than the refresh token: %s", strings.TrimSpace(line))
		}
	}
	if strings.Contains(string(b), "localStorage") {
		t.Error("api.js uses localStorage (shared by every tab: two tabs would race on one single-use refresh token)")
	}
}

func TestFindServesThePageAndAssetsOnly(t *testing.T) {
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]bool{
		"/": true, "/assets/js/app.js": true, "/assets/style.css": true,
		"/index.html": false, "/assets/index.html": false, "/assets/": false, "/assets/js/": false,
		"/assets/../index.html": false, "/api/v1/users": false, "": false,
	} {
		if _, ok := s.Find(p); ok != want {
			t.Errorf("Find(%q) = %v, want %v", p, ok, want)
		}
	}
}

func TestIfNoneMatch(t *testing.T) {
	for _, c := range []struct {
		header string
		want   bool
	}{
		{`"a"`, true}, {`W/"a"`, true}, {`"b", "a"`, true}, {`*`, true}, {`"b"`, false}, {``, false},
	} {
		if got := etagMatches(c.header, `"a"`); got != c.want {
			t.Errorf("etagMatches(%q) = %v", c.header, got)
		}
	}
}
