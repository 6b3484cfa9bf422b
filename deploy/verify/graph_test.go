package verify

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func mustWrite(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// repoRoot is the repository root, two levels above this module.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestCallGraphMatchesServiceConfig reads each service's configuration struct tags: a field tagged
// env:"<CALLEE>_URL" or env:"<CALLEE>_JWKS_URL" is a call, and so is an embedded authn.Config (the platform's
// AUTH_JWKS_URL: the keys are fetched from auth), so the expected graph cannot drift from the code.
func TestCallGraphMatchesServiceConfig(t *testing.T) {
	tag := regexp.MustCompile(`env:"(AUTH|PROFILES|FRIENDS|MESSAGES)(_JWKS)?_URL"`)
	jwks := regexp.MustCompile(`(?m)^\s+authn\.Config\s*$`)
	for svc, want := range TheCallGraph {
		files, _ := filepath.Glob(filepath.Join(repoRoot(t), "services", svc, "internal", "service", "*.go"))
		if len(files) == 0 {
			t.Fatalf("%s: no configuration sources found", svc)
		}
		got := map[string]bool{}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range tag.FindAllStringSubmatch(string(b), -1) {
				got[strings.ToLower(m[1])] = true
			}
			if jwks.Match(b) {
				got["auth"] = true
			}
		}
		w := append([]string(nil), want...)
		sort.Strings(w)
		if g := keys(got); strings.Join(g, ",") != strings.Join(w, ",") {
			t.Errorf("%s calls %v according to its configuration, the expected graph says %v", svc, g, w)
		}
	}
}
